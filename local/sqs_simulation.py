"""A burst of images through SQS → Lambda → DetectFaces, in simulated time, with the real handler.

What runs for real: the analyze handler (``create_handler`` of
``lambdas/analyze_image/app.py``: triage, Powertools' idempotency and batch
processor, delivery, settlement, its analysis threads), the deployed clients
(``aws_clients``: botocore's adaptive retry mode for Rekognition and its
Config), and moto in-process for S3, DynamoDB and Firehose.

What stands in, on a ``VirtualClock`` (``local.virtual_time``):

- ``SimulatedQueue``: an SQS standard queue with what matters for a burst:
  visibility timeout, receive count, and the redrive to the dead-letter queue
  once a message was received ``max_receive_count`` times;
- ``EventSourceMapping``: Lambda's SQS event source with
  ``ReportBatchItemFailures``: a batch is up to ``batch_size`` messages,
  gathered for at most the batching window; at most ``max_concurrency``
  invocations at once, each on its own execution environment (its own
  clients, so its own adaptive rate limiter) that stays warm; messages the
  handler reports failed, and every message of an invocation that raised or
  ran past the function timeout, come back after the visibility timeout. One
  poller gathers one batch at a time, and only while an environment is free
  (what maximum concurrency gives: no invocation is throttled, no batch
  returned unprocessed). A new environment first spends ``cold_start``
  seconds on its init phase;
- ``local.rekognition_budget.DetectFacesBudget``: DetectFaces behind a token
  bucket, answering after a stated latency;
- every call to S3, DynamoDB and Firehose takes a latency in simulated time
  before moto answers it (``SERVICE_LATENCY_SECONDS``).

``simulate(scenario)`` sets it all up, runs it, and measures what the issue
asks (``SimulationReport``): the share of the budget DetectFaces used while
the backlog lasted, images dead-lettered and lost, DetectFaces calls per
image, time to drain against images/budget, and the largest share of the
function timeout an invocation used. "Lost" is checked in the stores, not
taken from counters: an image is lost when it is neither archived nor still
in ``incoming/`` with its message queued or dead-lettered, or when it was
archived without every face record in the curated bucket.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import inspect
import io
import json
import os
import random
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from unittest.mock import patch

from local.events import s3_notification, s3_record, sqs_record
from local.lambda_runtime import load_handler
from local.moto_server import local_aws_environment
from local.rekognition_budget import ACCEPTED, ENDPOINT_URL, DetectFacesBudget
from local.resources import LocalResources, create_resources
from local.virtual_time import (
    VirtualClock,
    VirtualEvent,
    VirtualLambdaContext,
    VirtualThreadPool,
    botocore_in_virtual_time,
)
from shopper_sentiment.contracts.layout import DATA_PREFIX, image_key

#: Latency (uniform, seconds) of one call to each moto-backed service: S3 from
#: a Lambda in the same region, on-demand DynamoDB, Firehose PutRecordBatch.
SERVICE_LATENCY_SECONDS: dict[str, tuple[float, float]] = {
    "s3": (0.015, 0.060),
    "dynamodb": (0.004, 0.012),
    "firehose": (0.020, 0.080),
}
QUEUE_ARN = "arn:aws:sqs:us-east-1:123456789012:shopper-simulation-incoming"
#: One store's cameras: images cycle through them.
STORE_ID = "store-001"
STORE_TIMEZONE = "Europe/Berlin"
CAMERAS = 12
#: Faces DetectFaces finds in image n: n % len(FACE_CYCLE) picks one (1.5 on average).
FACE_CYCLE = (0, 1, 2, 3)


@dataclass(frozen=True)
class Sizing:
    """What the stack configures around the function: event source, queue, function timeout, threads."""

    max_concurrency: int
    analyze_threads: int
    batch_size: int
    batching_window: float
    function_timeout: float
    visibility_timeout: float
    max_receive_count: int
    #: Init phase of a new execution environment (imports, clients).
    cold_start: float = 1.0


def deployed_sizing(rekognition_tps: int) -> Sizing:
    """The sizing ``cdk synth`` gives a deployment with this budget (read from the stack code)."""
    from shopper_sentiment.tiers import process
    from shopper_sentiment.tiers.ingest import IngestTier

    ingest_defaults = inspect.signature(IngestTier.__init__).parameters
    max_concurrency, threads = process.parallelism_for(rekognition_tps)
    return Sizing(
        max_concurrency=max_concurrency,
        analyze_threads=threads,
        batch_size=process.DEFAULT_BATCH_SIZE,
        batching_window=process.DEFAULT_BATCH_WINDOW.to_seconds(),
        function_timeout=process.DEFAULT_TIMEOUT.to_seconds(),
        visibility_timeout=ingest_defaults["queue_visibility_timeout"].default.to_seconds(),
        max_receive_count=ingest_defaults["max_receive_count"].default,
    )


@dataclass
class QueuedMessage:
    message_id: str
    body: str
    sent_at: float
    receive_count: int = 0
    visible_at: float = 0.0
    receipt_handle: str = ""


class SimulatedQueue:
    """An SQS standard queue with a redrive policy, in simulated time."""

    def __init__(self, clock: VirtualClock, *, visibility_timeout: float, max_receive_count: int) -> None:
        self.clock = clock
        self.visibility_timeout = visibility_timeout
        self.max_receive_count = max_receive_count
        self._messages: dict[str, QueuedMessage] = {}
        self._sent = 0
        #: Messages moved to the dead-letter queue, with when.
        self.dead_letters: list[tuple[QueuedMessage, float]] = []
        #: Message id → when it was deleted (processed).
        self.deleted: dict[str, float] = {}
        #: Message id → how often it was received.
        self.receive_counts: dict[str, int] = {}
        #: Set whenever a message is sent (the event source waits on it).
        self.arrived: VirtualEvent | None = None

    def __len__(self) -> int:
        return len(self._messages)

    def send(self, body: str) -> str:
        self._sent += 1
        message_id = f"message-{self._sent:06d}"
        now = self.clock.now()
        self._messages[message_id] = QueuedMessage(message_id, body, sent_at=now, visible_at=now)
        if self.arrived is not None:
            self.arrived.set()
        return message_id

    def receive(self, max_messages: int) -> list[QueuedMessage]:
        """Up to ``max_messages`` visible messages, now in flight; one received too often goes to the DLQ."""
        now = self.clock.now()
        received: list[QueuedMessage] = []
        for message in list(self._messages.values()):
            if len(received) >= max_messages:
                break
            if message.visible_at > now:
                continue
            if message.receive_count >= self.max_receive_count:
                del self._messages[message.message_id]
                self.dead_letters.append((message, now))
                continue
            message.receive_count += 1
            message.visible_at = now + self.visibility_timeout
            message.receipt_handle = f"{message.message_id}/{message.receive_count}"
            self.receive_counts[message.message_id] = message.receive_count
            received.append(message)
        return received

    def delete(self, receipt_handle: str) -> bool:
        """Delete by the latest receipt handle (an older one no longer names the message)."""
        message_id = receipt_handle.rpartition("/")[0]
        message = self._messages.get(message_id)
        if message is None or message.receipt_handle != receipt_handle:
            return False
        del self._messages[message_id]
        self.deleted[message_id] = self.clock.now()
        return True

    def has_visible(self) -> bool:
        now = self.clock.now()
        return any(m.visible_at <= now for m in self._messages.values())

    def next_visible_at(self) -> float | None:
        """When the next in-flight message becomes visible again, if any is in flight."""
        now = self.clock.now()
        return min((m.visible_at for m in self._messages.values() if m.visible_at > now), default=None)


@dataclass
class ExecutionEnvironment:
    name: str
    handler: Callable[[dict[str, Any], Any], dict[str, Any]]
    cold: bool = True


@dataclass(frozen=True)
class InvocationRecord:
    environment: str
    started_at: float
    duration: float
    messages: int
    failed: int
    timed_out: bool
    error: str | None


Handler = Callable[[dict[str, Any], Any], dict[str, Any]]


class EventSourceMapping:
    """Lambda's SQS event source mapping over a ``SimulatedQueue``; ``run`` on a simulated thread."""

    def __init__(
        self,
        clock: VirtualClock,
        queue: SimulatedQueue,
        sizing: Sizing,
        make_handler: Callable[[int], Handler],
        *,
        queue_arn: str = QUEUE_ARN,
    ) -> None:
        self.clock = clock
        self.queue = queue
        self.sizing = sizing
        self.queue_arn = queue_arn
        self._make_handler = make_handler
        self._environments: list[ExecutionEnvironment] = []
        self._free: list[ExecutionEnvironment] = []
        self._busy = 0
        self._started = 0
        self._changed = VirtualEvent(clock)
        queue.arrived = self._changed
        self.invocations: list[InvocationRecord] = []

    def run(self, *, more_to_come: Callable[[], bool] = lambda: False) -> None:
        """Invoke the function until the queue is empty, nothing runs and ``more_to_come()`` is false."""
        while True:
            self._changed.clear()
            if self.queue.has_visible() and (self._free or len(self._environments) < self.sizing.max_concurrency):
                self._invoke_next_batch()
                continue
            if not self.queue and not self._busy and not more_to_come():
                return
            visible_at = self.queue.next_visible_at()
            self._changed.wait(None if visible_at is None else visible_at - self.clock.now())

    def _environment(self) -> ExecutionEnvironment:
        if self._free:
            return self._free.pop()
        environment = ExecutionEnvironment(
            name=f"environment-{len(self._environments) + 1}", handler=self._make_handler(len(self._environments))
        )
        self._environments.append(environment)
        return environment

    def _invoke_next_batch(self) -> None:
        environment = self._environment()
        self._busy += 1
        batch = self.queue.receive(self.sizing.batch_size)
        window_ends = self.clock.now() + self.sizing.batching_window
        while batch and len(batch) < self.sizing.batch_size and self.clock.now() < window_ends:
            visible_at = self.queue.next_visible_at()
            self._changed.clear()
            self._changed.wait(min(window_ends, visible_at or window_ends) - self.clock.now())
            batch += self.queue.receive(self.sizing.batch_size - len(batch))
        if not batch:  # everything visible went to the dead-letter queue
            self._busy -= 1
            self._free.append(environment)
            return
        self.clock.spawn(lambda: self._invoke(environment, batch), name=f"{environment.name}-invocation")

    def _invoke(self, environment: ExecutionEnvironment, batch: list[QueuedMessage]) -> None:
        if environment.cold:
            self.clock.sleep(self.sizing.cold_start)
            environment.cold = False
        started = self.clock.now()
        self._started += 1
        context = VirtualLambdaContext(
            self.clock, int(self.sizing.function_timeout * 1000), request_id=f"invocation-{self._started}"
        )
        event = {
            "Records": [
                sqs_record(
                    m.body,
                    message_id=m.message_id,
                    receipt_handle=m.receipt_handle,
                    receive_count=m.receive_count,
                    queue_arn=self.queue_arn,
                )
                for m in batch
            ]
        }
        error = None
        try:
            response = environment.handler(event, context)
            failed = {item["itemIdentifier"] for item in response.get("batchItemFailures", [])}
        except Exception as exc:  # a function error: the whole batch comes back
            error = repr(exc)
            failed = {m.message_id for m in batch}
        duration = self.clock.now() - started
        timed_out = duration > self.sizing.function_timeout
        if timed_out:  # Lambda would have stopped it: nothing of the batch is deleted
            failed = {m.message_id for m in batch}
        for message in batch:
            if message.message_id not in failed:
                self.queue.delete(message.receipt_handle)
        self.invocations.append(
            InvocationRecord(
                environment=environment.name,
                started_at=started,
                duration=duration,
                messages=len(batch),
                failed=len(failed),
                timed_out=timed_out,
                error=error,
            )
        )
        self._busy -= 1
        self._free.append(environment)
        self._changed.set()


