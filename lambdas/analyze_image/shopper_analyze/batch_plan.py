"""The plan of one SQS batch: which objects each message names, each object version staged once.

Parsing is cheap and done in message order before any analysis starts, so a
malformed message fails alone and an object version named by two messages
(S3 may send an event twice) is analyzed and delivered once.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from shopper_analyze.s3_events import S3ObjectRef, s3_objects_from

if TYPE_CHECKING:
    from aws_lambda_powertools import Logger

    from shopper_analyze.metric_tally import MetricTally


@dataclass(frozen=True)
class ImageTask:
    """One object named by one message, to be staged on an analysis thread."""

    #: Position in the batch (1-based, in message order): the key of the task's outcome.
    index: int
    message_id: str
    source: S3ObjectRef


@dataclass
class MessagePlan:
    """What one message asks for: its objects to stage, or the error that fails it."""

    tasks: list[ImageTask] = field(default_factory=list)
    #: Created objects the message names, its duplicates included (0: a test event or another event type).
    objects: int = 0
    error: Exception | None = None


def plan_batch(records: list[dict[str, Any]], tally: MetricTally, logger: Logger) -> dict[str, MessagePlan]:
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
