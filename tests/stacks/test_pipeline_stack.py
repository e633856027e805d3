"""The whole app: validators over every synthesized template, the nag gate, snapshots."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import aws_cdk as cdk
import pytest
from aws_cdk import aws_s3 as s3
from aws_cdk.assertions import Match, Template
from cdk_nag import AwsSolutionsChecks
from syrupy.extensions.json import JSONSnapshotExtension
from syrupy.matchers import path_type

from app import build_app
from shopper_sentiment.config import parse_config
from shopper_sentiment.contracts import outputs
from shopper_sentiment.contracts.identifiers import QUICKSIGHT_SERVICE_ROLE_NAME
from shopper_sentiment.pipeline_stack import PipelineStack
from shopper_sentiment.tiers.analytics import PROJECTION_LOCATION_SUFFIX
from shopper_sentiment.tiers.process import FIREHOSE_DATA_PREFIX
from tests.cdk_apps import new_app

LINT_REGIONS = ["us-east-1", "eu-west-1", "ap-southeast-2"]


def test_every_template_passes_cfn_lint_with_no_errors_or_warnings(demo_assembly):
    templates = [str(Path(demo_assembly.directory) / s.template_file) for s in demo_assembly.stacks]
    assert templates
    result = subprocess.run(
        [
            str(Path(sys.executable).parent / "cfn-lint"),
            "--format",
            "parseable",
            "--regions",
            *LINT_REGIONS,
            "--",
            *templates,
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip() == ""


def test_demo_app_synthesizes_with_no_cdk_nag_violation_left(demo_assembly):
    report = json.loads((Path(demo_assembly.directory) / "validation-report.json").read_text())
    violations = [v for plugin in report.get("pluginReports", []) for v in plugin.get("violations", [])]
    assert violations == []


def test_cdk_nag_gate_fails_synth_on_an_insecure_resource(tmp_path):
    app = new_app(tmp_path)
    stack = cdk.Stack(app, "Insecure")
    s3.Bucket(stack, "NoLogsNoTls")
    cdk.Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    with pytest.raises(RuntimeError, match="AwsSolutions-S(1|10)"):
        app.synth()


def acknowledgements(stack: cdk.Stack) -> list[dict]:
    found = []
    for construct in stack.node.find_all():
        for entry in construct.node.metadata:
            if entry.type == cdk.Validations.ACKNOWLEDGED_RULES_METADATA_KEY:
                found += [{"path": construct.node.path, "id": k, "reason": v} for k, v in entry.data.items()]
    return found


def test_every_acknowledgement_names_its_rule_and_gives_a_real_reason(demo_stack):
    acks = acknowledgements(demo_stack)
    assert acks, "expected the documented acknowledgements (log bucket S1, DLQ SQS3, scoped IAM5...)"
    for ack in acks:
        assert ack["id"].startswith("AwsSolutions::AwsSolutions-"), ack
        assert len(ack["reason"]) >= 60, ack
    rules = {a["id"].removeprefix("AwsSolutions::").split("[")[0] for a in acks}
    # Only these rules are ever acknowledged; anything new must be argued here.
    # DDB3: the idempotency table's face attributes must not outlive its TTL in a backup.
    assert rules <= {
        "AwsSolutions-S1",
        "AwsSolutions-SQS3",
        "AwsSolutions-IAM4",
        "AwsSolutions-IAM5",
        "AwsSolutions-DDB3",
    }, rules


def test_demo_deployment_is_environment_agnostic(demo_stack):
    assert cdk.Token.is_unresolved(demo_stack.region)
    assert cdk.Token.is_unresolved(demo_stack.account)


def pinned_eu_stack() -> cdk.Stack:
    config = parse_config(
        {
            "deployments": {
                "eu": {
                    "region": "eu-west-1",
                    "account": "123456789012",
                    "retention_days": 7,
                    "rekognition_tps": 5,
                    "stores": {"s1": {"timezone": "Europe/Berlin", "devices": {"d1": {"camera_id": "c", "zone": "z"}}}},
                }
            }
        }
    )
    return build_app(new_app(), config).node.find_child("ShopperSentiment-eu")


def test_a_deployment_with_a_region_and_account_is_pinned_to_them():
    stack = pinned_eu_stack()
    assert stack.region == "eu-west-1"
    assert stack.account == "123456789012"


# Asset hashes change with any handler edit; they are not what a snapshot protects.
ASSET_MATCHER = path_type({r".*\.S3Key$": (str,)}, regex=True)


@pytest.fixture
def snapshot_json(snapshot):
    return snapshot.use_extension(JSONSnapshotExtension)


def test_pipeline_stack_template_snapshot(demo_templates, snapshot_json):
    for name, template in sorted(demo_templates.items()):
        assert template == snapshot_json(name=name, matcher=ASSET_MATCHER)


def test_synthesis_is_deterministic(demo_config, tmp_path):
    def synth_once(outdir: Path) -> dict:
        deployment = demo_config.deployments[0]
        app = new_app(outdir)
        PipelineStack(app, deployment.stack_name, deployment=deployment)
        return Template.from_stack(app.node.find_child(deployment.stack_name)).to_json()

    assert synth_once(tmp_path / "a") == synth_once(tmp_path / "b")


def test_incoming_queue_visibility_timeout_is_six_times_the_analyze_function_timeout(demo_stack, demo_template):
    resources = demo_template.to_json()["Resources"]
    function = resources[demo_stack.get_logical_id(demo_stack.process.function.node.default_child)]["Properties"]
    queue = resources[demo_stack.get_logical_id(demo_stack.ingest.queue.node.default_child)]["Properties"]
    assert queue["VisibilityTimeout"] == 6 * function["Timeout"]


def test_no_dashboard_stack_without_a_quicksight_principal(demo_assembly):
    assert [s.stack_name for s in demo_assembly.stacks] == ["ShopperSentiment-demo"]


def test_glue_location_template_is_the_firehose_prefix_with_projection_variables():
    template = FIREHOSE_DATA_PREFIX.replace("!{partitionKeyFromQuery:store_id}", "${store_id}").replace(
        "!{partitionKeyFromQuery:dt}", "${dt}"
    )
    assert template == PROJECTION_LOCATION_SUFFIX == "faces/store_id=${store_id}/dt=${dt}/"


def logical_ref(stack: cdk.Stack, construct) -> dict:
    element = construct if isinstance(construct, cdk.CfnElement) else construct.node.default_child
    return {"Ref": stack.get_logical_id(element)}


@pytest.mark.parametrize("key", outputs.ALL)
def test_every_output_key_of_the_contract_is_a_described_stack_output(demo_template, key):
    # The logical id is the key itself: DescribeStacks reports it as the OutputKey tools look up.
    demo_template.has_output(key, {"Value": Match.any_value(), "Description": Match.string_like_regexp(".{20,}")})


@pytest.mark.parametrize(
    ("key", "resource"),
    [
        (outputs.SOURCE_BUCKET, lambda stack: stack.ingest.source_bucket),
        (outputs.CURATED_BUCKET, lambda stack: stack.analytics.curated_bucket),
        (outputs.ATHENA_WORKGROUP, lambda stack: stack.analytics.workgroup),
        (outputs.ATHENA_RESULTS_BUCKET, lambda stack: stack.analytics.results_bucket),
        (outputs.EDGE_ROLE_ALIAS, lambda stack: stack.ingest.role_alias),
        # Ref of a topic is its ARN.
        (outputs.ALARM_TOPIC_ARN, lambda stack: stack.monitoring.topic),
    ],
)
def test_each_name_output_refers_to_its_resource(demo_stack, demo_template, key, resource):
    # Ref of each of these resource types is its name (bucket, workgroup, role alias).
    demo_template.has_output(key, {"Value": logical_ref(demo_stack, resource(demo_stack))})


def test_credentials_endpoint_output_is_the_describe_endpoint_command_for_the_stack_region(demo_template):
    demo_template.has_output(
        outputs.CREDENTIALS_ENDPOINT_COMMAND,
        {
            "Value": {
                "Fn::Join": [
                    "",
                    [
                        "aws iot describe-endpoint --endpoint-type iot:CredentialProvider --region ",
                        {"Ref": "AWS::Region"},
                    ],
                ]
            }
        },
    )


def test_a_pinned_deployment_outputs_the_command_with_its_region():
    Template.from_stack(pinned_eu_stack()).has_output(
        outputs.CREDENTIALS_ENDPOINT_COMMAND,
        {"Value": "aws iot describe-endpoint --endpoint-type iot:CredentialProvider --region eu-west-1"},
    )


def test_no_quicksight_grant_without_a_quicksight_principal(demo_stack, demo_template):
    assert demo_stack.quicksight_access is None
    roles = [p["Properties"].get("Roles", []) for p in demo_template.find_resources("AWS::IAM::Policy").values()]
    assert not any(QUICKSIGHT_SERVICE_ROLE_NAME in r for r in roles)
