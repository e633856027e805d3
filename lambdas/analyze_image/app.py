"""Analyze Lambda: S3 events (through SQS) → faces → Firehose, then the image leaves incoming/.

Entry point ``app.handler``. This module only wires clients and Powertools
utilities to the pure logic in ``shopper_analyze``. One invocation runs in
two phases:

1. stage: parse every message, then analyze the images of the whole batch on
   ``ANALYZE_THREADS`` threads — quarantine what can never be analyzed, skip
   what was delivered before (a "delivered" marker), analyze the rest
   (idempotent on bucket/key/content, so a redelivered or re-uploaded image
   does not reach Rekognition twice). Powertools' ``BatchProcessor`` then
   commits each message whose images all staged and fails the others;
2. settle, once for the whole batch: put every staged record to Firehose in
   as few calls as the limits allow, mark each image whose records all
   arrived as delivered, then archive it. A message with an undelivered
   record or a failed move is reported as a batch item failure and its image
   stays in incoming/.

The image is archived only after its records are in Firehose, so a failed
write never loses an image; the marker keeps a later redelivery of the same
content from writing the records again.
"""

from __future__ import annotations

import os
import time
from concurrent.futures import Executor, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

import boto3
from aws_lambda_powertools import Logger, Metrics, single_metric
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.idempotency import (
    DynamoDBPersistenceLayer,
    IdempotencyConfig,
    idempotent_function,
)
from aws_lambda_powertools.utilities.typing import LambdaContext
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError
from shopper_analyze.analyzers import (
    IMAGE_TOO_LARGE,
    INVALID_IMAGE_FORMAT,
    MAX_S3_IMAGE_BYTES,
    FaceAnalyzer,
    ImageRejectedError,
    ImageUnreadableError,
    RekognitionAnalyzer,
)
from shopper_analyze.delivered_markers import Identity, delivered_record_count, mark_delivered
from shopper_analyze.delivery import deliver
from shopper_analyze.face_records import (
    FaceFloor,
    ImageContext,
    encode_record,
    epoch_millis,
    face_records_from,
    from_epoch_millis,
)
from shopper_analyze.image_keys import INCOMING_PREFIX, KeyLayoutError, parse_image_key
from shopper_analyze.metric_tally import MetricTally
from shopper_analyze.s3_events import S3ObjectRef, s3_objects_from
from shopper_analyze.s3_objects import head_object, move_object, quarantine_key
from shopper_analyze.settings import load_settings

KEY_NOT_IN_LAYOUT = "key-not-in-layout"
UNKNOWN_DEVICE = "unknown-device"

#: Redeliveries within this window reuse the stored analysis instead of calling
#: Rekognition again (SQS retries, a DLQ redrive within a week). Delivered
#: markers expire alike; an image already archived is recognised by the HEAD
#: in _stage_object at any age.
IDEMPOTENCY_TTL_SECONDS = 7 * 24 * 3600
#: Time kept back for phase 2. An image whose analysis would start later is
#: not started: its message goes back to SQS rather than being cut off by the
#: timeout (a timeout after Firehose accepted records but before their markers
#: were written would send them again on redelivery). Phase 2 of a 500-image
#: batch: up to 50 PutRecordBatch calls (50 faces per image) plus a marker and
#: a copy and a delete per image on ANALYZE_THREADS threads, about 10 s; the
#: rest covers retries and backoff. The function timeout (300 s) leaves phase 1
#: the remaining 270 s.
DELIVERY_RESERVE_MS = 30_000

SETTINGS = load_settings(os.environ, base_dir=Path(__file__).resolve().parent)

logger = Logger()
metrics = Metrics()
# Every failure, even of the whole batch, is reported per message: one code path.
processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False, logger=logger)

# Clients live for the execution environment and are shared by the analysis
# threads (boto3 clients are thread-safe); each thread may hold a connection.
# Timeouts bound a stuck call well inside the function timeout.
_POOL = max(10, SETTINGS.analyze_threads)


