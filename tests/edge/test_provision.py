"""`shopper-edge provision` against moto's IoT (in-process is fine for the control plane)."""

from __future__ import annotations

import json
import stat
from pathlib import Path
from typing import Any

import pytest
from shopper_edge.cli import main
from shopper_edge.config import WATCH_ROOT, load_config
from shopper_edge.deployment import edge_target
from shopper_edge.provision import KEY_FILE, ProvisionError, cameras_from_options, provision_device

from .conftest import DEPLOYMENT, POLICY, REGION, THING, ClientWithFaults

TARGET = edge_target(None, deployment=DEPLOYMENT, bucket="demo-source")
ONE_CAMERA = {WATCH_ROOT: "entrance"}


def _provision(iot: Any, out_dir: Path, **overrides: Any) -> Any:
    arguments: dict[str, Any] = {
        "thing_name": THING,
        "target": TARGET,
        "cameras": ONE_CAMERA,
        "region": REGION,
        "out_dir": out_dir,
    }
    return provision_device(iot, **{**arguments, **overrides})


def test_provision_attaches_a_new_certificate_to_thing_and_policy_and_writes_the_bundle(
    iot: Any, tmp_path: Path
) -> None:
    result = _provision(iot, tmp_path)
    assert iot.list_thing_principals(thingName=THING)["principals"] == [result.certificate_arn]
    attached = iot.list_attached_policies(target=result.certificate_arn)["policies"]
    assert [p["policyName"] for p in attached] == ["ShopperSentiment-demo-edge"]
    cert = iot.describe_certificate(certificateId=result.certificate_id)["certificateDescription"]
    assert cert["status"] == "ACTIVE"
    assert (tmp_path / "device.cert.pem").read_text() == cert["certificatePem"]

    key_mode = stat.S_IMODE((tmp_path / KEY_FILE).stat().st_mode)
    assert key_mode == 0o600
    assert "PRIVATE KEY" in (tmp_path / KEY_FILE).read_text()

    config = load_config(tmp_path / "agent.toml")
    assert config.device_id == THING
    assert config.cameras == {WATCH_ROOT: "entrance"}
    assert config.credentials.mode == "iot"
    # moto invents a new endpoint id per DescribeEndpoint call; the shape is what AWS returns.
    assert config.credentials.endpoint == result.credentials_endpoint
    assert result.credentials_endpoint.endswith(".credentials.iot.eu-west-1.amazonaws.com")
    assert config.credentials.role_alias == "ShopperSentiment-demo-edge"
    assert config.credentials.certificate == tmp_path / "device.cert.pem"
    assert config.credentials.ca == tmp_path / "AmazonRootCA1.pem"
    assert config.s3.bucket == "demo-source"


def test_provision_writes_the_camera_table_of_a_multi_camera_device(iot: Any, tmp_path: Path) -> None:
    _provision(iot, tmp_path, cameras={"cam1": "entrance", "cam2": "aisle-3", "cam.3": "back"})
    text = (tmp_path / "agent.toml").read_text()
    assert "camera_id" not in text
    assert load_config(tmp_path / "agent.toml").cameras == {"cam1": "entrance", "cam2": "aisle-3", "cam.3": "back"}


@pytest.mark.parametrize(
    ("options", "cameras"),
    [
        (["entrance"], {WATCH_ROOT: "entrance"}),
        (["cam1=entrance"], {"cam1": "entrance"}),
        (["cam1=entrance", "cam2=aisle-3"], {"cam1": "entrance", "cam2": "aisle-3"}),
    ],
)
def test_camera_options_give_one_camera_or_a_folder_per_camera(options: list[str], cameras: dict[str, str]) -> None:
    assert cameras_from_options(options) == cameras


@pytest.mark.parametrize(
    ("options", "says"),
    [
        ([], "--camera is required"),
        (["entrance", "checkout"], "--camera entrance: a device with several cameras needs FOLDER=ID"),
        (["entrance", "cam2=aisle-3"], "--camera entrance: a device with several cameras needs FOLDER=ID"),
        (["=entrance"], "needs FOLDER=ID"),
        (["cam1=entrance", "cam1=aisle-3"], "folder 'cam1' is given twice"),
        (["cam1=entrance", "cam2=entrance"], "already the camera of folder 'cam1'"),
        (["cam1=bad id"], "camera id 'bad id' must match"),
        (["bad id"], "camera id 'bad id' must match"),
        ([".cam1=entrance"], "is not a sub-folder name"),
    ],
)
def test_bad_camera_options_are_refused_naming_the_option(options: list[str], says: str) -> None:
    with pytest.raises(ValueError, match="--camera") as error:
        cameras_from_options(options)
    assert says in str(error.value)


