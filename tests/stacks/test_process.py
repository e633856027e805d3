"""ProcessTier guarantees: least-privilege Lambda fed by SQS, Firehose → Parquet via the Glue table."""

from __future__ import annotations

import json
import re
from pathlib import Path

import aws_cdk as cdk
import pytest
from aws_cdk import aws_glue as glue
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sqs as sqs
from aws_cdk.assertions import Match, Template

from app import build_app
from shopper_sentiment import PropsError
from shopper_sentiment.config import parse_config
from shopper_sentiment.contracts.analyze_function import ATTRIBUTE_GROUPS, REGISTRY_FILE_NAME
from shopper_sentiment.contracts.identifiers import CHECK_DEVICE_ID, CHECK_STORE_ID, STORE_ID_PATTERN
from shopper_sentiment.tiers.process import (
    CALLS_PER_SECOND_PER_THREAD,
    ProcessTier,
    check_device_registry_entry,
    parallelism_for,
    queue_visibility_timeout_for,
)
from tests.cdk_apps import PROJECT_ROOT, is_analyze_function, new_app

REGISTRY = {"pi-a": {"store_id": "s1", "timezone": "Europe/Berlin", "cameras": {"door": {"zone": "entrance"}}}}


def bare_stack() -> tuple[cdk.Stack, dict]:
    stack = cdk.Stack(new_app(), "Bare")
    table = glue.CfnTable(
        stack,
        "Table",
        catalog_id=stack.account,
        database_name="db",
        table_input=glue.CfnTable.TableInputProperty(name="faces"),
    )
    deps = {
        "source_bucket": s3.Bucket(stack, "Src"),
        "archive_bucket": s3.Bucket(stack, "Arc"),
        "queue": sqs.Queue(stack, "Q", visibility_timeout=queue_visibility_timeout_for(cdk.Duration.minutes(5))),
        "curated_bucket": s3.Bucket(stack, "Cur"),
        "faces_table": table,
        "images_table": glue.CfnTable(
            stack,
            "ImagesTable",
            catalog_id=stack.account,
            database_name="db",
            table_input=glue.CfnTable.TableInputProperty(name="images"),
        ),
    }
    return stack, deps


@pytest.fixture(scope="module")
def process() -> tuple[cdk.Stack, ProcessTier, Template, dict]:
    stack, deps = bare_stack()
    tier = ProcessTier(stack, "Process", device_registry=REGISTRY, rekognition_tps=20, **deps)
    return stack, tier, Template.from_stack(stack), deps


def ref(stack: cdk.Stack, construct) -> str:
    element = construct if isinstance(construct, cdk.CfnElement) else construct.node.default_child
    return stack.get_logical_id(element)


def test_analyze_function_is_arm64_python_with_its_dependencies_in_a_layer_of_its_own(process):
    stack, tier, template, _ = process
    resources = template.to_json()["Resources"]
    fn = resources[ref(stack, tier.function)]["Properties"]
    assert fn["Architectures"] == ["arm64"]
    assert fn["Handler"] == "app.handler"
    major, minor = map(int, re.fullmatch(r"python(\d)\.(\d+)", fn["Runtime"]).groups())
    assert (major, minor) >= (3, 12)
    assert fn["Layers"] == [{"Ref": ref(stack, tier.dependencies)}]
    layer = resources[ref(stack, tier.dependencies)]["Properties"]
    assert layer["CompatibleRuntimes"] == [fn["Runtime"]]
    assert layer["CompatibleArchitectures"] == ["arm64"]
    assert layer["Content"]["S3Key"].endswith(".zip")  # an asset of the stack, not a public ARN
    # Nothing public is resolved at deploy time (Powertools' layer lookup was /aws/service/powertools/...).
    parameters = template.to_json().get("Parameters", {}).values()
    assert not [p for p in parameters if "SSM" in p["Type"] and not p["Default"].startswith("/cdk-bootstrap/")]


def test_function_environment_names_its_resources(process):
    stack, tier, template, deps = process
    env = template.to_json()["Resources"][ref(stack, tier.function)]["Properties"]["Environment"]["Variables"]
    assert env["FIREHOSE_STREAM_NAME"] == {"Ref": ref(stack, tier.delivery_stream)}
    assert env["IMAGES_STREAM_NAME"] == {"Ref": ref(stack, tier.images_stream)}
    assert env["ARCHIVE_BUCKET"] == {"Ref": ref(stack, deps["archive_bucket"])}
    assert env["IDEMPOTENCY_TABLE"] == {"Ref": ref(stack, tier.idempotency_table)}
    assert env["DEVICE_REGISTRY_FILE"] == REGISTRY_FILE_NAME
    assert env["MIN_DETECTION_CONFIDENCE"] == "90"


