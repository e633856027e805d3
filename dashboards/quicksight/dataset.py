"""The QuickSight data source and dataset over the ``faces`` table, as API-shaped dicts.

Every column comes from ``contracts/schema.py`` (data columns and partition
keys); the calculated fields the visuals need are added in a logical-table
``CreateColumnsOperation``. Shapes follow boto3's ``CreateDataSource`` /
``CreateDataSet`` input; CloudFormation's ``AWS::QuickSight::DataSet`` uses
the same member names for these properties.
"""

from __future__ import annotations

import itertools
from typing import Any

from contracts.schema import COLUMNS, PARTITION_KEYS, TABLE_NAME, Column
from dashboards.measures import AGE_BANDS, NEGATIVE_EMOTIONS, POSITIVE_EMOTIONS, UNKNOWN

#: The physical and logical table ids inside the dataset (pattern [0-9a-zA-Z-]*).
PHYSICAL_TABLE_ID = "faces"
LOGICAL_TABLE_ID = "faces-with-fields"
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
}


def quicksight_type(glue_type: str) -> tuple[str, str | None]:
    """The QuickSight column type (and decimal subtype) for a Glue column type."""
    try:
        return _QUICKSIGHT_TYPES[glue_type]
    except KeyError:
        raise ValueError(
            f"Glue type {glue_type!r} has no QuickSight mapping; add it to dashboards/quicksight/dataset.py"
        ) from None


def input_columns(columns: tuple[Column, ...] = COLUMNS + PARTITION_KEYS) -> list[dict[str, str]]:
    """``InputColumns`` of the physical table: every schema column and partition key."""
    result = []
    for column in columns:
        kind, sub_type = quicksight_type(column.type)
        entry = {"Name": column.name, "Type": kind}
        if sub_type:
            entry["SubType"] = sub_type
        result.append(entry)
    return result


def _emotion_test(emotions: tuple[str, ...]) -> str:
    return " OR ".join(f"{{dominant_emotion}} = '{e}'" for e in emotions)


def _age_band_expression() -> str:
    midpoint = "({age_low} + {age_high}) / 2"
    branches = [f"isNull({{age_low}}) OR isNull({{age_high}}), '{UNKNOWN}'"]
    for (label, _), (_, upper) in itertools.pairwise(AGE_BANDS):
        branches.append(f"{midpoint} < {upper}, '{label}'")
    return f"ifelse({', '.join(branches)}, '{AGE_BANDS[-1][0]}')"


def calculated_columns() -> list[dict[str, str]]:
    """Row-level calculated fields of the dataset (``CalculatedColumn`` shapes).

    The definitions match the SQL in ``dashboards/queries`` (see
    ``dashboards/measures.py``). Hours and days are UTC, like ``captured_at``.
    ``sentiment_score`` is 100 for a positive face, 0 for a negative one and
    NULL for a neutral one, so its plain AVERAGE is the sentiment index
    (100 * positive / (positive + negative)) under any filter: no aggregate
    calculated field (not allowed at dataset level) is needed.
    """
    fields = {
        "capture_hour": "extract('HH', {captured_at})",
        "capture_day": "truncDate('DD', {captured_at})",
        "age_band": _age_band_expression(),
        "sentiment": (
            f"ifelse({_emotion_test(POSITIVE_EMOTIONS)}, 'positive', "
            f"{_emotion_test(NEGATIVE_EMOTIONS)}, 'negative', 'neutral')"
        ),
        # nullIf(..., -1): a NULL for neutral faces made from functions that
        # surely exist, rather than relying on a NULL literal inside ifelse.
        "sentiment_score": (
            f"nullIf(ifelse({_emotion_test(POSITIVE_EMOTIONS)}, 100, {_emotion_test(NEGATIVE_EMOTIONS)}, 0, -1), -1)"
        ),
    }
    return [
        {"ColumnName": name, "ColumnId": name.replace("_", "-"), "Expression": expression}
        for name, expression in fields.items()
    ]


#: QuickSight field kind of every calculated column (what the visuals may do with it).
CALCULATED_COLUMN_TYPES: dict[str, str] = {
    "capture_hour": "INTEGER",
    "capture_day": "DATETIME",
    "age_band": "STRING",
    "sentiment": "STRING",
    "sentiment_score": "INTEGER",
}


def dataset_column_types() -> dict[str, str]:
    """Every column a visual may reference: schema columns, partitions, calculated fields."""
    types = {c["Name"]: c["Type"] for c in input_columns()}
    types.update(CALCULATED_COLUMN_TYPES)
    return types


def physical_table_map(
    data_source_arn: str,
    *,
    database: str,
    table: str = TABLE_NAME,
    lookback_days: int | None = None,
) -> dict[str, Any]:
    """``PhysicalTableMap`` with the faces table.

    By default the whole table (``RelationalTable``), which suits SPICE: the
    refresh reads it once. With ``lookback_days`` the table is a ``CustomSql``
    with a ``dt`` window instead, so that in DirectQuery every visual's query
    prunes partitions (QuickSight's own date filters land on ``captured_at``,
    which Athena cannot prune by).
    """
    columns = input_columns()
    if lookback_days is None:
        source: dict[str, Any] = {
            "RelationalTable": {
                "DataSourceArn": data_source_arn,
                "Catalog": ATHENA_CATALOG,
                "Schema": database,
                "Name": table,
                "InputColumns": columns,
            }
        }
    else:
        if lookback_days < 1:
            raise ValueError(f"lookback_days must be at least 1 (got {lookback_days})")
        source = {
            "CustomSql": {
                "DataSourceArn": data_source_arn,
                "Name": f"{table}-last-{lookback_days}-days",
                "SqlQuery": (
                    f'SELECT * FROM "{database}"."{table}" '  # noqa: S608 - names from config, not user input
                    f"WHERE dt >= date_format(current_date - INTERVAL '{lookback_days - 1}' DAY, '%Y-%m-%d')"
                ),
                "Columns": columns,
            }
        }
    return {PHYSICAL_TABLE_ID: source}


def logical_table_map() -> dict[str, Any]:
    """``LogicalTableMap``: the physical table plus the calculated fields."""
    return {
        LOGICAL_TABLE_ID: {
            "Alias": TABLE_NAME,
            "Source": {"PhysicalTableId": PHYSICAL_TABLE_ID},
            "DataTransforms": [{"CreateColumnsOperation": {"Columns": calculated_columns()}}],
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
