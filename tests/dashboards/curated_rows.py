"""Rows of the two curated tables, written where and how Firehose writes them, for the query tests.

A record here is what the analyze function sends (every column of its table
in ``shopper_sentiment.contracts.schema``, timestamps as epoch milliseconds, plus the partition
values ``store_id`` and ``dt``). The local wall-clock values (``dt``,
``captured_at_local``) are written by the tests themselves, from the store's
time zone: the queries under test only read them.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections import defaultdict
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pyarrow as pa
import pyarrow.parquet as pq

from shopper_sentiment.contracts.identifiers import CHECK_STORE_ID, CHECK_TIME_ZONE
from shopper_sentiment.contracts.schema import (
    COLUMN_NAMES,
    EMOTIONS,
    IMAGE_COLUMN_NAMES,
    IMAGES_TABLE_NAME,
    OUTCOME_ANALYZED,
    PARTITION_KEYS,
    TABLE_NAME,
    TABLES,
    arrow_schema,
)

#: The time zone of each store the tests use.
STORE_ZONES = {
    "store-001": "America/Los_Angeles",  # west of UTC
    "store-002": "Europe/Berlin",
    "store-003": "Asia/Tokyo",
    "store-la": "America/Los_Angeles",
    CHECK_STORE_ID: CHECK_TIME_ZONE,
}
_PARTITIONS = tuple(k.name for k in PARTITION_KEYS)


def millis(moment: dt.datetime) -> int:
    return int(moment.timestamp() * 1000)


def wall_clock_millis(local: dt.datetime) -> int:
    """A naive wall-clock time as the epoch milliseconds of the same digits read as UTC (a Hive timestamp)."""
    return millis(local.replace(tzinfo=dt.UTC))


def utc_of(store: str, local: dt.datetime, *, fold: int = 0) -> dt.datetime:
    """The UTC instant of a store's wall-clock time (``fold=1``: the second 01:30 of a DST change)."""
    return local.replace(tzinfo=ZoneInfo(STORE_ZONES[store]), fold=fold).astimezone(dt.UTC)


def image_id(image: str) -> str:
    return hashlib.sha256(f"curated-bucket/{image}".encode()).hexdigest()[:32]


def face_record(
    face: str,
    store: str,
    local: dt.datetime,
    zone: str,
    image: str,
    emotion: str,
    age: tuple[int, int] | None,
    gender: str | None,
    smile: bool,
    *,
    pose: tuple[float, float] | None = (1.5, -2.5),
    fold: int = 0,
) -> dict[str, Any]:
    """A complete face record (every schema column set) captured at ``local`` on the store's wall clock."""
    captured = utc_of(store, local, fold=fold)
    key = f"incoming/pi-{store}-{zone}/{zone}/{captured:%Y/%m/%d}/{captured:%Y%m%dT%H%M%S}000Z-{image}.jpg"
    record: dict[str, Any] = {
        "record_id": hashlib.sha256(f"{key}#{face}".encode()).hexdigest()[:32],
        "image_key": key,
        "device_id": f"pi-{store}-{zone}",
        "camera_id": zone,
        "zone": zone,
        "captured_at": millis(captured),
        "captured_at_local": wall_clock_millis(local),
        "processed_at": millis(captured) + 2_500,
        "image_id": image_id(image),
        "face_index": 0,
        "faces_in_image": 1,
        "age_low": age[0] if age else None,
        "age_high": age[1] if age else None,
        "gender": gender,
        "gender_confidence": 99.5 if gender else None,
        "dominant_emotion": emotion,
        "dominant_emotion_confidence": 91.25,
        **{f"emotion_{e}": (91.25 if e == emotion else 1.25) for e in EMOTIONS},
        "smile": smile,
        "eyeglasses": False,
        "sunglasses": False,
        "beard": False,
        "mustache": False,
        "eyes_open": True,
        "mouth_open": False,
        "face_occluded": False,
        "detection_confidence": 99.9,
        "bbox_left": 0.25,
        "bbox_top": 0.25,
        "bbox_width": 0.125,
        "bbox_height": 0.25,
        "pose_yaw": pose[0] if pose else None,
        "pose_pitch": pose[1] if pose else None,
        "pose_roll": 0.5 if pose else None,
        "quality_brightness": 80.0,
        "quality_sharpness": 70.0,
        "analyzer": "rekognition",
        "store_id": store,
        "dt": local.date().isoformat(),
    }
    assert set(record) == set(COLUMN_NAMES) | set(_PARTITIONS)
    return record


def image_record(
    image: str,
    store: str,
    local: dt.datetime | None,
    zone: str | None,
    device: str,
    camera: str,
    faces_kept: int | None,
    *,
    outcome: str = OUTCOME_ANALYZED,
    reason: str | None = None,
    fold: int = 0,
    captured_utc: dt.datetime | None = None,
) -> dict[str, Any]:
    """A complete images row (every schema column set); ``local`` None for a still of no store."""
    captured = captured_utc or utc_of(store, local, fold=fold)  # type: ignore[arg-type]
    record: dict[str, Any] = {
        "image_id": image_id(image),
        "image_key": f"incoming/{device}/{camera}/{captured:%Y/%m/%d}/{captured:%Y%m%dT%H%M%S}000Z-{image}.jpg",
        "device_id": device,
        "camera_id": camera,
        "zone": zone,
        "captured_at": millis(captured),
        "captured_at_local": wall_clock_millis(local) if local else None,
        "processed_at": millis(captured) + 2_500,
        "outcome": outcome,
        "quarantine_reason": reason,
        "faces_detected": faces_kept,
        "faces_kept": faces_kept,
        "analyzer": "rekognition" if outcome == OUTCOME_ANALYZED else None,
        "store_id": store,
        "dt": (local.date() if local else captured.date()).isoformat(),
    }
    assert set(record) == set(IMAGE_COLUMN_NAMES) | set(_PARTITIONS)
    return record


def write_rows(
    root: Path, table: str, records: Iterable[Mapping[str, Any]], *, object_name: str = "part-00000.parquet"
) -> list[Path]:
    """One Parquet object per (store_id, dt) under ``<root>/<table>/store_id=<s>/dt=<d>/``, in the table's schema."""
    assert table in (TABLE_NAME, IMAGES_TABLE_NAME)
    names = [c.name for c in TABLES[table]]
    groups: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for record in records:
        assert set(record) == set(names) | set(_PARTITIONS), sorted(set(record) ^ (set(names) | set(_PARTITIONS)))
        groups[(record["store_id"], record["dt"])].append({name: record[name] for name in names})
    paths = []
    for (store, day), rows in sorted(groups.items()):
        folder = root / table / f"store_id={store}" / f"dt={day}"
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / object_name
        pq.write_table(pa.Table.from_pylist(rows, schema=arrow_schema(table=table)), path, compression="snappy")
        paths.append(path)
    return paths
