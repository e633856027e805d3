"""The local writer produces the curated bucket layout Athena (and DuckDB here) reads.

Lives beside the query tests that depend on it (tests/local/ belongs to the
local pipeline's owner).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from local.athena import run_query
from local.parquet_layout import write_faces
from shopper_sentiment.contracts.schema import arrow_schema


def test_records_land_in_hive_partitions_without_partition_columns_in_the_file(tmp_path: Path) -> None:
    paths = write_faces(
        tmp_path,
        [
            {"record_id": "a", "store_id": "store-001", "dt": "2026-03-15", "captured_at": 1773565200000},
            {"record_id": "b", "store_id": "store-002", "dt": "2026-03-15", "captured_at": 1773565200000},
        ],
    )
    assert [p.relative_to(tmp_path).parent.as_posix() for p in paths] == [
        "faces/store_id=store-001/dt=2026-03-15",
        "faces/store_id=store-002/dt=2026-03-15",
    ]
    parquet = pq.ParquetFile(paths[0])
    assert parquet.schema_arrow.equals(arrow_schema())
    row_group = parquet.metadata.row_group(0)
    assert {row_group.column(i).compression for i in range(row_group.num_columns)} == {"SNAPPY"}


def test_partition_values_come_back_from_the_path_as_strings(tmp_path: Path) -> None:
    write_faces(tmp_path, [{"record_id": "a", "store_id": "store-001", "dt": "2026-03-15"}])
    result = run_query(tmp_path, "SELECT store_id, dt, typeof(dt) AS t FROM faces")
    assert result.rows == [("store-001", "2026-03-15", "VARCHAR")]


def test_timestamps_are_stored_as_naive_utc_milliseconds(tmp_path: Path) -> None:
    berlin = dt.timezone(dt.timedelta(hours=1))
    write_faces(
        tmp_path,
        [
            {"record_id": "millis", "store_id": "s", "dt": "2026-03-15", "captured_at": 1773565200123},
            {"record_id": "aware", "store_id": "s", "dt": "2026-03-15",
             "captured_at": dt.datetime(2026, 3, 15, 10, 0, 0, 123000, tzinfo=berlin)},
        ],
    )  # fmt: skip
    rows = run_query(tmp_path, "SELECT record_id, captured_at FROM faces ORDER BY record_id").rows
    assert rows == [
        ("aware", dt.datetime(2026, 3, 15, 9, 0, 0, 123000)),
        ("millis", dt.datetime(2026, 3, 15, 9, 0, 0, 123000)),
    ]


@pytest.mark.parametrize(
    ("record", "message"),
    [
        ({"store_id": "s", "dt": "2026-03-15", "mood": "happy"}, "mood"),
        ({"dt": "2026-03-15"}, "store_id"),
        ({"store_id": "s", "dt": "15/03/2026"}, "15/03/2026"),
    ],
)
def test_records_off_the_contract_are_refused(tmp_path: Path, record: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        write_faces(tmp_path, [record])
