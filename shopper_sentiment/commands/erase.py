"""Erase every copy of a store's data: all of it, or some devices, or some store-local days.

Examples:
  # what one checkout camera's Pi sent in the first week of March (store-local days), without touching anything
  shopper-sentiment erase --deployment demo --store store-001 --device pi-s001-checkout \\
      --from 2026-03-01 --to 2026-03-07 --dry-run
  # everything of a store that closed
  shopper-sentiment erase --deployment demo --store store-002

Places, each found from the stack's outputs (CloudFormation DescribeStacks):
  source incoming/     images not analyzed yet or never (every version)
  archive incoming/    analyzed images (every version)
  archive quarantine/  images that could not be analyzed (every version)
  curated faces/       face rows: the partitions' Parquet files, rewritten when only some devices are in scope
  curated images/      image rows, likewise
  curated errors/      records Firehose could not convert, rewritten without the lines in scope
  idempotency table    stored analyses and delivered markers of the images in scope

It prints what it will delete per place, deletes it (unless --dry-run), looks
again and prints what is left: exit code 1 when anything in scope remains.
Athena query results are not searched: they expire on their own
(query_results_retention_days, docs/privacy.md).
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import io
import json
import sys
from collections import defaultdict
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from shopper_sentiment.commands import EXIT_DONE, EXIT_LEFT_OVER, UsageError
from shopper_sentiment.contracts import outputs
from shopper_sentiment.contracts.layout import (
    DATA_PREFIX,
    ERROR_PREFIX,
    IMAGES_PREFIX,
    INCOMING_PREFIX,
    QUARANTINE_PREFIX,
    KeyLayoutError,
    device_prefix,
    parse_image_key,
)
from shopper_sentiment.deployment import add_deployment_arguments, deployment_from, outputs_of, session_for

NAME = "erase"
HELP = "delete every copy of a store's data (some devices, some store-local days), or show what would go"

#: The places, in the order they are searched and reported.
PLACES = (
    "source incoming/",
    "archive incoming/",
    "archive quarantine/",
    "curated faces/",
    "curated images/",
    "curated errors/",
    "idempotency table",
)
#: The id namespace of delivered markers in the idempotency table (shopper_analyze.delivered_markers).
MARKER_PREFIX = "delivered#"
#: S3 DeleteObjects takes at most this many keys per call.
_DELETE_BATCH = 1000


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_deployment_arguments(parser)
    parser.add_argument("--store", required=True, help="store id (as in the config)")
    parser.add_argument(
        "--device",
        action="append",
        default=[],
        help="a device of the store (repeat for several; default: every device of the store)",
    )
    parser.add_argument("--from", dest="first_day", type=_day, help="first store-local day, YYYY-MM-DD (inclusive)")
    parser.add_argument("--to", dest="last_day", type=_day, help="last store-local day, YYYY-MM-DD (inclusive)")
    parser.add_argument("--dry-run", action="store_true", help="find and count what is in scope; delete nothing")
    parser.add_argument("--json", action="store_true", help="print the report as one JSON document")


def _day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a day in the form YYYY-MM-DD") from None


# --- scope -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Scope:
    """What is erased: one store, some (or all) of its devices, a range of its local days (or all)."""

    store_id: str
    timezone: str
    devices: frozenset[str]
    #: Every device of the store: its partitions go whole (rows of devices since removed too).
    whole_store: bool
    first_day: date | None = None
    last_day: date | None = None

    def covers_day(self, day: date) -> bool:
        return (self.first_day is None or day >= self.first_day) and (self.last_day is None or day <= self.last_day)

    def covers_key(self, key: str) -> bool:
        """An ``incoming/`` key of a device in scope captured on a store-local day in scope."""
        try:
            parsed = parse_image_key(key)
        except KeyLayoutError:
            return False
        local_day = parsed.captured_at.astimezone(ZoneInfo(self.timezone)).date()
        return parsed.device_id in self.devices and self.covers_day(local_day)

    def covers_row(self, row: Mapping[str, Any]) -> bool:
        """A face or image row (as delivered: with store_id and dt) in scope."""
        if row.get("store_id") != self.store_id:
            return False
        if not self.whole_store and row.get("device_id") not in self.devices:
            return False
        try:
            return self.covers_day(date.fromisoformat(str(row.get("dt"))))
        except ValueError:
            return False

    def days(self) -> list[date] | None:
        """Every day of a bounded range, or None when the range is open (all partitions are searched)."""
        if self.first_day is None or self.last_day is None:
            return None
        return [self.first_day + timedelta(days=n) for n in range((self.last_day - self.first_day).days + 1)]

    def describe(self) -> dict[str, Any]:
        return {
            "store": self.store_id,
            "devices": sorted(self.devices),
            "from": None if self.first_day is None else self.first_day.isoformat(),
            "to": None if self.last_day is None else self.last_day.isoformat(),
        }


def scope_from(args: argparse.Namespace, deployment: Any) -> Scope:
    """The scope the arguments name in this deployment; UsageError for an unknown store or device, or an empty range."""
    store = deployment.stores.get(args.store)
    if store is None:
        known = ", ".join(sorted(deployment.stores))
        raise UsageError(f"store {args.store!r} is not in deployment {deployment.name!r} (its stores: {known})")
    unknown = sorted(set(args.device) - set(store.devices))
    if unknown:
        raise UsageError(
            f"device {unknown[0]!r} is not a device of store {args.store!r}"
            f" (its devices: {', '.join(sorted(store.devices))})"
        )
    if args.first_day and args.last_day and args.first_day > args.last_day:
        raise UsageError(
            f"--from {args.first_day} is after --to {args.last_day}: the scope is empty; nothing would be erased"
        )
    devices = frozenset(args.device) or frozenset(store.devices)
    return Scope(
        store_id=args.store,
        timezone=store.timezone,
        devices=devices,
        whole_store=devices == frozenset(store.devices),
        first_day=args.first_day,
        last_day=args.last_day,
    )


# --- where the copies are ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Resources:
    source_bucket: str
    archive_bucket: str
    curated_bucket: str
    idempotency_table: str


_RESOURCE_OUTPUTS = {
    "source_bucket": outputs.SOURCE_BUCKET,
    "archive_bucket": outputs.ARCHIVE_BUCKET,
    "curated_bucket": outputs.CURATED_BUCKET,
    "idempotency_table": outputs.IDEMPOTENCY_TABLE,
}


def resources_from_outputs(values: Mapping[str, str], stack_name: str) -> Resources:
    missing = [key for key in _RESOURCE_OUTPUTS.values() if not values.get(key)]
    if missing:
        raise UsageError(
            f"stack {stack_name} has no output {missing[0]}: deploy the current version of the stack"
            " (npx cdk deploy) so the erase command can find every place"
        )
    return Resources(**{field_: values[key] for field_, key in _RESOURCE_OUTPUTS.items()})


# --- what is found ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Version:
    key: str
    version_id: str | None
    size: int
    etag: str | None = None
    is_delete_marker: bool = False


@dataclass
class Rewrite:
    """The current version of ``key`` rewritten without the rows in scope; every older version deleted."""

    key: str
    content: bytes
    rows_removed: int


@dataclass
class Found:
    """What is in scope in one place: versions to delete, objects to rewrite, table items to delete."""

    place: str
    deletions: list[tuple[str, Version]] = field(default_factory=list)
    rewrites: list[tuple[str, Rewrite]] = field(default_factory=list)
    items: list[str] = field(default_factory=list)
    rows: int = 0

    def is_empty(self) -> bool:
        return not (self.deletions or self.rewrites or self.items)

    def counts(self) -> dict[str, Any]:
        return {
            "place": self.place,
            "objects": len({version.key for _, version in self.deletions} | self._rewritten()),
            "versions": len(self.deletions),
            "bytes": sum(version.size for _, version in self.deletions),
            "rewritten": len(self.rewrites),
            "rows": self.rows,
            "items": len(self.items),
        }

    def _rewritten(self) -> set[str]:
        return {rewrite.key for _, rewrite in self.rewrites}


def _settle(
    found: Found, bucket: str, versions: list[Version], kept: bytes | None, removed: int, older_in_scope: list[Version]
) -> None:
    """What erase does with one key's versions (newest first).

    Rows in scope in the current version: it is rewritten with ``kept`` (or,
    with nothing kept, deleted), and every version goes. Otherwise only the
    older versions that hold rows in scope go.
    """
    if not removed and not older_in_scope:
        return
    found.rows += removed
    if removed and kept is not None:
        found.rewrites.append((bucket, Rewrite(key=versions[0].key, content=kept, rows_removed=removed)))
    found.deletions.extend((bucket, version) for version in (versions if removed else older_in_scope))


def _versions(s3: Any, bucket: str, prefix: str) -> Iterator[Version]:
    for page in s3.get_paginator("list_object_versions").paginate(Bucket=bucket, Prefix=prefix):
        for item in page.get("Versions", []):
            version_id = item.get("VersionId")
            yield Version(
                key=item["Key"],
                version_id=None if version_id in (None, "null") else version_id,
                size=int(item.get("Size", 0)),
                etag=(item.get("ETag") or "").strip('"') or None,
            )
        for item in page.get("DeleteMarkers", []):
            version_id = item.get("VersionId")
            yield Version(
                key=item["Key"],
                version_id=None if version_id in (None, "null") else version_id,
                size=0,
                is_delete_marker=True,
            )


def _read(s3: Any, bucket: str, version: Version) -> bytes:
    extra = {"VersionId": version.version_id} if version.version_id else {}
    return s3.get_object(Bucket=bucket, Key=version.key, **extra)["Body"].read()


class Finder:
    """Finds every copy in scope; ``identities`` collects the images' (bucket, key, ETag) for the table."""

    def __init__(self, s3: Any, dynamodb: Any, resources: Resources, scope: Scope) -> None:
        self.s3 = s3
        self.dynamodb = dynamodb
        self.resources = resources
        self.scope = scope
        self.identities: set[tuple[str, str, str]] = set()

    def find(self, place: str) -> Found:
        found = Found(place)
        {
            "source incoming/": self._source,
            "archive incoming/": self._archive,
            "archive quarantine/": self._quarantine,
            "curated faces/": lambda f: self._partitions(f, DATA_PREFIX),
            "curated images/": lambda f: self._partitions(f, IMAGES_PREFIX),
            "curated errors/": self._errors,
            "idempotency table": self._idempotency,
        }[place](found)
        return found

    def _images(self, found: Found, bucket: str, prefix: str, key_of: Callable[[str], str | None]) -> None:
        for version in _versions(self.s3, bucket, prefix):
            image_key = key_of(version.key)
            if image_key is None or not self.scope.covers_key(image_key):
                continue
            found.deletions.append((bucket, version))
            if version.etag:
                # The function's identity of an image: the source bucket, the key, the content's ETag.
                self.identities.add((self.resources.source_bucket, image_key, version.etag))

    def _source(self, found: Found) -> None:
        for device in sorted(self.scope.devices):
            self._images(found, self.resources.source_bucket, device_prefix(device), lambda key: key)

    def _archive(self, found: Found) -> None:
        for device in sorted(self.scope.devices):
            self._images(found, self.resources.archive_bucket, device_prefix(device), lambda key: key)

    def _quarantine(self, found: Found) -> None:
        def image_key(key: str) -> str | None:
            # quarantine/<reason>/incoming/<device>/...
            _, _, rest = key.removeprefix(QUARANTINE_PREFIX).partition("/")
            return rest if rest.startswith(INCOMING_PREFIX) else None

        self._images(found, self.resources.archive_bucket, QUARANTINE_PREFIX, image_key)

    def _partition_prefixes(self, table_prefix: str) -> list[str]:
        days = self.scope.days()
        base = f"{table_prefix}/store_id={self.scope.store_id}/"
        return [base] if days is None else [f"{base}dt={day.isoformat()}/" for day in days]

    def _partitions(self, found: Found, table_prefix: str) -> None:
        bucket = self.resources.curated_bucket
        for prefix in self._partition_prefixes(table_prefix):
            by_key: dict[str, list[Version]] = defaultdict(list)
            for version in _versions(self.s3, bucket, prefix):
                day = _partition_day(version.key)
                if day is not None and self.scope.covers_day(day):
                    by_key[version.key].append(version)
            for versions in by_key.values():
                if self.scope.whole_store:
                    found.deletions.extend((bucket, version) for version in versions)
                    found.rows += sum(_parquet_rows(self.s3, bucket, v) for v in versions if not v.is_delete_marker)
                else:
                    self._rewrite_parquet(found, bucket, versions)

    def _rewrite_parquet(self, found: Found, bucket: str, versions: list[Version]) -> None:
        """Current version: rewritten without the devices in scope (deleted if nothing is left); older ones deleted."""
        current, *older = versions  # ListObjectVersions lists a key's newest version first
        if current.is_delete_marker:
            keep, removed, content = 0, 0, b""
        else:
            content, keep, removed = _without_devices(_read(self.s3, bucket, current), self.scope.devices)
        older_in_scope = [v for v in older if not v.is_delete_marker and _has_devices(self.s3, bucket, v, self.scope)]
        _settle(found, bucket, versions, content if keep else None, removed, older_in_scope)

    def _errors(self, found: Found) -> None:
        bucket = self.resources.curated_bucket
        by_key: dict[str, list[Version]] = defaultdict(list)
        for version in _versions(self.s3, bucket, ERROR_PREFIX):
            by_key[version.key].append(version)
        for versions in by_key.values():
            current, *older = versions
            older_in_scope = [
                v for v in older if not v.is_delete_marker and _error_lines(_read(self.s3, bucket, v), self.scope)[1]
            ]
            kept, removed = (
                ([], 0) if current.is_delete_marker else _error_lines(_read(self.s3, bucket, current), self.scope)
            )
            _settle(found, bucket, versions, b"".join(kept) if kept else None, removed, older_in_scope)

    def _idempotency(self, found: Found) -> None:
        hashes = {_powertools_hash(identity) for identity in self.identities}
        markers = {_marker_id(identity) for identity in self.identities}
        paginator = self.dynamodb.get_paginator("scan")
        for page in paginator.paginate(
            TableName=self.resources.idempotency_table,
            ProjectionExpression="#id, #data",
            ExpressionAttributeNames={"#id": "id", "#data": "data"},
        ):
            for item in page.get("Items", []):
                item_id = item["id"]["S"]
                if item_id in markers or item_id.rpartition("#")[2] in hashes or self._stored_in_scope(item):
                    found.items.append(item_id)

    def _stored_in_scope(self, item: Mapping[str, Any]) -> bool:
        """A stored analysis whose rows are in scope (found even when its image is gone already)."""
        raw = item.get("data", {}).get("S")
        if not raw:
            return False
        try:
            stored = json.loads(raw)
        except json.JSONDecodeError:
            return False
        if not isinstance(stored, dict):
            return False
        rows = [*(stored.get("records") or []), *([stored["image"]] if isinstance(stored.get("image"), dict) else [])]
        return any(isinstance(row, dict) and self.scope.covers_row(row) for row in rows)


