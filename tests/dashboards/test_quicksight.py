"""The QuickSight requests are valid for the service model and consistent with the schema.

No AWS: botocore's QuickSight model and ``ParamValidator`` (plus the checks
botocore skips: unions, enums, patterns, maximums) stand in for the service.
"""

from __future__ import annotations

import copy
import datetime as dt
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import pytest
from shopper_sentiment.dashboards.measures import (
    AGE_BANDS,
    ATTENTION_MAX_ABS_PITCH,
    ATTENTION_MAX_ABS_YAW,
    NEGATIVE_EMOTIONS,
    POSITIVE_EMOTIONS,
    UNKNOWN,
)
from shopper_sentiment.dashboards.quicksight import (
    CALCULATED_COLUMN_TYPES,
    DATASET_TABLES,
    DEDUPE_KEYS,
    DERIVED_COLUMNS,
    DOCUMENTED_RETURN_TYPES,
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
    dataset_columns,
    dataset_sql,
    definition,
    input_columns,
    physical_table_map,
    quicksight_type,
    visual_dataset,
)
from shopper_sentiment.dashboards.quicksight.validation import validate_request, validate_shape
from sqlglot import exp

from local.athena import connect, parse_athena_sql, run_query
from shopper_sentiment.contracts.catalogue import (
    ATTENTION_METHOD,
    CATALOGUE,
    PEOPLE_PRESENT_METHOD,
    Catalogue,
    Surface,
    Visual,
)
from shopper_sentiment.contracts.identifiers import CHECK_DEVICE_ID, CHECK_STORE_ID
from shopper_sentiment.contracts.schema import IMAGES_TABLE_NAME, PARTITION_KEYS, TABLE_NAME, TABLES, Column
from tests.dashboards.curated_rows import write_rows
from tests.dashboards.test_queries import (
    QUERIES_DIR,
    TODAY,
    check_face_records,
    check_image_records,
    face_records,
    image_records,
    reanalyzed,
    unpruned_reads_of_faces,
)

ACCOUNT = "123456789012"
PRINCIPAL = "arn:aws:quicksight:us-east-1:123456789012:user/default/analyst"
DATA_SOURCE_ARN = "arn:aws:quicksight:eu-west-1:123456789012:datasource/shopper-sentiment-athena"
DATASET_ARNS = {
    table: f"arn:aws:quicksight:eu-west-1:123456789012:dataset/shopper-sentiment-{table}" for table in DATASET_TABLES
}


def analysis_request() -> dict[str, Any]:
    return create_analysis_request(
        aws_account_id=ACCOUNT,
        analysis_id="shopper-sentiment",
        name="Shopper sentiment",
        dataset_arns=DATASET_ARNS,
        principal_arn=PRINCIPAL,
    )


