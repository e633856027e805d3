"""Phase 1 of an invocation: the batch's images triaged on threads, each message committed or failed.

Every task of the plan is staged concurrently (uploads of one key one after
the other); Powertools' ``BatchProcessor`` then calls ``commit_message`` per
message, which fails the message if any of its images could not be staged
and otherwise adds its staged images to the ``Invocation`` that settlement
works on.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Executor
from dataclasses import dataclass, field
from functools import partial
from typing import TYPE_CHECKING

from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from shopper_analyze.batch_plan import ImageTask, MessagePlan
from shopper_analyze.delivered_markers import Identity
from shopper_analyze.metric_tally import MetricTally
from shopper_analyze.s3_events import S3ObjectRef
from shopper_analyze.triage import StagedImage

if TYPE_CHECKING:
    from aws_lambda_powertools import Logger
    from aws_lambda_powertools.utilities.typing import LambdaContext

#: Time kept back for phase 2. An image whose analysis would start later is
#: not started: its message goes back to SQS rather than being cut off by the
#: timeout (a timeout after Firehose accepted records but before their markers
#: were written would send them again on redelivery). Phase 2 of a 500-image
#: batch: up to 50 PutRecordBatch calls (50 faces per image) plus a marker and
#: a copy and a delete per image on ANALYZE_THREADS threads, about 10 s; the
#: rest covers retries and backoff. The function timeout (300 s) leaves phase 1
#: the remaining 270 s.
DELIVERY_RESERVE_MS = 30_000

#: One object's triage (ImageTriage.stage): a staged image, or None when nothing is left to do.
StageObject = Callable[[S3ObjectRef, str, MetricTally], StagedImage | None]
#: Task index → staged image, nothing to do (None), or the exception that fails the task's message.
Outcomes = dict[int, StagedImage | Exception | None]


class DeadlineApproachingError(RuntimeError):
    """Too little time left to analyze and deliver this message; SQS redelivers it."""


@dataclass
class Invocation:
    """The committed messages of one invocation and their staged images, for settlement."""

    messages: dict[str, SQSRecord] = field(default_factory=dict)
    images: list[StagedImage] = field(default_factory=list)
    identities: set[Identity] = field(default_factory=set)


def _stage_task(
    task: ImageTask,
    *,
    stage: StageObject,
    context: LambdaContext,
    tally: MetricTally,
    logger: Logger,
    failed_messages: set[str],
) -> StagedImage | Exception | None:
    """Phase 1 for one object, on an analysis thread; an exception fails the object's message."""
    if task.message_id in failed_messages:
        return None  # the message goes back to SQS anyway; its other images are staged on the retry
    # Thread-local log keys: the global ones (append_keys) are shared by all threads.
    logger.thread_safe_append_keys(correlation_id=task.message_id, image_key=task.source.key)
    try:
        if context.get_remaining_time_in_millis() < DELIVERY_RESERVE_MS:
            raise DeadlineApproachingError("not enough time left in this invocation; SQS will redeliver")
        return stage(task.source, task.message_id, tally)
    except Exception as exc:
        failed_messages.add(task.message_id)  # set.add is atomic under the GIL
        return exc
    finally:
        logger.thread_safe_clear_keys()


def stage_images(
    plans: dict[str, MessagePlan],
    pool: Executor,
    context: LambdaContext,
    tally: MetricTally,
    *,
    stage: StageObject,
    logger: Logger,
) -> Outcomes:
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
    stage_one = partial(
        _stage_task, stage=stage, context=context, tally=tally, logger=logger, failed_messages=failed_messages
    )

    def stage_in_order(tasks: list[ImageTask]) -> list[tuple[int, StagedImage | Exception | None]]:
        return [(task.index, stage_one(task)) for task in tasks]

    return {index: outcome for done in pool.map(stage_in_order, by_key.values()) for index, outcome in done}


def commit_message(
    record: SQSRecord,
    *,
    plans: dict[str, MessagePlan],
    outcomes: Outcomes,
    invocation: Invocation,
    logger: Logger,
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
