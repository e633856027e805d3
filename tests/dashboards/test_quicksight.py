"""The QuickSight requests are valid for the service model and consistent with the schema.

No AWS: botocore's QuickSight model and ``ParamValidator`` (plus the checks
botocore skips: unions, enums, patterns, maximums) stand in for the service.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Iterator
from typing import Any

import pytest

from contracts.catalogue import CATALOGUE, Catalogue, Surface, Visual
from contracts.schema import COLUMNS, PARTITION_KEYS, Column
from dashboards.measures import AGE_BANDS, NEGATIVE_EMOTIONS, POSITIVE_EMOTIONS, UNKNOWN
from dashboards.quicksight import (
    CALCULATED_COLUMN_TYPES,
    SHEET_ID,
    analysis_definition,
    calculated_columns,
    cloudformation_properties,
    create_analysis_request,
    create_dashboard_request,
    create_data_set_request,
    create_data_source_request,
    create_refresh_schedule_request,
    dashboard_definition,
    dataset_column_types,
    definition,
    input_columns,
    physical_table_map,
    quicksight_type,
)
from dashboards.quicksight.validation import validate_request, validate_shape
from local.athena import parse_athena_sql

ACCOUNT = "123456789012"
PRINCIPAL = "arn:aws:quicksight:us-east-1:123456789012:user/default/analyst"
DATA_SOURCE_ARN = "arn:aws:quicksight:eu-west-1:123456789012:datasource/shopper-sentiment-athena"
DATASET_ARN = "arn:aws:quicksight:eu-west-1:123456789012:dataset/shopper-sentiment-faces"


def analysis_request() -> dict[str, Any]:
    return create_analysis_request(
        aws_account_id=ACCOUNT,
        analysis_id="shopper-sentiment",
        name="Shopper sentiment",
        dataset_arn=DATASET_ARN,
        principal_arn=PRINCIPAL,
    )


def dashboard_request() -> dict[str, Any]:
    return create_dashboard_request(
        aws_account_id=ACCOUNT,
        dashboard_id="shopper-sentiment",
        name="Shopper sentiment",
        dataset_arn=DATASET_ARN,
        principal_arn=PRINCIPAL,
    )


def data_set_request(**overrides: Any) -> dict[str, Any]:
    args: dict[str, Any] = {
        "aws_account_id": ACCOUNT,
        "data_set_id": "shopper-sentiment-faces",
        "name": "Shopper sentiment faces",
        "data_source_arn": DATA_SOURCE_ARN,
        "database": "shopper_sentiment_demo",
        "principal_arn": PRINCIPAL,
    }
    return create_data_set_request(**{**args, **overrides})


REQUESTS = {
    "CreateAnalysis": analysis_request,
    "CreateDashboard": dashboard_request,
    "CreateDataSet(SPICE)": data_set_request,
    "CreateDataSet(DIRECT_QUERY)": lambda: data_set_request(import_mode="DIRECT_QUERY", lookback_days=30),
    "CreateDataSource": lambda: create_data_source_request(
        aws_account_id=ACCOUNT,
        data_source_id="shopper-sentiment-athena",
        name="Shopper sentiment (Athena)",
        workgroup="shopper-sentiment-demo",
        principal_arn=PRINCIPAL,
    ),
    "CreateRefreshSchedule": lambda: create_refresh_schedule_request(
        aws_account_id=ACCOUNT, data_set_id="shopper-sentiment-faces"
    ),
}


# --- against the service model ------------------------------------------------------------------


@pytest.mark.parametrize("label", REQUESTS)
def test_request_is_valid_input_for_its_quicksight_operation(label: str) -> None:
    operation = label.split("(")[0]
    assert validate_request(operation, REQUESTS[label]()) == []


def test_validator_reports_a_union_with_two_members() -> None:
    # The pitfall QuickSight answers with "Only 1 member of ... should be provided".
    request = analysis_request()
    visual = request["Definition"]["Sheets"][0]["Visuals"][0]
    visual["PieChartVisual"] = {"VisualId": "extra"}
    errors = validate_request("CreateAnalysis", request)
    assert any("Visuals[0]: Visual is a union" in e for e in errors), errors


def test_validator_reports_unknown_members_missing_members_and_bad_enums() -> None:
    request = dashboard_request()
    sheet = request["Definition"]["Sheets"][0]
    sheet["Colour"] = "red"
    del sheet["SheetId"]
    sheet["Visuals"][3]["BarChartVisual"]["ChartConfiguration"]["Orientation"] = "DIAGONAL"
    report = "\n".join(validate_request("CreateDashboard", request))
    assert 'Unknown parameter in Definition.Sheets[0]: "Colour"' in report
    assert 'Missing required parameter in Definition.Sheets[0]: "SheetId"' in report
    assert "'DIAGONAL' is not one of" in report


def test_validator_reports_ids_that_break_the_model_pattern() -> None:
    request = data_set_request()
    request["PhysicalTableMap"] = {"faces table!": request["PhysicalTableMap"]["faces"]}
    assert any("does not match" in e for e in validate_request("CreateDataSet", request))


def test_analysis_and_dashboard_definitions_fit_their_shapes_and_show_the_same_sheet() -> None:
    analysis = analysis_definition(dataset_arn=DATASET_ARN)
    dashboard = dashboard_definition(dataset_arn=DATASET_ARN)
    assert validate_shape("AnalysisDefinition", analysis) == []
    assert validate_shape("DashboardVersionDefinition", dashboard) == []
    assert analysis == dashboard


def test_definition_is_parameterised_by_dataset_arn_and_identifier() -> None:
    definition = analysis_definition(dataset_arn=DATASET_ARN, dataset_identifier="store-faces")
    assert definition["DataSetIdentifierDeclarations"] == [{"Identifier": "store-faces", "DataSetArn": DATASET_ARN}]
    assert {c["DataSetIdentifier"] for c in column_identifiers(definition)} == {"store-faces"}


# --- the dataset follows the schema -------------------------------------------------------------


def test_dataset_columns_are_every_schema_column_and_partition_key_with_mapped_types() -> None:
    expected = {
        "string": "STRING",
        "int": "INTEGER",
        "double": "DECIMAL",
        "boolean": "BOOLEAN",
        "timestamp": "DATETIME",
    }
    assert [(c["Name"], c["Type"]) for c in input_columns()] == [
        (c.name, expected[c.type]) for c in COLUMNS + PARTITION_KEYS
    ]
    assert all(c.get("SubType") == "FLOAT" for c in input_columns() if c["Type"] == "DECIMAL")


def test_a_glue_type_without_quicksight_mapping_is_refused_by_name() -> None:
    with pytest.raises(ValueError, match="'map<string,int>'"):
        input_columns((Column("tags", "map<string,int>", "not mapped"),))
    assert quicksight_type("double") == ("DECIMAL", "FLOAT")


def _field_references(expression: str) -> set[str]:
    return set(re.findall(r"\{(\w+)\}", expression))


def test_calculated_fields_reference_only_schema_columns() -> None:
    schema = {c.name for c in COLUMNS + PARTITION_KEYS}
    for column in calculated_columns():
        assert _field_references(column["Expression"]), column
        assert _field_references(column["Expression"]) <= schema, column["ColumnName"]
    assert {c["ColumnName"] for c in calculated_columns()} == set(CALCULATED_COLUMN_TYPES)
    assert not set(CALCULATED_COLUMN_TYPES) & schema, "a calculated field must not shadow a column"


def test_calculated_fields_use_the_age_bands_and_sentiment_split_of_the_sql() -> None:
    fields = {c["ColumnName"]: c["Expression"] for c in calculated_columns()}
    assert re.findall(r"'([^']+)'", fields["age_band"]) == [UNKNOWN, *(label for label, _ in AGE_BANDS)]
    assert [int(b) for b in re.findall(r"< (\d+)", fields["age_band"])] == [lower for _, lower in AGE_BANDS[1:]]
    positive, negative = (re.findall(r"= '(\w+)'", part) for part in fields["sentiment"].split("'positive'"))
    assert tuple(positive) == POSITIVE_EMOTIONS
    assert tuple(negative) == NEGATIVE_EMOTIONS
    score_positive, score_negative = (
        re.findall(r"= '(\w+)'", part) for part in fields["sentiment_score"].split(", 100,")
    )
    assert (tuple(score_positive), tuple(score_negative)) == (POSITIVE_EMOTIONS, NEGATIVE_EMOTIONS)
    assert fields["sentiment_score"].startswith("nullIf(") and fields["sentiment_score"].endswith(", 0, -1), -1)")


def test_direct_query_custom_sql_prunes_by_dt_and_parses_as_athena_sql() -> None:
    table = physical_table_map(DATA_SOURCE_ARN, database="shopper_sentiment_demo", lookback_days=7)["faces"]
    sql = table["CustomSql"]["SqlQuery"]
    assert "dt >= date_format(current_date - INTERVAL '6' DAY" in sql
    parse_athena_sql(sql)
    assert table["CustomSql"]["Columns"] == input_columns()
    with pytest.raises(ValueError, match="lookback_days"):
        physical_table_map(DATA_SOURCE_ARN, database="db", lookback_days=0)


def test_spice_dataset_reads_the_glue_table_in_the_configured_database() -> None:
    table = data_set_request()["PhysicalTableMap"]["faces"]["RelationalTable"]
    assert (table["Catalog"], table["Schema"], table["Name"]) == ("AwsDataCatalog", "shopper_sentiment_demo", "faces")
    assert data_set_request()["ImportMode"] == "SPICE"


# --- the definition references only what exists -------------------------------------------------


def _dicts(node: Any) -> Iterator[dict[str, Any]]:
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from _dicts(value)
    elif isinstance(node, list):
        for item in node:
            yield from _dicts(item)


def column_identifiers(definition: dict[str, Any]) -> list[dict[str, Any]]:
    return [d for d in _dicts(definition) if "ColumnName" in d and set(d) <= {"ColumnName", "DataSetIdentifier"}]


def test_every_column_a_visual_filter_or_control_uses_exists_in_the_dataset() -> None:
    definition = analysis_definition(dataset_arn=DATASET_ARN)
    analysis_fields = {f["Name"] for f in definition.get("CalculatedFields", [])}
    known = set(dataset_column_types()) | analysis_fields
    used = column_identifiers(definition)
    assert len(used) >= 10
    assert {c["ColumnName"] for c in used} <= known
    declared = {d["Identifier"] for d in definition["DataSetIdentifierDeclarations"]}
    assert {c["DataSetIdentifier"] for c in used} <= declared
    for expression in [f["Expression"] for f in definition.get("CalculatedFields", [])] + [
        d["Expression"] for d in _dicts(definition) if "Expression" in d and "Name" not in d
    ]:
        assert _field_references(expression) <= set(dataset_column_types()), expression


def test_reference_check_notices_a_column_the_dataset_lacks() -> None:
    definition = analysis_definition(dataset_arn=DATASET_ARN)
    broken = copy.deepcopy(definition)
    broken["Sheets"][0]["Visuals"][1]["PieChartVisual"]["ChartConfiguration"]["FieldWells"][
        "PieChartAggregatedFieldWells"
    ]["Category"][0]["CategoricalDimensionField"]["Column"]["ColumnName"] = "mood"
    known = set(dataset_column_types()) | {f["Name"] for f in broken.get("CalculatedFields", [])}
    assert not {c["ColumnName"] for c in column_identifiers(broken)} <= known


def _visuals() -> dict[str, dict[str, Any]]:
    sheet = analysis_definition(dataset_arn=DATASET_ARN)["Sheets"][0]
    return {next(iter(v.values()))["VisualId"]: v for v in sheet["Visuals"]}


def _well_columns(wells: dict[str, Any], name: str) -> list[str]:
    return [next(iter(f.values()))["Column"]["ColumnName"] for f in wells.get(name, [])]


def test_original_solution_visuals_are_there() -> None:
    visuals = _visuals()
    stacked = visuals["emotions-by-hour"]["BarChartVisual"]["ChartConfiguration"]
    wells = stacked["FieldWells"]["BarChartAggregatedFieldWells"]
    assert (stacked["Orientation"], stacked["BarsArrangement"]) == ("VERTICAL", "STACKED")
    assert _well_columns(wells, "Category") == ["capture_hour"]
    assert _well_columns(wells, "Colors") == ["dominant_emotion"]
    assert wells["Values"][0]["CategoricalMeasureField"]["AggregationFunction"] == "COUNT"

    pie = visuals["emotion-share"]["PieChartVisual"]["ChartConfiguration"]["FieldWells"]
    assert _well_columns(pie["PieChartAggregatedFieldWells"], "Category") == ["dominant_emotion"]

    per_day = visuals["faces-per-day"]["BarChartVisual"]["ChartConfiguration"]
    assert per_day["Orientation"] == "VERTICAL"
    day = per_day["FieldWells"]["BarChartAggregatedFieldWells"]["Category"][0]["DateDimensionField"]
    assert (day["Column"]["ColumnName"], day["DateGranularity"]) == ("capture_day", "DAY")


def test_age_gender_and_sentiment_kpi_visuals_are_there() -> None:
    visuals = _visuals()
    ages = visuals["age-bands"]["BarChartVisual"]["ChartConfiguration"]["FieldWells"]["BarChartAggregatedFieldWells"]
    assert _well_columns(ages, "Category") == ["age_band"]
    gender = visuals["gender-split"]["PieChartVisual"]["ChartConfiguration"]["FieldWells"]
    assert _well_columns(gender["PieChartAggregatedFieldWells"], "Category") == ["gender"]
    kpi = visuals["sentiment-kpi"]["KPIVisual"]["ChartConfiguration"]["FieldWells"]
    assert _well_columns(kpi, "Values") == ["sentiment_score"]
    average = kpi["Values"][0]["NumericalMeasureField"]["AggregationFunction"]
    assert average == {"SimpleNumericalAggregation": "AVERAGE"}


def test_the_sheet_shows_the_catalogues_quicksight_visuals_in_its_order_with_its_titles() -> None:
    shown = [
        (visual["VisualId"], visual["Title"]["FormatText"]["PlainText"])
        for visual in (
            next(iter(v.values())) for v in analysis_definition(dataset_arn=DATASET_ARN)["Sheets"][0]["Visuals"]
        )
    ]

    assert shown == [(visual.id, visual.title) for visual in CATALOGUE.visuals_on(Surface.QUICKSIGHT)]


def test_a_catalogue_visual_the_sheet_cannot_draw_is_refused_by_name(monkeypatch: pytest.MonkeyPatch) -> None:
    dwell = Visual("dwell-time", "Dwell time", "visitors_per_day", frozenset({Surface.QUICKSIGHT}))
    monkeypatch.setattr(definition, "CATALOGUE", Catalogue(CATALOGUE.queries, (*CATALOGUE.visuals, dwell)))

    with pytest.raises(ValueError, match="dwell-time on QuickSight"):
        definition.visuals()


def test_every_visual_is_laid_out_once_and_ids_are_unique() -> None:
    sheet = analysis_definition(dataset_arn=DATASET_ARN)["Sheets"][0]
    elements = sheet["Layouts"][0]["Configuration"]["GridLayout"]["Elements"]
    assert sorted(e["ElementId"] for e in elements) == sorted(_visuals())
    assert len(_visuals()) == len(sheet["Visuals"]) == 6
    for element in elements:
        assert element["ColumnIndex"] + element["ColumnSpan"] <= 36


def test_store_zone_and_date_range_controls_drive_filters_on_every_visual() -> None:
    definition = analysis_definition(dataset_arn=DATASET_ARN)
    groups = definition["FilterGroups"]
    filters = {next(iter(f.values()))["FilterId"]: f for g in groups for f in g["Filters"]}
    controls = [next(iter(c.items())) for c in definition["Sheets"][0]["FilterControls"]]
    by_column = {
        next(iter(filters[body["SourceFilterId"]].values()))["Column"]["ColumnName"]: (kind, body)
        for kind, body in controls
    }
    assert set(by_column) == {"store_id", "zone", "capture_day"}
    assert by_column["store_id"][0] == by_column["zone"][0] == "Dropdown"
    assert by_column["capture_day"][0] == "DateTimePicker"
    assert by_column["capture_day"][1]["Type"] == "DATE_RANGE"
    assert "TimeRangeFilter" in filters[by_column["capture_day"][1]["SourceFilterId"]]
    for group in groups:
        scope = group["ScopeConfiguration"]["SelectedSheets"]["SheetVisualScopingConfigurations"]
        assert scope == [{"SheetId": SHEET_ID, "Scope": "ALL_VISUALS"}]


def test_date_range_defaults_to_the_named_queries_window() -> None:
    definition = analysis_definition(dataset_arn=DATASET_ARN)
    date_filter = next(
        f["TimeRangeFilter"] for g in definition["FilterGroups"] for f in g["Filters"] if "TimeRangeFilter" in f
    )
    assert date_filter["RangeMinimumValue"]["RollingDate"]["Expression"] == (
        "addDateTime(-29, 'DD', truncDate('DD', now()))"
    )
    assert date_filter["IncludeMinimum"] and date_filter["IncludeMaximum"]


@pytest.mark.parametrize(
    ("label", "kind"),
    [
        ("CreateAnalysis", "Analysis"),
        ("CreateDashboard", "Dashboard"),
        ("CreateDataSet(SPICE)", "DataSet"),
        ("CreateDataSource", "DataSource"),
    ],
)
def test_configured_principal_owns_every_resource(label: str, kind: str) -> None:
    permissions = REQUESTS[label]()["Permissions"]
    assert [p["Principal"] for p in permissions] == [PRINCIPAL]
    actions = permissions[0]["Actions"]
    assert f"quicksight:Describe{kind}" in actions
    assert f"quicksight:Update{kind}Permissions" in actions


def test_without_a_principal_no_permissions_are_set() -> None:
    request = create_analysis_request(aws_account_id=ACCOUNT, analysis_id="a", name="a", dataset_arn=DATASET_ARN)
    assert "Permissions" not in request


# --- as CloudFormation resources ----------------------------------------------------------------


@pytest.fixture(scope="module")
def cfn_lint_findings() -> list[str]:
    from cfnlint.api import ManualArgs, lint

    resources = {}
    for index, (label, build) in enumerate(REQUESTS.items()):
        request = build()
        if "DataSetId" in request and label != "CreateRefreshSchedule":
            request["DataSetId"] = f"{request['DataSetId']}-{index}"  # one template, unique ids
        resource_type, properties = cloudformation_properties(label.split("(")[0], request)
        resources[f"Resource{index}"] = {"Type": resource_type, "Properties": properties}
    template = {"AWSTemplateFormatVersion": "2010-09-09", "Resources": resources}
    return [str(m) for m in lint(json.dumps(template), config=ManualArgs(regions=["eu-west-1", "us-east-1"]))]


def test_requests_are_valid_cloudformation_resource_properties(cfn_lint_findings: list[str]) -> None:
    assert cfn_lint_findings == []


def test_refresh_schedule_time_zone_is_spelled_the_cloudformation_way() -> None:
    resource_type, properties = cloudformation_properties("CreateRefreshSchedule", REQUESTS["CreateRefreshSchedule"]())
    assert resource_type == "AWS::QuickSight::RefreshSchedule"
    assert properties["Schedule"]["ScheduleFrequency"]["TimeZone"] == "UTC"
    assert "Timezone" not in properties["Schedule"]["ScheduleFrequency"]