def _client(service: str, *, retry_mode: str, attempts: int, read_timeout: int) -> Any:
    return boto3.client(
        service,
        config=Config(
            retries={"mode": retry_mode, "max_attempts": attempts},
            connect_timeout=2,
            read_timeout=read_timeout,
            max_pool_connections=_POOL,
        ),
    )


s3 = _client("s3", retry_mode="standard", attempts=5, read_timeout=10)
# Adaptive mode adds client-side rate limiting once Rekognition throttles: a
# throttled environment slows down (all its threads: the limiter is per client)
# instead of hammering the account's TPS quota.
rekognition = _client("rekognition", retry_mode="adaptive", attempts=5, read_timeout=20)
firehose = _client("firehose", retry_mode="standard", attempts=3, read_timeout=10)
dynamodb = _client("dynamodb", retry_mode="standard", attempts=3, read_timeout=5)

analyzer: FaceAnalyzer = RekognitionAnalyzer(rekognition)
face_floor = FaceFloor(min_detection_confidence=SETTINGS.min_detection_confidence, min_sharpness=SETTINGS.min_sharpness)
idempotency_config = IdempotencyConfig(
    event_key_jmespath="[bucket, key, version]",
    raise_on_no_idempotency_key=True,
    expires_after_seconds=IDEMPOTENCY_TTL_SECONDS,
)
persistence = DynamoDBPersistenceLayer(table_name=SETTINGS.idempotency_table, boto3_client=dynamodb)


class FirehoseDeliveryError(RuntimeError):
    """Some records of the message were still rejected after every retry."""


class DeadlineApproachingError(RuntimeError):
    """Too little time left to analyze and deliver this message; SQS redelivers it."""


class ContentNotDeliveredError(RuntimeError):
    """A second upload of the same bytes waits for the first one's records to be delivered."""


@dataclass(frozen=True)
class ImageTask:
    """One object named by one message, to be staged on an analysis thread."""

    index: int
    message_id: str
    source: S3ObjectRef


@dataclass
class MessagePlan:
    tasks: list[ImageTask] = field(default_factory=list)
    objects: int = 0
    error: Exception | None = None


@dataclass
class StagedImage:
    message_id: str
    source: S3ObjectRef
    version_id: str | None
    identity: Identity
    blobs: list[bytes]
    #: Records Firehose accepted for this content in an earlier invocation (its marker), else None.
    delivered_before: int | None = None
    #: Another upload of the same bytes was staged earlier in this batch: its records stand for both.
    same_content_as_earlier: bool = False


@dataclass
class Invocation:
    messages: dict[str, SQSRecord] = field(default_factory=dict)
    images: list[StagedImage] = field(default_factory=list)
    identities: set[Identity] = field(default_factory=set)


def _ms_since(started: float) -> int:
    return round((time.perf_counter() - started) * 1000)


@idempotent_function(data_keyword_argument="image", config=idempotency_config, persistence_store=persistence)
def analyze(*, image: dict[str, Any], tally: MetricTally) -> dict[str, Any]:
    """Analyzer call and records for one object content (stored: a redelivery returns the same records)."""
    context = ImageContext(
        bucket=image["bucket"],
        key=image["key"],
        version=image["version"],
        device_id=image["device_id"],
        store_id=image["store_id"],
        camera_id=image["camera_id"],
        zone=image["zone"],
        captured_at=from_epoch_millis(image["captured_at_ms"]),
    )
    started = time.perf_counter()
    faces = analyzer.detect_faces(bucket=image["bucket"], key=image["key"], version_id=image["version_id"])
    analyzer_ms = _ms_since(started)
    result = face_records_from(
        faces, image=context, analyzer=analyzer.name, processed_at=datetime.now(UTC), floor=face_floor
    )
    tally.count("ImagesAnalyzed")
    tally.count("FacesDetected", result.faces_detected)
    tally.count("FacesDropped", result.faces_dropped)
    tally.sample("AnalyzerLatency", MetricUnit.Milliseconds.value, analyzer_ms)
    logger.info(
        "image analyzed",
        extra={
            "faces_detected": result.faces_detected,
            "faces_kept": len(result.records),
            "faces_dropped": result.faces_dropped,
            "analyzer_ms": analyzer_ms,
        },
    )
    return {"records": result.records}