def test_sqs_event_source_reports_partial_failures_and_caps_concurrency(process):
    stack, _, template, deps = process
    template.has_resource_properties(
        "AWS::Lambda::EventSourceMapping",
        {
            "EventSourceArn": {"Fn::GetAtt": [ref(stack, deps["queue"]), "Arn"]},
            "BatchSize": 500,
            "MaximumBatchingWindowInSeconds": 30,
            "FunctionResponseTypes": ["ReportBatchItemFailures"],
            "ScalingConfig": {"MaximumConcurrency": parallelism_for(20)[0]},
        },
    )


@pytest.mark.parametrize(
    ("tps", "workers", "threads"),
    [(1, 2, 1), (4, 2, 4), (5, 2, 5), (19, 2, 19), (20, 2, 20), (47, 3, 31), (50, 4, 25), (1000, 80, 25)],
)
def test_concurrency_and_threads_are_derived_from_the_rekognition_budget(tps, workers, threads):
    assert parallelism_for(tps) == (workers, threads)
    paced = workers * threads * CALLS_PER_SECOND_PER_THREAD  # what the environments' paces add up to
    assert paced <= tps  # never more than the budget
    assert paced >= 0.97 * tps  # and all of it that whole numbers allow


@pytest.mark.parametrize("tps", range(5, 400))
def test_every_budget_from_five_gets_invocations_that_settle_a_full_batch_in_time(tps):
    workers, threads = parallelism_for(tps)
    assert workers >= 2  # the least maximum concurrency SQS accepts
    assert threads * CALLS_PER_SECOND_PER_THREAD >= 2.5  # 500 images in at most 200 s of the 300 s timeout
    assert threads <= 32  # the function's ceiling (ANALYZE_THREADS)
    assert 0.97 * tps <= workers * threads * CALLS_PER_SECOND_PER_THREAD <= tps


def test_function_gets_its_thread_count_and_a_timeout_the_queue_covers(process):
    stack, tier, template, deps = process
    fn = template.to_json()["Resources"][ref(stack, tier.function)]["Properties"]
    assert fn["Environment"]["Variables"]["ANALYZE_THREADS"] == str(tier.analyze_threads)
    queue = template.to_json()["Resources"][ref(stack, deps["queue"])]["Properties"]
    assert fn["Timeout"] * 6 <= queue["VisibilityTimeout"]


@pytest.mark.parametrize("visibility", [None, cdk.Duration.minutes(29)])
def test_a_queue_whose_visibility_timeout_is_under_six_function_timeouts_is_refused(visibility):
    stack, deps = bare_stack()
    deps["queue"] = sqs.Queue(stack, "Short", visibility_timeout=visibility)
    with pytest.raises(ValueError, match=r"visibility timeout \(\d+ s\) must be at least 6x the function timeout"):
        ProcessTier(stack, "Process", device_registry=REGISTRY, rekognition_tps=5, **deps)


def test_a_longer_function_timeout_needs_a_longer_queue_visibility_timeout():
    stack, deps = bare_stack()  # a queue sized for the default 5 minutes
    with pytest.raises(ValueError, match="3600 s"):
        ProcessTier(
            stack, "Process", device_registry=REGISTRY, rekognition_tps=5, timeout=cdk.Duration.minutes(10), **deps
        )
    assert queue_visibility_timeout_for(cdk.Duration.minutes(10)).to_seconds() == 3600


def policy_statements(template: Template, role_logical_id: str) -> list[dict]:
    statements = []
    for policy in template.find_resources("AWS::IAM::Policy").values():
        if {"Ref": role_logical_id} in policy["Properties"]["Roles"]:
            statements += policy["Properties"]["PolicyDocument"]["Statement"]
    return statements


def actions(statement: dict) -> set[str]:
    value = statement["Action"]
    return {value} if isinstance(value, str) else set(value)


