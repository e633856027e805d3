"""A wrong deployment config fails synth with a message naming the deployment and field."""

from __future__ import annotations

import copy
import os
import subprocess
from pathlib import Path

import pytest

from stacks.config import ConfigError, load_config, parse_config
from tests.cdk_apps import PROJECT_ROOT

GOOD = {
    "deployments": {
        "eu": {
            "region": "eu-west-1",
            "retention_days": 30,
            "rekognition_tps": 5,
            "stores": {
                "store-1": {"devices": {"pi-1": {"camera_id": "door", "zone": "entrance"}}},
                "store-2": {"devices": {"pi-2": {"camera_id": "till", "zone": "checkout"}}},
            },
        }
    }
}


def with_change(change) -> dict:
    data = copy.deepcopy(GOOD)
    change(data["deployments"]["eu"])
    return data


def test_the_demo_config_loads_and_is_environment_agnostic():
    config = load_config(PROJECT_ROOT / "deployments.toml")
    (demo,) = config.deployments
    assert demo.name == "demo"
    assert demo.is_environment_agnostic
    assert demo.stack_name == "ShopperSentiment-demo"


def test_device_registry_maps_each_device_to_store_camera_and_zone():
    (deployment,) = parse_config(GOOD).deployments
    assert deployment.device_registry() == {
        "pi-1": {"store_id": "store-1", "camera_id": "door", "zone": "entrance"},
        "pi-2": {"store_id": "store-2", "camera_id": "till", "zone": "checkout"},
    }


ERRORS = [
    pytest.param(lambda d: d.pop("region"), "deployment 'eu': missing required field 'region'", id="missing-region"),
    pytest.param(
        lambda d: d["stores"]["store-2"]["devices"].update({"pi-1": {"camera_id": "x", "zone": "y"}}),
        "deployment 'eu': device id 'pi-1' is listed in stores 'store-1' and 'store-2'",
        id="duplicate-device-across-stores",
    ),
    pytest.param(
        lambda d: d.update(retention_days=0),
        "deployment 'eu': field 'retention_days': Input should be greater than or equal to 1 (got 0)",
        id="retention-below-one-day",
    ),
    pytest.param(lambda d: d.update(retention=30), "deployment 'eu': unknown key 'retention'", id="unknown-key"),
    pytest.param(
        lambda d: d["stores"]["store-1"]["devices"]["pi-1"].update(colour="red"),
        "deployment 'eu': unknown key 'stores.store-1.devices.pi-1.colour'",
        id="unknown-nested-key",
    ),
    pytest.param(
        lambda d: d["stores"].update({"Store 3": {"devices": {"pi-3": {"camera_id": "c", "zone": "z"}}}}),
        "deployment 'eu': field 'stores': store id 'Store 3' has characters or a length not allowed",
        id="bad-store-id-characters",
    ),
    pytest.param(
        lambda d: d["stores"]["store-1"]["devices"].update({"pi/4": {"camera_id": "c", "zone": "z"}}),
        "deployment 'eu': field 'stores.store-1.devices': device id 'pi/4' has characters or a length not allowed",
        id="bad-device-id-characters",
    ),
    pytest.param(
        lambda d: d.update(region="Europe"),
        "deployment 'eu': field 'region': region 'Europe' has characters or a length not allowed",
        id="bad-region",
    ),
    pytest.param(
        lambda d: d.update(account="12345"),
        "deployment 'eu': field 'account': account '12345' has characters or a length not allowed",
        id="bad-account",
    ),
    pytest.param(
        lambda d: d.update(quicksight_principal_arn="arn:aws:iam::123456789012:user/bob"),
        "deployment 'eu': field 'quicksight_principal_arn': QuickSight principal ARN",
        id="bad-quicksight-principal",
    ),
    pytest.param(
        lambda d: d.update(rekognition_tps="5"),
        "deployment 'eu': field 'rekognition_tps': Input should be a valid integer",
        id="tps-not-an-integer",
    ),
    pytest.param(
        lambda d: d["stores"].update({"store-3": {"devices": {}}}),
        "deployment 'eu': field 'stores.store-3.devices': Dictionary should have at least 1 item",
        id="store-without-devices",
    ),
]


@pytest.mark.parametrize(("change", "message"), ERRORS)
def test_bad_config_is_refused_naming_the_deployment_and_field(change, message):
    with pytest.raises(ConfigError) as excinfo:
        parse_config(with_change(change), source="deployments.toml")
    assert str(excinfo.value).startswith("deployments.toml: ")
    assert message in str(excinfo.value)


def test_a_device_in_two_deployments_is_refused():
    data = copy.deepcopy(GOOD)
    data["deployments"]["us"] = copy.deepcopy(data["deployments"]["eu"]) | {"region": "us-east-1"}
    with pytest.raises(ConfigError, match="device id 'pi-1' is listed in deployments 'eu' and 'us'"):
        parse_config(data)


def test_an_empty_or_unknown_top_level_config_is_refused():
    with pytest.raises(ConfigError, match="no deployments"):
        parse_config({})
    with pytest.raises(ConfigError, match="unknown top-level key 'stores'"):
        parse_config({"deployments": GOOD["deployments"], "stores": {}})


def test_missing_or_malformed_config_files_are_named(tmp_path):
    with pytest.raises(ConfigError, match="config file not found"):
        load_config(tmp_path / "nope.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("[deployments.x\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="bad.toml: not valid TOML"):
        load_config(bad)


CDK = PROJECT_ROOT / "node_modules" / ".bin" / "cdk"


def test_cdk_synth_with_a_bad_config_fails_naming_the_field(tmp_path: Path):
    if not CDK.exists():
        pytest.fail("the pinned CDK CLI is missing: run `make test`, which installs it with npm ci")
    bad = tmp_path / "bad.toml"
    bad.write_text(
        '[deployments.eu]\nregion = "eu-west-1"\nretention_days = 0\nrekognition_tps = 5\n'
        '[deployments.eu.stores.s1.devices]\npi-1 = { camera_id = "c", zone = "z" }\n',
        encoding="utf-8",
    )
    env = os.environ | {"PATH": f"{Path(os.sys.executable).parent}:{os.environ['PATH']}"}
    result = subprocess.run(
        [str(CDK), "synth", "--quiet", "-c", f"config={bad}", "-o", str(tmp_path / "out")],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert result.returncode != 0
    assert "deployment 'eu': field 'retention_days'" in result.stderr
    assert "Traceback" not in result.stderr
