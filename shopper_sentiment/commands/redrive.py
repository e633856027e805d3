"""Move the messages of the dead-letter queue back to the incoming queue, so the function tries them again.

Examples:
  # how many messages wait in the dead-letter queue, without moving any
  shopper-sentiment redrive --config deployments.toml --deployment demo --dry-run
  # after the fix is deployed: move them all back, with SQS's own redrive
  shopper-sentiment redrive --config deployments.toml --deployment demo

Run it once the cause is fixed (docs/operations.md, DeadLetterMessages):
a message moved back before that fails again and returns to the dead-letter
queue after the queue's receive count.

Methods:
  move-task  (default) SQS StartMessageMoveTask, then follows the task until it ends
  copy       receive from the dead-letter queue, send each message to the incoming
             queue, delete it from the dead-letter queue only once the send succeeded;
             stops after the number of messages that were waiting when it started,
             so messages that fail again during the redrive are not moved twice.
             For where the move task is not available (or a local stand-in)

Both queues are found from the stack's outputs (CloudFormation DescribeStacks).
Exit codes: 0 every message moved, 1 some left in the dead-letter queue (counted),
2 bad arguments or config.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from shopper_sentiment.commands import EXIT_DONE, EXIT_LEFT_OVER, UsageError
from shopper_sentiment.contracts import outputs
from shopper_sentiment.deployment import add_deployment_arguments, deployment_from, outputs_of, session_for

NAME = "redrive"
HELP = "move the dead-letter queue's messages back to the incoming queue (after a fix), or count them"

METHODS = ("move-task", "copy")
#: How long a received message stays invisible to others while the copy method sends it on.
COPY_VISIBILITY_SECONDS = 120
#: The move task's states that end it (SQS ListMessageMoveTasks).
_TASK_ENDED = {"COMPLETED", "FAILED", "CANCELLED"}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_deployment_arguments(parser)
    parser.add_argument("--method", choices=METHODS, default="move-task", help="how to move them (default: move-task)")
    parser.add_argument("--dry-run", action="store_true", help="count the messages waiting; move nothing")
    parser.add_argument("--json", action="store_true", help="print the report as one JSON document")
    parser.add_argument(
        "--timeout", type=float, default=900.0, help="seconds to wait for the move to end (default: 900)"
    )


@dataclass
class RedriveReport:
    method: str
    dry_run: bool
    #: Messages in the dead-letter queue when the command started (visible and in flight).
    waiting: int
    moved: int = 0
    failed: int = 0
    #: Messages in the dead-letter queue when the command ended.
    left: int = 0
    task_status: str | None = None
    notes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Queues:
    incoming_url: str
    dead_letter_url: str


def queues_from_outputs(values: dict[str, str], stack_name: str) -> Queues:
    for key in (outputs.INCOMING_QUEUE_URL, outputs.DEAD_LETTER_QUEUE_URL):
        if not values.get(key):
            raise UsageError(
                f"stack {stack_name} has no output {key}: deploy the current version of the stack"
                " (npx cdk deploy) so redrive can find its queues"
            )
    return Queues(values[outputs.INCOMING_QUEUE_URL], values[outputs.DEAD_LETTER_QUEUE_URL])


def waiting_messages(sqs: Any, queue_url: str) -> int:
    names = ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    attributes = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=names)["Attributes"]
    return sum(int(attributes.get(name, 0)) for name in names)


def queue_arn(sqs: Any, queue_url: str) -> str:
    return sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]


def move_with_task(
    sqs: Any,
    queues: Queues,
    report: RedriveReport,
    *,
    timeout: float,
    say: Callable[[str], None],
    sleep: Callable[[float], None] = time.sleep,
    poll_seconds: float = 5.0,
) -> None:
    """SQS's own redrive: a message move task from the dead-letter queue to the incoming queue, followed to its end."""
    source = queue_arn(sqs, queues.dead_letter_url)
    destination = queue_arn(sqs, queues.incoming_url)
    sqs.start_message_move_task(SourceArn=source, DestinationArn=destination)
    waited = 0.0
    while True:
        tasks = sqs.list_message_move_tasks(SourceArn=source, MaxResults=1).get("Results", [])
        task = tasks[0] if tasks else {}
        report.task_status = task.get("Status")
        report.moved = int(task.get("ApproximateNumberOfMessagesMoved", 0))
        if report.task_status in _TASK_ENDED:
            if task.get("FailureReason"):
                report.notes.append(f"move task {report.task_status}: {task['FailureReason']}")
            break
        if waited >= timeout:
            report.notes.append(f"move task still {report.task_status} after {timeout:g} s; it goes on in SQS")
            break
        say(f"  moving: {report.moved} of {task.get('ApproximateNumberOfMessagesToMove', report.waiting)} ...")
        sleep(poll_seconds)
        waited += poll_seconds


