"""CompactionTier in the synthesized demo stack: schedule, function, least-privilege role, alarm, layer."""

from __future__ import annotations

import email.parser
import importlib.metadata
import json
from pathlib import Path

import pytest
from aws_cdk.assertions import Match
from packaging.tags import Tag
from shopper_sentiment.dashboards.quicksight.dataset import DEDUPE_KEYS

from shopper_sentiment.building.lambda_code import LAMBDA_TARGET, REQUIREMENTS_FILE_NAME
from shopper_sentiment.building.lambda_dependencies import LAYER_PYTHON_DIR, build_dependencies
from shopper_sentiment.contracts.identifiers import CHECK_STORE_ID
from shopper_sentiment.contracts.schema import IMAGE_COLUMNS, UNREGISTERED_STORE
from shopper_sentiment.tiers.compaction import CONFIG_FILE_NAME, HANDLER_DIR, OLDEST_AGE_METRIC, SERVICE_NAME, TABLES
from tests.stacks.test_lambda_dependencies import import_as_lambda, pins, shipped, target_tags

REQUIREMENTS = HANDLER_DIR / REQUIREMENTS_FILE_NAME
#: Lambda's limit on a function and its layers, unzipped.
LAMBDA_UNZIPPED_LIMIT = 250 * 2**20


def compaction_function(template) -> tuple[str, dict]:
    (item,) = template.find_resources(
        "AWS::Lambda::Function",
        {"Properties": {"Environment": {"Variables": {"POWERTOOLS_SERVICE_NAME": SERVICE_NAME}}}},
    ).items()
    return item


def test_an_hourly_rule_invokes_the_function(demo_template):
    function_id, _ = compaction_function(demo_template)
    demo_template.has_resource_properties(
        "AWS::Events::Rule",
        {
            "ScheduleExpression": "rate(1 hour)",
            "State": "ENABLED",
            "Targets": [
                Match.object_like(
                    {
                        "Arn": {"Fn::GetAtt": [function_id, "Arn"]},
                        "RetryPolicy": {"MaximumRetryAttempts": 2, "MaximumEventAgeInSeconds": 3600},
                    }
                )
            ],
        },
    )
    demo_template.has_resource_properties(
        "AWS::Lambda::Permission",
        {"FunctionName": {"Fn::GetAtt": [function_id, "Arn"]}, "Principal": "events.amazonaws.com"},
    )


def test_a_day_closes_after_firehoses_buffering_interval_and_the_margin(demo_stack, demo_template):
    _, function = compaction_function(demo_template)
    variables = function["Properties"]["Environment"]["Variables"]
    interval = demo_stack.process.delivery_stream.node.default_child.extended_s3_destination_configuration
    assert int(variables["CLOSE_DELAY_SECONDS"]) == interval.buffering_hints.interval_in_seconds + 45 * 60 == 3600
    assert variables["MAX_OBJECT_BYTES"] == str(128 * 2**20)
    assert variables["CURATED_BUCKET"] == {
        "Ref": demo_stack.get_logical_id(demo_stack.analytics.curated_bucket.node.default_child)
    }
    assert variables["COMPACTION_CONFIG_FILE"] == CONFIG_FILE_NAME
    assert function["Properties"]["Runtime"] == "python3.14"
    assert function["Properties"]["Architectures"] == ["arm64"]
    assert function["Properties"]["Timeout"] == 900


def test_the_role_may_only_list_read_write_and_delete_under_faces_and_images(demo_stack, demo_template):
    _, function = compaction_function(demo_template)
    role_id = function["Properties"]["Role"]["Fn::GetAtt"][0]
    role = demo_template.to_json()["Resources"][role_id]
    assert "ManagedPolicyArns" not in role["Properties"] and "Policies" not in role["Properties"]
    policies = demo_template.find_resources("AWS::IAM::Policy", {"Properties": {"Roles": [{"Ref": role_id}]}})
    (policy,) = policies.values()
    bucket = demo_stack.get_logical_id(demo_stack.analytics.curated_bucket.node.default_child)
    statements = {s["Sid"]: s for s in policy["Properties"]["PolicyDocument"]["Statement"]}
    assert set(statements) == {"ListCuratedTables", "RewriteCuratedTables", "OwnLogGroup"}
    listing = statements["ListCuratedTables"]
    assert listing["Action"] == "s3:ListBucket"
    assert listing["Resource"] == {"Fn::GetAtt": [bucket, "Arn"]}
    assert listing["Condition"] == {"StringLike": {"s3:prefix": ["faces/*", "images/*"]}}
    rewrite = statements["RewriteCuratedTables"]
    assert sorted(rewrite["Action"]) == ["s3:DeleteObject", "s3:GetObject", "s3:PutObject"]
    assert rewrite["Resource"] == [
        {"Fn::Join": ["", [{"Fn::GetAtt": [bucket, "Arn"]}, f"/{prefix}/*"]]} for prefix in ("faces", "images")
    ]
    assert all(s["Effect"] == "Allow" for s in statements.values())
    assert "logs:" in statements["OwnLogGroup"]["Action"][0]


def test_the_function_logs_to_its_own_group_with_a_retention(demo_template):
    _, function = compaction_function(demo_template)
    group_id = function["Properties"]["LoggingConfig"]["LogGroup"]["Ref"]
    group = demo_template.to_json()["Resources"][group_id]
    assert group["Properties"]["RetentionInDays"] == 30


