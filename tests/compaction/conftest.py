"""Fixtures for the compaction function: a moto curated bucket filled the way Firehose fills it."""

from __future__ import annotations

import datetime as dt
import io
import itertools
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

import boto3
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from moto import mock_aws
from shopper_compact.job import Compactor
from shopper_compact.settings import parse_config

from local.parquet_layout import TABLE_PREFIXES, records_table
from shopper_sentiment.contracts.schema import TABLE_NAME
from shopper_sentiment.tiers.compaction import compaction_config
from tests.dashboards.curated_rows import STORE_ZONES

BUCKET = "curated-compaction-test"
#: What the deployed function waits after a store's midnight (900 s buffering + 45 min margin).
CLOSE_DELAY = dt.timedelta(hours=1)
#: The same compaction.json the stack ships, for the test stores.
TABLE_SPECS, CLOSING = parse_config(compaction_config(STORE_ZONES), close_delay=CLOSE_DELAY)
SPECS = {spec.name: spec for spec in TABLE_SPECS}
_NAMES = itertools.count()


class Crash(BaseException):
    """The process dies here: nothing in the job may catch it."""


def parquet_body(table: pa.Table) -> bytes:
    sink = io.BytesIO()
    pq.write_table(table, sink, compression="snappy", store_schema=False)
    return sink.getvalue()


def firehose_key(table: str, store: str, day: str) -> str:
    """A key as Firehose names its objects (stream, version, flush time, a unique suffix)."""
    n = next(_NAMES)
    return (
        f"{TABLE_PREFIXES[table]}/store_id={store}/dt={day}/"
        f"ShopperSentiment-{table}-1-{day}-{n // 60 % 24:02d}-{n % 60:02d}-00-{n:08x}-0000.parquet"
    )


def deliver(s3: Any, table: str, records: Iterable[Mapping[str, Any]], *, objects_per_day: int = 3) -> list[str]:
    """Put records as Firehose would: each store-day's records spread over ``objects_per_day`` objects."""
    groups: dict[tuple[str, str], list[Mapping[str, Any]]] = defaultdict(list)
    for record in records:
        groups[(record["store_id"], record["dt"])].append(record)
    keys = []
    for (store, day), rows in sorted(groups.items()):
        size = -(-len(rows) // objects_per_day)
        for start in range(0, len(rows), size):
            key = firehose_key(table, store, day)
            s3.put_object(
                Bucket=BUCKET, Key=key, Body=parquet_body(records_table(rows[start : start + size], table=table))
            )
            keys.append(key)
    return keys


def objects(s3: Any, prefix: str = "") -> dict[str, str]:
    """Key → ETag of every object under ``prefix``."""
    found = {}
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix=prefix):
        found |= {item["Key"]: item["ETag"] for item in page.get("Contents", [])}
    return found


def read_rows(s3: Any, prefix: str, table: str = TABLE_NAME) -> list[dict[str, Any]]:
    """Every row of every object under ``prefix``, as dicts (duplicates kept)."""
    rows = []
    for key in sorted(objects(s3, prefix)):
        body = s3.get_object(Bucket=BUCKET, Key=key)["Body"].read()
        rows += pq.read_table(pa.BufferReader(body)).to_pylist()
    return rows


def mirror(s3: Any, root: Path) -> Path:
    """The bucket as it is now, copied under ``root`` (what a reader listing it now would read)."""
    for key in objects(s3):
        path = root / key
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(s3.get_object(Bucket=BUCKET, Key=key)["Body"].read())
    return root


class WatchedS3:
    """An S3 client that counts calls and can fail or look around before a chosen one.

    ``fail_on = (operation, n)`` raises ``error`` (default: ``Crash``) instead of
    the n-th call (1-based) of that operation; ``before_mutation`` is called
    before every PutObject and DeleteObjects.
    """

    def __init__(
        self,
        client: Any,
        *,
        fail_on: tuple[str, int] | None = None,
        error: BaseException | None = None,
        before_mutation: Callable[[str], None] | None = None,
    ) -> None:
        self._client = client
        self.fail_on = fail_on
        self.error = error
        self.before_mutation = before_mutation
        self.calls: dict[str, int] = defaultdict(int)

    def _call(self, operation: str, **kwargs: Any) -> Any:
        self.calls[operation] += 1
        if self.fail_on == (operation, self.calls[operation]):
            raise self.error or Crash(f"{operation} #{self.calls[operation]}")
        if self.before_mutation and operation in ("put_object", "delete_objects"):
            self.before_mutation(operation)
        return getattr(self._client, operation)(**kwargs)

    def get_object(self, **kwargs: Any) -> Any:
        return self._call("get_object", **kwargs)

    def put_object(self, **kwargs: Any) -> Any:
        return self._call("put_object", **kwargs)

    def delete_objects(self, **kwargs: Any) -> Any:
        return self._call("delete_objects", **kwargs)

    def get_paginator(self, name: str) -> Any:
        self.calls[name] += 1
        return self._client.get_paginator(name)


def compactor(s3: Any, *, max_object_bytes: int = 128 * 2**20) -> Compactor:
    return Compactor(s3, BUCKET, TABLE_SPECS, CLOSING, max_object_bytes=max_object_bytes)


@pytest.fixture
def s3() -> Iterator[Any]:
    with mock_aws():
        client = boto3.client("s3", region_name="us-east-1")
        client.create_bucket(Bucket=BUCKET)
        # Like the curated bucket: versioned, so a delete leaves a recoverable version.
        client.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
        yield client