def test_function_role_is_least_privilege(process):
    stack, tier, template, deps = process
    role = template.to_json()["Resources"][ref(stack, tier.role)]["Properties"]
    assert "ManagedPolicyArns" not in role
    by_sid = {s.get("Sid"): s for s in policy_statements(template, ref(stack, tier.role))}
    assert actions(by_sid["DetectFaces"]) == {"rekognition:DetectFaces"}
    src = ref(stack, deps["source_bucket"])
    assert by_sid["ReadAndRemoveIncoming"]["Resource"] == {
        "Fn::Join": ["", [{"Fn::GetAtt": [src, "Arn"]}, "/incoming/*"]]
    }
    assert actions(by_sid["WriteArchive"]) == {"s3:PutObject", "s3:PutObjectTagging"}
    assert by_sid["WriteArchive"]["Resource"] == {
        "Fn::Join": ["", [{"Fn::GetAtt": [ref(stack, deps["archive_bucket"]), "Arn"]}, "/*"]]
    }
    # HEAD of an archived or quarantined copy: how a redelivery that S3 answers with 403 is recognised.
    assert actions(by_sid["FindSettledImages"]) == {"s3:GetObject"}
    assert by_sid["FindSettledImages"]["Resource"] == by_sid["WriteArchive"]["Resource"]
    assert actions(by_sid["DeliverFaceRecords"]) == {"firehose:PutRecordBatch"}
    assert by_sid["DeliverFaceRecords"]["Resource"] == [
        {"Fn::GetAtt": [ref(stack, tier.delivery_stream), "Arn"]},
        {"Fn::GetAtt": [ref(stack, tier.images_stream), "Arn"]},
    ]
    granted = set().union(*(actions(s) for s in by_sid.values()))
    # Nothing but these, plus the SQS consume actions the event source adds.
    allowed = {
        "rekognition:DetectFaces",
        "s3:GetObject",
        "s3:GetObjectVersion",
        "s3:GetObjectTagging",
        "s3:DeleteObject",
        "s3:DeleteObjectVersion",
        "s3:PutObject",
        "s3:PutObjectTagging",
        "firehose:PutRecordBatch",
        "dynamodb:GetItem",
        "dynamodb:PutItem",
        "dynamodb:UpdateItem",
        "dynamodb:DeleteItem",
        "logs:CreateLogStream",
        "logs:PutLogEvents",
        "sqs:ReceiveMessage",
        "sqs:ChangeMessageVisibility",
        "sqs:GetQueueUrl",
        "sqs:DeleteMessage",
        "sqs:GetQueueAttributes",
    }
    assert granted <= allowed, granted - allowed
    # No statement reaches the source bucket outside incoming/.
    for statement in by_sid.values():
        assert statement.get("Resource") != {"Fn::GetAtt": [src, "Arn"]}


def test_firehose_converts_json_to_snappy_parquet_using_the_glue_table(process):
    stack, tier, template, deps = process
    table = ref(stack, deps["faces_table"])
    template.has_resource_properties(
        "AWS::KinesisFirehose::DeliveryStream",
        {
            "DeliveryStreamType": "DirectPut",
            "DeliveryStreamEncryptionConfigurationInput": {"KeyType": "AWS_OWNED_CMK"},
            "ExtendedS3DestinationConfiguration": Match.object_like(
                {
                    "BucketARN": {"Fn::GetAtt": [ref(stack, deps["curated_bucket"]), "Arn"]},
                    "BufferingHints": {"IntervalInSeconds": 900, "SizeInMBs": 128},
                    "Prefix": "faces/store_id=!{partitionKeyFromQuery:store_id}/dt=!{partitionKeyFromQuery:dt}/",
                    "ErrorOutputPrefix": "errors/!{firehose:error-output-type}/dt=!{timestamp:yyyy-MM-dd}/",
                    "DynamicPartitioningConfiguration": {"Enabled": True},
                    "DataFormatConversionConfiguration": {
                        "Enabled": True,
                        "InputFormatConfiguration": {
                            "Deserializer": {"HiveJsonSerDe": {"TimestampFormats": ["millis"]}}
                        },
                        "OutputFormatConfiguration": {"Serializer": {"ParquetSerDe": {"Compression": "SNAPPY"}}},
                        "SchemaConfiguration": Match.object_like(
                            {"DatabaseName": "db", "TableName": {"Ref": table}, "VersionId": "LATEST"}
                        ),
                    },
                }
            ),
        },
    )
    stream = template.to_json()["Resources"][ref(stack, tier.delivery_stream)]
    config = stream["Properties"]["ExtendedS3DestinationConfiguration"]
    assert config.get("CompressionFormat", "UNCOMPRESSED") == "UNCOMPRESSED"
    assert config["BufferingHints"]["SizeInMBs"] >= 64
    (processor,) = config["ProcessingConfiguration"]["Processors"]
    params = {p["ParameterName"]: p["ParameterValue"] for p in processor["Parameters"]}
    assert processor["Type"] == "MetadataExtraction"
    assert params["MetadataExtractionQuery"] == '{"store_id":.store_id,"dt":.dt}'
    assert params["JsonParsingEngine"] == "JQ-1.6"