def move_by_copy(sqs: Any, queues: Queues, report: RedriveReport, *, say: Callable[[str], None]) -> None:
    """Receive, send on, delete once sent: at most the messages that were waiting at the start."""
    budget = report.waiting
    empty_receives = 0
    while report.moved + report.failed < budget and empty_receives < 3:
        received = sqs.receive_message(
            QueueUrl=queues.dead_letter_url,
            MaxNumberOfMessages=min(10, budget - report.moved - report.failed),
            VisibilityTimeout=COPY_VISIBILITY_SECONDS,
            WaitTimeSeconds=1,
            MessageAttributeNames=["All"],
        ).get("Messages", [])
        if not received:
            empty_receives += 1
            continue
        empty_receives = 0
        entries = []
        for index, message in enumerate(received):
            entry: dict[str, Any] = {"Id": str(index), "MessageBody": message["Body"]}
            if message.get("MessageAttributes"):
                entry["MessageAttributes"] = message["MessageAttributes"]
            entries.append(entry)
        sent = sqs.send_message_batch(QueueUrl=queues.incoming_url, Entries=entries)
        for failure in sent.get("Failed", []):
            # Not deleted: it becomes visible again in the dead-letter queue.
            report.failed += 1
            report.notes.append(f"send failed ({failure.get('Code')}): {failure.get('Message')}")
        done = [received[int(ok["Id"])] for ok in sent.get("Successful", [])]
        if done:
            sqs.delete_message_batch(
                QueueUrl=queues.dead_letter_url,
                Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(done)],
            )
        report.moved += len(done)
        say(f"  moved {report.moved} of {budget} ...")


def redrive(
    sqs: Any,
    queues: Queues,
    *,
    method: str,
    dry_run: bool,
    timeout: float,
    say: Callable[[str], None],
    sleep: Callable[[float], None] = time.sleep,
) -> RedriveReport:
    report = RedriveReport(method=method, dry_run=dry_run, waiting=waiting_messages(sqs, queues.dead_letter_url))
    say(f"dead-letter queue {queues.dead_letter_url}: {report.waiting} messages")
    say(f"incoming queue    {queues.incoming_url}")
    if dry_run or report.waiting == 0:
        report.left = report.waiting
        return report
    if method == "move-task":
        move_with_task(sqs, queues, report, timeout=timeout, say=say, sleep=sleep)
    else:
        move_by_copy(sqs, queues, report, say=say)
    report.left = waiting_messages(sqs, queues.dead_letter_url)
    return report


def run(args: argparse.Namespace) -> int:
    deployment = deployment_from(args)
    if args.timeout <= 0:
        raise UsageError(f"--timeout {args.timeout:g}: give a number of seconds above 0")
    session = session_for(args, deployment, "redrive")
    stack_name = deployment.stack_name
    values = outputs_of(args, session, stack_name)
    queues = queues_from_outputs(values, stack_name)

    def say(message: str) -> None:
        print(message, file=sys.stderr if args.json else sys.stdout, flush=True)

    report = redrive(
        session.client("sqs"), queues, method=args.method, dry_run=args.dry_run, timeout=args.timeout, say=say
    )
    if args.json:
        print(json.dumps(asdict(report), indent=2))
    else:
        verb = "would move" if args.dry_run else "moved"
        print(f"{verb} {report.waiting if args.dry_run else report.moved} messages ({report.method})")
        if not args.dry_run:
            print(f"failed {report.failed}, left in the dead-letter queue {report.left}")
        for note in report.notes:
            print(f"  {note}")
    if args.dry_run:
        return EXIT_DONE
    return EXIT_LEFT_OVER if report.left or report.failed else EXIT_DONE