def test_unknown_thing_is_refused_before_any_certificate_is_created(iot: Any, tmp_path: Path) -> None:
    with pytest.raises(ProvisionError, match="IoT thing 'store-9' not found"):
        _provision(iot, tmp_path, thing_name="store-9")
    assert iot.list_certificates()["certificates"] == []
    assert not (tmp_path / KEY_FILE).exists()


def test_undeployed_deployment_is_refused_naming_the_policy(iot: Any, tmp_path: Path) -> None:
    with pytest.raises(ProvisionError, match="ShopperSentiment-prod-edge"):
        _provision(iot, tmp_path, target=edge_target(None, deployment="prod", bucket="b-source"))
    assert iot.list_certificates()["certificates"] == []


def test_bad_cameras_are_refused_before_any_certificate_is_created(iot: Any, tmp_path: Path) -> None:
    with pytest.raises(ProvisionError, match="cameras: camera id 'a b' must match"):
        _provision(iot, tmp_path, cameras={"cam1": "a b"})
    assert iot.list_certificates()["certificates"] == []


def test_a_failure_after_the_certificate_exists_revokes_it(iot: Any, tmp_path: Path) -> None:
    def throttled(**_: Any) -> None:
        raise RuntimeError("throttled")

    with pytest.raises(RuntimeError, match="throttled"):
        _provision(ClientWithFaults(iot, attach_policy=throttled), tmp_path)
    assert iot.list_certificates()["certificates"] == []
    assert iot.list_thing_principals(thingName=THING)["principals"] == []
    assert not (tmp_path / KEY_FILE).exists()


def test_an_existing_device_key_is_never_overwritten(iot: Any, tmp_path: Path) -> None:
    (tmp_path / KEY_FILE).write_text("existing key")
    with pytest.raises(ProvisionError, match="refusing to replace"):
        _provision(iot, tmp_path)
    assert (tmp_path / KEY_FILE).read_text() == "existing key"
    assert iot.list_certificates()["certificates"] == []


def _cli(out: Path, *arguments: str) -> int:
    return main(["provision", "--thing", THING, "--region", REGION, "--out", str(out), *arguments])


def test_provision_command_line(iot: Any, tmp_path: Path, capsys: Any) -> None:
    out = tmp_path / "bundle"
    code = _cli(out, "--deployment", DEPLOYMENT, "--bucket", "demo-source", "--camera", "entrance")
    assert code == 0
    assert "attached to thing store-1-entrance and policy ShopperSentiment-demo-edge" in capsys.readouterr().out
    assert load_config(out / "agent.toml").cameras == {WATCH_ROOT: "entrance"}


def test_provision_command_line_without_a_camera_is_a_usage_error(iot: Any, tmp_path: Path, capsys: Any) -> None:
    with pytest.raises(SystemExit) as exit_:
        _cli(tmp_path, "--deployment", DEPLOYMENT, "--bucket", "demo-source")
    assert exit_.value.code == 2
    assert "--camera" in capsys.readouterr().err


def test_provision_command_line_refuses_bad_arguments_with_exit_2_and_creates_nothing(
    iot: Any, tmp_path: Path, capsys: Any
) -> None:
    assert _cli(tmp_path, "--deployment", DEPLOYMENT, "--camera", "entrance") == 2
    assert "give --stack ShopperSentiment-<deployment>, or both --deployment and --bucket" in capsys.readouterr().err
    assert _cli(tmp_path, "--deployment", DEPLOYMENT, "--bucket", "b", "--camera", "a", "--camera", "c=d") == 2
    assert "--camera a: a device with several cameras needs FOLDER=ID" in capsys.readouterr().err
    assert _cli(tmp_path, "--deployment", DEPLOYMENT, "--bucket", "b", "--camera", "x", "--thing", "store 9") == 2
    assert "thing name 'store 9'" in capsys.readouterr().err
    assert iot.list_certificates()["certificates"] == []


# --- the deployment from the stack's outputs: moto's CloudFormation --------------------------------

STACK = "ShopperSentiment-demo"


def _deploy_stack(outputs: dict[str, str], name: str = STACK) -> None:
    import boto3

    template = {
        "Resources": {"Source": {"Type": "AWS::S3::Bucket", "Properties": {"BucketName": "shoppersentiment-demo-src"}}},
        "Outputs": {key: {"Value": value} for key, value in outputs.items()},
    }
    boto3.client("cloudformation", region_name=REGION).create_stack(StackName=name, TemplateBody=json.dumps(template))