@pytest.mark.parametrize(
    ("stream_attribute", "table", "folders"),
    [
        ("delivery_stream", "Table", ["/faces/*", "/errors/*"]),
        ("images_stream", "ImagesTable", ["/images/*", "/errors/images/*"]),
    ],
)
def test_each_firehose_role_writes_only_under_its_prefixes_and_reads_only_its_schema(
    process, stream_attribute, table, folders
):
    stack, tier, template, deps = process
    stream = template.to_json()["Resources"][ref(stack, getattr(tier, stream_attribute))]
    destination = stream["Properties"]["ExtendedS3DestinationConfiguration"]
    assert destination["DataFormatConversionConfiguration"]["SchemaConfiguration"]["TableName"] == {
        "Ref": ref(stack, deps[{"Table": "faces_table", "ImagesTable": "images_table"}[table]])
    }
    role_id = destination["RoleARN"]["Fn::GetAtt"][0]
    statements = {s.get("Sid"): s for s in policy_statements(template, role_id)}
    curated = {"Fn::GetAtt": [ref(stack, deps["curated_bucket"]), "Arn"]}
    written = statements["WriteRecordsAndErrors"]["Resource"]
    assert sorted(map(str, written)) == sorted(str({"Fn::Join": ["", [curated, folder]]}) for folder in folders)
    granted = set().union(*(actions(s) for s in statements.values()))
    assert granted == {
        "s3:GetBucketLocation",
        "s3:ListBucket",
        "s3:ListBucketMultipartUploads",
        "s3:AbortMultipartUpload",
        "s3:GetObject",
        "s3:PutObject",
        "glue:GetTable",
        "glue:GetTableVersion",
        "glue:GetTableVersions",
        "logs:CreateLogStream",
        "logs:PutLogEvents",
    }


def test_idempotency_table_has_the_powertools_key_and_ttl(process):
    _, _, template, _ = process
    template.has_resource_properties(
        "AWS::DynamoDB::Table",
        {
            "KeySchema": [{"AttributeName": "id", "KeyType": "HASH"}],
            "TimeToLiveSpecification": {"AttributeName": "expiration", "Enabled": True},
            "BillingMode": "PAY_PER_REQUEST",
            # Off: a backup would keep the stored face attributes 35 days past their TTL.
            "PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": False},
        },
    )


def test_the_asset_ships_the_device_registry_of_the_deployment(demo_assembly, demo_config):
    registries = list(Path(demo_assembly.directory).glob(f"asset.*/{REGISTRY_FILE_NAME}"))
    assert len(registries) == 1
    asset = registries[0].parent
    assert json.loads(registries[0].read_text()) == with_check_device(demo_config.deployments[0].device_registry())
    handler = PROJECT_ROOT / "lambdas" / "analyze_image" / "app.py"
    if handler.exists():
        assert (asset / "app.py").read_bytes() == handler.read_bytes()
    assert not list(asset.rglob("__pycache__"))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"device_registry": {}}, "at least one device"),
        ({"batch_size": 10_001}, "batch_size"),
        ({"batch_size": 11, "max_batching_window": cdk.Duration.seconds(0)}, "max_batching_window"),
        ({"buffering_size": cdk.Size.mebibytes(32)}, "64 MiB"),
        ({"rekognition_tps": 0}, "at least 1"),
        ({"timeout": cdk.Duration.seconds(30)}, "at least 60 seconds"),
    ],
)
def test_process_tier_refuses_invalid_props(kwargs, message):
    stack, deps = bare_stack()
    props = {"device_registry": REGISTRY, "rekognition_tps": 5, **deps, **kwargs}
    with pytest.raises(ValueError, match=message):
        ProcessTier(stack, "Process", **props)


def _config(deployments: dict[str, dict[str, dict[str, str]]]) -> dict:
    """Deployments (name → device id → camera) of one store each, in the config's short device form."""
    return {
        "deployments": {
            name: {
                "region": "eu-west-1",
                "retention_days": 30,
                "rekognition_tps": 5,
                "stores": {f"store-{name}": {"timezone": "Europe/Berlin", "devices": devices}},
            }
            for name, devices in deployments.items()
        }
    }