# The persistence layer configures itself on the first call and marks itself
# configured before it has compiled the key expression: two threads making
# the first calls at once could hash different keys. Configure it now, with
# the arguments the decorator passes (idempotency/base.py, IdempotencyHandler).
persistence.configure(idempotency_config, f"{analyze.__module__}.{analyze.__qualname__}")


def _count_gone(reason: str, tally: MetricTally) -> None:
    tally.count("ImagesGone")
    logger.info("object no longer in incoming/; nothing to do", extra={"reason": reason})


def _quarantine(obj: S3ObjectRef, reason: str, detail: str, tally: MetricTally) -> None:
    moved = move_object(
        s3,
        bucket=obj.bucket,
        key=obj.key,
        version_id=obj.version_id,
        target_bucket=SETTINGS.archive_bucket,
        target_key=quarantine_key(reason, obj.key),
        quarantine_reason=reason,
    )
    if not moved:
        _count_gone(f"gone before quarantine ({reason})", tally)
        return
    tally.count_with_dimension("ImagesQuarantined", "reason", reason)
    logger.warning("image quarantined", extra={"reason": reason, "detail": detail})


def _stage_object(obj: S3ObjectRef, message_id: str, tally: MetricTally) -> StagedImage | None:
    """Quarantine, skip or analyze one object; an image to deliver or archive comes back for phase 2."""
    if not obj.key.startswith(INCOMING_PREFIX):
        # The notification filter should make this impossible; the function
        # may not move objects outside incoming/, so it only reports them.
        tally.count("ObjectsIgnored")
        logger.warning("object outside incoming/ ignored", extra={"bucket": obj.bucket})
        return None
    try:
        image_key = parse_image_key(obj.key)
    except KeyLayoutError as exc:
        _quarantine(obj, KEY_NOT_IN_LAYOUT, str(exc), tally)
        return None
    device = SETTINGS.device_registry.get(image_key.device_id)
    if device is None:
        _quarantine(obj, UNKNOWN_DEVICE, f"device {image_key.device_id!r} is not in the device registry", tally)
        return None
    # One HEAD before the analyzer: an image already moved (a duplicate event
    # after success) is not delivered again, and size limits are checked
    # without spending a Rekognition call.
    head = head_object(s3, bucket=obj.bucket, key=obj.key, version_id=obj.version_id)
    if head is None:
        _count_gone("object or version not found", tally)
        return None
    if head.size == 0:
        _quarantine(obj, INVALID_IMAGE_FORMAT, "empty object", tally)
        return None
    if head.size > MAX_S3_IMAGE_BYTES:
        _quarantine(obj, IMAGE_TOO_LARGE, f"{head.size} bytes, the analyzer accepts {MAX_S3_IMAGE_BYTES}", tally)
        return None
    version_id = obj.version_id or head.version_id
    # Identity is the content (ETag = MD5 of a single-part PUT) before the
    # version: an edge agent killed between S3's confirmation and its ledger
    # re-uploads the same bytes to the same key as a new version, and that
    # must not analyze (or bill) the image twice or change its record ids.
    version = obj.etag or head.etag or version_id or ""
    identity = (obj.bucket, obj.key, version)
    staged = partial(StagedImage, message_id=message_id, source=obj, version_id=version_id, identity=identity)
    # Checked before the analysis: content delivered before needs neither
    # Rekognition nor its stored analysis, only to leave incoming/.
    delivered_before = delivered_record_count(dynamodb, table=SETTINGS.idempotency_table, identity=identity)
    if delivered_before is not None:
        logger.info("records of this image were delivered before; not sent again", extra={"records": delivered_before})
        return staged(blobs=[], delivered_before=delivered_before)
    try:
        analysis = analyze(
            image={
                "bucket": obj.bucket,
                "key": obj.key,
                "version": version,
                "version_id": version_id,
                "device_id": image_key.device_id,
                "store_id": device.store_id,
                "camera_id": device.camera_id,
                "zone": device.zone,
                "captured_at_ms": epoch_millis(image_key.captured_at),
            },
            tally=tally,
        )
    except ImageRejectedError as exc:
        _quarantine(obj, exc.reason, str(exc), tally)
        return None
    except ImageUnreadableError as exc:
        if head_object(s3, bucket=obj.bucket, key=obj.key, version_id=version_id) is None:
            _count_gone("object deleted while being analyzed", tally)
            return None
        raise RuntimeError(
            "the analyzer cannot read an object that exists: check its encryption key and the function's role"
        ) from exc
    return staged(blobs=[encode_record(record) for record in analysis["records"]])