def _partition_day(key: str) -> date | None:
    for part in key.split("/"):
        if part.startswith("dt="):
            try:
                return date.fromisoformat(part.removeprefix("dt="))
            except ValueError:
                return None
    return None


def _pyarrow() -> tuple[Any, Any, Any]:
    try:
        import pyarrow as pa
        import pyarrow.compute as pc
        import pyarrow.parquet as pq
    except ImportError:
        raise UsageError(
            "rewriting Parquet partitions needs pyarrow: install the pinned test and tooling dependencies"
            " (pip install -r requirements-dev.txt, or make test)"
        ) from None
    return pa, pc, pq


def _in_scope_mask(table: Any, devices: frozenset[str]) -> Any:
    pa, pc, _ = _pyarrow()
    return pc.fill_null(pc.is_in(table["device_id"], value_set=pa.array(sorted(devices), pa.string())), False)


def _without_devices(body: bytes, devices: frozenset[str]) -> tuple[bytes, int, int]:
    """The Parquet file without the rows of these devices: (content, rows kept, rows removed)."""
    _, pc, pq = _pyarrow()
    table = pq.read_table(io.BytesIO(body))
    mask = _in_scope_mask(table, devices)
    removed = pc.sum(mask).as_py() or 0
    if not removed:
        return body, table.num_rows, 0
    kept = table.filter(pc.invert(mask))
    out = io.BytesIO()
    # Firehose writes SNAPPY Parquet; the rewritten file keeps its schema and compression.
    pq.write_table(kept, out, compression="snappy")
    return out.getvalue(), kept.num_rows, removed