def _analyze_assets(assembly) -> dict[str, tuple[str, dict]]:
    """stack name → (asset hash, bundled registry) of its analyze function."""
    found = {}
    for stack in assembly.stacks:
        for resource in stack.template["Resources"].values():
            if is_analyze_function(resource):
                asset_hash = resource["Properties"]["Code"]["S3Key"].removesuffix(".zip")
                registry = Path(assembly.directory) / f"asset.{asset_hash}" / REGISTRY_FILE_NAME
                found[stack.stack_name] = (asset_hash, json.loads(registry.read_text(encoding="utf-8")))
    return found


def test_a_device_added_after_the_first_deploy_changes_the_asset_and_reaches_the_function(tmp_path):
    door = {"pi-door": {"camera_id": "door", "zone": "entrance"}}
    till = {"pi-till": {"camera_id": "till", "zone": "checkout"}}
    # The same output folder twice, as `cdk synth` then `cdk deploy` after a config change (the
    # templates are read before the second synth overwrites them).
    before = build_app(new_app(tmp_path), parse_config(_config({"shop": door}))).synth()
    (hash_before, registry_before) = _analyze_assets(before)["ShopperSentiment-shop"]
    after = build_app(new_app(tmp_path), parse_config(_config({"shop": door | till}))).synth()
    (hash_after, registry_after) = _analyze_assets(after)["ShopperSentiment-shop"]
    assert hash_before != hash_after
    assert set(registry_before) == {"pi-door", CHECK_DEVICE_ID}
    assert set(registry_after) == {"pi-door", "pi-till", CHECK_DEVICE_ID}


def test_each_deployment_ships_exactly_its_own_device_registry(tmp_path):
    config = parse_config(
        _config(
            {
                "north": {"pi-north": {"camera_id": "door", "zone": "entrance"}},
                "south": {"pi-south": {"camera_id": "door", "zone": "entrance"}},
            }
        )
    )
    assets = _analyze_assets(build_app(new_app(tmp_path), config).synth())

    assert assets["ShopperSentiment-north"][0] != assets["ShopperSentiment-south"][0]
    for deployment in config.deployments:
        assert assets[deployment.stack_name][1] == with_check_device(deployment.device_registry())


def with_check_device(registry: dict) -> dict:
    return {**registry, CHECK_DEVICE_ID: check_device_registry_entry()}


def test_the_check_device_is_analyzed_in_its_own_store_with_every_attribute_and_its_image_kept():
    entry = check_device_registry_entry()
    assert entry["store_id"] == CHECK_STORE_ID == "_check"
    assert not re.fullmatch(STORE_ID_PATTERN, entry["store_id"]), "no configured store can be the check's"
    assert entry["timezone"] == "UTC"
    (camera,) = entry["cameras"].values()
    assert camera["attributes"] == list(ATTRIBUTE_GROUPS)
    assert camera["keep_images"] is True


def test_process_tier_refuses_a_registry_that_lists_the_check_device():
    stack, deps = bare_stack()
    registry = {**REGISTRY, CHECK_DEVICE_ID: check_device_registry_entry()}
    with pytest.raises(ValueError, match="reserved for shopper-sentiment check"):
        ProcessTier(stack, "Process", device_registry=registry, rekognition_tps=5, **deps)


@pytest.mark.parametrize(
    ("registry", "message"),
    [
        (
            {"pi-a": {"store_id": "s1", "camera_id": "door", "zone": "entrance"}},
            "ProcessTier device_registry: device 'pi-a' must have exactly the keys store_id, timezone, cameras",
        ),
        (
            {"pi-a": {"store_id": "s1", "timezone": "PST", "cameras": {"door": {"zone": "entrance"}}}},
            "ProcessTier device_registry: device 'pi-a' has timezone 'PST', which is no IANA time zone",
        ),
        (
            {"pi-a": {"store_id": "s1", "timezone": "UTC", "cameras": {}}},
            "ProcessTier device_registry: device 'pi-a' must list at least one camera",
        ),
        (
            {"pi-a": {"store_id": "s1", "timezone": "UTC", "cameras": {"door": {"zone": "x", "attributes": ["mood"]}}}},
            "ProcessTier device_registry: device 'pi-a' camera 'door': attributes 'mood' is not an attribute group",
        ),
    ],
    ids=["old-shape", "zone", "no-camera", "attribute"],
)
def test_process_tier_refuses_a_registry_its_function_would_refuse_at_cold_start(registry, message):
    stack, deps = bare_stack()
    with pytest.raises(PropsError, match=re.escape(message)):
        ProcessTier(stack, "Process", device_registry=registry, rekognition_tps=5, **deps)
