"""One compaction run over the curated bucket: list, pick the closed store-days, rewrite each.

Per partition, in this order (the order is what makes a crash harmless):

1. **read** every listed object, each pinned to the ETag it was listed with;
   any object that cannot be read or is not in the table's schema leaves the
   whole partition as it is, reported as unreadable;
2. **write** the rows, one per id, as ``compacted-<run>-<part>.parquet`` in
   the same folder (PutObject is atomic: a reader sees a whole object or
   none). ``<run>`` is a digest of the inputs' keys and ETags, so a retried
   run with the same inputs overwrites its own objects instead of adding;
3. **delete** exactly the objects read in step 1 (never one listed later,
   such as a late Firehose object), only after every part is written.

A crash before 3 leaves the inputs and (some of) the new parts; during 3,
the new parts and the inputs not yet deleted. Every row is in the folder at
every moment, some twice, and a row's copies are identical; the next run
finds a folder that is not compacted (inputs left, or two runs' objects)
and compacts it again. Readers keep one row per id with the earliest
``processed_at`` (the named queries, the QuickSight datasets), which is the
row compaction keeps, so a folder seen mid-run gives the same answers.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from shopper_compact.partitions import ClosingRule, Partition, StoredObject, compaction_run_id, group_partitions
from shopper_compact.rewrite import (
    TableSpec,
    UnreadableObject,
    first_analysis_per_id,
    parquet_parts,
    read_object,
    sorted_for_reading,
)

#: DeleteObjects takes at most 1,000 keys a call.
DELETE_BATCH = 1000
#: Errors that mean an object changed or went away after it was listed (another run, an operator).
_CHANGED = {"NoSuchKey", "404", "PreconditionFailed", "412"}


@dataclass
class TableTally:
    """What one run did to one table (and, summed, to all)."""

    partitions_closed: int = 0
    partitions_compacted: int = 0
    partitions_already_compacted: int = 0
    partitions_unreadable: int = 0
    partitions_left_for_next_run: int = 0
    objects_before: int = 0
    objects_after: int = 0
    bytes_before: int = 0
    bytes_after: int = 0
    rows_before: int = 0
    rows_after: int = 0
    duplicates_removed: int = 0

    def add(self, other: TableTally) -> None:
        for name in self.__dataclass_fields__:
            setattr(self, name, getattr(self, name) + getattr(other, name))


@dataclass(frozen=True)
class PartitionOutcome:
    partition: str
    outcome: str  # compacted | unreadable | changed | failed
    detail: str = ""
    objects_before: int = 0
    objects_after: int = 0


@dataclass
class RunReport:
    tables: dict[str, TableTally] = field(default_factory=dict)
    outcomes: list[PartitionOutcome] = field(default_factory=list)
    stray_keys: list[str] = field(default_factory=list)
    #: Seconds since the oldest closed partition still not compacted after this run closed (0 if none).
    oldest_uncompacted_closed_age: float = 0.0
    oldest_uncompacted_closed: str | None = None

    @property
    def total(self) -> TableTally:
        total = TableTally()
        for tally in self.tables.values():
            total.add(tally)
        return total


def list_objects(s3: Any, bucket: str, prefix: str) -> Iterator[StoredObject]:
    paginator = s3.get_paginator("list_objects_v2")
    for page in paginator.paginate(Bucket=bucket, Prefix=prefix):
        for item in page.get("Contents", []):
            yield StoredObject(key=item["Key"], size=item["Size"], etag=item["ETag"])


def _error_code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


class Compactor:
    """Compacts the closed store-days of some tables in one bucket."""

    def __init__(
        self,
        s3: Any,
        bucket: str,
        tables: tuple[TableSpec, ...],
        closing: ClosingRule,
        *,
        max_object_bytes: int,
        log: Callable[..., None] | None = None,
    ) -> None:
        self.s3 = s3
        self.bucket = bucket
        self.tables = tables
        self.closing = closing
        self.max_object_bytes = max_object_bytes
        self._log = log or (lambda message, **_: None)

    def run(self, now: dt.datetime, *, time_left: Callable[[], float] = lambda: float("inf")) -> RunReport:
        """Compact every closed, uncompacted partition, oldest first, while ``time_left()`` (seconds) is positive."""
        report = RunReport()
        oldest: tuple[dt.datetime, str] | None = None
        for spec in self.tables:
            tally = report.tables.setdefault(spec.name, TableTally())
            partitions, stray = group_partitions(
                spec.name, spec.prefix, list_objects(self.s3, self.bucket, spec.prefix + "/")
            )
            report.stray_keys += stray
            for partition in partitions:
                if not self.closing.is_closed(partition, now):
                    continue
                tally.partitions_closed += 1
                if partition.is_compacted:
                    tally.partitions_already_compacted += 1
                    continue
                if time_left() <= 0:
                    tally.partitions_left_for_next_run += 1
                    outcome = PartitionOutcome(partition.prefix, "left-for-next-run", "out of time")
                else:
                    outcome = self.compact(spec, partition, tally)
                report.outcomes.append(outcome)
                if outcome.outcome != "compacted":
                    closed_at = self.closing.closes_at(partition.store_id, partition.day)
                    if oldest is None or closed_at < oldest[0]:
                        oldest = (closed_at, partition.prefix)
        if oldest is not None:
            report.oldest_uncompacted_closed_age = max(0.0, (now - oldest[0]).total_seconds())
            report.oldest_uncompacted_closed = oldest[1]
        return report

    def compact(self, spec: TableSpec, partition: Partition, tally: TableTally) -> PartitionOutcome:
        """Read, write, delete one partition; what happened, with the tally updated only for a finished one."""
        try:
            tables = [self._read(spec, obj) for obj in partition.objects]
        except UnreadableObject as exc:
            tally.partitions_unreadable += 1
            self._log("partition left as it was: unreadable", partition=partition.prefix, reason=str(exc))
            return PartitionOutcome(partition.prefix, "unreadable", str(exc), len(partition.objects))
        except _Changed as exc:
            tally.partitions_left_for_next_run += 1
            self._log("partition changed while read; left for the next run", partition=partition.prefix, key=str(exc))
            return PartitionOutcome(partition.prefix, "changed", str(exc), len(partition.objects))
        rows_before = sum(t.num_rows for t in tables)
        kept = sorted_for_reading(first_analysis_per_id(tables, spec), spec)
        bodies = parquet_parts(kept, max_object_bytes=self.max_object_bytes)
        run = compaction_run_id(partition.objects)
        written = [partition.compacted_key(run, part) for part in range(len(bodies))]
        try:
            for key, body in zip(written, bodies, strict=True):
                self.s3.put_object(Bucket=self.bucket, Key=key, Body=body, ContentType="application/vnd.apache.parquet")
            self._delete([o.key for o in partition.objects if o.key not in written])
        except (ClientError, BotoCoreError) as exc:
            # Every row is still in the folder (see the module docstring); the next run finishes it.
            self._log("partition compaction failed; left for the next run", partition=partition.prefix, error=str(exc))
            return PartitionOutcome(partition.prefix, "failed", str(exc), len(partition.objects))
        tally.partitions_compacted += 1
        tally.objects_before += len(partition.objects)
        tally.objects_after += len(bodies)
        tally.bytes_before += partition.bytes
        tally.bytes_after += sum(len(b) for b in bodies)
        tally.rows_before += rows_before
        tally.rows_after += kept.num_rows
        tally.duplicates_removed += rows_before - kept.num_rows
        self._log(
            "partition compacted",
            partition=partition.prefix,
            objects_before=len(partition.objects),
            objects_after=len(bodies),
            bytes_before=partition.bytes,
            bytes_after=sum(len(b) for b in bodies),
            rows_before=rows_before,
            rows_after=kept.num_rows,
        )
        return PartitionOutcome(partition.prefix, "compacted", "", len(partition.objects), len(bodies))

    def _read(self, spec: TableSpec, obj: StoredObject) -> Any:
        try:
            body = self.s3.get_object(Bucket=self.bucket, Key=obj.key, IfMatch=obj.etag)["Body"].read()
        except ClientError as exc:
            if _error_code(exc) in _CHANGED:
                raise _Changed(obj.key) from exc
            raise UnreadableObject(f"{obj.key}: {exc}") from exc
        except BotoCoreError as exc:
            raise UnreadableObject(f"{obj.key}: {exc}") from exc
        return read_object(body, spec, source=obj.key)

    def _delete(self, keys: list[str]) -> None:
        for start in range(0, len(keys), DELETE_BATCH):
            batch = keys[start : start + DELETE_BATCH]
            answer = self.s3.delete_objects(
                Bucket=self.bucket, Delete={"Objects": [{"Key": k} for k in batch], "Quiet": True}
            )
            if errors := answer.get("Errors"):
                first = errors[0]
                raise ClientError(
                    {"Error": {"Code": first.get("Code", "DeleteFailed"), "Message": first.get("Message", "")}},
                    f"DeleteObjects ({len(errors)} of {len(batch)} keys not deleted, first {first.get('Key')})",
                )


class _Changed(Exception):
    """An object listed in the partition changed or went away before it was read."""
