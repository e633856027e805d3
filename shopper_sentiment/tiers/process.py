"""ProcessTier: every queued image → Rekognition → face records → Parquet.

Defaults:

- The analyze Lambda: Python 3.14 on arm64 (cheapest per ms), code from
  lambdas/analyze_image/ as a plain asset plus the deployment's device
  registry as a JSON file (the asset's hash covers both, so each deployment
  ships its own and a fleet change reaches the function); its pinned
  dependencies (Powertools for AWS Lambda and what it needs, from the
  handler folder's ``requirements.txt``) installed for the runtime at synth
  and shipped as a layer of the stack's own (``lambda_dependencies``), so a
  deploy looks nothing up in any region or partition; its own log group
  with a retention, its own role with least privilege:
  rekognition:DetectFaces; read and delete under ``incoming/`` of the source
  bucket only; write to the archive bucket; firehose:PutRecordBatch on this
  stream only; the idempotency table.
- SQS event source: batches of up to 500 images within a 30 s window (so
  records share PutRecordBatch calls), partial batch failures reported;
  maximum concurrency and analysis threads per invocation derived from the
  Rekognition requests-per-second budget (``parallelism_for``). The queue's
  visibility timeout must be at least six times the function timeout
  (``queue_visibility_timeout_for``); a concrete queue with less is refused.
- DynamoDB idempotency table (on-demand, TTL, no point-in-time recovery, AWS-managed encryption),
  always destroyed with the stack whatever ``removal_policy`` says: it holds
  only state the function can recompute (stored analyses, delivered markers).
- Firehose delivery stream (DirectPut, AWS-owned-key encryption): JSON →
  Parquet (SNAPPY) with the Glue table as schema, dynamic partitioning on
  ``store_id`` and ``dt``, an error prefix, and buffering valid for format
  conversion (≥ 64 MiB).
- The check device (``shopper_sentiment.contracts.identifiers.CHECK_DEVICE_ID``) is added to
  the registry the function ships, in the reserved store ``_check`` with
  every attribute and its images kept (``check_device_registry_entry``), so
  ``shopper-sentiment check`` can follow a still through every step; a
  registry that lists it already is refused.
"""

from __future__ import annotations

import importlib.util
import json
import math
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from aws_cdk import (
    Duration,
    RemovalPolicy,
    Size,
    Stack,
)
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_glue as glue
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kinesisfirehose as firehose
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_event_sources as event_sources
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from shopper_sentiment.building.cfn import depends_on_only, objects_arn
from shopper_sentiment.building.feature_flags import pin_feature_flags
from shopper_sentiment.building.lambda_code import (
    LAMBDA_ARCHITECTURE,
    LAMBDA_RUNTIME,
    code_with_file,
    dependencies_layer,
)
from shopper_sentiment.building.nag import acknowledge, finding
from shopper_sentiment.building.overrides import PropsError
from shopper_sentiment.building.package_files import packaged_folder
from shopper_sentiment.contracts import analyze_function as fn_env
from shopper_sentiment.contracts import identifiers
from shopper_sentiment.contracts.layout import (
    DATA_PREFIX,
    ERROR_PREFIX,
    IMAGES_PREFIX,
    INCOMING_PREFIX,
    partition_prefix,
)

