"""Delivery of encoded records to Firehose, retrying only what failed.

Records of several SQS messages share calls (fewer calls per face); each
record remembers its message so a record that cannot be delivered fails
exactly its own message back to SQS.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Generic, TypeVar

from botocore.exceptions import BotoCoreError, ClientError

from shopper_analyze.firehose_batches import failed_positions, plan_calls

if TYPE_CHECKING:
    from mypy_boto3_firehose import FirehoseClient  # type stubs only, never at runtime

Owner = TypeVar("Owner", bound=Hashable)

#: Attempts per record, including the first; delays grow 0.1, 0.2, 0.4 s (full jitter).
MAX_ATTEMPTS = 4
BASE_DELAY_SECONDS = 0.1


@dataclass
class DeliveryReport(Generic[Owner]):
    delivered: int = 0
    calls: int = 0
    retried: int = 0
    #: Owners with at least one record still undelivered after every attempt.
    undelivered_owners: set[Owner] = field(default_factory=set)
    last_error: str | None = None


def deliver(
    client: FirehoseClient,
    stream_name: str,
    items: Sequence[tuple[Owner, bytes]],
    *,
    max_attempts: int = MAX_ATTEMPTS,
    base_delay: float = BASE_DELAY_SECONDS,
    sleep: Callable[[float], None] = time.sleep,
    jitter: Callable[[], float] = random.random,
) -> DeliveryReport[Owner]:
    """Put every item, chunked within limits; failed records (FailedPutCount) are retried with backoff."""
    report: DeliveryReport[Owner] = DeliveryReport()
    pending = list(range(len(items)))
    for attempt in range(max_attempts):
        if not pending:
            break
        if attempt:
            report.retried += len(pending)
            sleep(jitter() * base_delay * 2 ** (attempt - 1))
        still_failing: list[int] = []
        for call in plan_calls([len(items[i][1]) for i in pending]):
            positions = [pending[p] for p in call]
            report.calls += 1
            try:
                response = client.put_record_batch(
                    DeliveryStreamName=stream_name, Records=[{"Data": items[i][1]} for i in positions]
                )
            except (ClientError, BotoCoreError) as exc:
                # The client already retried the call; keep the records for the next attempt.
                report.last_error = type(exc).__name__ if isinstance(exc, BotoCoreError) else _code(exc)
                still_failing.extend(positions)
                continue
            failed = failed_positions(response, len(positions))
            if failed:
                entries = response.get("RequestResponses") or []
                report.last_error = next((e.get("ErrorCode") for e in entries if e.get("ErrorCode")), "FailedPut")
            still_failing.extend(positions[f] for f in failed)
            report.delivered += len(positions) - len(failed)
        pending = still_failing
    report.undelivered_owners = {items[i][0] for i in pending}
    return report


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", "ClientError"))