def plan_batch(records: list[dict[str, Any]], tally: MetricTally) -> dict[str, MessagePlan]:
    """Parse every message (cheap, in order); the same object version named twice is staged once."""
    plans: dict[str, MessagePlan] = {}
    objects_seen: set[tuple[str, str, str | None, str | None]] = set()
    for raw in records:
        message = SQSRecord(raw)
        plan = plans[message.message_id] = MessagePlan()
        try:
            objects = s3_objects_from(message.body)
        except Exception as exc:  # the message fails alone (and reaches the DLQ if it never parses)
            plan.error = exc
            continue
        plan.objects = len(objects)
        for obj in objects:
            tally.count("ImagesReceived")
            exact = (obj.bucket, obj.key, obj.version_id, obj.etag)
            if exact in objects_seen:
                # The first mention stages (and delivers) it; if its message
                # fails, that message is retried with the image.
                tally.count("DuplicateEventsSkipped")
                logger.info("same object version already in this batch; skipped", extra={"image_key": obj.key})
                continue
            objects_seen.add(exact)
            plan.tasks.append(ImageTask(index=len(objects_seen), message_id=message.message_id, source=obj))
    return plans


def _stage_task(
    task: ImageTask, *, context: LambdaContext, tally: MetricTally, failed_messages: set[str]
) -> StagedImage | Exception | None:
    """Phase 1 for one object, on an analysis thread; an exception fails the object's message."""
    if task.message_id in failed_messages:
        return None  # the message goes back to SQS anyway; its other images are staged on the retry
    # Thread-local log keys: the global ones (append_keys) are shared by all threads.
    logger.thread_safe_append_keys(correlation_id=task.message_id, image_key=task.source.key)
    try:
        if context.get_remaining_time_in_millis() < DELIVERY_RESERVE_MS:
            raise DeadlineApproachingError("not enough time left in this invocation; SQS will redeliver")
        return _stage_object(task.source, task.message_id, tally)
    except Exception as exc:
        failed_messages.add(task.message_id)  # set.add is atomic under the GIL
        return exc
    finally:
        logger.thread_safe_clear_keys()


def stage_images(
    plans: dict[str, MessagePlan], pool: Executor, context: LambdaContext, tally: MetricTally
) -> dict[int, StagedImage | Exception | None]:
    """Stage every task concurrently; uploads of one key run one after the other, in message order.

    A second upload of the same bytes (same key, new version) then finds the
    first one's analysis stored instead of racing it into Powertools'
    "already in progress" error.
    """
    by_key: dict[tuple[str, str], list[ImageTask]] = {}
    for plan in plans.values():
        for task in plan.tasks:
            by_key.setdefault((task.source.bucket, task.source.key), []).append(task)
    failed_messages: set[str] = set()
    stage = partial(_stage_task, context=context, tally=tally, failed_messages=failed_messages)

    def stage_in_order(tasks: list[ImageTask]) -> list[tuple[int, StagedImage | Exception | None]]:
        return [(task.index, stage(task)) for task in tasks]

    return {index: outcome for done in pool.map(stage_in_order, by_key.values()) for index, outcome in done}


def commit_message(
    record: SQSRecord,
    *,
    plans: dict[str, MessagePlan],
    outcomes: dict[int, StagedImage | Exception | None],
    invocation: Invocation,
) -> int:
    """Report one message's phase 1 to the BatchProcessor; raising fails only this message."""
    logger.set_correlation_id(record.message_id)
    plan = plans[record.message_id]
    if plan.error is not None:
        raise plan.error
    if not plan.objects:
        logger.info("no created object in message (s3:TestEvent or another event type); acknowledged")
    staged: list[StagedImage] = []
    for task in plan.tasks:
        outcome = outcomes[task.index]
        if isinstance(outcome, Exception):
            # Nothing of a failed message is delivered from this attempt: it is
            # retried as a whole (its analyses are stored, Rekognition is not called again).
            raise outcome
        if outcome is not None:
            staged.append(outcome)
    for image in staged:
        if image.identity in invocation.identities:
            image.same_content_as_earlier = True
        invocation.identities.add(image.identity)
    invocation.messages[record.message_id] = record
    invocation.images.extend(staged)
    return len(staged)