def _has_devices(s3: Any, bucket: str, version: Version, scope: Scope) -> bool:
    return _without_devices(_read(s3, bucket, version), scope.devices)[2] > 0


def _parquet_rows(s3: Any, bucket: str, version: Version) -> int:
    _, _, pq = _pyarrow()
    return pq.ParquetFile(io.BytesIO(_read(s3, bucket, version))).metadata.num_rows


def _error_lines(body: bytes, scope: Scope) -> tuple[list[bytes], int]:
    """Firehose error records (one JSON object a line, the record in base64 ``rawData``): (lines kept, removed)."""
    kept, removed = [], 0
    for line in body.splitlines(keepends=True):
        if _error_line_in_scope(line, scope):
            removed += 1
        else:
            kept.append(line)
    return kept, removed


def _error_line_in_scope(line: bytes, scope: Scope) -> bool:
    try:
        envelope = json.loads(line)
        record = json.loads(base64.b64decode(envelope["rawData"]))
    except (ValueError, KeyError, TypeError):
        return False
    return isinstance(record, dict) and scope.covers_row(record)


def _powertools_hash(identity: tuple[str, str, str]) -> str:
    """The hash part of the stored analysis' id: Powertools' MD5 of the JSON of [bucket, key, version]."""
    # S324: MD5 is Powertools' key derivation here, not a security measure.
    return hashlib.md5(json.dumps(list(identity), sort_keys=True).encode(), usedforsecurity=False).hexdigest()