HANDLER_DIR = packaged_folder("shopper_sentiment.functions", "analyze_image")
#: The share of the DetectFaces budget one analysis thread stands for (calls/s):
#: each execution environment paces its calls to ANALYZE_THREADS times this
#: (DETECT_FACES_PER_SECOND_PER_THREAD in the function's shopper_analyze/clients.py;
#: a test keeps the two equal). Half a call a second lets integer counts of
#: invocations and threads add up to almost any budget exactly.
CALLS_PER_SECOND_PER_THREAD = 0.5
#: The fewest threads ``parallelism_for`` gives an invocation where the budget
#: allows: 5 threads pace 2.5 calls/s, so a batch of 500 images is analyzed in
#: 200 s and settled well inside the 300 s function timeout (the handler keeps
#: its last 30 s for delivery).
THREADS_PER_INVOCATION_MIN = 5
#: The most analysis threads ``parallelism_for`` gives one invocation: the
#: function's own ceiling (ANALYZE_THREADS_CEILING). boto3 clients are
#: thread-safe; the threads mostly wait for their turn at DetectFaces, then
#: settle the batch together. Up to 32, two invocations pace any budget up to
#: 32/s exactly.
THREADS_PER_INVOCATION_CAP = 32
#: SQS event source mappings accept a maximum concurrency of 2..1000.
_MIN_SQS_CONCURRENCY, _MAX_SQS_CONCURRENCY = 2, 1000
#: Big batches are what keep PutRecordBatch calls ≤ 3 per 1,000 faces even
#: with one face per image; the window lets a quiet store fill them.
DEFAULT_BATCH_SIZE = 500
DEFAULT_BATCH_WINDOW = Duration.seconds(30)
DEFAULT_TIMEOUT = Duration.minutes(5)
#: AWS recommends a queue visibility timeout of at least six times the
#: function timeout for SQS event sources (a throttled or retried invocation
#: must not see its batch delivered to another one meanwhile).
VISIBILITY_TIMEOUT_FACTOR = 6
#: Firehose writes under the partition folders of shopper_sentiment.contracts.layout, named by
#: the values the jq processor extracts from each record.
_PARTITION_VALUES = ("!{partitionKeyFromQuery:store_id}", "!{partitionKeyFromQuery:dt}")
FIREHOSE_DATA_PREFIX = partition_prefix(*_PARTITION_VALUES)
FIREHOSE_ERROR_PREFIX = f"{ERROR_PREFIX}!{{firehose:error-output-type}}/dt=!{{timestamp:yyyy-MM-dd}}/"
FIREHOSE_IMAGES_PREFIX = partition_prefix(*_PARTITION_VALUES, table_prefix=IMAGES_PREFIX)
FIREHOSE_IMAGES_ERROR_PREFIX = (
    f"{ERROR_PREFIX}{IMAGES_PREFIX}/!{{firehose:error-output-type}}/dt=!{{timestamp:yyyy-MM-dd}}/"
)


def check_device_registry_entry() -> dict[str, Any]:
    """The check device's registry entry: its own store (UTC days), every attribute, its images archived.

    Every attribute, so the check's rows exercise every column; kept, so the
    check can see the archive copy appear whatever the deployment's privacy says.
    """
    return {
        "store_id": identifiers.CHECK_STORE_ID,
        "timezone": identifiers.CHECK_TIME_ZONE,
        "cameras": {
            identifiers.CHECK_CAMERA_ID: {
                "zone": identifiers.CHECK_ZONE,
                "attributes": list(fn_env.ATTRIBUTE_GROUPS),
                "keep_images": True,
            }
        },
    }


def refuse_registry_the_function_would(registry: Mapping[str, Any], handler_dir: Path) -> None:
    """Refuse at synth a device registry the function would refuse at every cold start.

    The check is the function's own parser (``shopper_analyze/settings.py`` of
    the code that ships, standard library only), so the tier and the function
    cannot disagree; its message names the device, camera and field.
    """
    path = handler_dir / "shopper_analyze" / "settings.py"
    name = "_shipped_analyze_settings"
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:  # pragma: no cover - the folder is the package's own
        raise FileNotFoundError(f"{path}: the analyze function's settings module is missing")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up while the class is made
    try:
        spec.loader.exec_module(module)
        module.parse_device_registry(json.dumps(registry), source="ProcessTier device_registry")
    except module.ConfigurationError as exc:
        raise PropsError(str(exc)) from None
    finally:
        sys.modules.pop(name, None)


