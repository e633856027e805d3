"""DuckDB standing in for Athena over the curated bucket's Parquet layout.

The SQL in ``dashboards/queries/`` is Athena engine v3 (Trino) SQL. Here it is
parsed strictly with sqlglot, transpiled to DuckDB and run over a local copy
of the curated bucket, where one view per curated table plays its Glue
table: ``faces`` over ``<root>/faces/store_id=<s>/dt=<d>/<object>`` and
``images`` over ``<root>/images/store_id=<s>/dt=<d>/<object>`` (see
``local.parquet_layout``).

Strict means a query that only "works" because sqlglot passed something
through verbatim is refused: a function sqlglot does not know (parsed as
``Anonymous``), a statement it could not parse (``Command``) or a construct
the DuckDB generator cannot express. DuckDB happening to accept such text
would prove nothing about Athena.

It also refuses the places where the same text means different numbers in
Trino and DuckDB, which sqlglot does not translate: integer / integer (Trino
truncates), arithmetic or aggregates over decimal literals such as ``1.0`` (a
DECIMAL in Trino, whose ``avg`` and division keep the literal's scale:
``avg(1.0)`` over 5 of 6 rows is 0.8 there, 0.8333 in DuckDB), and
``count_if`` (over a group whose condition is NULL on every row it is 0 in
Trino and NULL in DuckDB; ``count(CASE WHEN ... THEN 1 END)`` is 0 in both).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import sqlglot
from sqlglot import exp
from sqlglot.dialects.dialect import Dialect
from sqlglot.errors import ErrorLevel, OptimizeError, ParseError, SqlglotError, UnsupportedError
from sqlglot.optimizer.annotate_types import annotate_types
from sqlglot.optimizer.qualify import qualify

from shopper_sentiment.contracts.layout import DATA_PREFIX, IMAGES_PREFIX
from shopper_sentiment.contracts.schema import IMAGES_TABLE_NAME, PARTITION_KEYS, TABLE_NAME, TABLES, arrow_schema

#: sqlglot's Athena dialect reads DML as Trino; older sqlglot only has "trino".
ATHENA_DIALECT = "athena" if "athena" in Dialect.classes else "trino"


class UnsupportedSqlError(ValueError):
    """The SQL is not something sqlglot understands fully in the Athena dialect."""


@dataclass(frozen=True)
class QueryResult:
    columns: tuple[str, ...]
    rows: list[tuple[Any, ...]]

    def as_dicts(self) -> list[dict[str, Any]]:
        return [dict(zip(self.columns, row, strict=True)) for row in self.rows]


def parse_athena_sql(sql: str, *, source: str = "query") -> exp.Expression:
    """Parse one Athena (Trino) statement; refuse anything parsed by fallback."""
    try:
        statements = [s for s in sqlglot.parse(sql, read=ATHENA_DIALECT, error_level=ErrorLevel.RAISE) if s]
    except ParseError as exc:
        raise UnsupportedSqlError(f"{source}: sqlglot cannot parse it as {ATHENA_DIALECT} SQL: {exc}") from None
    if len(statements) != 1:
        raise UnsupportedSqlError(f"{source}: expected exactly one statement, found {len(statements)}")
    tree = statements[0]
    for node in tree.walk():
        if isinstance(node, exp.Command):
            raise UnsupportedSqlError(f"{source}: sqlglot kept {node.sql()[:60]!r} as an unparsed command")
        if isinstance(node, exp.Anonymous | exp.AnonymousAggFunc):
            raise UnsupportedSqlError(
                f"{source}: function {node.name!r} is unknown to sqlglot's {ATHENA_DIALECT} dialect;"
                " it would be passed through untranslated"
            )
    _refuse_engine_dependent_arithmetic(tree, source)
    return tree


_SCHEMA = {table: {c.name: c.type for c in columns + PARTITION_KEYS} for table, columns in TABLES.items()}
_ARITHMETIC = (exp.Add, exp.Sub, exp.Mul, exp.Div, exp.Mod, exp.AggFunc)


def _is_decimal_literal(node: exp.Expression) -> bool:
    return isinstance(node, exp.Literal) and node.is_number and "." in node.this and "e" not in node.this.lower()


def _refuse_engine_dependent_arithmetic(tree: exp.Expression, source: str) -> None:
    for count_if in tree.find_all(exp.CountIf):
        raise UnsupportedSqlError(
            f"{source}: {count_if.sql(ATHENA_DIALECT)[:80]!r}: count_if over only NULL conditions is 0 in Trino and"
            " NULL in DuckDB; use count(CASE WHEN ... THEN 1 END)"
        )
    for literal in tree.find_all(exp.Literal):
        if not _is_decimal_literal(literal):
            continue
        parent = literal.parent
        while parent is not None and not isinstance(parent, exp.Query | exp.Predicate | exp.Alias):
            if isinstance(parent, _ARITHMETIC):
                raise UnsupportedSqlError(
                    f"{source}: decimal literal {literal.this} in {parent.sql(ATHENA_DIALECT)[:80]!r}: Trino types it"
                    " DECIMAL and keeps its scale in arithmetic and avg(), DuckDB does not;"
                    " use an integer or CAST(... AS double)"
                )
            parent = parent.parent
    try:
        typed = annotate_types(
            qualify(tree.copy(), schema=_SCHEMA, dialect=ATHENA_DIALECT, validate_qualify_columns=False),
            schema=_SCHEMA,
            dialect=ATHENA_DIALECT,
        )
    except (OptimizeError, SqlglotError):
        return  # not a query over known tables (e.g. a scratch SELECT): nothing to type
    for division in typed.find_all(exp.Div):
        left, right = division.this.type, division.expression.type
        if left and right and left.is_type(*exp.DataType.INTEGER_TYPES) and right.is_type(*exp.DataType.INTEGER_TYPES):
            raise UnsupportedSqlError(
                f"{source}: {division.sql(ATHENA_DIALECT)!r} divides integers: Trino truncates, DuckDB does not;"
                " CAST one side AS double"
            )


def pin_current_date(tree: exp.Expression, today: dt.date) -> exp.Expression:
    """Replace ``current_date`` with a fixed date, so date windows are reproducible."""
    literal = exp.cast(exp.Literal.string(today.isoformat()), exp.DataType.build("date"))

    def replace(node: exp.Expression) -> exp.Expression:
        return literal.copy() if isinstance(node, exp.CurrentDate) else node

    return tree.transform(replace)


def to_duckdb_sql(sql: str, *, today: dt.date | None = None, source: str = "query") -> str:
    """Athena SQL → DuckDB SQL, strictly; ``today`` pins ``current_date``."""
    tree = parse_athena_sql(sql, source=source)
    if today is not None:
        tree = pin_current_date(tree, today)
    try:
        return tree.sql(dialect="duckdb", unsupported_level=ErrorLevel.RAISE)
    except UnsupportedError as exc:
        raise UnsupportedSqlError(f"{source}: cannot be expressed in DuckDB: {exc}") from None


#: Each curated table's folder in the curated bucket (``shopper_sentiment/contracts/layout.py``).
TABLE_FOLDERS = {TABLE_NAME: DATA_PREFIX, IMAGES_TABLE_NAME: IMAGES_PREFIX}


def table_folder(root: Path, table: str) -> Path:
    """Where a curated table's partition folders are under a curated-bucket root."""
    return Path(root) / TABLE_FOLDERS[table]