def _mark_delivered(image: StagedImage, *, expires_at: int, tally: MetricTally) -> None:
    logger.thread_safe_append_keys(correlation_id=image.message_id, image_key=image.source.key)
    try:
        mark_delivered(
            dynamodb,
            table=SETTINGS.idempotency_table,
            identity=image.identity,
            records=len(image.blobs),
            expires_at=expires_at,
        )
    except (ClientError, BotoCoreError):
        # The records are in; failing the message would only send them again.
        tally.count("DeliveredMarkersFailed")
        logger.exception("delivered marker not written; a redelivery of this image would send its records again")
    finally:
        logger.thread_safe_clear_keys()


def _archive(image: StagedImage, *, tally: MetricTally) -> Exception | None:
    logger.thread_safe_append_keys(correlation_id=image.message_id, image_key=image.source.key)
    started = time.perf_counter()
    try:
        moved = move_object(
            s3,
            bucket=image.source.bucket,
            key=image.source.key,
            version_id=image.version_id,
            target_bucket=SETTINGS.archive_bucket,
            target_key=image.source.key,
        )
    except (ClientError, BotoCoreError) as exc:
        logger.exception("archiving failed; the message will be retried")
        return exc
    else:
        if not image.blobs and image.delivered_before is None and not image.same_content_as_earlier:
            tally.count("ImagesWithoutFaces")
        tally.count("ImagesProcessed")
        logger.info(
            "image archived" if moved else "image already archived",
            extra={"faces": len(image.blobs) or image.delivered_before or 0, "archive_ms": _ms_since(started)},
        )
        return None
    finally:
        logger.thread_safe_clear_keys()


def _archive_all(
    pool: Executor, images: list[StagedImage], tally: MetricTally
) -> list[tuple[StagedImage, Exception | None]]:
    """Archive concurrently; versions of one key one after the other.

    Two versions of one key (an identical re-upload) copy to the same archive
    key: racing them gains nothing, and in order the second finds its work done.
    """
    by_key: dict[tuple[str, str], list[StagedImage]] = {}
    for image in images:
        by_key.setdefault((image.source.bucket, image.source.key), []).append(image)

    def archive_in_order(group: list[StagedImage]) -> list[tuple[StagedImage, Exception | None]]:
        return [(image, _archive(image, tally=tally)) for image in group]

    return [pair for done in pool.map(archive_in_order, by_key.values()) for pair in done]


