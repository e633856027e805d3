"""Lambda's SQS event source, locally: poll the queue, invoke the handler with a batch, delete what succeeded.

Like the event source mapping with ``ReportBatchItemFailures``: messages the
handler reports as failed stay in the queue (they come back after the
visibility timeout); the others are deleted. Used by the demo; a burst
simulation needs more of SQS (visibility, receive counts, the dead-letter
queue) than this loop models.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from local.events import sqs_event_from
from local.lambda_runtime import LambdaContextStub

Handler = Callable[[dict[str, Any], Any], dict[str, Any]]


@dataclass
class DrainReport:
    invocations: int = 0
    messages: int = 0
    message_failures: int = 0


def drain_queue(
    handler: Handler,
    sqs: Any,
    queue_url: str,
    *,
    batch_size: int,
    timeout_ms: int = 300_000,
    idle_polls: int = 2,
    max_invocations: int | None = None,
    progress: Callable[[str], None] = lambda line: print(line, file=sys.stderr),
) -> DrainReport:
    """Invoke ``handler`` on batches of up to ``batch_size`` messages until ``idle_polls`` polls find none.

    ``max_invocations`` stops earlier: a message that always fails would
    otherwise keep the queue from ever draining (SQS would dead-letter it
    after its receive count; this loop does not count receives).
    """
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    report = DrainReport()
    empty = 0
    while empty < idle_polls and (max_invocations is None or report.invocations < max_invocations):
        # Like the event source's batching window: gather up to a batch, then invoke.
        messages: list[dict[str, Any]] = []
        while len(messages) < batch_size:
            wanted = min(10, batch_size - len(messages))  # ReceiveMessage returns at most 10
            received = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=wanted, WaitTimeSeconds=1)
            if not received.get("Messages"):
                break
            messages += received["Messages"]
        if not messages:
            empty += 1
            continue
        empty = 0
        response = handler(sqs_event_from(messages, queue_arn=queue_arn), LambdaContextStub(timeout_ms, ticking=True))
        report.invocations += 1
        failed = {item["itemIdentifier"] for item in response.get("batchItemFailures", [])}
        report.message_failures += len(failed)
        for message in messages:
            if message["MessageId"] not in failed:
                sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
                report.messages += 1
        progress(f"      handler invocation {report.invocations}: {len(messages)} messages, {len(failed)} failed")
    return report
