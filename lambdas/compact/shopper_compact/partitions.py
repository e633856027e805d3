"""Which store-days are closed, which need compacting, and what the compacted objects are called.

Pure functions: no AWS client in here.

A curated object lives at ``<table prefix>/store_id=<store>/dt=<yyyy-MM-dd>/<name>``
(Firehose's dynamic partitioning, ``shopper_sentiment.contracts.layout.partition_prefix``). A
store-day is **closed** once it has ended on the store's own clock (its IANA
zone; ``dt`` is the store-local date) and Firehose's last flush for it, plus a
margin, is over: ``close_delay`` after local midnight. An image row of the
unregistered store is dated by UTC; a store no longer in the config is given
the zone where a date ends last (UTC-12), so its days are never closed early.

A partition is **compacted** when every object in it is named
``compacted-<run>-<part>.parquet`` with one and the same ``<run>``: the parts
of one compaction are all written before any of its inputs is deleted, so a
single run id left alone in a folder means that run finished. Anything else
(a Firehose object, a late one after compaction, the objects of two runs
after a crash) is compacted again by the next run.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from zoneinfo import ZoneInfo

COMPACTED_PREFIX = "compacted-"
_COMPACTED_NAME = re.compile(r"compacted-(?P<run>[0-9a-f]{16})-(?P<part>\d{5})\.parquet")
_PARTITION_KEY = re.compile(r"store_id=(?P<store_id>[^/]+)/dt=(?P<dt>\d{4}-\d{2}-\d{2})/(?P<name>[^/]+)")
#: Where a calendar date ends last (UTC-12; POSIX signs are inverted): the zone of a store not in the config.
LATEST_ZONE = "Etc/GMT+12"
UTC = dt.UTC


@dataclass(frozen=True)
class StoredObject:
    """One listed object: what ListObjectsV2 says about it."""

    key: str
    size: int
    etag: str

    @property
    def name(self) -> str:
        return self.key.rsplit("/", 1)[1]

    @property
    def compaction_run(self) -> str | None:
        """The run id of a compacted object, None for any other object."""
        match = _COMPACTED_NAME.fullmatch(self.name)
        return match["run"] if match else None


@dataclass(frozen=True)
class Partition:
    """One store-day folder of one table, with the objects listed in it."""

    table: str
    prefix: str  # "<table prefix>/store_id=<store>/dt=<day>/"
    store_id: str
    day: dt.date
    objects: tuple[StoredObject, ...]

    @property
    def is_compacted(self) -> bool:
        runs = {o.compaction_run for o in self.objects}
        return len(runs) == 1 and None not in runs

    @property
    def bytes(self) -> int:
        return sum(o.size for o in self.objects)

    def compacted_key(self, run: str, part: int) -> str:
        return f"{self.prefix}{COMPACTED_PREFIX}{run}-{part:05d}.parquet"


def compaction_run_id(objects: Iterable[StoredObject]) -> str:
    """The same inputs give the same run id (and object names): a retried run overwrites, never adds."""
    digest = hashlib.sha256()
    for obj in sorted(objects, key=lambda o: o.key):
        digest.update(f"{obj.key}\0{obj.etag}\0".encode())
    return digest.hexdigest()[:16]


def group_partitions(
    table: str, table_prefix: str, objects: Iterable[StoredObject]
) -> tuple[list[Partition], list[str]]:
    """Listed objects under ``<table_prefix>/`` → partitions (oldest day first), and the keys in no partition."""
    groups: dict[tuple[str, str], list[StoredObject]] = defaultdict(list)
    stray = []
    root = f"{table_prefix}/"
    for obj in objects:
        match = _PARTITION_KEY.fullmatch(obj.key.removeprefix(root)) if obj.key.startswith(root) else None
        try:
            day = dt.date.fromisoformat(match["dt"]) if match else None
        except ValueError:
            day = None
        if match is None or day is None or day.isoformat() != match["dt"]:
            stray.append(obj.key)
            continue
        groups[(match["store_id"], match["dt"])].append(obj)
    partitions = [
        Partition(
            table=table,
            prefix=f"{root}store_id={store_id}/dt={day}/",
            store_id=store_id,
            day=dt.date.fromisoformat(day),
            objects=tuple(sorted(found, key=lambda o: o.key)),
        )
        for (store_id, day), found in groups.items()
    ]
    partitions.sort(key=lambda p: (p.day, p.store_id))
    return partitions, stray


@dataclass(frozen=True)
class ClosingRule:
    """When a store-day is closed: its local midnight plus ``close_delay``."""

    store_time_zones: Mapping[str, str]
    utc_stores: frozenset[str]
    close_delay: dt.timedelta

    def zone(self, store_id: str) -> ZoneInfo:
        if store_id in self.utc_stores:
            return ZoneInfo("UTC")
        return ZoneInfo(self.store_time_zones.get(store_id, LATEST_ZONE))

    def closes_at(self, store_id: str, day: dt.date) -> dt.datetime:
        """The UTC instant from which the store-day is closed."""
        # Local midnight that ends the day. Where a DST change skips midnight,
        # zoneinfo reads the wall time with the offset before the change: off by
        # the skipped hour at most, well inside close_delay's margin.
        midnight = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), tzinfo=self.zone(store_id))
        return midnight.astimezone(UTC) + self.close_delay

    def is_closed(self, partition: Partition, now: dt.datetime) -> bool:
        return now >= self.closes_at(partition.store_id, partition.day)
