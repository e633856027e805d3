"""The QuickSight data source and the two datasets (``faces``, ``images``), as API-shaped dicts.

Each dataset is one Athena custom SQL over its Glue table that

* reads a bounded window of ``dt`` partitions (``lookback_days``, always
  set): a SPICE refresh or a DirectQuery visual scans that window only;
* keeps one row per ``record_id`` (faces) or ``image_id`` (images), as the
  named queries do: a redelivered or re-analyzed image repeats its ids, and
  the first analysis (earliest ``processed_at``) counts;
* adds the store-local time columns and the numeric scores the visuals
  average (``DERIVED_COLUMNS``), computed in SQL so that Athena types them.

Every column comes from ``shopper_sentiment/contracts/schema.py`` (data columns and partition
keys) plus those derived columns. The few row-level fields that are easier
to read as QuickSight expressions (age band, sentiment label) are calculated
fields in a logical-table ``CreateColumnsOperation``; each uses only
functions whose documented return type is known (``DOCUMENTED_RETURN_TYPES``).
Shapes follow boto3's ``CreateDataSource`` / ``CreateDataSet`` input;
CloudFormation's ``AWS::QuickSight::DataSet`` uses the same member names.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any

from shopper_sentiment.dashboards.measures import (
    AGE_BANDS,
    ATTENTION_MAX_ABS_PITCH,
    ATTENTION_MAX_ABS_YAW,
    NEGATIVE_EMOTIONS,
    POSITIVE_EMOTIONS,
    UNKNOWN,
)

from shopper_sentiment.contracts.identifiers import CHECK_STORE_ID
from shopper_sentiment.contracts.schema import (
    IMAGES_TABLE_NAME,
    OUTCOME_ANALYZED,
    PARTITION_KEYS,
    TABLE_NAME,
    TABLES,
    Column,
)

#: The curated tables the dashboard reads, each one dataset.
DATASET_TABLES: tuple[str, ...] = (TABLE_NAME, IMAGES_TABLE_NAME)
#: The id of each table's duplicate rows (same id = same face / same still).
DEDUPE_KEYS: dict[str, str] = {TABLE_NAME: "record_id", IMAGES_TABLE_NAME: "image_id"}
#: Days of dt partitions a dataset reads when the config says nothing (``dashboard_lookback_days``).
DEFAULT_LOOKBACK_DAYS = 90
#: The Glue catalog every Athena data source sees by default.
ATHENA_CATALOG = "AwsDataCatalog"

#: Glue/Hive type → (QuickSight InputColumn Type, SubType or None).
_QUICKSIGHT_TYPES: dict[str, tuple[str, str | None]] = {
    "string": ("STRING", None),
    "int": ("INTEGER", None),
    "bigint": ("INTEGER", None),
    "double": ("DECIMAL", "FLOAT"),
    "boolean": ("BOOLEAN", None),
    "timestamp": ("DATETIME", None),
    "date": ("DATETIME", None),
}


def physical_table_id(table: str) -> str:
    """The physical table id inside a dataset (pattern [0-9a-zA-Z-]*)."""
    return table


def logical_table_id(table: str) -> str:
    return f"{table}-with-fields"


#: The faces dataset's table ids.
PHYSICAL_TABLE_ID = physical_table_id(TABLE_NAME)
LOGICAL_TABLE_ID = logical_table_id(TABLE_NAME)


def quicksight_type(glue_type: str) -> tuple[str, str | None]:
    """The QuickSight column type (and decimal subtype) for a Glue column type."""
    try:
        return _QUICKSIGHT_TYPES[glue_type]
    except KeyError:
        raise ValueError(
            f"Glue type {glue_type!r} has no QuickSight mapping; add it to dashboards/quicksight/dataset.py"
        ) from None


def _in_list(emotions: tuple[str, ...]) -> str:
    return ", ".join(f"'{e}'" for e in emotions)


@dataclass(frozen=True)
class DerivedColumn:
    """A column the dataset's SQL computes: name, Athena expression, Glue type, meaning."""

    name: str
    sql: str
    type: str
    comment: str

    @property
    def column(self) -> Column:
        return Column(self.name, self.type, self.comment)


