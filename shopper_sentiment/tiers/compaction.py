"""CompactionTier: every hour, each closed store-day of ``faces`` and ``images`` becomes one Parquet object.

Firehose flushes each active ``store_id``/``dt`` folder on its own every
buffering interval, so a store-day ends as about 96 small objects whose
footers outweigh the column data a query needs. The compaction function
(``lambdas/compact/``) rewrites each **closed** store-day into
``compacted-<run>-<part>.parquet`` (one object unless it would exceed
``max_object_size``), one row per id, sorted by capture time, then deletes what
it rewrote. A store-day is closed ``close_delay`` after midnight on the store's
own clock: Firehose's buffering interval plus ``close_margin``.

Defaults:

- The function: Python 3.14 on arm64, code from lambdas/compact/ plus
  ``compaction.json`` (the tables' columns and ids from ``shopper_sentiment/contracts/schema.py``,
  each store's time zone from the config; the asset hash covers both); its
  pinned dependencies (pyarrow, Powertools) installed for the runtime at synth
  and shipped as a layer of its own (``lambda_dependencies``); 2 GiB of memory
  (a busy store-day is read whole), 15-minute timeout; its own log group with
  a retention; its own role allowed only to list, read, write and delete under
  ``faces/`` and ``images/`` of the curated bucket.
- An EventBridge rule invokes it every hour (each store's day is handled
  within an hour of closing, whatever its zone), 2 retries, events older than
  an hour dropped (the next run does the same work).
- ``alarm``: the oldest closed store-day still uncompacted has been so for
  ``alarm_after`` (a day), or the function reported nothing for 3 hours.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from aws_cdk import Duration, RemovalPolicy, Size
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kinesisfirehose as firehose
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
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
from shopper_sentiment.building.package_files import packaged_folder
from shopper_sentiment.contracts import schema
from shopper_sentiment.contracts.analyze_function import METRICS_NAMESPACE
from shopper_sentiment.contracts.identifiers import CHECK_STORE_ID, CHECK_TIME_ZONE
from shopper_sentiment.contracts.layout import DATA_PREFIX, IMAGES_PREFIX

HANDLER_DIR = packaged_folder("shopper_sentiment.functions", "compact")
#: Written into the asset beside app.py (shopper_compact.settings.CONFIG_FILE_NAME).
CONFIG_FILE_NAME = "compaction.json"
SERVICE_NAME = "shopper-sentiment-compact"
#: The metric the alarm watches (app.OLDEST_AGE_METRIC in the function).
OLDEST_AGE_METRIC = "OldestUncompactedClosedPartitionAge"
#: Firehose's buffering interval when no stream is given (ProcessTier's default, the maximum).
DEFAULT_BUFFERING_INTERVAL = Duration.seconds(900)
#: After Firehose's last flush for a day: the analyze function's batching window
#: (30 s) and timeout (5 min), with room for its delivery retries and clock skew.
DEFAULT_CLOSE_MARGIN = Duration.minutes(45)
#: Above this a store-day is split into several objects (Athena reads each in parallel splits).
DEFAULT_MAX_OBJECT_SIZE = Size.mebibytes(128)
#: The curated folders the function rewrites, with the id each table keeps one row per
#: (as every named query and dataset does: shopper_sentiment.dashboards.quicksight.dataset.DEDUPE_KEYS) and
#: the labels its rows are sorted by before capture time: few values each, so a run of one
#: compresses to almost nothing (on a store-day of the query benchmark the zone, emotion and
#: smile columns shrink to a fifth); queries select whole days, so none reads by time order.
TABLES = (
    (schema.TABLE_NAME, DATA_PREFIX, "record_id", ("zone", "camera_id", "dominant_emotion")),
    (schema.IMAGES_TABLE_NAME, IMAGES_PREFIX, "image_id", ("zone", "camera_id", "outcome")),
)


def compaction_config(store_time_zones: Mapping[str, str]) -> dict[str, Any]:
    """The function's ``compaction.json``: each table's columns and id, each store's zone."""
    return {
        "tables": [
            {
                "name": name,
                "prefix": prefix,
                "id_column": id_column,
                "order_column": "processed_at",
                "sort_columns": [*sort_labels, "captured_at"],
                "columns": [{"name": c.name, "type": c.type} for c in schema.TABLES[name]],
            }
            for name, prefix, id_column, sort_labels in TABLES
        ],
        # The deployment check's store keeps its own clock, as a configured store does:
        # rows it leaves behind after a timeout are compacted like any other.
        "store_time_zones": dict(sorted({**store_time_zones, CHECK_STORE_ID: CHECK_TIME_ZONE}.items())),
        # Image rows of devices in no store are dated by UTC (shopper_sentiment/contracts/schema.py).
        "utc_stores": [schema.UNREGISTERED_STORE],
    }


