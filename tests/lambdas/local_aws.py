"""What the analyze function's tests read and fake around the local AWS stand-ins of local/.

The stand-ins themselves (resource names and creation, the function's
environment, S3/SQS event builders, DetectFaces answers) live in ``local/``
and serve the demo and the benchmarks too; this module fixes the names the
tests use and adds what only tests need: JSON event fixtures, readers of what
was delivered, EMF metrics and log lines, and a Stubber for calls from threads.
"""

from __future__ import annotations

import copy
import hashlib
import json
import threading
from collections import Counter
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

from botocore.awsrequest import AWSResponse
from botocore.exceptions import StubAssertionError

from local import events
from local.lambda_runtime import LAMBDA_DIR, LambdaContextStub, load_handler
from local.rekognition import detect_faces_response
from local.resources import LocalResources
from local.resources import create_resources as create_local_resources
from local.resources import write_device_registry as write_registry_file
from shopper_sentiment.contracts.layout import DATA_PREFIX, IMAGES_PREFIX
from shopper_sentiment.contracts.layout import image_key as contract_image_key

__all__ = ["LAMBDA_DIR"]

EVENTS = Path(__file__).resolve().parent / "events"

RESOURCES = LocalResources("shopper")
SOURCE_BUCKET = RESOURCES.source_bucket
ARCHIVE_BUCKET = RESOURCES.archive_bucket
CURATED_BUCKET = RESOURCES.curated_bucket
STREAM_NAME = RESOURCES.stream_name
IDEMPOTENCY_TABLE = RESOURCES.idempotency_table
REGION = RESOURCES.region

#: One single-camera Pi and one with two cameras (in the registry's contract shape).
DEVICE_REGISTRY = {
    "pi-s001-entrance": {
        "store_id": "store-001",
        "timezone": "America/Los_Angeles",
        "cameras": {"entrance": {"zone": "entrance"}},
    },
    "pi-s002-aisle-3": {
        "store_id": "store-002",
        "timezone": "Europe/Berlin",
        "cameras": {"aisle-3": {"zone": "grocery"}, "door": {"zone": "entrance"}},
    },
}


def write_device_registry(folder: Path, registry: dict[str, dict[str, str]] = DEVICE_REGISTRY) -> Path:
    return write_registry_file(folder, registry)


def function_environment(registry_file: Path | None = None, **overrides: str) -> dict[str, str]:
    """The stack's environment for the test registry; a sharpness floor of 10 so blurry faces are dropped."""
    return RESOURCES.function_environment(DEVICE_REGISTRY, registry_file=registry_file, min_sharpness=10, **overrides)


def create_resources(session: Any) -> None:
    """Buckets (source unversioned unless a test turns it on), idempotency table, a JSON-writing moto Firehose."""
    create_local_resources(session, RESOURCES, delivery_stream=True, versioned_source=False)


def load_handler_module() -> Any:
    """Import lambdas/analyze_image/app.py afresh, as the Lambda runtime would at cold start."""
    return load_handler()


def image_key(
    device_id: str = "pi-s001-entrance",
    captured_at: datetime = datetime(2026, 3, 14, 9, 26, 53, 412000, tzinfo=UTC),
    content: bytes = b"jpeg",
    camera_id: str | None = None,
) -> str:
    """The edge agent's key; the camera defaults to the device's first registered camera."""
    camera = camera_id or next(iter(DEVICE_REGISTRY.get(device_id, {}).get("cameras", {"entrance": {}})))
    return contract_image_key(device_id, camera, captured_at, hashlib.sha256(content).hexdigest())


def load_event(name: str) -> dict[str, Any]:
    return json.loads((EVENTS / name).read_text(encoding="utf-8"))


s3_record = partial(events.s3_record, bucket=SOURCE_BUCKET)
s3_notification = events.s3_notification
sqs_event = events.sqs_event
faces_response = detect_faces_response


def delivered_records(s3: Any, *, prefix: str = f"{DATA_PREFIX}/") -> list[dict[str, Any]]:
    """Every face record Firehose delivered into the curated bucket (moto writes one object per call)."""
    records = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=CURATED_BUCKET, Prefix=prefix):
        for item in page.get("Contents", []):
            body = s3.get_object(Bucket=CURATED_BUCKET, Key=item["Key"])["Body"].read().decode("utf-8")
            assert body.endswith("\n"), "every record must end with a newline"
            records.extend(json.loads(line) for line in body.splitlines())
    return records


def delivered_image_rows(s3: Any) -> list[dict[str, Any]]:
    """Every image row the images stream delivered into the curated bucket."""
    return delivered_records(s3, prefix=f"{IMAGES_PREFIX}/")


def keys_in(s3: Any, bucket: str) -> list[str]:
    return sorted(item["Key"] for item in s3.list_objects_v2(Bucket=bucket).get("Contents", []))


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