def _marker_id(identity: tuple[str, str, str]) -> str:
    bucket, key, version = identity
    return MARKER_PREFIX + hashlib.sha256(f"{bucket}/{key}/{version}".encode()).hexdigest()


# --- deleting ------------------------------------------------------------------------------------


def apply(s3: Any, dynamodb: Any, table: str, found: Found) -> None:
    """Rewrite first (the new version exists before the old ones go), then delete versions and items."""
    new_versions: set[tuple[str, str, str | None]] = set()
    for bucket, rewrite in found.rewrites:
        put = s3.put_object(Bucket=bucket, Key=rewrite.key, Body=rewrite.content)
        new_versions.add((bucket, rewrite.key, put.get("VersionId")))
    by_bucket: dict[str, list[dict[str, str]]] = defaultdict(list)
    for bucket, version in found.deletions:
        if (bucket, version.key, version.version_id) in new_versions:
            continue
        entry = {"Key": version.key, **({"VersionId": version.version_id} if version.version_id else {})}
        by_bucket[bucket].append(entry)
    for bucket, entries in by_bucket.items():
        for start in range(0, len(entries), _DELETE_BATCH):
            response = s3.delete_objects(
                Bucket=bucket, Delete={"Objects": entries[start : start + _DELETE_BATCH], "Quiet": True}
            )
            errors = response.get("Errors") or []
            if errors:
                first = errors[0]
                raise RuntimeError(f"s3://{bucket}/{first.get('Key')}: {first.get('Code')} {first.get('Message')}")
    for item_id in found.items:
        dynamodb.delete_item(TableName=table, Key={"id": {"S": item_id}})


