"""The local Athena stand-in refuses SQL whose meaning it cannot vouch for.

The named queries themselves, run through it, are tested in
``tests/dashboards/test_queries.py``.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from local.athena import UnsupportedSqlError, run_query, to_duckdb_sql
from shopper_sentiment.contracts.schema import arrow_schema


def test_sql_the_athena_dialect_does_not_know_is_refused() -> None:
    # format_datetime is real Trino, but sqlglot passes it through verbatim:
    # DuckDB would then be testing text it never understood.
    with pytest.raises(UnsupportedSqlError, match="format_datetime"):
        to_duckdb_sql("SELECT 1 FROM faces WHERE dt >= format_datetime(current_date, 'yyyy-MM-dd')")
    with pytest.raises(UnsupportedSqlError, match="cannot parse"):
        to_duckdb_sql("SELECT FROM WHERE faces")
    with pytest.raises(UnsupportedSqlError, match="exactly one statement"):
        to_duckdb_sql("SELECT 1; SELECT 2")


def test_arithmetic_that_trino_and_duckdb_evaluate_differently_is_refused() -> None:
    # avg() over DECIMAL literals keeps the literal's scale in Trino (5 of 6 → 0.8), not in DuckDB (0.833).
    with pytest.raises(UnsupportedSqlError, match="decimal literal 1.0"):
        to_duckdb_sql("SELECT avg(CASE WHEN zone = 'a' THEN 1.0 ELSE 0 END) FROM faces")
    # Trino truncates integer division; DuckDB's / returns a double.
    with pytest.raises(UnsupportedSqlError, match="divides integers"):
        to_duckdb_sql("SELECT sum(age_low) / count(*) FROM faces")
    # Comparing with a decimal and dividing a double are the same in both.
    to_duckdb_sql("SELECT CAST(sum(age_low) AS double) / count(*) FROM faces WHERE detection_confidence > 90.5")


def test_count_if_whose_empty_answer_differs_between_trino_and_duckdb_is_refused() -> None:
    # Over a group whose condition is NULL on every row: 0 in Trino, NULL in DuckDB.
    with pytest.raises(UnsupportedSqlError, match="count_if"):
        to_duckdb_sql("SELECT count_if(pose_yaw > 0) FROM faces WHERE dt >= '2026-01-01'")
    to_duckdb_sql("SELECT count(CASE WHEN pose_yaw > 0 THEN 1 END) FROM faces WHERE dt >= '2026-01-01'")


def test_images_view_reads_its_folder_beside_faces_and_is_empty_without_one(tmp_path: Path) -> None:
    empty = run_query(tmp_path, "SELECT count(*) AS stills, max(faces_kept) AS most FROM images")
    assert empty.rows == [(0, None)]

    folder = tmp_path / "images" / "store_id=store-001" / "dt=2026-11-23"
    folder.mkdir(parents=True)
    rows = [
        {"image_id": "a", "outcome": "analyzed", "faces_kept": 2, "captured_at_local": dt.datetime(2026, 11, 23, 19)},
        {"image_id": "b", "outcome": "quarantined", "faces_kept": None, "captured_at_local": None},
    ]
    pq.write_table(pa.Table.from_pylist(rows, schema=arrow_schema(table="images")), folder / "part.parquet")

    result = run_query(
        tmp_path,
        "SELECT store_id, dt, image_id, faces_kept, hour(captured_at_local) AS h FROM images ORDER BY image_id",
    )
    assert result.rows == [("store-001", "2026-11-23", "a", 2, 19), ("store-001", "2026-11-23", "b", None, None)]
    assert run_query(tmp_path, "SELECT count(*) FROM faces").rows == [(0,)]