def queue_visibility_timeout_for(function_timeout: Duration) -> Duration:
    """The visibility timeout the incoming queue needs for a function with this timeout."""
    return Duration.seconds(VISIBILITY_TIMEOUT_FACTOR * function_timeout.to_seconds())


def parallelism_for(rekognition_tps: int) -> tuple[int, int]:
    """(maximum concurrent invocations, analysis threads each) whose paced calls add up to the budget.

    Every invocation's environment paces DetectFaces to threads x
    ``CALLS_PER_SECOND_PER_THREAD``, so invocations x threads x that rate is
    what the deployment asks of Rekognition at most: as close to the budget
    as whole numbers allow, never above it. Among the pairs that come
    closest, the one with the most threads per invocation (fewer, faster
    batches). Budgets under 5/s leave fewer than ``THREADS_PER_INVOCATION_MIN``
    threads to each of the two invocations SQS requires at least: a full batch
    then takes longer than the function timeout allows, and the handler hands
    the images it could not start back to SQS.
    """
    if rekognition_tps < 1:
        raise ValueError("rekognition_tps must be at least 1")
    streams = math.floor(rekognition_tps / CALLS_PER_SECOND_PER_THREAD)
    fitting = [
        (workers * threads, threads, workers)
        for threads in range(THREADS_PER_INVOCATION_MIN, THREADS_PER_INVOCATION_CAP + 1)
        if (workers := min(_MAX_SQS_CONCURRENCY, streams // threads)) >= _MIN_SQS_CONCURRENCY
    ]
    if not fitting:  # too small a budget for two invocations of the minimum threads each
        return _MIN_SQS_CONCURRENCY, max(1, streams // _MIN_SQS_CONCURRENCY)
    _, threads, workers = max(fitting)
    return workers, threads


def _check_visibility_timeout(queue: sqs.IQueue, timeout: Duration) -> None:
    """Refuse a queue we can see whose visibility timeout is under six times the function timeout."""
    resource = queue.node.default_child if isinstance(queue, sqs.Queue) else None
    if not isinstance(resource, sqs.CfnQueue):
        return  # an imported queue: its attributes are not known at synth time
    # SQS's default visibility timeout when none is set.
    seconds = resource.visibility_timeout if resource.visibility_timeout is not None else 30
    needed = queue_visibility_timeout_for(timeout).to_seconds()
    if isinstance(seconds, int | float) and seconds < needed:
        raise ValueError(
            f"ProcessTier: the queue's visibility timeout ({seconds:g} s) must be at least "
            f"{VISIBILITY_TIMEOUT_FACTOR}x the function timeout ({timeout.to_seconds():g} s), i.e. {needed:g} s; "
            "build the queue with queue_visibility_timeout_for(timeout)"
        )


class ProcessTier(Construct):
    """Analyze Lambda fed by SQS, idempotency table, Firehose to Parquet.

    Attributes: ``function``, ``role``, ``event_source``,
    ``dependencies`` (the layer), ``idempotency_table``, ``delivery_stream``, ``max_concurrency``,
    ``analyze_threads``.
    """

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        source_bucket: s3.IBucket,
        archive_bucket: s3.IBucket,
        queue: sqs.IQueue,
        curated_bucket: s3.IBucket,
        faces_table: glue.CfnTable,
        images_table: glue.CfnTable,
        device_registry: Mapping[str, Mapping[str, Any]],
        rekognition_tps: int,
        min_detection_confidence: float = fn_env.DEFAULT_MIN_DETECTION_CONFIDENCE,
        min_sharpness: float = fn_env.DEFAULT_MIN_SHARPNESS,
        batch_size: int = DEFAULT_BATCH_SIZE,
        max_batching_window: Duration = DEFAULT_BATCH_WINDOW,
        timeout: Duration = DEFAULT_TIMEOUT,
        memory_size: int = 512,
        buffering_size: Size = Size.mebibytes(128),
        # Firehose's maximum: each flush writes one object per store/day
        # partition, and small Parquet files cost Athena a footer read each.
        buffering_interval: Duration = Duration.seconds(900),
        log_retention: logs.RetentionDays = logs.RetentionDays.ONE_MONTH,
        removal_policy: RemovalPolicy = RemovalPolicy.RETAIN,
        handler_dir: Path = HANDLER_DIR,
        metrics_namespace: str = fn_env.METRICS_NAMESPACE,
    ) -> None:
        super().__init__(scope, id_)
        pin_feature_flags(self)
        if not device_registry:
            raise ValueError("ProcessTier needs a device registry with at least one device")
        if identifiers.CHECK_DEVICE_ID in device_registry:
            raise ValueError(
                f"ProcessTier device registry lists {identifiers.CHECK_DEVICE_ID!r}, the device reserved for"
                " shopper-sentiment check; the tier adds it itself: give the real device another id"
            )
        device_registry = {**device_registry, identifiers.CHECK_DEVICE_ID: check_device_registry_entry()}
        refuse_registry_the_function_would(device_registry, handler_dir)
        if not 1 <= batch_size <= 10_000:
            raise ValueError("ProcessTier batch_size must be 1..10000 (the SQS event source limit)")
        if batch_size > 10 and max_batching_window.to_seconds() < 1:
            raise ValueError("ProcessTier batch_size above 10 needs a max_batching_window of at least 1 second")
        # The handler keeps 30 s back to deliver and archive a batch; below a
        # minute every message would go straight back to SQS.
        if timeout.to_seconds() < 60:
            raise ValueError("ProcessTier timeout must be at least 60 seconds")
        # Firehose refuses format conversion below 64 MiB of buffer.
        if buffering_size.to_mebibytes() < 64:
            raise ValueError("ProcessTier buffering_size must be at least 64 MiB for Parquet conversion")
        _check_visibility_timeout(queue, timeout)
        self.max_concurrency, self.analyze_threads = parallelism_for(rekognition_tps)

        buffering = (buffering_size, buffering_interval, log_retention, removal_policy)
        self.delivery_stream = self._delivery_stream(
            "", curated_bucket, faces_table, DATA_PREFIX, FIREHOSE_DATA_PREFIX, FIREHOSE_ERROR_PREFIX, *buffering
        )
        self.images_stream = self._delivery_stream(
            "Images",
            curated_bucket,
            images_table,
            IMAGES_PREFIX,
            FIREHOSE_IMAGES_PREFIX,
            FIREHOSE_IMAGES_ERROR_PREFIX,
            *buffering,
        )
        # The L2 adds a region → CIDR mapping for Redshift/Splunk/HTTP
        # destinations; an S3 destination never reads it (cfn-lint W7001).
        Stack.of(self).node.try_remove_child("@aws-cdk--aws-kinesisfirehose.CidrBlocks")

        self.idempotency_table = dynamodb.Table(
            self,
            "Idempotency",
            partition_key=dynamodb.Attribute(name="id", type=dynamodb.AttributeType.STRING),
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
            time_to_live_attribute="expiration",
            encryption=dynamodb.TableEncryption.AWS_MANAGED,
            # Off on purpose: the stored analyses hold face attributes, and TTL
            # removes them after the redelivery window (7 days); point-in-time
            # recovery would keep them 35 days more. Nothing here needs a backup:
            # every item can be recomputed (an analysis by calling DetectFaces
            # again, a delivered marker costs at most a duplicate row).
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=False
            ),
            # Not removal_policy: the table holds only what the function can
            # recompute (stored analyses, delivered markers; TTL 7 days).
            # Retaining it after the stack is gone would keep face attributes
            # that nothing reads and nobody owns.
            removal_policy=RemovalPolicy.DESTROY,
        )
        acknowledge(
            self.idempotency_table,
            "AwsSolutions-DDB3",
            "Point-in-time recovery is off on purpose: the table holds stored analyses (face attributes) that "
            "TTL removes after the 7-day redelivery window, and a backup would keep them 35 days longer; every "
            "item can be recomputed, so nothing is lost without one.",
        )

        log_group = logs.LogGroup(self, "Logs", retention=log_retention, removal_policy=removal_policy)
        self.role = iam.Role(
            self,
            "Role",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description="Analyze Lambda: DetectFaces, read/delete incoming/, write archive, put to Firehose",
        )
        self._grant_least_privilege(source_bucket, archive_bucket, log_group)

        registry_json = json.dumps(device_registry, sort_keys=True, separators=(",", ":"))
        self.dependencies = dependencies_layer(self, "Dependencies", handler_dir, function="analyze")
        self.function = lambda_.Function(
            self,
            "Analyze",
            description="Rekognition DetectFaces on each uploaded image; one Parquet row per face",
            runtime=LAMBDA_RUNTIME,
            architecture=LAMBDA_ARCHITECTURE,
            handler="app.handler",
            # The registry is too large for Lambda's 4 KB of environment variables once a
            # deployment has a few dozen devices, so it ships inside the asset.
            code=code_with_file(handler_dir, fn_env.REGISTRY_FILE_NAME, registry_json),
            layers=[self.dependencies],
            role=self.role,
            log_group=log_group,
            timeout=timeout,
            memory_size=memory_size,
            environment={
                fn_env.FIREHOSE_STREAM_NAME: self.delivery_stream.delivery_stream_name,
                fn_env.IMAGES_STREAM_NAME: self.images_stream.delivery_stream_name,
                fn_env.ARCHIVE_BUCKET: archive_bucket.bucket_name,
                fn_env.IDEMPOTENCY_TABLE: self.idempotency_table.table_name,
                fn_env.DEVICE_REGISTRY_FILE: fn_env.REGISTRY_FILE_NAME,
                fn_env.MIN_DETECTION_CONFIDENCE: f"{min_detection_confidence:g}",
                fn_env.MIN_SHARPNESS: f"{min_sharpness:g}",
                fn_env.ANALYZE_THREADS: str(self.analyze_threads),
                "POWERTOOLS_SERVICE_NAME": fn_env.SERVICE_NAME,
                "POWERTOOLS_METRICS_NAMESPACE": metrics_namespace,
                "POWERTOOLS_LOG_LEVEL": "INFO",
            },
        )
        self.event_source = event_sources.SqsEventSource(
            queue,
            batch_size=batch_size,
            max_batching_window=max_batching_window,
            report_batch_item_failures=True,
            max_concurrency=self.max_concurrency,
        )
        self.function.add_event_source(self.event_source)
        # The first invocation must find every permission in place; the role
        # itself is referenced with GetAtt already (cfn-lint W3005).
        depends_on_only(self.function.node.default_child, self._policy, self.role.node.find_child("DefaultPolicy"))

    def _delivery_stream(
        self,
        name: str,
        curated_bucket: s3.IBucket,
        table: glue.CfnTable,
        table_prefix: str,
        data_prefix: str,
        error_prefix: str,
        buffering_size: Size,
        buffering_interval: Duration,
        log_retention: logs.RetentionDays,
        removal_policy: RemovalPolicy,
    ) -> firehose.DeliveryStream:
        """JSON records → Parquet under ``table_prefix/``, ``table`` the schema; construct ids start with ``name``."""
        log_group = logs.LogGroup(self, f"{name}FirehoseLogs", retention=log_retention, removal_policy=removal_policy)
        delivery_role, delivery_policy = self._delivery_role(
            name, curated_bucket, table, log_group, [f"{table_prefix}/*", error_prefix.split("!")[0] + "*"]
        )
        destination = firehose.S3Bucket(
            curated_bucket,
            # The L2 would grant read/write/delete on the whole bucket to a role
            # it manages; the immutable view keeps the role to exactly the
            # documented destination permissions built in _delivery_role.
            role=delivery_role.without_policy_updates(),
            logging_config=firehose.EnableLogging(log_group),
            data_output_prefix=data_prefix,
            file_extension=".parquet",
            # Rows that fail conversion land here as format-conversion-failed.
            error_output_prefix=error_prefix,
            buffering_size=buffering_size,
            buffering_interval=buffering_interval,
            # No destination compression: with format conversion the L2 sets
            # it to UNCOMPRESSED (required) and Parquet compresses via its SerDe.
            data_format_conversion=firehose.DataFormatConversionProps(
                schema_configuration=firehose.SchemaConfiguration.from_cfn_table(table),
                # Hive JSON SerDe with TimestampFormats ["millis"]: the handler
                # writes its timestamps as epoch milliseconds. See
                # "Converting Input Record Format in Amazon Data Firehose" >
                # HiveJsonSerDe TimestampFormats ("millis" parses epoch ms), and the
                # Firehose API Reference's HiveJsonSerDe data type.
                input_format=firehose.HiveJsonInputFormat(timestamp_parsers=[firehose.TimestampParser.EPOCH_MILLIS]),
                output_format=firehose.ParquetOutputFormat(compression=firehose.ParquetCompression.SNAPPY),
            ),
            dynamic_partitioning=firehose.DynamicPartitioningProps(enabled=True),
            processors=[firehose.MetadataExtractionProcessor.jq16({"store_id": ".store_id", "dt": ".dt"})],
        )
        stream = firehose.DeliveryStream(
            self,
            name or "Faces",
            destination=destination,
            encryption=firehose.StreamEncryption.aws_owned_key(),
        )
        # Firehose checks its role can write when the stream is created.
        depends_on_only(stream.node.default_child, delivery_policy)
        return stream

    def _delivery_role(
        self,
        name: str,
        curated_bucket: s3.IBucket,
        table: glue.CfnTable,
        log_group: logs.ILogGroup,
        written_patterns: list[str],
    ) -> tuple[iam.Role, iam.Policy]:
        """Exactly the permissions Firehose documents for an S3 destination with format conversion.

        (Amazon Data Firehose Developer Guide, "Controlling access", granting Firehose access to an S3 destination.)
        """
        stack = Stack.of(self)
        table_input = table.table_input
        database_name = table.database_name
        table_name = table_input.name  # type: ignore[union-attr]
        written = [objects_arn(self, curated_bucket, pattern) for pattern in written_patterns]
        role = iam.Role(
            self,
            f"{name}DeliveryRole",
            assumed_by=iam.ServicePrincipal(
                "firehose.amazonaws.com", conditions={"StringEquals": {"sts:ExternalId": stack.account}}
            ),
            description=f"Firehose: write Parquet {table_name} records into the curated bucket",
        )
        policy = iam.Policy(
            self,
            f"{name}DeliveryPolicy",
            statements=[
                iam.PolicyStatement(
                    sid="BucketLevel",
                    actions=["s3:GetBucketLocation", "s3:ListBucket", "s3:ListBucketMultipartUploads"],
                    resources=[curated_bucket.bucket_arn],
                ),
                iam.PolicyStatement(
                    sid="WriteRecordsAndErrors",
                    actions=["s3:AbortMultipartUpload", "s3:GetObject", "s3:PutObject"],
                    resources=written,
                ),
                iam.PolicyStatement(
                    sid="ReadSchema",
                    actions=["glue:GetTable", "glue:GetTableVersion", "glue:GetTableVersions"],
                    resources=[
                        stack.format_arn(service="glue", resource="catalog"),
                        stack.format_arn(service="glue", resource="database", resource_name=database_name),
                        stack.format_arn(
                            service="glue", resource="table", resource_name=f"{database_name}/{table_name}"
                        ),
                    ],
                ),
                iam.PolicyStatement(
                    sid="OwnLogGroup",
                    actions=["logs:CreateLogStream", "logs:PutLogEvents"],
                    resources=[log_group.log_group_arn, f"{log_group.log_group_arn}:*"],
                ),
            ],
        )
        policy.attach_to_role(role)
        reasons = {
            written[0]: f"Firehose names the Parquet objects it writes under {written_patterns[0][:-1]} (dynamic "
            "partitions); the wildcard is limited to that prefix.",
            written[1]: f"Records that fail conversion are written under {written_patterns[1][:-1]} with "
            "Firehose-generated names.",
            f"{log_group.log_group_arn}:*": "Firehose creates its log streams at run time in this log group only.",
        }
        for resource, reason in reasons.items():
            acknowledge(policy, finding(self, "AwsSolutions-IAM5", "Resource", resource), reason)
        return role, policy

    def _grant_least_privilege(
        self, source_bucket: s3.IBucket, archive_bucket: s3.IBucket, log_group: logs.ILogGroup
    ) -> None:
        incoming_objects = objects_arn(self, source_bucket, f"{INCOMING_PREFIX}*")
        archive_objects = objects_arn(self, archive_bucket, "*")
        statements = [
            iam.PolicyStatement(
                sid="DetectFaces",
                actions=["rekognition:DetectFaces"],
                # DetectFaces has no resource type: it can only be granted on "*".
                resources=["*"],
            ),
            iam.PolicyStatement(
                # HEAD of an archived or quarantined copy: S3 answers a redelivered
                # image's HEAD with 403, not 404, to a role without s3:ListBucket,
                # and the copy is what tells "already settled" from "refused".
                sid="FindSettledImages",
                actions=["s3:GetObject"],
                resources=[archive_objects],
            ),
            iam.PolicyStatement(
                sid="ReadAndRemoveIncoming",
                actions=[
                    "s3:GetObject",
                    "s3:GetObjectVersion",
                    "s3:GetObjectTagging",
                    "s3:DeleteObject",
                    "s3:DeleteObjectVersion",
                ],
                resources=[incoming_objects],
            ),
            iam.PolicyStatement(
                sid="WriteArchive",
                actions=["s3:PutObject", "s3:PutObjectTagging"],
                resources=[archive_objects],
            ),
            iam.PolicyStatement(
                sid="DeliverFaceRecords",
                actions=["firehose:PutRecordBatch"],
                resources=[self.delivery_stream.delivery_stream_arn, self.images_stream.delivery_stream_arn],
            ),
            iam.PolicyStatement(
                sid="Idempotency",
                actions=["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"],
                resources=[self.idempotency_table.table_arn],
            ),
            iam.PolicyStatement(
                sid="OwnLogGroup",
                actions=["logs:CreateLogStream", "logs:PutLogEvents"],
                resources=[log_group.log_group_arn, f"{log_group.log_group_arn}:*"],
            ),
        ]
        policy = iam.Policy(self, "LeastPrivilege", statements=statements)
        policy.attach_to_role(self.role)
        self._policy = policy
        wildcards = {
            "Resource::*": "rekognition:DetectFaces supports no resource-level permissions; '*' is the only "
            "resource it can be granted on.",
            incoming_objects: "The function reads, then removes, only objects under incoming/ (names generated "
            "by the devices); it cannot touch any other prefix.",
            archive_objects: "The function writes archived images and quarantined ones (quarantine/<reason>/) "
            "under the same generated names into the archive bucket only, and looks up (HEAD) whether an image it "
            "is handed again was already settled there; it cannot delete there.",
            f"{log_group.log_group_arn}:*": "Log streams are created by Lambda at run time; the wildcard is "
            "limited to streams of this function's own log group.",
        }
        for resource, reason in wildcards.items():
            rule = (
                "AwsSolutions-IAM5[Resource::*]"
                if resource == "Resource::*"
                else finding(self, "AwsSolutions-IAM5", "Resource", resource)
            )
            acknowledge(policy, rule, reason)
