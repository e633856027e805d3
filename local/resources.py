"""What one deployment has in AWS, made on a local endpoint: names, resources, the function's environment.

The demo, the handler's tests and the benchmarks create the same resources
the pipeline stack deploys (source, archive and curated buckets, the incoming
queue with its S3 notification, the idempotency table, the delivery streams
of the faces and images tables)
on moto — in process or on its server — and run the analyze function with
the environment the stack gives it (the names come from
``shopper_sentiment.contracts.analyze_function``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from shopper_sentiment.contracts import analyze_function as fn_env
from shopper_sentiment.contracts.layout import DATA_PREFIX, IMAGES_PREFIX, INCOMING_PREFIX

REGION = "us-east-1"
#: What moto accepts as the Firehose role; nothing assumes it locally.
FIREHOSE_ROLE_ARN = "arn:aws:iam::123456789012:role/firehose"


@dataclass(frozen=True)
class LocalResources:
    """Resource names of one local deployment, all derived from ``prefix``."""

    prefix: str = "shopper"
    region: str = REGION

    @property
    def source_bucket(self) -> str:
        return f"{self.prefix}-source"

    @property
    def archive_bucket(self) -> str:
        return f"{self.prefix}-archive"

    @property
    def curated_bucket(self) -> str:
        return f"{self.prefix}-curated"

    @property
    def queue_name(self) -> str:
        return f"{self.prefix}-incoming"

    @property
    def idempotency_table(self) -> str:
        return f"{self.prefix}-idempotency"

    @property
    def stream_name(self) -> str:
        return f"{self.prefix}-faces"

    @property
    def images_stream_name(self) -> str:
        return f"{self.prefix}-images"

    def function_environment(
        self,
        registry: Mapping[str, Mapping[str, str]],
        *,
        registry_file: Path | None = None,
        min_detection_confidence: float = fn_env.DEFAULT_MIN_DETECTION_CONFIDENCE,
        min_sharpness: float = fn_env.DEFAULT_MIN_SHARPNESS,
        **overrides: str,
    ) -> dict[str, str]:
        """The analyze function's environment as the stack sets it; the registry inline unless a file is given."""
        where = (
            {fn_env.DEVICE_REGISTRY_FILE: str(registry_file)}
            if registry_file
            else {"DEVICE_REGISTRY": json.dumps(dict(registry))}
        )
        return {
            fn_env.FIREHOSE_STREAM_NAME: self.stream_name,
            fn_env.IMAGES_STREAM_NAME: self.images_stream_name,
            fn_env.ARCHIVE_BUCKET: self.archive_bucket,
            fn_env.IDEMPOTENCY_TABLE: self.idempotency_table,
            **where,
            fn_env.MIN_DETECTION_CONFIDENCE: f"{min_detection_confidence:g}",
            fn_env.MIN_SHARPNESS: f"{min_sharpness:g}",
            "POWERTOOLS_SERVICE_NAME": fn_env.SERVICE_NAME,
            "POWERTOOLS_METRICS_NAMESPACE": fn_env.METRICS_NAMESPACE,
            "POWERTOOLS_LOG_LEVEL": "INFO",
            **overrides,
        }


def write_device_registry(folder: Path, registry: Mapping[str, Mapping[str, str]]) -> Path:
    """The registry file the stack bundles next to the function's code."""
    path = folder / fn_env.REGISTRY_FILE_NAME
    path.write_text(json.dumps(dict(registry), sort_keys=True), encoding="utf-8")
    return path


def create_resources(
    session: Any,
    resources: LocalResources,
    *,
    endpoint_url: str | None = None,
    queue: bool = False,
    delivery_stream: bool = False,
    versioned_source: bool = True,
) -> str | None:
    """Create the deployment's buckets and idempotency table; returns the queue URL when ``queue``.

    ``versioned_source``: versioned like the stack's source bucket (a
    re-upload of a key is a new version); tests that name no versions turn
    it off.
    ``queue``: the incoming queue and the source bucket's ``incoming/``
    notification to it (moto's server then queues an event per upload).
    ``delivery_stream``: moto Firehose streams that write the JSON records
    into the curated bucket under ``faces/`` and the image rows under
    ``images/`` (no Parquet conversion: readers see exactly what the
    function sent).
    """
    kwargs: dict[str, Any] = {"region_name": resources.region}
    if endpoint_url:
        kwargs["endpoint_url"] = endpoint_url
    s3 = session.client("s3", **kwargs)
    for bucket in (resources.source_bucket, resources.archive_bucket, resources.curated_bucket):
        s3.create_bucket(Bucket=bucket)
    if versioned_source:
        s3.put_bucket_versioning(Bucket=resources.source_bucket, VersioningConfiguration={"Status": "Enabled"})
    session.client("dynamodb", **kwargs).create_table(
        TableName=resources.idempotency_table,
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        BillingMode="PAY_PER_REQUEST",
    )
    if delivery_stream:
        firehose = session.client("firehose", **kwargs)
        for name, prefix in ((resources.stream_name, DATA_PREFIX), (resources.images_stream_name, IMAGES_PREFIX)):
            firehose.create_delivery_stream(
                DeliveryStreamName=name,
                DeliveryStreamType="DirectPut",
                ExtendedS3DestinationConfiguration={
                    "RoleARN": FIREHOSE_ROLE_ARN,
                    "BucketARN": f"arn:aws:s3:::{resources.curated_bucket}",
                    "Prefix": f"{prefix}/",
                },
            )
    if not queue:
        return None
    sqs = session.client("sqs", **kwargs)
    queue_url: str = sqs.create_queue(QueueName=resources.queue_name)["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    s3.put_bucket_notification_configuration(
        Bucket=resources.source_bucket,
        NotificationConfiguration={
            "QueueConfigurations": [
                {
                    "QueueArn": queue_arn,
                    "Events": ["s3:ObjectCreated:*"],
                    "Filter": {"Key": {"FilterRules": [{"Name": "prefix", "Value": INCOMING_PREFIX}]}},
                }
            ]
        },
    )
    return queue_url
