"""The analyze Lambda's AWS surroundings, answered locally (moto, botocore Stubber).

Shared by tests/lambdas and bench/bench_analyze.py: resource names, the
function's environment, event builders and readers of what was delivered.
"""

from __future__ import annotations

import copy
import hashlib
import json
import threading
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType
from typing import Any
from urllib.parse import quote_plus

from botocore.awsrequest import AWSResponse
from botocore.exceptions import StubAssertionError

from local.lambda_runtime import LambdaContextStub, load_handler

REPO = Path(__file__).resolve().parents[2]
LAMBDA_DIR = REPO / "lambdas" / "analyze_image"
EVENTS = Path(__file__).resolve().parent / "events"

SOURCE_BUCKET = "shopper-source"
ARCHIVE_BUCKET = "shopper-archive"
CURATED_BUCKET = "shopper-curated"
STREAM_NAME = "shopper-faces"
IDEMPOTENCY_TABLE = "shopper-idempotency"
REGION = "us-east-1"

DEVICE_REGISTRY = {
    "pi-s001-entrance": {"store_id": "store-001", "camera_id": "entrance", "zone": "entrance"},
    "pi-s002-aisle-3": {"store_id": "store-002", "camera_id": "aisle-3", "zone": "grocery"},
}


def write_device_registry(folder: Path, registry: dict[str, dict[str, str]] = DEVICE_REGISTRY) -> Path:
    """The registry file the stack bundles next to app.py (stacks/process.py)."""
    path = folder / "device_registry.json"
    path.write_text(json.dumps(registry), encoding="utf-8")
    return path


def function_environment(registry_file: Path | None = None, **overrides: str) -> dict[str, str]:
    """What the CDK stack sets on the function; the registry inline unless a file is given."""
    registry = (
        {"DEVICE_REGISTRY_FILE": str(registry_file)}
        if registry_file
        else {"DEVICE_REGISTRY": json.dumps(DEVICE_REGISTRY)}
    )
    env = {
        "FIREHOSE_STREAM_NAME": STREAM_NAME,
        "ARCHIVE_BUCKET": ARCHIVE_BUCKET,
        "IDEMPOTENCY_TABLE": IDEMPOTENCY_TABLE,
        **registry,
        "MIN_DETECTION_CONFIDENCE": "90",
        "MIN_SHARPNESS": "10",
        "POWERTOOLS_SERVICE_NAME": "shopper-sentiment-analyze",
        "POWERTOOLS_METRICS_NAMESPACE": "ShopperSentiment",
        "POWERTOOLS_LOG_LEVEL": "INFO",
    }
    env.update(overrides)
    return env


def create_resources(session: Any) -> None:
    """Buckets, idempotency table (Powertools defaults) and a Firehose stream into the curated bucket."""
    s3 = session.client("s3", region_name=REGION)
    for bucket in (SOURCE_BUCKET, ARCHIVE_BUCKET, CURATED_BUCKET):
        s3.create_bucket(Bucket=bucket)
    session.client("dynamodb", region_name=REGION).create_table(
        TableName=IDEMPOTENCY_TABLE,
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        BillingMode="PAY_PER_REQUEST",
    )
    session.client("firehose", region_name=REGION).create_delivery_stream(
        DeliveryStreamName=STREAM_NAME,
        DeliveryStreamType="DirectPut",
        ExtendedS3DestinationConfiguration={
            "RoleARN": "arn:aws:iam::123456789012:role/firehose",
            "BucketARN": f"arn:aws:s3:::{CURATED_BUCKET}",
            "Prefix": "faces/",
        },
    )


def load_handler_module() -> ModuleType:
    """Import lambdas/analyze_image/app.py afresh, as the Lambda runtime would at cold start."""
    return load_handler()


def image_key(
    device_id: str = "pi-s001-entrance",
    captured_at: datetime = datetime(2026, 3, 14, 9, 26, 53, 412000, tzinfo=UTC),
    content: bytes = b"jpeg",
) -> str:
    stamp = captured_at.strftime("%Y%m%dT%H%M%S") + f"{captured_at.microsecond // 1000:03d}Z"
    sha = hashlib.sha256(content).hexdigest()[:12]
    return f"incoming/{device_id}/{captured_at:%Y/%m/%d}/{stamp}-{sha}.jpg"


def load_event(name: str) -> dict[str, Any]:
    return json.loads((EVENTS / name).read_text(encoding="utf-8"))


def s3_record(
    key: str,
    *,
    bucket: str = SOURCE_BUCKET,
    size: int = 48213,
    etag: str | None = None,
    version_id: str | None = None,
    event_name: str = "ObjectCreated:Put",
) -> dict[str, Any]:
    """One S3 event record; the key is encoded the way S3 encodes it (form encoding, + for space)."""
    record = copy.deepcopy(load_event("s3_object_created.json")["Records"][0])
    record["eventName"] = event_name
    record["s3"]["bucket"]["name"] = bucket
    record["s3"]["bucket"]["arn"] = f"arn:aws:s3:::{bucket}"
    obj = record["s3"]["object"]
    obj["key"] = quote_plus(key, safe="/")
    obj["size"] = size
    obj["eTag"] = etag or hashlib.md5(key.encode()).hexdigest()
    if version_id:
        obj["versionId"] = version_id
    return record


def s3_notification(*records: dict[str, Any]) -> str:
    return json.dumps({"Records": list(records)})


def sqs_event(*bodies: str) -> dict[str, Any]:
    """An SQS event with one message per body; message ids m0, m1, ..."""
    template = load_event("sqs_message.json")["Records"][0]
    messages = []
    for index, body in enumerate(bodies):
        message = copy.deepcopy(template)
        message["messageId"] = f"m{index}"
        message["body"] = body
        message["md5OfBody"] = hashlib.md5(body.encode()).hexdigest()
        messages.append(message)
    return {"Records": messages}