_LOCAL_TIME = (
    DerivedColumn(
        "capture_day",
        "CAST(dt AS date)",
        "date",
        "Store-local capture date (dt as a date): the date filter on it names only the partition column",
    ),
    DerivedColumn("capture_hour", "hour(captured_at_local)", "int", "Hour of the store's wall clock, 0-23"),
)
_TOWARD_CAMERA = f"abs(pose_yaw) <= {ATTENTION_MAX_ABS_YAW} AND abs(pose_pitch) <= {ATTENTION_MAX_ABS_PITCH}"

#: Per table, the columns the dataset's SQL adds. A score is 100 or 0 per row
#: and NULL where the row does not count, so its plain AVERAGE is a percentage
#: under any filter; SQL gives the NULL a numeric type, which QuickSight's
#: documented functions cannot (nullIf is typed String).
DERIVED_COLUMNS: dict[str, tuple[DerivedColumn, ...]] = {
    TABLE_NAME: (
        *_LOCAL_TIME,
        DerivedColumn(
            "sentiment_score",
            f"CASE WHEN dominant_emotion IN ({_in_list(POSITIVE_EMOTIONS)}) THEN 100"
            f" WHEN dominant_emotion IN ({_in_list(NEGATIVE_EMOTIONS)}) THEN 0 END",
            "int",
            "100 positive, 0 negative, NULL neutral: its average is the sentiment index",
        ),
        DerivedColumn(
            "attention_score",
            f"CASE WHEN {_TOWARD_CAMERA} THEN 100 WHEN pose_yaw IS NOT NULL AND pose_pitch IS NOT NULL THEN 0 END",
            "int",
            "100 turned toward the camera, 0 turned away, NULL without a pose: its average is the attention share",
        ),
    ),
    IMAGES_TABLE_NAME: (
        *_LOCAL_TIME,
        DerivedColumn(
            "people_in_view",
            f"CASE WHEN outcome = '{OUTCOME_ANALYZED}' THEN faces_kept END",
            "int",
            "Faces kept in an analyzed still (NULL if quarantined): its average is people present",
        ),
    ),
}


def dataset_columns(table: str = TABLE_NAME) -> tuple[Column, ...]:
    """Every column of a dataset's physical table, in order: schema, partitions, derived."""
    return TABLES[table] + PARTITION_KEYS + tuple(d.column for d in DERIVED_COLUMNS[table])


def input_columns(columns: tuple[Column, ...] | None = None, *, table: str = TABLE_NAME) -> list[dict[str, str]]:
    """``InputColumns`` / ``Columns`` of a physical table: every column of ``dataset_columns(table)``."""
    result = []
    for column in dataset_columns(table) if columns is None else columns:
        kind, sub_type = quicksight_type(column.type)
        entry = {"Name": column.name, "Type": kind}
        if sub_type:
            entry["SubType"] = sub_type
        result.append(entry)
    return result


def dt_window(lookback_days: int) -> str:
    """The predicate on ``dt`` that keeps today (UTC date) and the ``lookback_days - 1`` days before."""
    if isinstance(lookback_days, bool) or not isinstance(lookback_days, int) or lookback_days < 1:
        raise ValueError(f"lookback_days must be a whole number of days, at least 1 (got {lookback_days!r})")
    return f"dt >= date_format(current_date - INTERVAL '{lookback_days - 1}' DAY, '%Y-%m-%d')"


def dataset_sql(*, database: str, table: str, lookback_days: int) -> str:
    """The dataset's Athena SQL: the ``dt`` window, one row per id, the derived columns.

    Rows of the deployment check (store ``_check``, shopper_sentiment/contracts/identifiers.py)
    are left out with the window.

    The window sits in the WHERE of the only SELECT that reads the table, so
    Athena prunes partitions before anything else; QuickSight wraps this SQL
    as a subquery and adds its own filters outside.
    """
    key = DEDUPE_KEYS[table]
    stored = [c.name for c in TABLES[table] + PARTITION_KEYS]
    select = ",\n    ".join([*stored, *(f"{d.sql} AS {d.name}" for d in DERIVED_COLUMNS[table])])
    # The database comes from the config, table and columns from the schema: no user input.
    return (
        f"SELECT\n    {select}\n"  # noqa: S608
        "FROM (\n"
        f"    SELECT *, row_number() OVER (PARTITION BY {key} ORDER BY processed_at) AS copy_number\n"
        f'    FROM "{database}"."{table}"\n'
        f"    WHERE {dt_window(lookback_days)}\n"
        # The deployment check's rows are no store's: never in a visual.
        f"    AND store_id <> '{CHECK_STORE_ID}'\n"
        ") AS once\n"
        "WHERE copy_number = 1"
    )


