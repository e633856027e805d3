"""The local Athena stand-in refuses SQL whose meaning it cannot vouch for.

The named queries themselves, run through it, are tested in
``tests/dashboards/test_queries.py``.
"""

from __future__ import annotations

import pytest

from local.athena import UnsupportedSqlError, to_duckdb_sql


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