def test_provision_reads_bucket_and_role_alias_from_the_stack_outputs(iot: Any, tmp_path: Path, capsys: Any) -> None:
    _deploy_stack(
        {"SourceBucketName": "shoppersentiment-demo-src", "EdgeRoleAliasName": POLICY, "CuratedBucketName": "other"}
    )
    out = tmp_path / "bundle"
    assert _cli(out, "--stack", STACK, "--camera", "cam1=entrance", "--camera", "cam2=aisle-3") == 0
    assert "uploads to s3://shoppersentiment-demo-src/incoming/store-1-entrance/<camera>/" in capsys.readouterr().out
    config = load_config(out / "agent.toml")
    assert (config.s3.bucket, config.credentials.role_alias) == ("shoppersentiment-demo-src", POLICY)
    assert config.cameras == {"cam1": "entrance", "cam2": "aisle-3"}
    (principal,) = iot.list_thing_principals(thingName=THING)["principals"]
    assert [p["policyName"] for p in iot.list_attached_policies(target=principal)["policies"]] == [POLICY]


def test_provision_accepts_flags_that_agree_with_the_stack(iot: Any, tmp_path: Path) -> None:
    _deploy_stack({"SourceBucketName": "shoppersentiment-demo-src", "EdgeRoleAliasName": POLICY})
    agreeing = ["--deployment", DEPLOYMENT, "--bucket", "shoppersentiment-demo-src", "--camera", "entrance"]
    assert _cli(tmp_path, "--stack", STACK, *agreeing) == 0


@pytest.mark.parametrize(
    ("arguments", "says"),
    [
        (["--bucket", "another-bucket"], "--bucket another-bucket disagrees with stack 'ShopperSentiment-demo', "),
        (["--deployment", "prod"], "--deployment prod is stack 'ShopperSentiment-prod', but --stack is"),
    ],
)
def test_provision_refuses_flags_that_disagree_with_the_stack(
    iot: Any, tmp_path: Path, capsys: Any, arguments: list[str], says: str
) -> None:
    _deploy_stack({"SourceBucketName": "shoppersentiment-demo-src", "EdgeRoleAliasName": POLICY})
    assert _cli(tmp_path, "--stack", STACK, "--camera", "entrance", *arguments) == 2
    assert says in capsys.readouterr().err
    assert iot.list_certificates()["certificates"] == []


def test_provision_names_the_stack_and_the_output_it_misses(iot: Any, tmp_path: Path, capsys: Any) -> None:
    _deploy_stack({"SourceBucketName": "shoppersentiment-demo-src"})
    assert _cli(tmp_path, "--stack", STACK, "--camera", "entrance") == 2
    assert "stack 'ShopperSentiment-demo' has no output 'EdgeRoleAliasName'" in capsys.readouterr().err
    assert _cli(tmp_path, "--stack", "ShopperSentiment-prod", "--camera", "entrance") == 2
    assert "stack 'ShopperSentiment-prod' not found in eu-west-1" in capsys.readouterr().err
    assert iot.list_certificates()["certificates"] == []


def test_outputs_come_from_describe_stacks_and_a_refusal_is_not_called_a_missing_stack() -> None:
    import boto3
    from botocore.exceptions import ClientError
    from botocore.stub import Stubber

    cloudformation = boto3.client(
        "cloudformation", region_name=REGION, aws_access_key_id="testing", aws_secret_access_key="testing"
    )
    with Stubber(cloudformation) as stub:
        stub.add_client_error(
            "describe_stacks",
            service_error_code="AccessDenied",
            service_message="User is not authorized to perform: cloudformation:DescribeStacks",
            http_status_code=403,
            expected_params={"StackName": STACK},
        )
        with pytest.raises(ClientError, match="AccessDenied"):
            edge_target(cloudformation, stack=STACK)
        stub.add_response(
            "describe_stacks",
            {
                "Stacks": [
                    {
                        "StackName": STACK,
                        "CreationTime": "2026-01-01T00:00:00Z",
                        "StackStatus": "UPDATE_COMPLETE",
                        "Outputs": [
                            {"OutputKey": "SourceBucketName", "OutputValue": "shoppersentiment-demo-src"},
                            {"OutputKey": "EdgeRoleAliasName", "OutputValue": POLICY},
                        ],
                    }
                ]
            },
            {"StackName": STACK},
        )
        target = edge_target(cloudformation, stack=STACK, deployment=DEPLOYMENT)
        stub.assert_no_pending_responses()
    assert (target.stack, target.bucket, target.role_alias, target.policy) == (
        STACK,
        "shoppersentiment-demo-src",
        POLICY,
        POLICY,
    )
