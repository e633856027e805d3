"""One row per settled image (the ``images`` table), and the store's wall clock every row is dated by.

A face record says what was seen; an image row says that a still was
looked at at all: analyzed with no one in it, analyzed with three faces, or
quarantined and why. It is the denominator of every "per still" figure and
the way to tell a quiet hour from a dead camera.

The column list mirrors ``shopper_sentiment/contracts/schema.py`` (``IMAGE_RECORD_KEYS``),
which the deployed asset cannot import; tests/contracts ties the two.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Any
from zoneinfo import ZoneInfo

#: Keys of one row, in the order of shopper_sentiment.contracts.schema.IMAGE_RECORD_KEYS.
IMAGE_RECORD_KEYS: tuple[str, ...] = (
    "image_id",
    "image_key",
    "device_id",
    "camera_id",
    "zone",
    "captured_at",
    "captured_at_local",
    "processed_at",
    "outcome",
    "quarantine_reason",
    "faces_detected",
    "faces_kept",
    "analyzer",
    "store_id",
    "dt",
)
OUTCOME_ANALYZED = "analyzed"
OUTCOME_QUARANTINED = "quarantined"
#: The store of an image whose device is in no store (store ids never start with "_").
UNREGISTERED_STORE = "_unregistered"
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@cache
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def wall_clock(moment: datetime, time_zone: str) -> datetime:
    """The store's wall-clock time at ``moment`` (naive: a Hive timestamp keeps no zone).

    The UTC instant is unambiguous, so the hour that repeats when daylight
    saving ends maps each instant to its own wall time, and the hour skipped
    when it starts is never produced.
    """
    return moment.astimezone(_zone(time_zone)).replace(tzinfo=None)


def epoch_millis(moment: datetime) -> int:
    """Epoch milliseconds, exact; a naive moment (a wall clock) is written as if it were UTC."""
    aware = moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
    return (aware - _EPOCH) // timedelta(milliseconds=1)


def image_id_for(bucket: str, key: str, version: str) -> str:
    """Deterministic per content: a redelivered or re-uploaded image has the same id (duplicates can be removed)."""
    return hashlib.sha256("\n".join((bucket, key, version)).encode("utf-8")).hexdigest()[:32]


def image_row(
    *,
    image_id: str,
    key: str,
    processed_at: datetime,
    outcome: str,
    device_id: str | None = None,
    camera_id: str | None = None,
    zone: str | None = None,
    store_id: str | None = None,
    time_zone: str | None = None,
    captured_at: datetime | None = None,
    quarantine_reason: str | None = None,
    faces_detected: int | None = None,
    faces_kept: int | None = None,
    analyzer: str | None = None,
) -> dict[str, Any]:
    """One row (keys exactly IMAGE_RECORD_KEYS), dated by the store's wall clock where the store is known.

    Without a store (a device in no store) the row goes under
    ``UNREGISTERED_STORE`` and the UTC date; without a capture time (a key
    out of the layout) under the date it was processed.
    """
    local = wall_clock(captured_at, time_zone) if captured_at is not None and time_zone else None
    day = local or (captured_at or processed_at).astimezone(UTC)
    return {
        "image_id": image_id,
        "image_key": key,
        "device_id": device_id,
        "camera_id": camera_id,
        "zone": zone,
        "captured_at": None if captured_at is None else epoch_millis(captured_at),
        "captured_at_local": None if local is None else epoch_millis(local),
        "processed_at": epoch_millis(processed_at),
        "outcome": outcome,
        "quarantine_reason": quarantine_reason,
        "faces_detected": faces_detected,
        "faces_kept": faces_kept,
        "analyzer": analyzer,
        "store_id": store_id if store_id is not None and time_zone else UNREGISTERED_STORE,
        "dt": day.strftime("%Y-%m-%d"),
    }