def dashboard_request() -> dict[str, Any]:
    return create_dashboard_request(
        aws_account_id=ACCOUNT,
        dashboard_id="shopper-sentiment",
        name="Shopper sentiment",
        dataset_arns=DATASET_ARNS,
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
    "CreateDataSet(images)": lambda: data_set_request(
        data_set_id="shopper-sentiment-images", name="Shopper sentiment images", table=IMAGES_TABLE_NAME
    ),
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
    analysis = analysis_definition(dataset_arns=DATASET_ARNS)
    dashboard = dashboard_definition(dataset_arns=DATASET_ARNS)
    assert validate_shape("AnalysisDefinition", analysis) == []
    assert validate_shape("DashboardVersionDefinition", dashboard) == []
    assert analysis == dashboard


def test_definition_declares_one_dataset_per_table_by_its_arn() -> None:
    definition = analysis_definition(dataset_arns=DATASET_ARNS)
    assert definition["DataSetIdentifierDeclarations"] == [
        {"Identifier": "faces", "DataSetArn": DATASET_ARNS["faces"]},
        {"Identifier": "images", "DataSetArn": DATASET_ARNS["images"]},
    ]
    assert {c["DataSetIdentifier"] for c in column_identifiers(definition)} == {"faces", "images"}
    with pytest.raises(ValueError, match="images dataset"):
        analysis_definition(dataset_arns={"faces": DATASET_ARNS["faces"]})


# --- the datasets follow the schema -----------------------------------------------------------


@pytest.mark.parametrize("table", DATASET_TABLES)
def test_dataset_columns_are_every_schema_column_and_partition_key_then_the_derived_ones(table: str) -> None:
    expected = {
        "string": "STRING",
        "int": "INTEGER",
        "double": "DECIMAL",
        "boolean": "BOOLEAN",
        "timestamp": "DATETIME",
        "date": "DATETIME",
    }
    derived = [(d.name, d.type) for d in DERIVED_COLUMNS[table]]
    assert [(c["Name"], c["Type"]) for c in input_columns(table=table)] == [
        (c.name, expected[c.type]) for c in TABLES[table] + PARTITION_KEYS
    ] + [(name, expected[kind]) for name, kind in derived]
    assert all(c.get("SubType") == "FLOAT" for c in input_columns(table=table) if c["Type"] == "DECIMAL")
    assert [d.name for d in DERIVED_COLUMNS[table]][:2] == ["capture_day", "capture_hour"]


def test_a_glue_type_without_quicksight_mapping_is_refused_by_name() -> None:
    with pytest.raises(ValueError, match="'map<string,int>'"):
        input_columns((Column("tags", "map<string,int>", "not mapped"),))
    assert quicksight_type("double") == ("DECIMAL", "FLOAT")


def _field_references(expression: str) -> set[str]:
    return set(re.findall(r"\{(\w+)\}", expression))


def test_calculated_fields_reference_only_dataset_columns() -> None:
    columns = {c.name for c in dataset_columns(TABLE_NAME)}
    for column in calculated_columns():
        assert _field_references(column["Expression"]), column
        assert _field_references(column["Expression"]) <= columns, column["ColumnName"]
    assert {c["ColumnName"] for c in calculated_columns()} == set(CALCULATED_COLUMN_TYPES)
    assert not set(CALCULATED_COLUMN_TYPES) & columns, "a calculated field must not shadow a column"
    assert calculated_columns(IMAGES_TABLE_NAME) == []


def _functions(expression: str) -> set[str]:
    return set(re.findall(r"(\w+)\(", expression))


def _then_values(expression: str) -> list[str]:
    """The then- and else-expressions of a top-level ifelse(c1, v1, ..., else) whose values are literals."""
    inner = expression.removeprefix("ifelse(").removesuffix(")")
    parts = [part.strip() for part in re.split(r",\s*(?=(?:[^']*'[^']*')*[^']*$)", inner)]
    return [*parts[1::2], parts[-1]]


def test_every_calculated_field_has_the_type_quicksight_documents_for_its_functions() -> None:
    # nullIf is documented as returning String whatever its arguments: averaging one is not allowed.
    for column in calculated_columns():
        used = _functions(column["Expression"])
        assert used <= set(DOCUMENTED_RETURN_TYPES), (column["ColumnName"], used - set(DOCUMENTED_RETURN_TYPES))
        assert column["Expression"].startswith("ifelse(")
        values = _then_values(column["Expression"])
        # ifelse returns the type of its then-expressions: here all string literals.
        assert all(re.fullmatch(r"'[^']*'", v) for v in values), values
        assert CALCULATED_COLUMN_TYPES[column["ColumnName"]] == "STRING"
    assert "nullIf" not in DOCUMENTED_RETURN_TYPES


def test_calculated_fields_use_the_age_bands_and_sentiment_split_of_the_sql() -> None:
    fields = {c["ColumnName"]: c["Expression"] for c in calculated_columns()}
    assert re.findall(r"'([^']+)'", fields["age_band"]) == [UNKNOWN, *(label for label, _ in AGE_BANDS)]
    assert [int(b) for b in re.findall(r"< (\d+)", fields["age_band"])] == [lower for _, lower in AGE_BANDS[1:]]
    positive, negative = (re.findall(r"= '(\w+)'", part) for part in fields["sentiment"].split("'positive'"))
    assert tuple(positive) == POSITIVE_EMOTIONS
    assert tuple(negative) == NEGATIVE_EMOTIONS


def test_derived_scores_use_the_sentiment_split_and_attention_limits_of_the_measures() -> None:
    derived = {d.name: d.sql for d in DERIVED_COLUMNS[TABLE_NAME]}
    tree = parse_athena_sql(f"SELECT {derived['sentiment_score']} AS s FROM faces WHERE dt >= '2026-01-01'")
    lists = [tuple(v.name for v in node.expressions) for node in tree.find_all(exp.In)]
    assert lists == [POSITIVE_EMOTIONS, NEGATIVE_EMOTIONS]
    tree = parse_athena_sql(f"SELECT {derived['attention_score']} AS a FROM faces WHERE dt >= '2026-01-01'")
    limits = {(n.this.this.name, int(n.expression.name)) for n in tree.find_all(exp.LTE) if isinstance(n.this, exp.Abs)}
    assert limits == {("pose_yaw", ATTENTION_MAX_ABS_YAW), ("pose_pitch", ATTENTION_MAX_ABS_PITCH)}


@pytest.mark.parametrize("table", DATASET_TABLES)
def test_dataset_sql_always_bounds_dt_reads_its_glue_table_and_parses_as_athena_sql(table: str) -> None:
    custom = data_set_request(table=table, lookback_days=7)["PhysicalTableMap"][table]["CustomSql"]
    sql = custom["SqlQuery"]
    tree = parse_athena_sql(sql)
    assert [t.sql("trino") for t in tree.find_all(exp.Table)] == [f'"shopper_sentiment_demo"."{table}"']
    assert unpruned_reads_of_faces(sql) == []
    assert "dt >= date_format(current_date - INTERVAL '6' DAY, '%Y-%m-%d')" in sql
    assert custom["Columns"] == input_columns(table=table)
    # The default window is the config's default, 90 days: there is no unbounded dataset.
    default = data_set_request(table=table)["PhysicalTableMap"][table]["CustomSql"]["SqlQuery"]
    assert "INTERVAL '89' DAY" in default
    for bad in (0, -1, None, 1.5, True):
        with pytest.raises(ValueError, match="lookback_days"):
            physical_table_map(DATA_SOURCE_ARN, database="db", table=table, lookback_days=bad)  # type: ignore[arg-type]


def _datasets_over(root: Path) -> duckdb.DuckDBPyConnection:
    """A DuckDB over ``root`` where the dataset SQL's "db"."<table>" names resolve."""
    con = connect(root)
    con.execute("CREATE SCHEMA db")
    for table in DATASET_TABLES:
        con.execute(f"CREATE VIEW db.{table} AS SELECT * FROM main.{table}")
    return con


@pytest.fixture(scope="module")
def duplicated_bucket(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("dataset-duplicates")
    for table, records in ((TABLE_NAME, face_records()), (IMAGES_TABLE_NAME, image_records())):
        write_rows(root, table, records)
        write_rows(root, table, [reanalyzed(r) for r in records], object_name="part-00001.parquet")
    return root


@pytest.mark.parametrize("table", DATASET_TABLES)
def test_dataset_sql_keeps_one_row_per_id_the_first_analysis_within_the_window(
    table: str, duplicated_bucket: Path
) -> None:
    con = _datasets_over(duplicated_bucket)
    sql = dataset_sql(database="db", table=table, lookback_days=30)
    result = run_query(con, sql, today=TODAY).as_dicts()
    key = DEDUPE_KEYS[table]
    records = face_records() if table == TABLE_NAME else image_records()
    in_window = {r[key]: r for r in records if r["dt"] >= "2026-02-14"}
    assert sorted(row[key] for row in result) == sorted(in_window)
    assert [row["processed_at"] for row in result] == [
        dt.datetime.fromtimestamp(in_window[row[key]]["processed_at"] / 1000, dt.UTC).replace(tzinfo=None)
        for row in result
    ]
    assert [c.lower() for c in run_query(con, sql, today=TODAY).columns] == [
        c["Name"] for c in input_columns(table=table)
    ]


@pytest.mark.parametrize("table", DATASET_TABLES)
def test_dataset_sql_leaves_out_the_deployment_checks_rows(table: str, tmp_path: Path) -> None:
    records = face_records() if table == TABLE_NAME else image_records()
    check = check_face_records() if table == TABLE_NAME else check_image_records()
    write_rows(tmp_path, table, records + check)
    con = _datasets_over(tmp_path)
    sql = dataset_sql(database="db", table=table, lookback_days=30)
    key = DEDUPE_KEYS[table]
    result = run_query(con, sql, today=TODAY).as_dicts()
    assert sorted(row[key] for row in result) == sorted(r[key] for r in records if r["dt"] >= "2026-02-14")
    assert not [row for row in result if row["store_id"] == CHECK_STORE_ID or row["device_id"] == CHECK_DEVICE_ID]
    # The check's rows are in the window: without the exclusion the dataset would show them.
    exclusion = f"AND store_id <> '{CHECK_STORE_ID}'"
    assert exclusion in sql
    leaky = run_query(con, sql.replace(exclusion, ""), today=TODAY).as_dicts()
    assert {row[key] for row in leaky} - {row[key] for row in result} == {r[key] for r in check}


def _named(name: str, root: Path) -> list[tuple[Any, ...]]:
    return run_query(root, (QUERIES_DIR / f"{name}.sql").read_text(), today=TODAY).rows


def _dataset_aggregate(root: Path, table: str, select: str, group: str) -> list[tuple[Any, ...]]:
    inner = dataset_sql(database="db", table=table, lookback_days=30)
    sql = f"SELECT {group}, {select} FROM ({inner}) AS d GROUP BY {group} ORDER BY {group}"
    return run_query(_datasets_over(root), sql, today=TODAY).rows


def test_quicksight_averages_of_the_dataset_give_the_named_queries_answers(duplicated_bucket: Path) -> None:
    # What the visuals compute (AVERAGE / MAX of the dataset's columns) equals the named queries' answers,
    # duplicates included: the SQL and QuickSight definitions of each measure are in step.
    zone_hour = "store_id, zone, capture_hour"
    attention = _dataset_aggregate(duplicated_bucket, TABLE_NAME, "round(avg(attention_score), 1)", zone_hour)
    assert attention == [(*r[:3], r[6]) for r in _named("attention_by_zone_hour", duplicated_bucket)]
    people = _dataset_aggregate(
        duplicated_bucket,
        IMAGES_TABLE_NAME,
        "round(avg(CAST(people_in_view AS double)), 2), max(people_in_view)",
        zone_hour,
    )
    expected = [(*r[:3], r[5], r[6]) for r in _named("people_present_by_zone_hour", duplicated_bucket)]
    assert [row for row in people if row[3] is not None] == expected
    sentiment = _dataset_aggregate(
        duplicated_bucket, TABLE_NAME, "round(avg(sentiment_score), 1)", "capture_day, store_id, zone"
    )
    assert [(str(d), s, z, i) for d, s, z, i in sentiment] == [
        (d, s, z, i) for d, s, z, _, _, i in _named("sentiment_index", duplicated_bucket)
    ]


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


def test_every_column_a_visual_filter_or_control_uses_exists_in_its_dataset() -> None:
    definition = analysis_definition(dataset_arns=DATASET_ARNS)
    assert "CalculatedFields" not in definition
    used = column_identifiers(definition)
    assert len(used) >= 10
    for column in used:
        assert column["ColumnName"] in dataset_column_types(column["DataSetIdentifier"]), column
    declared = {d["Identifier"] for d in definition["DataSetIdentifierDeclarations"]}
    assert {c["DataSetIdentifier"] for c in used} == declared
    for expression in [d["Expression"] for d in _dicts(definition) if "Expression" in d and "Name" not in d]:
        assert _field_references(expression) <= set(dataset_column_types()), expression


def test_filters_apply_to_both_datasets_through_columns_both_have() -> None:
    definition = analysis_definition(dataset_arns=DATASET_ARNS)
    for group in definition["FilterGroups"]:
        assert group["CrossDataset"] == "ALL_DATASETS"
        for f in group["Filters"]:
            column = next(iter(f.values()))["Column"]["ColumnName"]
            assert all(column in dataset_column_types(table) for table in DATASET_TABLES), column


def test_reference_check_notices_a_column_the_dataset_lacks() -> None:
    definition = analysis_definition(dataset_arns=DATASET_ARNS)
    broken = copy.deepcopy(definition)
    broken["Sheets"][0]["Visuals"][2]["PieChartVisual"]["ChartConfiguration"]["FieldWells"][
        "PieChartAggregatedFieldWells"
    ]["Category"][0]["CategoricalDimensionField"]["Column"]["ColumnName"] = "mood"
    assert not all(c["ColumnName"] in dataset_column_types(c["DataSetIdentifier"]) for c in column_identifiers(broken))


def _visuals() -> dict[str, dict[str, Any]]:
    sheet = analysis_definition(dataset_arns=DATASET_ARNS)["Sheets"][0]
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


def _aggregations(wells: dict[str, Any]) -> list[tuple[str, str]]:
    return [
        (
            f["NumericalMeasureField"]["Column"]["ColumnName"],
            f["NumericalMeasureField"]["AggregationFunction"]["SimpleNumericalAggregation"],
        )
        for f in wells["Values"]
    ]


def test_people_present_is_the_average_and_peak_of_people_in_view_per_still_from_the_images() -> None:
    visuals = _visuals()
    kpi = visuals["people-present-kpi"]["KPIVisual"]
    assert _aggregations(kpi["ChartConfiguration"]["FieldWells"]) == [("people_in_view", "AVERAGE")]
    hourly = visuals["people-present-by-hour"]["BarChartVisual"]
    wells = hourly["ChartConfiguration"]["FieldWells"]["BarChartAggregatedFieldWells"]
    assert _well_columns(wells, "Category") == ["capture_hour"]
    assert _aggregations(wells) == [("people_in_view", "AVERAGE"), ("people_in_view", "MAX")]
    assert {c["DataSetIdentifier"] for c in column_identifiers(kpi) + column_identifiers(hourly)} == {"images"}
    for visual in (kpi, hourly):
        assert visual["Subtitle"]["FormatText"]["PlainText"] == PEOPLE_PRESENT_METHOD
    assert visual_dataset("people-present-kpi") == "images"


def test_attention_averages_the_attention_score_per_local_hour_and_zone_side_by_side() -> None:
    attention = _visuals()["attention-by-hour"]["BarChartVisual"]
    configuration = attention["ChartConfiguration"]
    wells = configuration["FieldWells"]["BarChartAggregatedFieldWells"]
    assert _well_columns(wells, "Category") == ["capture_hour"]
    assert _well_columns(wells, "Colors") == ["zone"]
    assert _aggregations(wells) == [("attention_score", "AVERAGE")]
    assert configuration["BarsArrangement"] == "CLUSTERED"  # averages do not add up
    assert attention["Subtitle"]["FormatText"]["PlainText"] == ATTENTION_METHOD


def test_no_visual_calls_a_face_count_visitors() -> None:
    text = json.dumps(analysis_definition(dataset_arns=DATASET_ARNS)).lower()
    assert "visitor" not in text


def test_the_sheet_shows_the_catalogues_quicksight_visuals_in_its_order_with_its_titles() -> None:
    shown = [
        (visual["VisualId"], visual["Title"]["FormatText"]["PlainText"])
        for visual in (
            next(iter(v.values())) for v in analysis_definition(dataset_arns=DATASET_ARNS)["Sheets"][0]["Visuals"]
        )
    ]

    assert shown == [(visual.id, visual.title) for visual in CATALOGUE.visuals_on(Surface.QUICKSIGHT)]


def test_a_catalogue_visual_the_sheet_cannot_draw_is_refused_by_name(monkeypatch: pytest.MonkeyPatch) -> None:
    dwell = Visual("dwell-time", "Dwell time", "faces_per_day", frozenset({Surface.QUICKSIGHT}))
    monkeypatch.setattr(definition, "CATALOGUE", Catalogue(CATALOGUE.queries, (*CATALOGUE.visuals, dwell)))

    with pytest.raises(ValueError, match="dwell-time on QuickSight"):
        definition.visuals()


def test_every_visual_is_laid_out_once_and_ids_are_unique() -> None:
    sheet = analysis_definition(dataset_arns=DATASET_ARNS)["Sheets"][0]
    elements = sheet["Layouts"][0]["Configuration"]["GridLayout"]["Elements"]
    assert sorted(e["ElementId"] for e in elements) == sorted(_visuals())
    assert len(_visuals()) == len(sheet["Visuals"]) == 9
    for element in elements:
        assert element["ColumnIndex"] + element["ColumnSpan"] <= 36


def test_store_zone_and_date_range_controls_drive_filters_on_every_visual() -> None:
    definition = analysis_definition(dataset_arns=DATASET_ARNS)
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
    definition = analysis_definition(dataset_arns=DATASET_ARNS)
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
    request = create_analysis_request(aws_account_id=ACCOUNT, analysis_id="a", name="a", dataset_arns=DATASET_ARNS)
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
