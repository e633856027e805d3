"""The analysis and dashboard Definition, built in code.

One sheet with the original solution's three visuals (vertical stacked bar of
emotion count by capture hour, pie of emotions, vertical bar of faces per
day) plus age bands, gender split and a sentiment KPI; store and zone filter
controls (the zone list cascades from the chosen stores) and a date range
that defaults to the last 30 days, like the named queries. Which visuals,
their ids, titles and order come from ``contracts/catalogue.py`` (the local
report draws the same ones); this module says how QuickSight draws each.

QuickSight's Definition members are mostly union-typed structures that
accept exactly one member ("Only 1 member of ... should be provided");
botocore does not check that, ``dashboards.quicksight.validation`` does.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

from contracts.catalogue import CATALOGUE, Surface, Visual

SHEET_ID = "shopper-sentiment"
DEFAULT_DATASET_IDENTIFIER = "faces"
#: How many days the date range control shows by default (today included).
DEFAULT_WINDOW_DAYS = 30


def _column(dataset: str, name: str) -> dict[str, str]:
    return {"DataSetIdentifier": dataset, "ColumnName": name}


def _title(text: str) -> dict[str, Any]:
    return {"Visibility": "VISIBLE", "FormatText": {"PlainText": text}}


def _face_count(dataset: str, visual: Visual) -> dict[str, Any]:
    # record_id is unique per face, so COUNT of it is the number of faces.
    return {
        "CategoricalMeasureField": {
            "FieldId": f"{visual.id}-faces",
            "Column": _column(dataset, "record_id"),
            "AggregationFunction": "COUNT",
        }
    }


@dataclass(frozen=True)
class _Dimension:
    """A column a visual groups by; its field id is ``<visual id>-<role>``."""

    role: str
    column: str
    kind: str = "CategoricalDimensionField"
    #: Only for a DateDimensionField: DAY, HOUR...
    date_granularity: str | None = None

    def field(self, dataset: str, visual: Visual) -> dict[str, Any]:
        field: dict[str, Any] = {"FieldId": f"{visual.id}-{self.role}", "Column": _column(dataset, self.column)}
        if self.date_granularity is not None:
            field["DateGranularity"] = self.date_granularity
        return {self.kind: field}


def _vertical_bar(
    dataset: str, visual: Visual, *, category: _Dimension, colors: _Dimension | None = None
) -> dict[str, Any]:
    """Faces per ``category``, stacked by ``colors`` when given."""
    wells: dict[str, Any] = {"Category": [category.field(dataset, visual)], "Values": [_face_count(dataset, visual)]}
    if colors is not None:
        wells["Colors"] = [colors.field(dataset, visual)]
    return {
        "BarChartVisual": {
            "VisualId": visual.id,
            "Title": _title(visual.title),
            "ChartConfiguration": {
                "FieldWells": {"BarChartAggregatedFieldWells": wells},
                "Orientation": "VERTICAL",
                "BarsArrangement": "STACKED" if colors is not None else "CLUSTERED",
                "SortConfiguration": {
                    "CategorySort": [{"FieldSort": {"FieldId": f"{visual.id}-{category.role}", "Direction": "ASC"}}]
                },
                "Legend": {"Visibility": "VISIBLE" if colors is not None else "HIDDEN"},
            },
        }
    }


def _pie(dataset: str, visual: Visual, *, category: _Dimension, donut: bool) -> dict[str, Any]:
    """Faces per ``category``, as a pie or a donut."""
    configuration: dict[str, Any] = {
        "FieldWells": {
            "PieChartAggregatedFieldWells": {
                "Category": [category.field(dataset, visual)],
                "Values": [_face_count(dataset, visual)],
            }
        },
    }
    if donut:
        configuration["DonutOptions"] = {"ArcOptions": {"ArcThickness": "MEDIUM"}}
    return {
        "PieChartVisual": {
            "VisualId": visual.id,
            "Title": _title(visual.title),
            "ChartConfiguration": configuration,
        }
    }


def _sentiment_kpi(dataset: str, visual: Visual) -> dict[str, Any]:
    return {
        "KPIVisual": {
            "VisualId": visual.id,
            "Title": _title(visual.title),
            "ChartConfiguration": {
                "FieldWells": {
                    "Values": [
                        {
                            # AVERAGE of 100/0/NULL = % positive of positive + negative.
                            "NumericalMeasureField": {
                                "FieldId": "sentiment-index",
                                "Column": _column(dataset, "sentiment_score"),
                                "AggregationFunction": {"SimpleNumericalAggregation": "AVERAGE"},
                            }
                        }
                    ]
                }
            },
        }
    }


_EMOTION = _Dimension("emotion", "dominant_emotion")

#: How QuickSight draws each catalogue visual it shows: (dataset identifier, visual) → one ``Visual`` union.
_DRAWN_BY: dict[str, Callable[[str, Visual], dict[str, Any]]] = {
    "sentiment-kpi": _sentiment_kpi,
    "emotion-share": partial(_pie, category=_EMOTION, donut=False),
    "gender-split": partial(_pie, category=_Dimension("gender", "gender"), donut=True),
    "emotions-by-hour": partial(
        _vertical_bar, category=_Dimension("hour", "capture_hour", "NumericalDimensionField"), colors=_EMOTION
    ),
    "faces-per-day": partial(
        _vertical_bar,
        category=_Dimension("day", "capture_day", "DateDimensionField", date_granularity="DAY"),
    ),
    "age-bands": partial(_vertical_bar, category=_Dimension("band", "age_band")),
}


def visuals(dataset: str = DEFAULT_DATASET_IDENTIFIER) -> list[dict[str, Any]]:
    """The sheet's visuals (each a one-member ``Visual`` union): the catalogue's QuickSight visuals, in its order."""
    shown = CATALOGUE.visuals_on(Surface.QUICKSIGHT)
    undrawn = [visual.id for visual in shown if visual.id not in _DRAWN_BY]
    if undrawn:
        raise ValueError(
            f"contracts/catalogue.py shows {', '.join(undrawn)} on QuickSight, "
            "but dashboards/quicksight/definition.py does not say how to draw it"
        )
    return [_DRAWN_BY[visual.id](dataset, visual) for visual in shown]


#: (visual id, column, row, column span, row span) on QuickSight's 36-column grid.
_GRID: tuple[tuple[str, int, int, int, int], ...] = (
    ("sentiment-kpi", 0, 0, 12, 8),
    ("emotion-share", 12, 0, 12, 8),
    ("gender-split", 24, 0, 12, 8),
    ("emotions-by-hour", 0, 8, 36, 12),
    ("faces-per-day", 0, 20, 18, 10),
    ("age-bands", 18, 20, 18, 10),
)


def _layout() -> list[dict[str, Any]]:
    elements = [
        {
            "ElementId": visual_id,
            "ElementType": "VISUAL",
            "ColumnIndex": column,
            "RowIndex": row,
            "ColumnSpan": column_span,
            "RowSpan": row_span,
        }
        for visual_id, column, row, column_span, row_span in _GRID
    ]
    return [{"Configuration": {"GridLayout": {"Elements": elements}}}]


STORE_FILTER_ID = "store-filter"
ZONE_FILTER_ID = "zone-filter"
DATE_FILTER_ID = "capture-day-filter"
STORE_CONTROL_ID = "store-control"


def filters(
    dataset: str = DEFAULT_DATASET_IDENTIFIER, *, window_days: int = DEFAULT_WINDOW_DAYS
) -> list[dict[str, Any]]:
    """Store and zone (all values until chosen) and the capture-day range (a rolling window)."""
    if window_days < 1:
        raise ValueError(f"window_days must be at least 1 (got {window_days})")

    def all_values(filter_id: str, column: str) -> dict[str, Any]:
        return {
            "CategoryFilter": {
                "FilterId": filter_id,
                "Column": _column(dataset, column),
                "Configuration": {
                    "FilterListConfiguration": {"MatchOperator": "CONTAINS", "SelectAllOptions": "FILTER_ALL_VALUES"}
                },
            }
        }

    today = "truncDate('DD', now())"
    first_day = f"addDateTime(-{window_days - 1}, 'DD', {today})"
    return [
        all_values(STORE_FILTER_ID, "store_id"),
        all_values(ZONE_FILTER_ID, "zone"),
        {
            "TimeRangeFilter": {
                "FilterId": DATE_FILTER_ID,
                "Column": _column(dataset, "capture_day"),
                "IncludeMinimum": True,
                "IncludeMaximum": True,
                "RangeMinimumValue": {"RollingDate": {"DataSetIdentifier": dataset, "Expression": first_day}},
                "RangeMaximumValue": {"RollingDate": {"DataSetIdentifier": dataset, "Expression": today}},
                "NullOption": "NON_NULLS_ONLY",
                "TimeGranularity": "DAY",
            }
        },
    ]


def filter_controls(dataset: str = DEFAULT_DATASET_IDENTIFIER) -> list[dict[str, Any]]:
    """Sheet controls for the filters (each a one-member ``FilterControl`` union)."""
    return [
        {
            "Dropdown": {
                "FilterControlId": STORE_CONTROL_ID,
                "Title": "Store",
                "SourceFilterId": STORE_FILTER_ID,
                "Type": "MULTI_SELECT",
            }
        },
        {
            "Dropdown": {
                "FilterControlId": "zone-control",
                "Title": "Zone",
                "SourceFilterId": ZONE_FILTER_ID,
                "Type": "MULTI_SELECT",
                # Only the zones of the chosen stores are offered.
                "CascadingControlConfiguration": {
                    "SourceControls": [
                        {"SourceSheetControlId": STORE_CONTROL_ID, "ColumnToMatch": _column(dataset, "store_id")}
                    ]
                },
            }
        },
        {
            "DateTimePicker": {
                "FilterControlId": "date-range-control",
                "Title": "Capture date (UTC)",
                "SourceFilterId": DATE_FILTER_ID,
                "Type": "DATE_RANGE",
            }
        },
    ]


def _filter_groups(dataset: str, window_days: int) -> list[dict[str, Any]]:
    return [
        {
            "FilterGroupId": f"{next(iter(f.values()))['FilterId']}-group",
            "Filters": [f],
            "ScopeConfiguration": {
                "SelectedSheets": {"SheetVisualScopingConfigurations": [{"SheetId": SHEET_ID, "Scope": "ALL_VISUALS"}]}
            },
            "Status": "ENABLED",
            "CrossDataset": "SINGLE_DATASET",
        }
        for f in filters(dataset, window_days=window_days)
    ]


def _definition(dataset_arn: str, dataset: str, window_days: int) -> dict[str, Any]:
    return {
        "DataSetIdentifierDeclarations": [{"Identifier": dataset, "DataSetArn": dataset_arn}],
        "Sheets": [
            {
                "SheetId": SHEET_ID,
                "Name": "Shopper sentiment",
                "FilterControls": filter_controls(dataset),
                "Visuals": visuals(dataset),
                "Layouts": _layout(),
            }
        ],
        "FilterGroups": _filter_groups(dataset, window_days),
    }


def analysis_definition(
    *,
    dataset_arn: str,
    dataset_identifier: str = DEFAULT_DATASET_IDENTIFIER,
    window_days: int = DEFAULT_WINDOW_DAYS,
) -> dict[str, Any]:
    """``Definition`` for ``CreateAnalysis`` (``AnalysisDefinition`` shape)."""
    return _definition(dataset_arn, dataset_identifier, window_days)


def dashboard_definition(
    *,
    dataset_arn: str,
    dataset_identifier: str = DEFAULT_DATASET_IDENTIFIER,
    window_days: int = DEFAULT_WINDOW_DAYS,
) -> dict[str, Any]:
    """``Definition`` for ``CreateDashboard`` (``DashboardVersionDefinition`` shape).

    The same sheet as the analysis, so what an analyst edits and what viewers
    see start identical.
    """
    return _definition(dataset_arn, dataset_identifier, window_days)


def dashboard_publish_options() -> dict[str, Any]:
    """``DashboardPublishOptions``: controls shown, CSV export on, ad hoc filtering on."""
    return {
        "AdHocFilteringOption": {"AvailabilityStatus": "ENABLED"},
        "ExportToCSVOption": {"AvailabilityStatus": "ENABLED"},
        "SheetControlsOption": {"VisibilityState": "EXPANDED"},
    }
