"""One store-day's rows: read in the table's schema, one row per id, sorted, written as Parquet.

Pure pyarrow: bytes in, bytes out, no AWS client.

- **Schema**: the Glue table's columns (shipped in ``compaction.json``, built at
  synth from ``shopper_sentiment/contracts/schema.py``). A column the table lacks, or a value
  that does not convert to its type, makes the object unreadable: the
  partition is left as it is rather than silently dropping data. A column the
  object lacks (written before the column existed) is null, as Athena reads it.
- **Duplicates**: one row per id (``record_id``, ``image_id``), the earliest
  ``processed_at`` (nulls last), as every named query and dataset keeps it
  (``row_number() OVER (PARTITION BY <id> ORDER BY processed_at) = 1``); on a
  tie the row listed first is kept. Rows with no id count as one id, as SQL's
  window partitions do.
- **Output**: sorted by the table's sort columns: its low-cardinality labels
  first (zone, camera, then the dominant emotion or the outcome), capture
  time last. Runs of one label compress to almost nothing, which is most of
  what a query of labels reads once the footers are few; queries select
  whole days by ``dt``, so no read depends on time order across a day.
  Row-group statistics (min/max) are written for time, labels, counts and
  flags, not for random ids and keys or measured doubles, which no row group
  can be skipped by; Snappy; no Arrow schema in the footer (Athena does not
  read it). One object unless it would exceed ``max_object_bytes``: then the
  rows are split into as many objects as it takes, each a contiguous range of
  the sort order.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

#: Rows per row group: a busy store-day is a few row groups, each with its own statistics.
ROW_GROUP_ROWS = 131_072
_ARROW_TYPES = {
    "string": pa.string(),
    "int": pa.int32(),
    "bigint": pa.int64(),
    "double": pa.float64(),
    "boolean": pa.bool_(),
    "timestamp": pa.timestamp("ms"),
}
_ORDER = "__compaction_order"


class UnreadableObject(ValueError):
    """An object that is not Parquet in the table's schema."""


@dataclass(frozen=True)
class TableSpec:
    """What compaction needs to know of one curated table."""

    name: str
    prefix: str
    id_column: str
    #: The first row by this column wins among duplicates (the queries' ORDER BY).
    order_column: str
    #: The output is sorted by these columns, in order (labels first, capture time last).
    sort_columns: tuple[str, ...]
    #: (column name, Glue type), in the table's order.
    columns: tuple[tuple[str, str], ...]

    def arrow_schema(self) -> pa.Schema:
        return pa.schema([pa.field(name, _ARROW_TYPES[kind], nullable=True) for name, kind in self.columns])


def read_object(body: bytes, spec: TableSpec, *, source: str) -> pa.Table:
    """One Parquet object's rows in the table's schema; ``UnreadableObject`` naming ``source`` if it is not."""
    schema = spec.arrow_schema()
    try:
        # Hive's Parquet writer (Firehose) stores timestamps as INT96.
        table = pq.read_table(pa.BufferReader(body), coerce_int96_timestamp_unit="ms")
    except (pa.ArrowException, OSError) as exc:
        raise UnreadableObject(f"{source}: not a readable Parquet object ({exc})") from exc
    extra = sorted(set(table.column_names) - set(schema.names))
    if extra:
        raise UnreadableObject(f"{source}: columns {extra} are not in the {spec.name} table")
    columns = []
    for field in schema:
        if field.name not in table.column_names:
            columns.append(pa.nulls(table.num_rows, field.type))
            continue
        try:
            columns.append(table.column(field.name).cast(field.type))
        except (pa.ArrowException, ValueError) as exc:
            raise UnreadableObject(
                f"{source}: column {field.name} ({table.schema.field(field.name).type}) does not convert to "
                f"{field.type} ({exc})"
            ) from exc
    return pa.Table.from_arrays(columns, schema=schema)


def first_analysis_per_id(tables: Sequence[pa.Table], spec: TableSpec) -> pa.Table:
    """All rows of ``tables`` with one row kept per id: the earliest ``order_column``, then the first listed."""
    schema = spec.arrow_schema()
    combined = pa.concat_tables([t.select(schema.names) for t in tables]) if tables else schema.empty_table()
    if combined.num_rows == 0:
        return combined
    combined = combined.append_column(_ORDER, pa.array(range(combined.num_rows), pa.int64()))
    order = pc.sort_indices(
        combined,
        sort_keys=[
            (spec.id_column, "ascending", "at_end"),
            (spec.order_column, "ascending", "at_end"),
            (_ORDER, "ascending", "at_end"),
        ],
    )
    ordered = combined.take(order)
    ids = ordered.column(spec.id_column).combine_chunks()
    current, previous = ids.slice(1), ids.slice(0, len(ids) - 1)
    # A new id starts where it differs from the row before; two nulls are the same (one SQL partition).
    differs = pc.fill_null(pc.not_equal(current, previous), pc.xor(pc.is_null(current), pc.is_null(previous)))
    first = pa.concat_arrays([pa.array([True]), differs])
    return ordered.filter(first).drop_columns([_ORDER])


def sorted_for_reading(table: pa.Table, spec: TableSpec) -> pa.Table:
    """By the sort columns (nulls last), then id, so the output is the same for the same rows."""
    if table.num_rows == 0:
        return table
    keys = [*spec.sort_columns, spec.id_column]
    return table.sort_by([(column, "ascending", "at_end") for column in keys])


#: Columns whose min/max never lets a reader skip a row group (random ids, keys): no statistics,
#: which keeps every footer smaller. Measured doubles (confidences, geometry) spread over every
#: row group alike.
_NO_STATISTICS = frozenset({"record_id", "image_id", "image_key"})


def statistics_columns(table: pa.Table) -> list[str]:
    """The columns written with min/max statistics: time, labels, counts, flags."""
    return [f.name for f in table.schema if f.name not in _NO_STATISTICS and not pa.types.is_floating(f.type)]


def parquet_bytes(table: pa.Table) -> bytes:
    sink = io.BytesIO()
    pq.write_table(
        table,
        sink,
        compression="snappy",
        row_group_size=ROW_GROUP_ROWS,
        write_statistics=statistics_columns(table),
        store_schema=False,
        coerce_timestamps="ms",
    )
    return sink.getvalue()


def parquet_parts(table: pa.Table, *, max_object_bytes: int) -> list[bytes]:
    """The table as one Parquet object, or as few contiguous slices as keep each under ``max_object_bytes``."""
    parts = 1
    while True:
        rows = -(-table.num_rows // parts) if table.num_rows else 0
        encoded = [parquet_bytes(table.slice(start, rows)) for start in range(0, max(table.num_rows, 1), rows or 1)]
        if all(len(body) <= max_object_bytes for body in encoded) or rows <= 1:
            return encoded
        parts = max(parts + 1, -(-sum(len(body) for body in encoded) // max_object_bytes))
