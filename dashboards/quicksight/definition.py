"""The analysis and dashboard Definition, built in code.

One sheet over two datasets (``faces``: one row per face sighting;
``images``: one row per still): the people-present estimate (KPI and by
store-local hour, from the images), the sentiment KPI, attention (faces
turned toward the camera) by hour, the original solution's visuals (stacked
bar of emotion count by hour, pie of emotions, bar of face sightings per
day), age bands and gender split. Store and zone filter controls (the zone
list cascades from the chosen stores) and a date range that defaults to the
last 30 days, like the named queries; the three filters apply to both
datasets (``CrossDataset = ALL_DATASETS``: both have ``store_id``, ``zone``
and ``capture_day``). The date filter is on ``capture_day``, the dataset
SQL's ``CAST(dt AS date)``: the store-local date, and a predicate on the
partition column only. Which visuals, their ids, titles, descriptions and
order come from ``shopper_sentiment/contracts/catalogue.py`` (the local report draws the same
ones); this module says how QuickSight draws each, from which dataset.

QuickSight's Definition members are mostly union-typed structures that
accept exactly one member ("Only 1 member of ... should be provided");
botocore does not check that, ``shopper_sentiment.dashboards.quicksight.validation`` does.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from functools import partial
from typing import Any

from shopper_sentiment.contracts.catalogue import CATALOGUE, Surface, Visual
from shopper_sentiment.contracts.schema import IMAGES_TABLE_NAME, TABLE_NAME

SHEET_ID = "shopper-sentiment"
#: Dataset identifiers inside the definition: the table names.
FACES = TABLE_NAME
IMAGES = IMAGES_TABLE_NAME
DEFAULT_DATASET_IDENTIFIER = FACES
#: How many days the date range control shows by default (today included).
DEFAULT_WINDOW_DAYS = 30


def _column(dataset: str, name: str) -> dict[str, str]:
    return {"DataSetIdentifier": dataset, "ColumnName": name}


def _title(text: str) -> dict[str, Any]:
    return {"Visibility": "VISIBLE", "FormatText": {"PlainText": text}}


def _labels(visual: Visual) -> dict[str, Any]:
    """Title, and the description as subtitle when the catalogue gives one."""
    labels: dict[str, Any] = {"Title": _title(visual.title)}
    if visual.description:
        labels["Subtitle"] = _title(visual.description)
    return labels


def _face_count(dataset: str, visual: Visual) -> dict[str, Any]:
    # The dataset keeps one row per record_id, so COUNT of it is the number of faces.
    return {
        "CategoricalMeasureField": {
            "FieldId": f"{visual.id}-faces",
            "Column": _column(dataset, "record_id"),
            "AggregationFunction": "COUNT",
        }
    }


def _numeric(dataset: str, visual: Visual, column: str, aggregation: str, role: str) -> dict[str, Any]:
    return {
        "NumericalMeasureField": {
            "FieldId": f"{visual.id}-{role}",
            "Column": _column(dataset, column),
            "AggregationFunction": {"SimpleNumericalAggregation": aggregation},
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


#: (dataset, visual) → the measure fields of a chart.
_Measures = Callable[[str, Visual], list[dict[str, Any]]]


def _vertical_bar(
    dataset: str,
    visual: Visual,
    *,
    category: _Dimension,
    colors: _Dimension | None = None,
    values: _Measures | None = None,
    stacked: bool = True,
) -> dict[str, Any]:
    """``values`` (default: faces) per ``category``, split by ``colors`` when given (stacked or side by side)."""
    measures = values(dataset, visual) if values is not None else [_face_count(dataset, visual)]
    wells: dict[str, Any] = {"Category": [category.field(dataset, visual)], "Values": measures}
    if colors is not None:
        wells["Colors"] = [colors.field(dataset, visual)]
    return {
        "BarChartVisual": {
            "VisualId": visual.id,
            **_labels(visual),
            "ChartConfiguration": {
                "FieldWells": {"BarChartAggregatedFieldWells": wells},
                "Orientation": "VERTICAL",
                "BarsArrangement": "STACKED" if colors is not None and stacked else "CLUSTERED",
                "SortConfiguration": {
                    "CategorySort": [{"FieldSort": {"FieldId": f"{visual.id}-{category.role}", "Direction": "ASC"}}]
                },
                "Legend": {"Visibility": "VISIBLE" if colors is not None or len(measures) > 1 else "HIDDEN"},
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
    return {"PieChartVisual": {"VisualId": visual.id, **_labels(visual), "ChartConfiguration": configuration}}


def _kpi_average(dataset: str, visual: Visual, *, column: str, role: str) -> dict[str, Any]:
    """One number: the AVERAGE of ``column`` over the filtered rows."""
    return {
        "KPIVisual": {
            "VisualId": visual.id,
            **_labels(visual),
            "ChartConfiguration": {"FieldWells": {"Values": [_numeric(dataset, visual, column, "AVERAGE", role)]}},
        }
    }


_EMOTION = _Dimension("emotion", "dominant_emotion")
_HOUR = _Dimension("hour", "capture_hour", "NumericalDimensionField")


def _people_present(dataset: str, visual: Visual) -> list[dict[str, Any]]:
    return [
        _numeric(dataset, visual, "people_in_view", "AVERAGE", "average"),
        _numeric(dataset, visual, "people_in_view", "MAX", "peak"),
    ]


def _attention(dataset: str, visual: Visual) -> list[dict[str, Any]]:
    return [_numeric(dataset, visual, "attention_score", "AVERAGE", "attention")]


#: How QuickSight draws each catalogue visual it shows: visual id → (dataset, (dataset, visual) → one ``Visual`` union).
_DRAWN_BY: dict[str, tuple[str, Callable[[str, Visual], dict[str, Any]]]] = {
    # AVERAGE of faces kept per analyzed still (NULL for quarantined ones): people present.
    "people-present-kpi": (IMAGES, partial(_kpi_average, column="people_in_view", role="people")),
    # AVERAGE of 100/0/NULL = % positive of positive + negative.
    "sentiment-kpi": (FACES, partial(_kpi_average, column="sentiment_score", role="index")),
    "emotion-share": (FACES, partial(_pie, category=_EMOTION, donut=False)),
    "people-present-by-hour": (IMAGES, partial(_vertical_bar, category=_HOUR, values=_people_present)),
    # AVERAGE of 100/0/NULL per zone, side by side: averages do not stack.
    "attention-by-hour": (
        FACES,
        partial(_vertical_bar, category=_HOUR, colors=_Dimension("zone", "zone"), values=_attention, stacked=False),
    ),
    "emotions-by-hour": (FACES, partial(_vertical_bar, category=_HOUR, colors=_EMOTION)),
    "faces-per-day": (
        FACES,
        partial(_vertical_bar, category=_Dimension("day", "capture_day", "DateDimensionField", date_granularity="DAY")),
    ),
    "age-bands": (FACES, partial(_vertical_bar, category=_Dimension("band", "age_band"))),
    "gender-split": (FACES, partial(_pie, category=_Dimension("gender", "gender"), donut=True)),
}


def visual_dataset(visual_id: str) -> str:
    """The dataset identifier (table) a QuickSight visual reads."""
    return _DRAWN_BY[visual_id][0]


def visuals(not_collected: Collection[str] = ()) -> list[dict[str, Any]]:
    """The sheet's visuals (each a one-member ``Visual`` union): the catalogue's QuickSight visuals, in its order.

    A visual drawn from an attribute group in ``not_collected`` is left out:
    ``text_boxes`` says in its place that the attribute is not collected.
    """
    shown = CATALOGUE.visuals_on(Surface.QUICKSIGHT)
    undrawn = [visual.id for visual in shown if visual.id not in _DRAWN_BY]
    if undrawn:
        raise ValueError(
            f"shopper_sentiment/contracts/catalogue.py shows {', '.join(undrawn)} on QuickSight, "
            "but dashboards/quicksight/definition.py does not say how to draw it"
        )
    return [
        draw(dataset, visual)
        for visual in shown
        if visual.attribute not in not_collected
        for dataset, draw in [_DRAWN_BY[visual.id]]
    ]


def _not_collected_id(visual_id: str) -> str:
    return f"{visual_id}-not-collected"


def text_boxes(not_collected: Collection[str] = ()) -> list[dict[str, Any]]:
    """A text box in place of each visual whose attribute group no camera collects (an empty chart would mislead)."""
    return [
        {
            "SheetTextBoxId": _not_collected_id(visual.id),
            "Content": f"<text-box>{visual.title}: {visual.attribute} is not collected. The cameras' privacy "
            "profile turns it off (docs/privacy.md).</text-box>",
        }
        for visual in CATALOGUE.visuals_on(Surface.QUICKSIGHT)
        if visual.attribute in not_collected
    ]


#: (visual id, column, row, column span, row span) on QuickSight's 36-column grid.
_GRID: tuple[tuple[str, int, int, int, int], ...] = (
    ("people-present-kpi", 0, 0, 12, 8),
    ("sentiment-kpi", 12, 0, 12, 8),
    ("emotion-share", 24, 0, 12, 8),
    ("people-present-by-hour", 0, 8, 18, 12),
    ("attention-by-hour", 18, 8, 18, 12),
    ("emotions-by-hour", 0, 20, 36, 12),
    ("faces-per-day", 0, 32, 12, 10),
    ("age-bands", 12, 32, 12, 10),
    ("gender-split", 24, 32, 12, 10),
)


def _layout(not_collected: Collection[str] = ()) -> list[dict[str, Any]]:
    off = {visual.id for visual in CATALOGUE.visuals if visual.attribute in not_collected}
    elements = [
        {
            "ElementId": _not_collected_id(visual_id) if visual_id in off else visual_id,
            "ElementType": "TEXT_BOX" if visual_id in off else "VISUAL",
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
    """Store and zone (all values until chosen) and the store-local capture-day range (a rolling window).

    Each names a column of ``dataset``; the filter groups apply them to every
    dataset with a column of that name (both have all three).
    """
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
                "Title": "Capture date (store-local)",
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
            # Both datasets have store_id, zone and capture_day: one control filters both.
            "CrossDataset": "ALL_DATASETS",
        }
        for f in filters(dataset, window_days=window_days)
    ]


def _definition(dataset_arns: Mapping[str, str], window_days: int, not_collected: Collection[str]) -> dict[str, Any]:
    missing = sorted({FACES, IMAGES} - set(dataset_arns))
    if missing:
        raise ValueError(f"dataset_arns needs the ARN of the {', '.join(missing)} dataset (table name → ARN)")
    return {
        "DataSetIdentifierDeclarations": [
            {"Identifier": identifier, "DataSetArn": dataset_arns[identifier]} for identifier in (FACES, IMAGES)
        ],
        "Sheets": [
            {
                "SheetId": SHEET_ID,
                "Name": "Shopper sentiment",
                "FilterControls": filter_controls(FACES),
                "Visuals": visuals(not_collected),
                "Layouts": _layout(not_collected),
                **({"TextBoxes": boxes} if (boxes := text_boxes(not_collected)) else {}),
            }
        ],
        "FilterGroups": _filter_groups(FACES, window_days),
    }


def analysis_definition(
    *, dataset_arns: Mapping[str, str], window_days: int = DEFAULT_WINDOW_DAYS, not_collected: Collection[str] = ()
) -> dict[str, Any]:
    """``Definition`` for ``CreateAnalysis`` (``AnalysisDefinition`` shape); ``dataset_arns``: table → ARN.

    ``not_collected``: attribute groups no camera of the deployment collects.
    """
    return _definition(dataset_arns, window_days, not_collected)


def dashboard_definition(
    *, dataset_arns: Mapping[str, str], window_days: int = DEFAULT_WINDOW_DAYS, not_collected: Collection[str] = ()
) -> dict[str, Any]:
    """``Definition`` for ``CreateDashboard`` (``DashboardVersionDefinition`` shape).

    The same sheet as the analysis, so what an analyst edits and what viewers
    see start identical.
    """
    return _definition(dataset_arns, window_days, not_collected)


def dashboard_publish_options() -> dict[str, Any]:
    """``DashboardPublishOptions``: controls shown, CSV export on, ad hoc filtering on."""
    return {
        "AdHocFilteringOption": {"AvailabilityStatus": "ENABLED"},
        "ExportToCSVOption": {"AvailabilityStatus": "ENABLED"},
        "SheetControlsOption": {"VisibilityState": "EXPANDED"},
    }
