"""Analyze Lambda: S3 events (through SQS) → faces → Firehose, then the image leaves incoming/.

Entry point ``app.handler``. This module only wires clients and Powertools
utilities to the pure logic in ``shopper_analyze``. One invocation runs in
two phases:

1. per SQS message (Powertools ``BatchProcessor``): parse the S3 events,
   quarantine what can never be analyzed, analyze the rest (idempotent on
   bucket/key/version, so a redelivered image does not reach Rekognition
   twice) and stage the encoded records;
2. once for the whole batch: put every staged record to Firehose in as few
   calls as the limits allow, then archive each image whose records all
   arrived. A message with an undelivered record or a failed move is reported
   as a batch item failure and its image stays in incoming/.

The image is archived only after its records are in Firehose, so a failed
write never loses an image.
"""

from __future__ import annotations

import os
import time
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
from shopper_analyze.s3_events import S3ObjectRef, s3_objects_from
from shopper_analyze.s3_objects import head_object, move_object, quarantine_key
from shopper_analyze.settings import load_settings

KEY_NOT_IN_LAYOUT = "key-not-in-layout"
UNKNOWN_DEVICE = "unknown-device"

#: Redeliveries within this window reuse the stored analysis instead of calling
#: Rekognition again (SQS retries, a DLQ redrive within a week). An image
#: already archived is recognised by the HEAD in _stage_object at any age.
IDEMPOTENCY_TTL_SECONDS = 7 * 24 * 3600
#: Time kept back for phase 2 (Firehose with retries, S3 moves). A message
#: reached later is returned to SQS untouched rather than cut off by the timeout.
DELIVERY_RESERVE_MS = 10_000

SETTINGS = load_settings(os.environ, base_dir=Path(__file__).resolve().parent)

logger = Logger()
metrics = Metrics()
# Every failure, even of the whole batch, is reported per message: one code path.
processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False, logger=logger)

# Clients live for the execution environment; timeouts bound a stuck call well
# inside the 60 s function timeout.
s3 = boto3.client(
    "s3", config=Config(retries={"mode": "standard", "max_attempts": 5}, connect_timeout=2, read_timeout=10)
)
# Adaptive mode adds client-side rate limiting once Rekognition throttles: a
# throttled environment slows down instead of hammering the account's TPS quota.
rekognition = boto3.client(
    "rekognition", config=Config(retries={"mode": "adaptive", "max_attempts": 5}, connect_timeout=2, read_timeout=20)
)
firehose = boto3.client(
    "firehose", config=Config(retries={"mode": "standard", "max_attempts": 3}, connect_timeout=2, read_timeout=10)
)
dynamodb = boto3.client(
    "dynamodb", config=Config(retries={"mode": "standard", "max_attempts": 3}, connect_timeout=2, read_timeout=5)
)

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


@dataclass
class StagedImage:
    message_id: str
    source: S3ObjectRef
    version_id: str | None
    blobs: list[bytes]


@dataclass
class Invocation:
    messages: dict[str, SQSRecord] = field(default_factory=dict)
    images: list[StagedImage] = field(default_factory=list)
    seen: set[tuple[str, str, str]] = field(default_factory=set)


def _ms_since(started: float) -> int:
    return round((time.perf_counter() - started) * 1000)


@idempotent_function(data_keyword_argument="image", config=idempotency_config, persistence_store=persistence)
def analyze(*, image: dict[str, Any]) -> dict[str, Any]:
    """Analyzer call and records for one object version (stored: a redelivery returns the same records)."""
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
    metrics.add_metric(name="ImagesAnalyzed", unit=MetricUnit.Count, value=1)
    metrics.add_metric(name="FacesDetected", unit=MetricUnit.Count, value=result.faces_detected)
    metrics.add_metric(name="FacesDropped", unit=MetricUnit.Count, value=result.faces_dropped)
    metrics.add_metric(name="AnalyzerLatency", unit=MetricUnit.Milliseconds, value=analyzer_ms)
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


def _count_gone(reason: str) -> None:
    metrics.add_metric(name="ImagesGone", unit=MetricUnit.Count, value=1)
    logger.info("object no longer in incoming/; nothing to do", extra={"reason": reason})


def _quarantine(obj: S3ObjectRef, reason: str, detail: str) -> None:
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
        _count_gone(f"gone before quarantine ({reason})")
        return
    with single_metric(
        name="ImagesQuarantined", unit=MetricUnit.Count, value=1, default_dimensions=metrics.default_dimensions
    ) as metric:
        metric.add_dimension(name="service", value=metrics.service or "")
        metric.add_dimension(name="reason", value=reason)
    logger.warning("image quarantined", extra={"reason": reason, "detail": detail})


