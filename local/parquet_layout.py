"""Write face records and image rows exactly where and how Firehose writes them.

Firehose (dynamic partitioning + record format conversion) delivers Parquet
objects under the curated bucket as::

    faces/store_id=<store_id>/dt=<yyyy-MM-dd>/<object>
    images/store_id=<store_id>/dt=<yyyy-MM-dd>/<object>

Hive-style ``key=value`` folders, one folder level per partition key in the
order of ``shopper_sentiment.contracts.schema.PARTITION_KEYS``. The partition values are *not*
columns inside the files (``shopper_sentiment/contracts/schema.py`` says so): Glue and Athena take
them from the path. Compression is SNAPPY, set on the Parquet SerDe.

Tests, the benchmark and the local demo use this module so that DuckDB reads
the same layout Athena does.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from shopper_sentiment.contracts.layout import DATA_PREFIX, IMAGES_PREFIX, partition_prefix
from shopper_sentiment.contracts.schema import IMAGES_TABLE_NAME, PARTITION_KEYS, TABLE_NAME, TABLES, arrow_schema

_PARTITION_NAMES = tuple(k.name for k in PARTITION_KEYS)
#: Each table's folder in the curated bucket.
TABLE_PREFIXES = {TABLE_NAME: DATA_PREFIX, IMAGES_TABLE_NAME: IMAGES_PREFIX}


def partition_dir(root: Path, store_id: str, day: str, *, table: str = TABLE_NAME) -> Path:
    """Folder of one (store_id, dt) partition of a table under a curated-bucket root."""
    return Path(root) / partition_prefix(store_id, day, table_prefix=TABLE_PREFIXES[table])


def _to_arrow_value(value: Any) -> Any:
    # Records travel as JSON with timestamps as epoch milliseconds (see
    # shopper_sentiment/contracts/schema.py); pyarrow takes those ints for timestamp[ms] as they
    # are, and datetimes must be naive UTC like a Hive timestamp.
    if isinstance(value, dt.datetime) and value.tzinfo is not None:
        return value.astimezone(dt.UTC).replace(tzinfo=None)
    return value


def records_table(records: Iterable[Mapping[str, Any]], *, table: str = TABLE_NAME) -> pa.Table:
    """Records of a table (the handler's JSON objects) as a table in its Parquet schema.

    Unknown keys are an error rather than silently dropped: a record that does
    not match the contract must not slip into a test or demo dataset.
    """
    names = [c.name for c in TABLES[table]]
    allowed = set(names) | set(_PARTITION_NAMES)
    columns: dict[str, list[Any]] = {name: [] for name in names}
    for index, record in enumerate(records):
        unknown = set(record) - allowed
        if unknown:
            raise ValueError(
                f"{table} record #{index} has keys not in shopper_sentiment/contracts/schema.py: {sorted(unknown)}"
            )
        for name in names:
            columns[name].append(_to_arrow_value(record.get(name)))
    return pa.Table.from_pydict(columns, schema=arrow_schema(table=table))


def write_partition(
    root: Path,
    store_id: str,
    day: str,
    table: pa.Table,
    *,
    object_name: str = "faces-part-00000.parquet",
    row_group_size: int | None = None,
    table_name: str = TABLE_NAME,
) -> Path:
    """Write one Parquet object (schema = ``arrow_schema(table=table_name)``) into a partition folder."""
    try:  # a malformed dt would make a partition that Athena's projection never finds
        if dt.date.fromisoformat(day).isoformat() != day:
            raise ValueError
    except ValueError:
        raise ValueError(f"partition dt {day!r} is not a yyyy-MM-dd date") from None
    schema = arrow_schema(table=table_name)
    if table.schema != schema:
        table = table.select(schema.names).cast(schema)
    folder = partition_dir(root, store_id, day, table=table_name)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / object_name
    # store_schema=False: Firehose's Parquet writer is not Arrow's, so its
    # footers carry no serialized Arrow schema (~3 KiB per object here), and
    # the benchmark measures footers.
    pq.write_table(table, path, compression="snappy", row_group_size=row_group_size, store_schema=False)
    return path


def write_faces(
    root: Path,
    records: Iterable[Mapping[str, Any]],
    *,
    object_name: str = "faces-part-00000.parquet",
    table: str = TABLE_NAME,
) -> list[Path]:
    """Write records of a table, grouped by their ``store_id``/``dt``, one object per partition.

    Every record must carry both partition values, as the handler's records do.
    """
    groups: dict[tuple[str, str], list[Mapping[str, Any]]] = defaultdict(list)
    for index, record in enumerate(records):
        try:
            key = (record["store_id"], record["dt"])
        except KeyError as exc:
            raise ValueError(f"record #{index} has no partition value {exc.args[0]!r}") from None
        groups[key].append(record)
    return [
        write_partition(
            root, store_id, day, records_table(group, table=table), object_name=object_name, table_name=table
        )
        for (store_id, day), group in sorted(groups.items())
    ]


def write_images(
    root: Path, rows: Iterable[Mapping[str, Any]], *, object_name: str = "images-part-00000.parquet"
) -> list[Path]:
    """Write image rows, one object per ``store_id``/``dt`` partition of the images table."""
    return write_faces(root, rows, object_name=object_name, table=IMAGES_TABLE_NAME)