# --- the command ---------------------------------------------------------------------------------


def _say(args: argparse.Namespace, message: str) -> None:
    # Progress and the plan go to stderr with --json, so stdout stays one document.
    print(message, file=sys.stderr if args.json else sys.stdout, flush=True)


def _line(counts: Mapping[str, Any]) -> str:
    return (
        f"  {counts['place']:<20} objects {counts['objects']:>6}  versions {counts['versions']:>6}"
        f"  bytes {counts['bytes']:>12}  rewritten {counts['rewritten']:>4}  rows {counts['rows']:>7}"
        f"  items {counts['items']:>6}"
    )


def erase(
    s3: Any, dynamodb: Any, resources: Resources, scope: Scope, *, dry_run: bool, say: Callable[[str], None]
) -> dict[str, Any]:
    """Find (and unless ``dry_run`` delete) every copy in scope; the report, with what remains afterwards."""
    finder = Finder(s3, dynamodb, resources, scope)
    found = []
    for place in PLACES:
        say(f"searching {place} ...")
        found.append(finder.find(place))
    report: dict[str, Any] = {
        "dry_run": dry_run,
        "scope": scope.describe(),
        "places": [f.counts() for f in found],
        "remaining": [],
    }
    say("in scope (dry run: nothing is deleted):" if dry_run else "in scope, deleting:")
    for counts in report["places"]:
        say(_line(counts))
    if dry_run:
        return report
    for f in found:
        if not f.is_empty():
            say(f"deleting in {f.place} ...")
            apply(s3, dynamodb, resources.idempotency_table, f)
    # Look again, with the identities of the images just deleted (their stored analyses are found by them).
    check = Finder(s3, dynamodb, resources, scope)
    check.identities = set(finder.identities)
    report["remaining"] = [c for c in (check.find(place).counts() for place in PLACES) if _any(c)]
    return report


def _any(counts: Mapping[str, Any]) -> bool:
    return any(counts[k] for k in ("versions", "rewritten", "rows", "items"))


def run(args: argparse.Namespace) -> int:
    deployment = deployment_from(args)
    scope = scope_from(args, deployment)
    session = session_for(args, deployment, "erase")
    stack_name = deployment.stack_name
    values = outputs_of(args, session, stack_name)
    resources = resources_from_outputs(values, stack_name)
    started = datetime.now(UTC)
    report = erase(
        session.client("s3"),
        session.client("dynamodb"),
        resources,
        scope,
        dry_run=args.dry_run,
        say=lambda message: _say(args, message),
    )
    report["seconds"] = round((datetime.now(UTC) - started).total_seconds(), 1)
    if args.json:
        print(json.dumps(report, indent=2))
    elif not args.dry_run:
        print("deleted:")
        for counts in report["places"]:
            print(_line(counts))
        if report["remaining"]:
            print("STILL IN SCOPE after erasing (run again, or check permissions):")
            for counts in report["remaining"]:
                print(_line(counts))
        else:
            print("nothing in scope remains")
    return EXIT_LEFT_OVER if report["remaining"] else EXIT_DONE