def _stage_object(obj: S3ObjectRef, message_id: str, seen: set[tuple[str, str, str]]) -> StagedImage | None:
    """Quarantine, skip or analyze one object; an analyzed image comes back for phase 2."""
    metrics.add_metric(name="ImagesReceived", unit=MetricUnit.Count, value=1)
    if not obj.key.startswith(INCOMING_PREFIX):
        # The notification filter should make this impossible; the function
        # may not move objects outside incoming/, so it only reports them.
        metrics.add_metric(name="ObjectsIgnored", unit=MetricUnit.Count, value=1)
        logger.warning("object outside incoming/ ignored", extra={"bucket": obj.bucket})
        return None
    try:
        image_key = parse_image_key(obj.key)
    except KeyLayoutError as exc:
        _quarantine(obj, KEY_NOT_IN_LAYOUT, str(exc))
        return None
    device = SETTINGS.device_registry.get(image_key.device_id)
    if device is None:
        _quarantine(obj, UNKNOWN_DEVICE, f"device {image_key.device_id!r} is not in the device registry")
        return None
    # One HEAD before the analyzer: an image already moved (a duplicate event
    # after success) is not delivered again, and size limits are checked
    # without spending a Rekognition call.
    head = head_object(s3, bucket=obj.bucket, key=obj.key, version_id=obj.version_id)
    if head is None:
        _count_gone("object or version not found")
        return None
    if head.size == 0:
        _quarantine(obj, INVALID_IMAGE_FORMAT, "empty object")
        return None
    if head.size > MAX_S3_IMAGE_BYTES:
        _quarantine(obj, IMAGE_TOO_LARGE, f"{head.size} bytes, the analyzer accepts {MAX_S3_IMAGE_BYTES}")
        return None
    version_id = obj.version_id or head.version_id
    # Identity is the content (ETag = MD5 of a single-part PUT) before the
    # version: an edge agent killed between S3's confirmation and its ledger
    # re-uploads the same bytes to the same key as a new version, and that
    # must not analyze (or bill) the image twice or change its record ids.
    version = obj.etag or head.etag or version_id or ""
    identity = (obj.bucket, obj.key, version)
    if identity in seen:
        metrics.add_metric(name="DuplicateEventsSkipped", unit=MetricUnit.Count, value=1)
        logger.info("same object version already in this batch; skipped")
        return None
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
            }
        )
    except ImageRejectedError as exc:
        _quarantine(obj, exc.reason, str(exc))
        return None
    except ImageUnreadableError as exc:
        if head_object(s3, bucket=obj.bucket, key=obj.key, version_id=version_id) is None:
            _count_gone("object deleted while being analyzed")
            return None
        raise RuntimeError(
            "the analyzer cannot read an object that exists: check its encryption key and the function's role"
        ) from exc
    seen.add(identity)
    return StagedImage(
        message_id=message_id,
        source=obj,
        version_id=version_id,
        blobs=[encode_record(record) for record in analysis["records"]],
    )


def stage_message(record: SQSRecord, lambda_context: LambdaContext, *, invocation: Invocation) -> int:
    """Phase 1 for one SQS message; raising fails only this message."""
    logger.set_correlation_id(record.message_id)
    if lambda_context.get_remaining_time_in_millis() < DELIVERY_RESERVE_MS:
        raise DeadlineApproachingError("not enough time left in this invocation; SQS will redeliver")
    objects = s3_objects_from(record.body)
    if not objects:
        logger.info("no created object in message (s3:TestEvent or another event type); acknowledged")
    seen = set(invocation.seen)
    staged = []
    for obj in objects:
        with logger.append_context_keys(image_key=obj.key):
            image = _stage_object(obj, record.message_id, seen)
        if image is not None:
            staged.append(image)
    # Committed only when the whole message staged: a failed message is
    # retried as a whole and its images are not delivered from this attempt.
    invocation.messages[record.message_id] = record
    invocation.images.extend(staged)
    invocation.seen = seen
    return len(staged)


def settle(invocation: Invocation) -> list[tuple[SQSRecord, Exception]]:
    """Phase 2: deliver all staged records, then archive each fully delivered image."""
    failed: dict[str, Exception] = {}
    items = [(image.message_id, blob) for image in invocation.images for blob in image.blobs]
    if items:
        started = time.perf_counter()
        report = deliver(firehose, SETTINGS.firehose_stream_name, items)
        metrics.add_metric(name="FacesDelivered", unit=MetricUnit.Count, value=report.delivered)
        metrics.add_metric(name="FirehoseCalls", unit=MetricUnit.Count, value=report.calls)
        metrics.add_metric(name="FirehoseRecordsRetried", unit=MetricUnit.Count, value=report.retried)
        log = logger.error if report.undelivered_owners else logger.info
        log(
            "records delivered to firehose",
            extra={
                "records": len(items),
                "delivered": report.delivered,
                "calls": report.calls,
                "retried": report.retried,
                "messages_failed": len(report.undelivered_owners),
                "last_error": report.last_error,
                "firehose_ms": _ms_since(started),
            },
        )
        for message_id in report.undelivered_owners:
            failed[message_id] = FirehoseDeliveryError(
                f"records still rejected after retries ({report.last_error}); the image stays in incoming/"
            )
    for image in invocation.images:
        if image.message_id in failed:
            continue
        with logger.append_context_keys(image_key=image.source.key, message_id=image.message_id):
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
                failed[image.message_id] = exc
                logger.exception("archiving failed; the message will be retried")
                continue
            if not image.blobs:
                metrics.add_metric(name="ImagesWithoutFaces", unit=MetricUnit.Count, value=1)
            metrics.add_metric(name="ImagesProcessed", unit=MetricUnit.Count, value=1)
            logger.info(
                "image archived" if moved else "image already archived",
                extra={"faces": len(image.blobs), "archive_ms": _ms_since(started)},
            )
    return [(invocation.messages[message_id], exc) for message_id, exc in failed.items()]


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics(capture_cold_start_metric=True)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    # The in-progress idempotency record then expires with this invocation, so
    # a timeout does not block the redelivered message for the whole TTL.
    idempotency_config.register_lambda_context(context)
    invocation = Invocation()
    # The context-manager form of BatchProcessor (rather than
    # process_partial_response) leaves room for phase 2, which works on the
    # whole batch and may still fail individual messages.
    with processor(
        records=event["Records"], handler=partial(stage_message, invocation=invocation), lambda_context=context
    ):
        processor.process()
        logger.set_correlation_id(None)
        for message, exc in settle(invocation):
            processor.failure_handler(record=message, exception=(type(exc), exc, exc.__traceback__))
    return processor.response()
