"""PutRecordBatch planning within the Firehose service limits.

Limits (Amazon Data Firehose API reference, PutRecordBatch): at most 500
records and 4 MiB per call, each record at most 1,000 KiB before base64.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

MAX_RECORDS_PER_CALL = 500
MAX_BYTES_PER_CALL = 4 * 1024 * 1024
MAX_BYTES_PER_RECORD = 1000 * 1024


class RecordTooLargeError(ValueError):
    """A single record exceeds what Firehose accepts; it can never be delivered."""


def plan_calls(sizes: Sequence[int]) -> list[list[int]]:
    """Positions of the records for each call, in order, each call within the limits."""
    calls: list[list[int]] = []
    current: list[int] = []
    current_bytes = 0
    for position, size in enumerate(sizes):
        if size > MAX_BYTES_PER_RECORD:
            raise RecordTooLargeError(f"record {position} is {size} bytes; Firehose accepts {MAX_BYTES_PER_RECORD}")
        if current and (len(current) == MAX_RECORDS_PER_CALL or current_bytes + size > MAX_BYTES_PER_CALL):
            calls.append(current)
            current, current_bytes = [], 0
        current.append(position)
        current_bytes += size
    if current:
        calls.append(current)
    return calls


def failed_positions(response: Mapping[str, Any], sent: int) -> list[int]:
    """Positions in the request whose entry carries an ErrorCode (FailedPutCount > 0).

    ``RequestResponses`` has one entry per record sent, in order. Should a
    response ever disagree with that, every record is treated as failed:
    resending risks a duplicate (record ids make it removable), guessing risks
    a loss.
    """
    if not response.get("FailedPutCount"):
        return []
    entries = response.get("RequestResponses") or []
    failed = [i for i, entry in enumerate(entries) if entry.get("ErrorCode")]
    if len(entries) != sent or not failed:
        return list(range(sent))
    return failed