def test_an_alarm_fires_when_a_closed_day_stays_uncompacted_for_a_day_or_the_job_is_silent(demo_template):
    demo_template.has_resource_properties(
        "AWS::CloudWatch::Alarm",
        {
            "Namespace": "ShopperSentiment/demo",
            "MetricName": OLDEST_AGE_METRIC,
            "Dimensions": [{"Name": "service", "Value": SERVICE_NAME}],
            "Statistic": "Maximum",
            "Period": 3600,
            "EvaluationPeriods": 3,
            "DatapointsToAlarm": 3,
            # Three hourly datapoints at or above 22 h: the third is a whole day.
            "Threshold": 22 * 3600,
            "ComparisonOperator": "GreaterThanOrEqualToThreshold",
            "TreatMissingData": "breaching",
        },
    )


def test_the_shipped_config_is_the_tables_of_the_contract_and_the_stores_zones(demo_assembly, demo_config):
    code, _ = _function_asset(demo_assembly)
    config = json.loads((code / CONFIG_FILE_NAME).read_text(encoding="utf-8"))
    deployment = demo_config.deployments[0]
    zones = {s: store.timezone for s, store in deployment.stores.items()}
    # The deployment check's store is compacted too: a check that timed out may leave rows behind.
    assert config["store_time_zones"] == zones | {CHECK_STORE_ID: "UTC"}
    assert config["utc_stores"] == [UNREGISTERED_STORE]
    tables = {t["name"]: t for t in config["tables"]}
    assert {name: t["id_column"] for name, t in tables.items()} == DEDUPE_KEYS
    assert {t["prefix"] for t in tables.values()} == {prefix for _, prefix, _, _ in TABLES}
    assert tables["faces"]["sort_columns"] == ["zone", "camera_id", "dominant_emotion", "captured_at"]
    assert tables["images"]["sort_columns"] == ["zone", "camera_id", "outcome", "captured_at"]
    assert tables["images"]["columns"] == [{"name": c.name, "type": c.type} for c in IMAGE_COLUMNS]


def _function_asset(assembly) -> tuple[Path, Path]:
    assets = Path(assembly.directory)
    template, function = next(
        (stack.template, resource)
        for stack in assembly.stacks
        for resource in stack.template["Resources"].values()
        if resource["Type"] == "AWS::Lambda::Function"
        and resource["Properties"].get("Environment", {}).get("Variables", {}).get("POWERTOOLS_SERVICE_NAME")
        == SERVICE_NAME
    )
    code = assets / f"asset.{function['Properties']['Code']['S3Key'].removesuffix('.zip')}"
    (layer_ref,) = function["Properties"]["Layers"]
    content = template["Resources"][layer_ref["Ref"]]["Properties"]["Content"]
    return code, assets / f"asset.{content['S3Key'].removesuffix('.zip')}" / LAYER_PYTHON_DIR


@pytest.fixture(scope="module")
def layer() -> Path:
    return build_dependencies(REQUIREMENTS, LAMBDA_TARGET) / LAYER_PYTHON_DIR


def test_the_layer_holds_exactly_the_pinned_releases_built_for_the_runtime(layer):
    found = {name: metadata["Version"] for name, (metadata, _) in shipped(layer).items()}
    assert found == pins(REQUIREMENTS)
    tags = target_tags(LAMBDA_TARGET)
    for name, (_, info) in shipped(layer).items():
        wheel = email.parser.Parser().parsestr((info / "WHEEL").read_text(encoding="utf-8"))
        assert {Tag(*t.split("-")) for t in wheel.get_all("Tag")} & tags, name
    size = sum(p.stat().st_size for p in layer.rglob("*") if p.is_file())
    assert size < LAMBDA_UNZIPPED_LIMIT - 20 * 2**20, f"layer is {size / 2**20:.0f} MiB unzipped"


def test_the_tests_run_the_releases_the_function_ships():
    for name, version in pins(REQUIREMENTS).items():
        assert importlib.metadata.version(name) == version, name


def test_the_function_asset_imports_with_only_its_layer_and_the_runtime_packages(demo_assembly, tmp_path):
    """The handler loads from the asset, the layer and the runtime's boto3, nothing else of this machine.

    pyarrow in the layer is built for arm64 and CPython 3.14, which cannot be
    loaded here: the probe puts this machine's pyarrow (the same pinned release,
    checked above) in front of the layer, and nothing else.
    """
    code, layer = _function_asset(demo_assembly)
    assert (layer / "pyarrow").is_dir() and (layer / "aws_lambda_powertools").is_dir()
    assert not (code / "pyarrow").exists() and (code / CONFIG_FILE_NAME).is_file()
    native = tmp_path / "native"
    native.mkdir()
    (native / "pyarrow").symlink_to(Path(importlib.metadata.distribution("pyarrow").locate_file("")) / "pyarrow")
    _, function = next(
        (None, r)
        for s in demo_assembly.stacks
        for r in s.template["Resources"].values()
        if r["Type"] == "AWS::Lambda::Function"
        and r["Properties"].get("Environment", {}).get("Variables", {}).get("POWERTOOLS_SERVICE_NAME") == SERVICE_NAME
    )
    probe = (
        "import sys; sys.path[:0] = sys.argv[1:]; import app; assert callable(app.handler); "
        "assert app.SETTINGS.closing.store_time_zones; "
        "print(sorted({m.split('.')[0] for m in sys.modules if m.startswith(('aws_lambda_powertools', 'pyarrow'))}))"
    )
    result = import_as_lambda(function, tmp_path, probe, code, native, layer)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout.replace("'", '"')) == ["aws_lambda_powertools", "pyarrow"]
