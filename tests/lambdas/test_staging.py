"""Phase 1: the batch staged on threads, each message committed or failed (no AWS at all)."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from shopper_analyze.batch_plan import plan_batch
from shopper_analyze.metric_tally import MetricTally
from shopper_analyze.s3_events import MalformedEventError, S3ObjectRef
from shopper_analyze.staging import (
    DELIVERY_RESERVE_MS,
    DeadlineApproachingError,
    Invocation,
    commit_message,
    stage_images,
)
from shopper_analyze.triage import StagedImage

from tests.lambdas.local_aws import FakeLambdaContext, image_key, s3_notification, s3_record, sqs_event


def staged(obj: S3ObjectRef, message_id: str) -> StagedImage:
    return StagedImage(
        message_id=message_id,
        source=obj,
        version_id=obj.version_id,
        identity=(obj.bucket, obj.key, obj.etag or ""),
        blobs=[b"{}\n"],
    )


class RecordingStage:
    """Stands in for ImageTriage.stage: stages every object, or raises for the keys in ``failing``."""

    def __init__(self, failing: frozenset[str] = frozenset(), pause: float = 0.0) -> None:
        self.failing = failing
        self.pause = pause
        self.calls: list[tuple[str, str | None]] = []
        self.running: dict[str, int] = {}
        self.overlapped: set[str] = set()
        self._lock = threading.Lock()

    def __call__(self, obj: S3ObjectRef, message_id: str, tally: MetricTally) -> StagedImage:
        with self._lock:
            self.calls.append((obj.key, obj.version_id))
            self.running[obj.key] = self.running.get(obj.key, 0) + 1
            if self.running[obj.key] > 1:
                self.overlapped.add(obj.key)
        time.sleep(self.pause)
        with self._lock:
            self.running[obj.key] -= 1
        if obj.key in self.failing:
            raise RuntimeError(f"{obj.key} failed")
        return staged(obj, message_id)


def stage(event, stage_object, logger, *, remaining_ms=60_000, threads=4):
    plans = plan_batch(event["Records"], MetricTally(), logger)
    with ThreadPoolExecutor(max_workers=threads) as pool:
        context = FakeLambdaContext(remaining_ms=remaining_ms)
        outcomes = stage_images(plans, pool, context, MetricTally(), stage=stage_object, logger=logger)
    return plans, outcomes


def test_no_image_is_started_inside_the_delivery_reserve(logger):
    stage_object = RecordingStage()
    event = sqs_event(s3_notification(s3_record(image_key())))

    _, outcomes = stage(event, stage_object, logger, remaining_ms=DELIVERY_RESERVE_MS - 1)

    assert isinstance(outcomes[1], DeadlineApproachingError)
    assert stage_object.calls == []


def test_image_is_started_with_exactly_the_delivery_reserve_left(logger):
    stage_object = RecordingStage()

    _, outcomes = stage(
        sqs_event(s3_notification(s3_record(image_key()))), stage_object, logger, remaining_ms=DELIVERY_RESERVE_MS
    )

    assert isinstance(outcomes[1], StagedImage)


def test_uploads_of_one_key_are_staged_one_after_the_other_in_message_order(logger):
    key = image_key()
    others = [image_key(content=str(i).encode()) for i in range(3)]
    versions = [s3_notification(s3_record(key, version_id=f"v{i}", etag="same")) for i in range(3)]
    stage_object = RecordingStage(pause=0.02)

    stage(sqs_event(*versions, *(s3_notification(s3_record(k)) for k in others)), stage_object, logger)

    assert [version for k, version in stage_object.calls if k == key] == ["v0", "v1", "v2"]
    assert key not in stage_object.overlapped


def test_failed_image_fails_its_message_and_its_later_images_are_not_staged(logger):
    failing, later, other = (image_key(content=c) for c in (b"failing", b"later", b"other"))
    event = sqs_event(s3_notification(s3_record(failing), s3_record(later)), s3_notification(s3_record(other)))
    stage_object = RecordingStage(failing=frozenset({failing}))

    _, outcomes = stage(event, stage_object, logger, threads=1)  # one thread: tasks in batch order

    assert isinstance(outcomes[1], RuntimeError)
    assert outcomes[2] is None  # the message is retried whole; its other image is staged then
    assert isinstance(outcomes[3], StagedImage)
    assert [k for k, _ in stage_object.calls] == [failing, other]


def commit_all(event, plans, outcomes, logger) -> tuple[Invocation, dict[str, Exception]]:
    invocation = Invocation()
    errors: dict[str, Exception] = {}
    for raw in event["Records"]:
        record = SQSRecord(raw)
        try:
            commit_message(record, plans=plans, outcomes=outcomes, invocation=invocation, logger=logger)
        except Exception as exc:
            errors[record.message_id] = exc
    return invocation, errors


def test_commit_fails_exactly_the_messages_that_did_not_stage(logger):
    failing, fine = image_key(content=b"failing"), image_key(content=b"fine")
    event = sqs_event("not json", s3_notification(s3_record(failing)), s3_notification(s3_record(fine)))
    plans, outcomes = stage(event, RecordingStage(failing=frozenset({failing})), logger)

    invocation, errors = commit_all(event, plans, outcomes, logger)

    assert isinstance(errors.pop("m0"), MalformedEventError)
    assert str(errors.pop("m1")) == f"{failing} failed"
    assert errors == {}
    assert list(invocation.messages) == ["m2"]
    assert [image.source.key for image in invocation.images] == [fine]


def test_commit_marks_a_second_upload_of_the_same_content_in_the_batch(logger):
    key = image_key()
    first, second = (s3_record(key, version_id=v, etag="same") for v in ("v1", "v2"))
    event = sqs_event(s3_notification(first), s3_notification(second))
    plans, outcomes = stage(event, RecordingStage(), logger)

    invocation, errors = commit_all(event, plans, outcomes, logger)

    assert errors == {}
    assert [(i.version_id, i.same_content_as_earlier) for i in invocation.images] == [("v1", False), ("v2", True)]


@pytest.mark.parametrize("body", ['{"Event": "s3:TestEvent"}', '{"Records": []}'], ids=["test-event", "no-records"])
def test_message_without_objects_is_committed_with_nothing_staged(logger, body):
    event = sqs_event(body)
    plans, outcomes = stage(event, RecordingStage(), logger)

    invocation, errors = commit_all(event, plans, outcomes, logger)

    assert (errors, list(invocation.messages), invocation.images) == ({}, ["m0"], [])
