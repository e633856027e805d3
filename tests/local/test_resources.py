"""local/resources.py: a deployment's resources and the function's environment, locally."""

from __future__ import annotations

import sys
from pathlib import Path

import boto3
from moto import mock_aws

from local.resources import LocalResources, create_resources, write_device_registry
from shopper_sentiment.contracts import analyze_function

LAMBDA_DIR = Path(__file__).resolve().parents[2] / "lambdas" / "analyze_image"
if str(LAMBDA_DIR) not in sys.path:
    sys.path.append(str(LAMBDA_DIR))

from shopper_analyze.settings import load_settings  # noqa: E402 - the function's deployed import root

REGISTRY = {"pi-1": {"store_id": "store-001", "timezone": "Europe/Berlin", "cameras": {"door": {"zone": "entrance"}}}}


def test_function_environment_loads_into_the_function_settings(tmp_path):
    resources = LocalResources("unit")
    for environment in (
        resources.function_environment(REGISTRY),
        resources.function_environment(REGISTRY, registry_file=write_device_registry(tmp_path, REGISTRY)),
    ):
        settings = load_settings(environment, base_dir=tmp_path)
        assert (settings.firehose_stream_name, settings.images_stream_name, settings.archive_bucket) == (
            "unit-faces",
            "unit-images",
            "unit-archive",
        )
        assert settings.device_registry["pi-1"].cameras["door"].zone == "entrance"
        assert settings.min_detection_confidence == analyze_function.DEFAULT_MIN_DETECTION_CONFIDENCE


def test_create_resources_makes_what_the_stack_deploys():
    resources = LocalResources("unit")
    with mock_aws():
        session = boto3.Session(region_name="us-east-1")
        queue_url = create_resources(session, resources, queue=True, delivery_stream=True)
        s3 = session.client("s3")
        assert {b["Name"] for b in s3.list_buckets()["Buckets"]} == {
            "unit-source",
            "unit-archive",
            "unit-curated",
        }
        assert s3.get_bucket_versioning(Bucket="unit-source")["Status"] == "Enabled"
        assert session.client("dynamodb").describe_table(TableName="unit-idempotency")["Table"]["KeySchema"] == [
            {"AttributeName": "id", "KeyType": "HASH"}
        ]
        streams = session.client("firehose").list_delivery_streams()["DeliveryStreamNames"]
        assert streams == ["unit-faces", "unit-images"]
        assert queue_url is not None and queue_url.endswith("/unit-incoming")