def _partition_glob() -> str:
    return "/".join(f"{k.name}=*" for k in PARTITION_KEYS) + "/*"


def _data_files(root: Path, table: str = TABLE_NAME) -> list[Path]:
    return sorted(p for p in table_folder(root, table).glob(_partition_glob()) if p.is_file())


def connect(root: Path | str, *, threads: int | None = None) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB with one view per curated table (``faces``, ``images``) over ``<root>/<table>/...``.

    The partition columns are typed VARCHAR explicitly: DuckDB would otherwise
    guess ``dt`` is a DATE, while in Glue (and so in Athena) it is a string,
    and the queries compare it as one. A table with no files yet (an empty
    bucket, or a bucket from before the ``images`` table) is an empty view of
    its schema, so queries return no rows rather than fail on a missing file.
    """
    con = duckdb.connect(":memory:")
    # Athena's session time zone is UTC; current_date must mean the same here.
    con.execute("SET TimeZone = 'UTC'")
    if threads is not None:
        con.execute(f"SET threads = {int(threads)}")
    hive_types = ", ".join(f"'{k.name}': 'VARCHAR'" for k in PARTITION_KEYS)
    for table in TABLES:
        if _data_files(Path(root), table):
            glob = table_folder(Path(root), table).as_posix() + "/" + _partition_glob()
            con.execute(
                f"CREATE VIEW {table} AS SELECT * FROM read_parquet("  # noqa: S608 - paths we built
                f"'{glob}', hive_partitioning = true, hive_types = {{{hive_types}}})"
            )
        else:
            empty = pa.Table.from_pylist([], schema=arrow_schema(with_partitions=True, table=table))
            con.register(f"_{table}_empty", empty)
            con.execute(f"CREATE VIEW {table} AS SELECT * FROM _{table}_empty")  # noqa: S608
    return con


def run_query(
    target: Path | str | duckdb.DuckDBPyConnection,
    sql: str,
    *,
    today: dt.date | None = None,
    source: str = "query",
) -> QueryResult:
    """Run one Athena query over a curated-bucket root (or an open ``connect()``)."""
    duck_sql = to_duckdb_sql(sql, today=today, source=source)
    con = target if isinstance(target, duckdb.DuckDBPyConnection) else connect(target)
    try:
        cursor = con.execute(duck_sql)
        columns = tuple(d[0] for d in cursor.description or ())
        return QueryResult(columns=columns, rows=cursor.fetchall())
    finally:
        if con is not target:
            con.close()


def run_query_file(root: Path | str, path: Path | str, *, today: dt.date | None = None) -> QueryResult:
    """Run a ``dashboards/queries/*.sql`` file."""
    path = Path(path)
    return run_query(root, path.read_text(encoding="utf-8"), today=today, source=path.name)