def firehose_buffering_interval(*streams: firehose.DeliveryStream) -> Duration:
    """The longest buffering interval of the given delivery streams (their S3 destination's)."""
    seconds = []
    for stream in streams:
        destination = stream.node.default_child.extended_s3_destination_configuration  # type: ignore[union-attr]
        hints = destination.buffering_hints if destination is not None else None
        if hints is None or not isinstance(hints.interval_in_seconds, int):
            raise ValueError(f"{stream.node.path}: no concrete buffering interval to wait for")
        seconds.append(hints.interval_in_seconds)
    return Duration.seconds(max(seconds)) if seconds else DEFAULT_BUFFERING_INTERVAL


class CompactionTier(Construct):
    """Hourly rule → compaction Lambda over the curated bucket's ``faces/`` and ``images/``, with its alarm.

    Attributes: ``function``, ``role``, ``dependencies`` (the layer), ``rule``,
    ``log_group``, ``alarm``, ``close_delay``, ``oldest_age_metric``.
    """

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        curated_bucket: s3.IBucket,
        store_time_zones: Mapping[str, str],
        buffering_interval: Duration = DEFAULT_BUFFERING_INTERVAL,
        close_margin: Duration = DEFAULT_CLOSE_MARGIN,
        schedule: events.Schedule | None = None,
        max_object_size: Size = DEFAULT_MAX_OBJECT_SIZE,
        alarm_after: Duration = Duration.days(1),
        timeout: Duration = Duration.minutes(15),
        memory_size: int = 2048,
        log_retention: logs.RetentionDays = logs.RetentionDays.ONE_MONTH,
        removal_policy: RemovalPolicy = RemovalPolicy.RETAIN,
        handler_dir: Path = HANDLER_DIR,
        metrics_namespace: str = METRICS_NAMESPACE,
    ) -> None:
        super().__init__(scope, id_)
        pin_feature_flags(self)
        if not store_time_zones:
            raise ValueError("CompactionTier needs the time zone of at least one store")
        if close_margin.to_seconds() < 0:
            raise ValueError("CompactionTier close_margin must not be negative")
        if max_object_size.to_mebibytes() < 1:
            raise ValueError("CompactionTier max_object_size must be at least 1 MiB")
        # The function stops starting partitions with a minute left.
        if timeout.to_seconds() < 120:
            raise ValueError("CompactionTier timeout must be at least 2 minutes")
        self.close_delay = Duration.seconds(buffering_interval.to_seconds() + close_margin.to_seconds())

        self.log_group = logs.LogGroup(self, "Logs", retention=log_retention, removal_policy=removal_policy)
        self.role = iam.Role(
            self,
            "Role",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description="Compaction Lambda: list, read, rewrite and delete Parquet under faces/ and images/",
        )
        policy = self._grant_least_privilege(curated_bucket)

        config_json = json.dumps(compaction_config(store_time_zones), sort_keys=True, separators=(",", ":"))
        self.dependencies = dependencies_layer(self, "Dependencies", handler_dir, function="compaction")
        self.function = lambda_.Function(
            self,
            "Compact",
            description="Rewrites each closed store-day of faces/ and images/ into one Parquet object, one row per id",
            runtime=LAMBDA_RUNTIME,
            architecture=LAMBDA_ARCHITECTURE,
            handler="app.handler",
            code=code_with_file(handler_dir, CONFIG_FILE_NAME, config_json),
            layers=[self.dependencies],
            role=self.role,
            log_group=self.log_group,
            timeout=timeout,
            memory_size=memory_size,
            environment={
                "CURATED_BUCKET": curated_bucket.bucket_name,
                "COMPACTION_CONFIG_FILE": CONFIG_FILE_NAME,
                "CLOSE_DELAY_SECONDS": str(int(self.close_delay.to_seconds())),
                "MAX_OBJECT_BYTES": str(int(max_object_size.to_bytes())),
                "POWERTOOLS_SERVICE_NAME": SERVICE_NAME,
                "POWERTOOLS_METRICS_NAMESPACE": metrics_namespace,
                "POWERTOOLS_LOG_LEVEL": "INFO",
            },
        )
        # The first invocation must find its permissions in place; the role is referenced already.
        depends_on_only(self.function.node.default_child, policy)

        self.rule = events.Rule(
            self,
            "Hourly",
            description="Compact the curated tables' closed store-days",
            schedule=schedule or events.Schedule.rate(Duration.hours(1)),
            targets=[
                targets.LambdaFunction(
                    self.function,
                    # A missed run is made up by the next one, which does the same work.
                    retry_attempts=2,
                    max_event_age=Duration.hours(1),
                )
            ],
        )

        self.oldest_age_metric = cloudwatch.Metric(
            namespace=metrics_namespace,
            metric_name=OLDEST_AGE_METRIC,
            dimensions_map={"service": SERVICE_NAME},
            statistic="Maximum",
            period=Duration.hours(1),
        )
        # Three hourly datapoints in a row: the age crossing (alarm_after - 2 h) three
        # times means it reached alarm_after; three missing hours mean the job is not
        # reporting (failing, or not running), which must not stay silent either.
        evaluation_hours = 3
        self.alarm = cloudwatch.Alarm(
            self,
            "UncompactedAlarm",
            alarm_description=(
                f"A closed store-day of faces/ or images/ has stayed uncompacted for "
                f"{alarm_after.to_hours():g} hours, or the compaction job reported nothing for "
                f"{evaluation_hours} hours: see the function's log (unreadable partitions are named there)"
            ),
            metric=self.oldest_age_metric,
            threshold=max(0, alarm_after.to_seconds() - (evaluation_hours - 1) * 3600),
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            evaluation_periods=evaluation_hours,
            datapoints_to_alarm=evaluation_hours,
            treat_missing_data=cloudwatch.TreatMissingData.BREACHING,
        )

    def _grant_least_privilege(self, curated_bucket: s3.IBucket) -> iam.Policy:
        prefixes = [f"{prefix}/" for _, prefix, _, _ in TABLES]
        objects = [objects_arn(self, curated_bucket, f"{prefix}*") for prefix in prefixes]
        policy = iam.Policy(
            self,
            "LeastPrivilege",
            statements=[
                iam.PolicyStatement(
                    sid="ListCuratedTables",
                    actions=["s3:ListBucket"],
                    resources=[curated_bucket.bucket_arn],
                    conditions={"StringLike": {"s3:prefix": [f"{prefix}*" for prefix in prefixes]}},
                ),
                iam.PolicyStatement(
                    sid="RewriteCuratedTables",
                    actions=["s3:GetObject", "s3:PutObject", "s3:DeleteObject"],
                    resources=objects,
                ),
                iam.PolicyStatement(
                    sid="OwnLogGroup",
                    actions=["logs:CreateLogStream", "logs:PutLogEvents"],
                    resources=[self.log_group.log_group_arn, f"{self.log_group.log_group_arn}:*"],
                ),
            ],
        )
        policy.attach_to_role(self.role)
        for prefix, arn in zip(prefixes, objects, strict=True):
            acknowledge(
                policy,
                finding(self, "AwsSolutions-IAM5", "Resource", arn),
                f"The job reads the Parquet objects Firehose names under {prefix}, writes their compacted "
                f"replacement beside them and deletes the ones it rewrote; the wildcard is limited to {prefix} "
                "of the curated bucket (never errors/ or another bucket).",
            )
        acknowledge(
            policy,
            finding(self, "AwsSolutions-IAM5", "Resource", f"{self.log_group.log_group_arn}:*"),
            "Log streams are created by Lambda at run time; the wildcard is limited to streams of this "
            "function's own log group.",
        )
        return policy