#: QuickSight's documented return type of each function the calculated fields
#: use (the function reference, "Return type"). ``ifelse`` returns the type
#: of its then-expressions, which must all share one type. Functions not
#: listed here are not used, e.g. ``nullIf``, documented as returning String
#: whatever its arguments.
DOCUMENTED_RETURN_TYPES: dict[str, str] = {
    "ifelse": "the type of its then-expressions",
    "isNull": "BOOLEAN",
}


def _emotion_test(emotions: tuple[str, ...]) -> str:
    return " OR ".join(f"{{dominant_emotion}} = '{e}'" for e in emotions)


def _age_band_expression() -> str:
    midpoint = "({age_low} + {age_high}) / 2"
    branches = [f"isNull({{age_low}}) OR isNull({{age_high}}), '{UNKNOWN}'"]
    for (label, _), (_, upper) in itertools.pairwise(AGE_BANDS):
        branches.append(f"{midpoint} < {upper}, '{label}'")
    return f"ifelse({', '.join(branches)}, '{AGE_BANDS[-1][0]}')"


def calculated_columns(table: str = TABLE_NAME) -> list[dict[str, str]]:
    """Row-level calculated fields of a dataset (``CalculatedColumn`` shapes).

    The definitions match the SQL in ``dashboards/queries`` (see
    ``dashboards/measures.py``). Both are ``ifelse`` over string literals, so
    both are String, as QuickSight documents ifelse.
    """
    if table != TABLE_NAME:
        return []
    fields = {
        "age_band": _age_band_expression(),
        "sentiment": (
            f"ifelse({_emotion_test(POSITIVE_EMOTIONS)}, 'positive', "
            f"{_emotion_test(NEGATIVE_EMOTIONS)}, 'negative', 'neutral')"
        ),
    }
    return [
        {"ColumnName": name, "ColumnId": name.replace("_", "-"), "Expression": expression}
        for name, expression in fields.items()
    ]


#: QuickSight field kind of every calculated column (what the visuals may do with it).
CALCULATED_COLUMN_TYPES: dict[str, str] = {"age_band": "STRING", "sentiment": "STRING"}


def dataset_column_types(table: str = TABLE_NAME) -> dict[str, str]:
    """Every column a visual may reference in a dataset: physical columns and calculated fields."""
    types = {c["Name"]: c["Type"] for c in input_columns(table=table)}
    types.update({c["ColumnName"]: CALCULATED_COLUMN_TYPES[c["ColumnName"]] for c in calculated_columns(table)})
    return types


def physical_table_map(
    data_source_arn: str,
    *,
    database: str,
    table: str = TABLE_NAME,
    lookback_days: int = DEFAULT_LOOKBACK_DAYS,
) -> dict[str, Any]:
    """``PhysicalTableMap``: the table as custom SQL with its ``dt`` window (``dataset_sql``)."""
    return {
        physical_table_id(table): {
            "CustomSql": {
                "DataSourceArn": data_source_arn,
                "Name": f"{table}-last-{lookback_days}-days",
                "SqlQuery": dataset_sql(database=database, table=table, lookback_days=lookback_days),
                "Columns": input_columns(table=table),
            }
        }
    }


def logical_table_map(table: str = TABLE_NAME) -> dict[str, Any] | None:
    """``LogicalTableMap``: the physical table plus its calculated fields; None without any."""
    columns = calculated_columns(table)
    if not columns:
        return None
    return {
        logical_table_id(table): {
            "Alias": table,
            "Source": {"PhysicalTableId": physical_table_id(table)},
            "DataTransforms": [{"CreateColumnsOperation": {"Columns": columns}}],
        }
    }


def athena_data_source_parameters(workgroup: str) -> dict[str, Any]:
    """``DataSourceParameters`` of an Athena data source on ``workgroup``."""
    return {"AthenaParameters": {"WorkGroup": workgroup}}


def refresh_schedule(
    *,
    schedule_id: str = "daily-full-refresh",
    time_of_day: str = "05:00",
    timezone: str = "UTC",
) -> dict[str, Any]:
    """A daily full SPICE refresh (``RefreshSchedule`` shape of ``CreateRefreshSchedule``)."""
    return {
        "ScheduleId": schedule_id,
        "ScheduleFrequency": {"Interval": "DAILY", "TimeOfTheDay": time_of_day, "Timezone": timezone},
        "RefreshType": "FULL_REFRESH",
    }