@dataclass(frozen=True)
class Scenario:
    """Images arriving at a deployment with a DetectFaces budget."""

    name: str
    rekognition_tps: float
    images: int
    sizing: Sizing
    #: None: every image is in incoming/ and queued at time 0 (a burst); else images per second.
    arrival_rate: float | None = None
    #: The budget's burst, in seconds of its rate (at least one request).
    burst_seconds: float = 0.5
    seed: int = 7

    @property
    def ideal_drain_seconds(self) -> float:
        """Images over budget: the shortest time DetectFaces allows (for a trickle, its arrival span)."""
        if self.arrival_rate is None:
            return self.images / self.rekognition_tps
        return max(self.images / self.rekognition_tps, (self.images - 1) / self.arrival_rate)


@dataclass(frozen=True)
class SimulationReport:
    scenario: Scenario
    #: Simulated seconds from the first image's arrival until the queue was empty.
    drain_seconds: float
    #: DetectFaces requests that reached the service (retries included), accepted ones, refusals by code.
    detect_faces_calls: int
    detect_faces_accepted: int
    refusals: dict[str, int]
    #: Accepted DetectFaces calls over what the budget allowed from the first call to the last accepted one.
    budget_share: float
    dead_lettered: int
    lost: int
    #: Face records delivered more than once (same record_id).
    duplicate_records: int
    invocations: list[InvocationRecord]
    #: Messages the handler handed back to SQS (batch item failures, failed or timed-out invocations).
    messages_handed_back: int
    max_receive_count: int
    #: Seconds from an image's arrival until its message was deleted: median, 95th percentile, maximum.
    latency_p50: float
    latency_p95: float
    latency_max: float
    wall_seconds: float

    @property
    def calls_per_image(self) -> float:
        return self.detect_faces_calls / self.scenario.images

    @property
    def drain_over_ideal(self) -> float:
        return self.drain_seconds / self.scenario.ideal_drain_seconds

    @property
    def max_timeout_share(self) -> float:
        return max((i.duration for i in self.invocations), default=0.0) / self.scenario.sizing.function_timeout

    @property
    def timed_out(self) -> int:
        return sum(i.timed_out for i in self.invocations)

    @property
    def function_errors(self) -> int:
        return sum(i.error is not None for i in self.invocations)