def delivered_records(s3: Any) -> list[dict[str, Any]]:
    """Every JSON line Firehose delivered into the curated bucket (moto writes one object per call)."""
    records = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=CURATED_BUCKET):
        for item in page.get("Contents", []):
            body = s3.get_object(Bucket=CURATED_BUCKET, Key=item["Key"])["Body"].read().decode("utf-8")
            assert body.endswith("\n"), "every record must end with a newline"
            records.extend(json.loads(line) for line in body.splitlines())
    return records


def keys_in(s3: Any, bucket: str) -> list[str]:
    return sorted(item["Key"] for item in s3.list_objects_v2(Bucket=bucket).get("Contents", []))


def faces_response(count: int) -> dict[str, Any]:
    """A DetectFaces response with ``count`` realistic faces (varied copies of the fixture's faces)."""
    faces = load_event("detect_faces_three_faces.json")["FaceDetails"]
    details = []
    for index in range(count):
        face = copy.deepcopy(faces[index % len(faces)])
        face["BoundingBox"]["Left"] = round((index % 10) / 10 + 0.01, 4)
        face["BoundingBox"]["Top"] = round((index // 10) / 10 + 0.01, 4)
        face["Confidence"] = 99.0 + (index % 10) / 10
        details.append(face)
    return {"FaceDetails": details}


#: The LambdaContext Powertools reads; 60 s left unless told otherwise.
FakeLambdaContext = LambdaContextStub


def emf_metrics(output: str) -> Counter[str]:
    """Sum of every EMF metric value printed to stdout (Powertools writes one JSON blob per flush)."""
    totals: Counter[str] = Counter()
    for line in output.splitlines():
        if not line.startswith("{"):
            continue
        blob = json.loads(line)
        if "_aws" not in blob:
            continue
        for directive in blob["_aws"]["CloudWatchMetrics"]:
            for metric in directive["Metrics"]:
                value = blob[metric["Name"]]
                totals[metric["Name"]] += sum(value) if isinstance(value, list) else value
    return totals


def log_lines(output: str) -> list[dict[str, Any]]:
    """Structured log entries (not EMF metrics) among the lines printed to stdout."""
    entries = []
    for line in output.splitlines():
        if line.startswith("{"):
            entry = json.loads(line)
            if "_aws" not in entry:
                entries.append(entry)
    return entries


class UnorderedStubber:
    """botocore's Stubber for calls that arrive in any order, from several threads.

    The handler analyzes the images of a batch concurrently, so the order of
    DetectFaces calls is not the order of the messages. A call takes the first
    queued response whose operation and expected parameters it matches (every
    parameter when ``expected_params`` is given, as Stubber checks them); a
    call that matches none fails like an unstubbed call. Same public methods
    as the Stubber the tests used before (add_response, add_client_error,
    assert_no_pending_responses, use as a context manager).
    """

    _CLAIMED = "unordered_stubber.response"

    def __init__(self, client: Any) -> None:
        self.client = client
        self._lock = threading.Lock()
        self._queue: list[dict[str, Any]] = []
        self._ids = (f"unordered-stubber-params-{id(self)}", f"unordered-stubber-call-{id(self)}")

    def __enter__(self) -> UnorderedStubber:
        self.activate()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.deactivate()

    def activate(self) -> None:
        events = self.client.meta.events
        events.register_first("before-parameter-build.*.*", self._claim, unique_id=self._ids[0])
        events.register("before-call.*.*", self._respond, unique_id=self._ids[1])

    def deactivate(self) -> None:
        events = self.client.meta.events
        events.unregister("before-parameter-build.*.*", self._claim, unique_id=self._ids[0])
        events.unregister("before-call.*.*", self._respond, unique_id=self._ids[1])

    def add_response(self, method: str, service_response: dict[str, Any], expected_params: Any = None) -> None:
        self._add(method, AWSResponse(None, 200, {}, None), service_response, expected_params)

    def add_client_error(
        self,
        method: str,
        service_error_code: str = "",
        service_message: str = "",
        http_status_code: int = 400,
        expected_params: Any = None,
    ) -> None:
        parsed = {
            "ResponseMetadata": {"HTTPStatusCode": http_status_code},
            "Error": {"Message": service_message, "Code": service_error_code},
        }
        self._add(method, AWSResponse(None, http_status_code, {}, None), parsed, expected_params)

    def assert_no_pending_responses(self) -> None:
        with self._lock:
            pending = [(entry["operation"], entry["expected_params"]) for entry in self._queue]
        assert not pending, f"stubbed responses never used: {pending}"

    def _add(self, method: str, http: AWSResponse, parsed: dict[str, Any], expected_params: Any) -> None:
        operation = self.client.meta.method_to_api_mapping[method]
        with self._lock:
            self._queue.append({"operation": operation, "response": (http, parsed), "expected_params": expected_params})

    def _claim(self, model: Any, params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        with self._lock:
            for position, entry in enumerate(self._queue):
                expected = entry["expected_params"]
                if entry["operation"] == model.name and (expected is None or expected == params):
                    context[self._CLAIMED] = self._queue.pop(position)["response"]
                    return
        raise StubAssertionError(operation_name=model.name, reason=f"no stubbed response matches {params}")

    def _respond(self, context: dict[str, Any], **_: Any) -> tuple[AWSResponse, dict[str, Any]]:
        http, parsed = context.pop(self._CLAIMED)
        return http, copy.deepcopy(parsed)
