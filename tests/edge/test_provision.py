"""`shopper-edge provision` against moto's IoT (in-process is fine for the control plane)."""

from __future__ import annotations

import json
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws
from shopper_edge.cli import main
from shopper_edge.config import load_config
from shopper_edge.provision import KEY_FILE, ProvisionError, edge_resource_name, provision_device

REGION = "eu-west-1"
THING = "store-1-entrance"
DEPLOYMENT = "demo"


@pytest.fixture
def iot() -> Iterator[Any]:
    with mock_aws():
        client = boto3.client("iot", region_name=REGION)
        client.create_thing(thingName=THING)
        client.create_policy(
            policyName=edge_resource_name(DEPLOYMENT),
            policyDocument=json.dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": [{"Effect": "Allow", "Action": "iot:AssumeRoleWithCertificate", "Resource": "*"}],
                }
            ),
        )
        yield client


def test_provision_attaches_a_new_certificate_to_thing_and_policy_and_writes_the_bundle(
    iot: Any, tmp_path: Path
) -> None:
    result = provision_device(
        iot, thing_name=THING, deployment=DEPLOYMENT, bucket="demo-source", region=REGION, out_dir=tmp_path
    )
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
    assert config.credentials.mode == "iot"
    # moto invents a new endpoint id per DescribeEndpoint call; the shape is what AWS returns.
    assert config.credentials.endpoint == result.credentials_endpoint
    assert result.credentials_endpoint.endswith(".credentials.iot.eu-west-1.amazonaws.com")
    assert config.credentials.role_alias == "ShopperSentiment-demo-edge"
    assert config.credentials.certificate == tmp_path / "device.cert.pem"
    assert config.credentials.ca == tmp_path / "AmazonRootCA1.pem"
    assert config.s3.bucket == "demo-source"


def test_unknown_thing_is_refused_before_any_certificate_is_created(iot: Any, tmp_path: Path) -> None:
    with pytest.raises(ProvisionError, match="IoT thing 'store-9' not found"):
        provision_device(
            iot, thing_name="store-9", deployment=DEPLOYMENT, bucket="demo-source", region=REGION, out_dir=tmp_path
        )
    assert iot.list_certificates()["certificates"] == []
    assert not (tmp_path / KEY_FILE).exists()


def test_undeployed_deployment_is_refused_naming_the_policy(iot: Any, tmp_path: Path) -> None:
    with pytest.raises(ProvisionError, match="ShopperSentiment-prod-edge"):
        provision_device(iot, thing_name=THING, deployment="prod", bucket="b-source", region=REGION, out_dir=tmp_path)
    assert iot.list_certificates()["certificates"] == []


def test_a_failure_after_the_certificate_exists_revokes_it(iot: Any, tmp_path: Path) -> None:
    class FailingAttachPolicy:
        def __init__(self, inner: Any) -> None:
            self._inner = inner

        def __getattr__(self, name: str) -> Any:
            return getattr(self._inner, name)

        def attach_policy(self, **_: Any) -> None:
            raise RuntimeError("throttled")

    with pytest.raises(RuntimeError, match="throttled"):
        provision_device(
            FailingAttachPolicy(iot),
            thing_name=THING,
            deployment=DEPLOYMENT,
            bucket="demo-source",
            region=REGION,
            out_dir=tmp_path,
        )
    assert iot.list_certificates()["certificates"] == []
    assert iot.list_thing_principals(thingName=THING)["principals"] == []
    assert not (tmp_path / KEY_FILE).exists()


def test_an_existing_device_key_is_never_overwritten(iot: Any, tmp_path: Path) -> None:
    (tmp_path / KEY_FILE).write_text("existing key")
    with pytest.raises(ProvisionError, match="refusing to replace"):
        provision_device(
            iot, thing_name=THING, deployment=DEPLOYMENT, bucket="demo-source", region=REGION, out_dir=tmp_path
        )
    assert (tmp_path / KEY_FILE).read_text() == "existing key"
    assert iot.list_certificates()["certificates"] == []


def test_provision_command_line(iot: Any, tmp_path: Path, capsys: Any) -> None:
    out = tmp_path / "bundle"
    code = main(
        [
            "provision",
            "--thing",
            THING,
            "--deployment",
            DEPLOYMENT,
            "--bucket",
            "demo-source",
            "--region",
            REGION,
            "--out",
            str(out),
        ]
    )
    assert code == 0
    assert "attached to thing store-1-entrance" in capsys.readouterr().out
    assert (out / "agent.toml").exists()
