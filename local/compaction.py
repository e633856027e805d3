"""The compaction function's job on a local curated bucket (moto), as the hourly rule runs it in AWS.

Used by ``make demo``: after the Parquet is in the bucket, the closed
store-days are compacted with the deployed code (``lambdas/compact``), the
local copy of the bucket is made to match it again (DuckDB reads the copy),
and the objects per store-day before and after are reported.
"""

from __future__ import annotations

import datetime as dt
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from shopper_sentiment.config import Deployment
from shopper_sentiment.tiers.compaction import (
    DEFAULT_BUFFERING_INTERVAL,
    DEFAULT_CLOSE_MARGIN,
    HANDLER_DIR,
    compaction_config,
)

if str(HANDLER_DIR) not in sys.path:
    sys.path.append(str(HANDLER_DIR))

from shopper_compact.job import Compactor, RunReport, list_objects
from shopper_compact.partitions import group_partitions
from shopper_compact.settings import parse_config

#: The deployed default (shopper_sentiment/tiers/compaction.py DEFAULT_MAX_OBJECT_SIZE).
MAX_OBJECT_BYTES = 128 * 2**20


@dataclass(frozen=True)
class LocalCompaction:
    report: RunReport
    #: Store-days closed at the time of the run, and the objects in them before and after.
    closed_store_days: int
    objects_before: int
    objects_after: int

    def describe(self) -> str:
        if not self.closed_store_days:
            return "no store-day closed yet"
        days = self.closed_store_days
        return (
            f"{self.objects_before / days:.1f} before, {self.objects_after / days:.1f} after "
            f"({days} closed store-days, {self.report.total.duplicates_removed} duplicate rows removed)"
        )


def _closed_objects(compactor: Compactor, now: dt.datetime) -> tuple[int, int]:
    days = objects = 0
    for spec in compactor.tables:
        listed = list(list_objects(compactor.s3, compactor.bucket, spec.prefix + "/"))
        partitions, _ = group_partitions(spec.name, spec.prefix, listed)
        for partition in partitions:
            if compactor.closing.is_closed(partition, now):
                days += 1
                objects += len(partition.objects)
    return days, objects


def compact_curated_bucket(
    s3: Any, bucket: str, deployment: Deployment, curated_root: Path, *, now: dt.datetime | None = None
) -> LocalCompaction:
    """Compact the bucket's closed store-days, then make ``curated_root`` a copy of its ``faces/`` and ``images/``."""
    now = now or dt.datetime.now(dt.UTC)
    close_delay = dt.timedelta(seconds=DEFAULT_BUFFERING_INTERVAL.to_seconds() + DEFAULT_CLOSE_MARGIN.to_seconds())
    zones = {store_id: store.timezone for store_id, store in deployment.stores.items()}
    tables, closing = parse_config(compaction_config(zones), close_delay=close_delay)
    compactor = Compactor(s3, bucket, tables, closing, max_object_bytes=MAX_OBJECT_BYTES)
    days, before = _closed_objects(compactor, now)
    report = compactor.run(now)
    _, after = _closed_objects(compactor, now)
    for spec in tables:
        shutil.rmtree(curated_root / spec.prefix, ignore_errors=True)
        for obj in list_objects(s3, bucket, spec.prefix + "/"):
            path = curated_root / obj.key
            path.parent.mkdir(parents=True, exist_ok=True)
            s3.download_file(bucket, obj.key, str(path))
    return LocalCompaction(report, days, before, after)