def settle(invocation: Invocation, pool: Executor, tally: MetricTally) -> list[tuple[SQSRecord, Exception]]:
    """Phase 2: deliver all staged records, mark what arrived, then archive each delivered image."""
    failed: dict[str, Exception] = {}
    # One image per content: another upload of the same bytes sends nothing,
    # and content delivered before (its marker exists) is not sent again.
    to_send = [i for i in invocation.images if not i.same_content_as_earlier and i.delivered_before is None]
    delivered = {
        i.identity for i in invocation.images if not i.same_content_as_earlier and i.delivered_before is not None
    }
    already = sum(i.delivered_before or 0 for i in invocation.images if not i.same_content_as_earlier)
    if already:
        tally.count("RecordsAlreadyDelivered", already)
    # Owners are images, not messages: an image whose records all arrived is
    # marked and archived even when another image of its message failed.
    items = [(owner, blob) for owner, image in enumerate(to_send) for blob in image.blobs]
    undelivered: set[int] = set()
    if items:
        started = time.perf_counter()
        report = deliver(firehose, SETTINGS.firehose_stream_name, items)
        undelivered = report.undelivered_owners
        tally.count("FacesDelivered", report.delivered)
        tally.count("FirehoseCalls", report.calls)
        tally.count("FirehoseRecordsRetried", report.retried)
        log = logger.error if undelivered else logger.info
        log(
            "records delivered to firehose",
            extra={
                "records": len(items),
                "delivered": report.delivered,
                "calls": report.calls,
                "retried": report.retried,
                "images_failed": len(undelivered),
                "last_error": report.last_error,
                "firehose_ms": _ms_since(started),
            },
        )
        for owner in sorted(undelivered):
            failed.setdefault(
                to_send[owner].message_id,
                FirehoseDeliveryError(
                    f"records still rejected after retries ({report.last_error}); the image stays in incoming/"
                ),
            )
    arrived = [image for owner, image in enumerate(to_send) if owner not in undelivered]
    delivered.update(image.identity for image in arrived)
    # Markers go first, before any archive move: once written, a redelivery
    # (a failed move, a re-upload of the same bytes) sends nothing again.
    # Window left: a crash (timeout, out of memory) or a failed marker put
    # after Firehose accepted an image's records and before its marker is
    # written, followed by a redelivery that still finds the image in
    # incoming/, sends those records once more — with the same record_id, so
    # the duplicate can be removed downstream. Firehose has no conditional put
    # that could close it. Likewise an image only some of whose records were
    # still rejected after every retry gets no marker, and its redelivery sends
    # all of its records again (the accepted ones a second time, same ids).
    expires_at = int(time.time()) + IDEMPOTENCY_TTL_SECONDS
    list(pool.map(partial(_mark_delivered, expires_at=expires_at, tally=tally), [i for i in arrived if i.blobs]))
    to_archive = []
    for image in invocation.images:
        if image.identity in delivered:
            to_archive.append(image)
        elif image.same_content_as_earlier:
            failed.setdefault(
                image.message_id,
                ContentNotDeliveredError(
                    "the records of the same bytes uploaded earlier were not delivered; this upload stays in incoming/"
                ),
            )
    for image, error in _archive_all(pool, to_archive, tally):
        if error is not None:
            failed.setdefault(image.message_id, error)
    return [(invocation.messages[message_id], exc) for message_id, exc in failed.items()]


def _publish(tally: MetricTally) -> None:
    """Hand what the threads recorded to Powertools, from the invocation's thread."""
    snapshot = tally.drain()
    # Samples first: Powertools flushes a metric set on its 100th value, and a
    # set left empty by that would make the final flush warn "no metrics".
    for name, unit, value in snapshot.samples:
        metrics.add_metric(name=name, unit=unit, value=value)
    for name, value in snapshot.counts.items():
        metrics.add_metric(name=name, unit=MetricUnit.Count, value=value)
    for (name, dimension, dimension_value), value in snapshot.dimensioned.items():
        with single_metric(
            name=name, unit=MetricUnit.Count, value=value, default_dimensions=metrics.default_dimensions
        ) as metric:
            metric.add_dimension(name="service", value=metrics.service or "")
            metric.add_dimension(name=dimension, value=dimension_value)


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics(capture_cold_start_metric=True)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    # The in-progress idempotency record then expires with this invocation, so
    # a timeout does not block the redelivered message for the whole TTL.
    idempotency_config.register_lambda_context(context)
    tally = MetricTally()
    try:
        plans = plan_batch(event["Records"], tally)
        invocation = Invocation()
        with ThreadPoolExecutor(max_workers=SETTINGS.analyze_threads, thread_name_prefix="analyze") as pool:
            outcomes = stage_images(plans, pool, context, tally)
            # The context-manager form of BatchProcessor (rather than
            # process_partial_response) leaves room for phase 2, which works
            # on the whole batch and may still fail individual messages.
            commit = partial(commit_message, plans=plans, outcomes=outcomes, invocation=invocation)
            with processor(records=event["Records"], handler=commit, lambda_context=context):
                processor.process()
                logger.set_correlation_id(None)
                for message, exc in settle(invocation, pool, tally):
                    processor.failure_handler(record=message, exception=(type(exc), exc, exc.__traceback__))
    finally:
        _publish(tally)
    return processor.response()