@dataclass
class _Image:
    key: str
    version_id: str
    etag: str
    faces: int
    message_id: str = ""
    arrived_at: float = 0.0


class _Discard(io.TextIOBase):
    """Where the handler's logs and EMF metrics go during a simulation (tens of thousands of lines)."""

    def write(self, text: str) -> int:
        return len(text)


def _percentile(values: list[float], share: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


@contextlib.contextmanager
def _default_boto3_session(session: Any) -> Iterator[None]:
    """``aws_clients`` builds its clients on boto3's default session: this one, for the simulation."""
    import boto3

    saved = boto3.DEFAULT_SESSION
    boto3.DEFAULT_SESSION = session
    try:
        yield
    finally:
        boto3.DEFAULT_SESSION = saved


def simulate(scenario: Scenario) -> SimulationReport:
    """Run ``scenario`` through the real handler on moto and the stand-ins; measure it."""
    import boto3
    from moto import mock_aws

    resources = LocalResources("simulation")
    registry = {
        f"pi-{STORE_ID}-{n:02d}": {
            "store_id": STORE_ID,
            "timezone": STORE_TIMEZONE,
            "cameras": {"main": {"zone": f"zone-{n % 4}"}},
        }
        for n in range(CAMERAS)
    }
    environment = {
        **local_aws_environment(None, resources.region),
        **resources.function_environment(
            registry, ANALYZE_THREADS=str(scenario.sizing.analyze_threads), POWERTOOLS_LOG_LEVEL="WARNING"
        ),
        "AWS_ENDPOINT_URL_REKOGNITION": ENDPOINT_URL,
    }
    wall = time.perf_counter()
    with (
        patch.dict(os.environ, environment),
        mock_aws(),
        contextlib.redirect_stdout(_Discard()),
    ):
        session = boto3.Session(region_name=resources.region)
        create_resources(session, resources, delivery_stream=True)
        s3 = session.client("s3")
        images = _images(scenario, registry)
        clock = VirtualClock()
        queue = SimulatedQueue(
            clock,
            visibility_timeout=scenario.sizing.visibility_timeout,
            max_receive_count=scenario.sizing.max_receive_count,
        )
        faces = {image.key: image.faces for image in images}
        budget = DetectFacesBudget(
            clock,
            rate=scenario.rekognition_tps,
            burst=max(1.0, scenario.rekognition_tps * scenario.burst_seconds),
            faces_for=faces.__getitem__,
            object_exists=lambda bucket, key, version: _exists(s3, bucket, key, version),
            seed=scenario.seed,
        )
        function_session = boto3.Session(region_name=resources.region)
        budget.register(function_session.events)
        latency = random.Random(scenario.seed)

        def upload(image: _Image) -> None:
            body = f"still {image.key}".encode()
            put = s3.put_object(Bucket=resources.source_bucket, Key=image.key, Body=body)
            image.version_id, image.etag = put["VersionId"], put["ETag"].strip('"')
            record = s3_record(
                image.key,
                bucket=resources.source_bucket,
                size=len(body),
                etag=image.etag,
                version_id=image.version_id,
            )
            image.message_id = queue.send(s3_notification(record))
            image.arrived_at = clock.now()

        with botocore_in_virtual_time(clock), _default_boto3_session(function_session):
            app = load_handler()
            settings = app.SETTINGS

            def make_handler(_: int) -> Handler:
                clients = app.aws_clients(settings, clock=clock)
                for service in ("s3", "dynamodb", "firehose"):
                    client = getattr(clients, service)
                    client.meta.events.register_first("before-send", _service_latency(clock, latency, service))
                return app.create_handler(settings, clients, thread_pool=VirtualThreadPool.factory(clock))

            mapping = EventSourceMapping(clock, queue, scenario.sizing, make_handler)
            uploading = {"done": scenario.arrival_rate is None}
            if scenario.arrival_rate is None:
                for image in images:
                    upload(image)

            def arrive() -> None:
                assert scenario.arrival_rate is not None
                for image in images:
                    upload(image)
                    clock.sleep(1 / scenario.arrival_rate)
                uploading["done"] = True

            def main() -> None:
                if not uploading["done"]:
                    clock.spawn(arrive, name="uploads")
                mapping.run(more_to_come=lambda: not uploading["done"])

            clock.run(main)
        report = _measure(scenario, clock, queue, budget, mapping, images, s3, resources)
    return dataclasses.replace(report, wall_seconds=time.perf_counter() - wall)


def _images(scenario: Scenario, registry: dict[str, Any]) -> list[_Image]:
    devices = sorted(registry)
    weekend = datetime(2026, 3, 14, 8, 0, tzinfo=UTC)
    images = []
    for n in range(scenario.images):
        captured = weekend + timedelta(seconds=17 * n)
        digest = hashlib.sha256(f"{scenario.name}:{n}".encode()).hexdigest()
        key = image_key(devices[n % len(devices)], "main", captured, digest)
        images.append(_Image(key=key, version_id="", etag="", faces=FACE_CYCLE[n % len(FACE_CYCLE)]))
    return images


def _exists(s3: Any, bucket: str, key: str, version: str | None) -> bool:
    from botocore.exceptions import ClientError

    try:
        s3.head_object(Bucket=bucket, Key=key, **({"VersionId": version} if version else {}))
    except ClientError:
        return False
    return True


def _service_latency(clock: VirtualClock, draw: random.Random, service: str) -> Callable[..., None]:
    low, high = SERVICE_LATENCY_SECONDS[service]

    def wait(**_: Any) -> None:
        if clock.in_simulation():
            clock.sleep(draw.uniform(low, high))

    return wait


def _measure(
    scenario: Scenario,
    clock: VirtualClock,
    queue: SimulatedQueue,
    budget: DetectFacesBudget,
    mapping: EventSourceMapping,
    images: list[_Image],
    s3: Any,
    resources: LocalResources,
) -> SimulationReport:
    archived = _keys(s3, resources.archive_bucket)
    still_incoming = _keys(s3, resources.source_bucket)
    dead = {message.message_id for message, _ in queue.dead_letters}
    records_per_image: Counter[str] = Counter()
    record_ids: Counter[str] = Counter()
    for key in _keys(s3, resources.curated_bucket, prefix=f"{DATA_PREFIX}/"):
        body = s3.get_object(Bucket=resources.curated_bucket, Key=key)["Body"].read().decode()
        for line in body.splitlines():
            record = json.loads(line)
            if "face_index" in record:
                record_ids[record["record_id"]] += 1
                if record_ids[record["record_id"]] == 1:
                    records_per_image[record["image_key"]] += 1
    lost = 0
    for image in images:
        if image.key in archived:
            lost += records_per_image[image.key] < image.faces
        else:
            lost += not (image.key in still_incoming and image.message_id in dead)
    accepted = [call.at for call in budget.calls if call.outcome == ACCEPTED]
    refusals = Counter(call.outcome for call in budget.calls if call.outcome != ACCEPTED)
    first_call = min((call.at for call in budget.calls), default=0.0)
    allowed = budget.burst + budget.rate * (max(accepted, default=first_call) - first_call)
    ends = [queue.deleted[i.message_id] for i in images if i.message_id in queue.deleted]
    ends += [at for _, at in queue.dead_letters]
    latencies = [queue.deleted[i.message_id] - i.arrived_at for i in images if i.message_id in queue.deleted]
    return SimulationReport(
        scenario=scenario,
        drain_seconds=max(ends, default=clock.now()) - min(i.arrived_at for i in images),
        detect_faces_calls=len(budget.calls),
        detect_faces_accepted=len(accepted),
        refusals=dict(refusals),
        budget_share=len(accepted) / allowed if accepted else 0.0,
        dead_lettered=len(queue.dead_letters),
        lost=lost,
        duplicate_records=sum(count - 1 for count in record_ids.values()),
        invocations=list(mapping.invocations),
        messages_handed_back=sum(i.failed for i in mapping.invocations),
        max_receive_count=max(queue.receive_counts.values(), default=0),
        latency_p50=_percentile(latencies, 0.5),
        latency_p95=_percentile(latencies, 0.95),
        latency_max=max(latencies, default=float("nan")),
        wall_seconds=0.0,
    )


def _keys(s3: Any, bucket: str, *, prefix: str = "") -> set[str]:
    keys: set[str] = set()
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        keys.update(item["Key"] for item in page.get("Contents", []))
    return keys
