"""DashboardStack: only with a QuickSight principal; every resource body validated offline."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from aws_cdk.assertions import Template
from shopper_sentiment.dashboards.quicksight.validation import validate_request
from syrupy.extensions.json import JSONSnapshotExtension

from app import build_app
from shopper_sentiment.config import parse_config
from shopper_sentiment.contracts.identifiers import QUICKSIGHT_SERVICE_ROLE_NAME
from tests.cdk_apps import new_app

PRINCIPAL = "arn:aws:quicksight:us-east-1:123456789012:user/default/analyst"
ACCOUNT = "123456789012"


def config(**extra: Any):
    return parse_config(
        {
            "deployments": {
                "qs": {
                    "region": "eu-west-1",
                    "account": ACCOUNT,
                    "retention_days": 30,
                    "rekognition_tps": 5,
                    "quicksight_principal_arn": PRINCIPAL,
                    "stores": {
                        "store-001": {
                            "timezone": "Europe/Berlin",
                            "devices": {"pi-q1": {"camera_id": "door", "zone": "entrance"}},
                        }
                    },
                    **extra,
                }
            }
        }
    )


@pytest.fixture(scope="module")
def assembly(tmp_path_factory):
    return build_app(new_app(tmp_path_factory.mktemp("qs")), config()).synth()


def stack_named(assembly, name: str):
    (stack,) = [s for s in assembly.stacks if s.stack_name == name]
    return stack


@pytest.fixture(scope="module")
def template(assembly) -> dict:
    return stack_named(assembly, "ShopperSentiment-qs-Dashboard").template


def resources(template: dict, kind: str) -> list[dict]:
    return [r["Properties"] for r in template["Resources"].values() if r["Type"] == f"AWS::QuickSight::{kind}"]


def test_dashboard_stack_deploys_after_its_pipeline(assembly):
    dashboard = stack_named(assembly, "ShopperSentiment-qs-Dashboard")
    assert "ShopperSentiment-qs" in [d.id for d in dashboard.dependencies]


def test_the_pipeline_it_depends_on_grants_the_quicksight_service_role_its_queries(assembly):
    # The grant lives in the pipeline stack, deployed first, so the first SPICE refresh is allowed.
    pipeline = stack_named(assembly, "ShopperSentiment-qs").template
    (workgroup_id,) = [k for k, r in pipeline["Resources"].items() if r["Type"] == "AWS::Athena::WorkGroup"]
    granted = [
        r["Properties"]
        for r in pipeline["Resources"].values()
        if r["Type"] == "AWS::IAM::Policy" and r["Properties"]["Roles"] == [QUICKSIGHT_SERVICE_ROLE_NAME]
    ]
    (policy,) = granted
    (query,) = [s for s in policy["PolicyDocument"]["Statement"] if s["Sid"] == "QueryThroughWorkgroup"]
    assert {"Ref": workgroup_id} in query["Resource"]["Fn::Join"][1]


def test_a_custom_quicksight_service_role_from_the_config_is_the_one_granted():
    app = build_app(new_app(), config(quicksight_service_role="qs-custom-role"))
    pipeline = Template.from_stack(app.node.find_child("ShopperSentiment-qs"))
    roles = [p["Properties"]["Roles"] for p in pipeline.find_resources("AWS::IAM::Policy").values()]
    assert ["qs-custom-role"] in roles
    assert [QUICKSIGHT_SERVICE_ROLE_NAME] not in roles


def test_data_source_is_athena_on_the_pipeline_workgroup(assembly, template):
    pipeline = stack_named(assembly, "ShopperSentiment-qs").template
    (workgroup,) = [r for r in pipeline["Resources"].values() if r["Type"] == "AWS::Athena::WorkGroup"]
    (source,) = resources(template, "DataSource")
    assert source["Type"] == "ATHENA"
    assert source["DataSourceParameters"] == {"AthenaParameters": {"WorkGroup": workgroup["Properties"]["Name"]}}


def test_datasets_read_faces_and_images_of_the_pipeline_database_over_90_days_with_daily_refreshes(assembly, template):
    pipeline = stack_named(assembly, "ShopperSentiment-qs").template
    (database,) = [r for r in pipeline["Resources"].values() if r["Type"] == "AWS::Glue::Database"]
    name = database["Properties"]["DatabaseInput"]["Name"]
    datasets = resources(template, "DataSet")
    assert sorted(d["DataSetId"] for d in datasets) == ["shoppersentiment-qs-faces", "shoppersentiment-qs-images"]
    for dataset in datasets:
        assert dataset["ImportMode"] == "SPICE"
        ((table_id, table),) = dataset["PhysicalTableMap"].items()
        sql = table["CustomSql"]["SqlQuery"]
        assert f'FROM "{name}"."{table_id}"' in sql
        # the config's default dashboard_lookback_days: today and the 89 days before
        assert "WHERE dt >= date_format(current_date - INTERVAL '89' DAY, '%Y-%m-%d')" in sql
    schedules = resources(template, "RefreshSchedule")
    assert sorted(s["DataSetId"] for s in schedules) == ["shoppersentiment-qs-faces", "shoppersentiment-qs-images"]
    assert {s["Schedule"]["ScheduleFrequency"]["Interval"] for s in schedules} == {"DAILY"}


def test_lookback_days_bounds_both_datasets_and_caps_the_date_control(tmp_path):
    from shopper_sentiment.dashboards.stack import DashboardStack

    app = new_app(tmp_path)
    stack = DashboardStack(
        app,
        "Lookback",
        name_prefix="ShopperSentiment-lb",
        workgroup_name="wg",
        database_name="db",
        principal_arn=PRINCIPAL,
        lookback_days=14,
    )
    template = Template.from_stack(stack).to_json()
    for dataset in resources(template, "DataSet"):
        ((_, table),) = dataset["PhysicalTableMap"].items()
        assert "INTERVAL '13' DAY" in table["CustomSql"]["SqlQuery"]
    (analysis,) = resources(template, "Analysis")
    (date_filter,) = [
        f["TimeRangeFilter"]
        for g in analysis["Definition"]["FilterGroups"]
        for f in g["Filters"]
        if "TimeRangeFilter" in f
    ]
    assert (
        date_filter["RangeMinimumValue"]["RollingDate"]["Expression"]
        == "addDateTime(-13, 'DD', truncDate('DD', now()))"
    )
    with pytest.raises(ValueError, match="lookback_days"):
        DashboardStack(
            new_app(),
            "NoWindow",
            name_prefix="x",
            workgroup_name="wg",
            database_name="db",
            principal_arn=PRINCIPAL,
            lookback_days=0,
        )


def test_direct_query_mode_has_no_refresh_schedule(tmp_path):
    app = build_app(new_app(tmp_path), config(quicksight_import_mode="DIRECT_QUERY"))
    template = stack_named(app.synth(), "ShopperSentiment-qs-Dashboard").template
    assert {d["ImportMode"] for d in resources(template, "DataSet")} == {"DIRECT_QUERY"}
    assert resources(template, "RefreshSchedule") == []


def test_every_resource_grants_the_configured_principal(template):
    for kind in ("DataSource", "DataSet", "Analysis", "Dashboard"):
        for props in resources(template, kind):
            assert {p["Principal"] for p in props["Permissions"]} == {PRINCIPAL}, kind


def concrete(value: Any) -> Any:
    """Replace CloudFormation intrinsics with concrete values the service model accepts."""
    if isinstance(value, dict):
        if set(value) == {"Fn::GetAtt"}:
            kind = "datasource" if "Source" in value["Fn::GetAtt"][0] else "dataset"
            return f"arn:aws:quicksight:eu-west-1:{ACCOUNT}:{kind}/example"
        if set(value) == {"Ref"}:
            return ACCOUNT
        return {k: concrete(v) for k, v in value.items()}
    if isinstance(value, list):
        return [concrete(v) for v in value]
    return value


@pytest.mark.parametrize(
    ("kind", "operation"),
    [
        ("DataSource", "CreateDataSource"),
        ("DataSet", "CreateDataSet"),
        ("Analysis", "CreateAnalysis"),
        ("Dashboard", "CreateDashboard"),
    ],
)
def test_synthesized_quicksight_resources_are_valid_api_requests(template, kind, operation):
    found = resources(template, kind)
    assert found
    for props in found:
        assert validate_request(operation, concrete(props)) == []


def test_dashboard_has_the_original_visuals_and_controls(template):
    (dashboard,) = resources(template, "Dashboard")
    (sheet,) = dashboard["Definition"]["Sheets"]
    kinds = [next(iter(v)) for v in sheet["Visuals"]]
    # emotions by hour, face sightings per day, age bands, people present and attention by hour
    assert kinds.count("BarChartVisual") >= 5
    assert "PieChartVisual" in kinds
    assert kinds.count("KPIVisual") == 2  # people present, sentiment
    assert sheet.get("FilterControls") or sheet.get("ParameterControls")


@pytest.mark.parametrize("stack_name", ["ShopperSentiment-qs-Dashboard", "ShopperSentiment-qs"])
def test_dashboard_and_its_pipeline_templates_pass_cfn_lint(assembly, stack_name):
    stack = stack_named(assembly, stack_name)
    path = Path(assembly.directory) / stack.template_file
    result = subprocess.run(
        [str(Path(sys.executable).parent / "cfn-lint"), "--format", "parseable", "--", str(path)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert (result.returncode, result.stdout) == (0, "")


def test_dashboard_synth_passes_the_cdk_nag_gate(assembly):
    report = json.loads((Path(assembly.directory) / "validation-report.json").read_text())
    assert [v for p in report.get("pluginReports", []) for v in p.get("violations", [])] == []


def test_dashboard_stack_template_snapshot(template, snapshot):
    assert template == snapshot(extension_class=JSONSnapshotExtension)


def test_the_configs_dashboard_lookback_days_reaches_both_datasets():
    app = build_app(new_app(), config(dashboard_lookback_days=30))
    template = Template.from_stack(app.node.find_child("ShopperSentiment-qs-Dashboard")).to_json()
    datasets = resources(template, "DataSet")
    assert len(datasets) == 2
    for dataset in datasets:
        ((_, table),) = dataset["PhysicalTableMap"].items()
        assert "WHERE dt >= date_format(current_date - INTERVAL '29' DAY, '%Y-%m-%d')" in table["CustomSql"]["SqlQuery"]
