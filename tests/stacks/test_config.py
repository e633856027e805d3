"""A wrong deployment config fails synth with a message naming the deployment and field."""

from __future__ import annotations

import copy
import os
import subprocess
from pathlib import Path

import pytest

from app import build_app
from shopper_sentiment.config import (
    CLOUDFORMATION_RESOURCES_PER_STACK,
    MAX_DEVICES_PER_DEPLOYMENT,
    ConfigError,
    load_config,
    parse_config,
)
from shopper_sentiment.contracts.analyze_function import CAMERA_FIELDS, REGISTRY_FIELDS
from shopper_sentiment.contracts.identifiers import CHECK_DEVICE_ID
from tests.cdk_apps import PROJECT_ROOT, new_app

GOOD = {
    "deployments": {
        "eu": {
            "region": "eu-west-1",
            "retention_days": 30,
            "rekognition_tps": 5,
            "stores": {
                "store-1": {
                    "timezone": "Europe/Berlin",
                    "devices": {"pi-1": {"camera_id": "door", "zone": "entrance"}},
                },
                "store-2": {
                    "timezone": "Europe/Berlin",
                    "devices": {"pi-2": {"camera_id": "till", "zone": "checkout"}},
                },
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


def test_the_demo_has_a_pi_with_two_cameras_beside_one_camera_pis():
    (demo,) = load_config(PROJECT_ROOT / "deployments.toml").deployments
    assert set(demo.stores["store-001"].devices) == {"pi-s001-entrance", "pi-s001-checkout"}
    (pi,) = demo.stores["store-002"].devices.values()
    assert {camera_id: camera.zone for camera_id, camera in pi.cameras.items()} == {
        "entrance": "entrance",
        "aisle-3": "grocery",
    }


def test_a_one_camera_device_written_on_one_line_is_a_device_with_that_camera():
    (deployment,) = parse_config(GOOD).deployments
    device = deployment.stores["store-1"].devices["pi-1"]
    assert list(device.cameras) == ["door"]
    assert device.cameras["door"].zone == "entrance"


def test_a_device_lists_its_cameras_each_with_its_zone():
    def two_cameras(d):
        d["stores"]["store-2"]["devices"]["pi-2"] = {
            "cameras": {"till": {"zone": "checkout"}, "aisle-3": {"zone": "grocery"}}
        }

    (deployment,) = parse_config(with_change(two_cameras)).deployments
    cameras = deployment.stores["store-2"].devices["pi-2"].cameras
    assert {camera_id: camera.zone for camera_id, camera in cameras.items()} == {
        "till": "checkout",
        "aisle-3": "grocery",
    }


def test_device_registry_gives_each_device_its_store_and_its_cameras_zones():
    def shuffled(d):
        d["stores"] = {
            "store-2": {
                "timezone": "Europe/Berlin",
                "devices": {"pi-2": {"cameras": {"till": {"zone": "checkout"}, "door": {"zone": "entrance"}}}},
            },
            "store-1": {
                "timezone": "America/Los_Angeles",
                "devices": {"pi-9": {"camera_id": "door", "zone": "entrance"}, "pi-1": {"camera_id": "x", "zone": "y"}},
            },
        }

    (deployment,) = parse_config(with_change(shuffled)).deployments
    registry = deployment.device_registry()
    everything = {"attributes": ["age", "appearance", "emotions", "gender"], "keep_images": True}
    assert registry == {
        "pi-1": {
            "store_id": "store-1",
            "timezone": "America/Los_Angeles",
            "cameras": {"x": {"zone": "y", **everything}},
        },
        "pi-9": {
            "store_id": "store-1",
            "timezone": "America/Los_Angeles",
            "cameras": {"door": {"zone": "entrance", **everything}},
        },
        "pi-2": {
            "store_id": "store-2",
            "timezone": "Europe/Berlin",
            "cameras": {"door": {"zone": "entrance", **everything}, "till": {"zone": "checkout", **everything}},
        },
    }
    # Sorted by store, device and camera, whatever the order of the file: the
    # registry is bundled into the function's asset, whose hash it changes.
    assert list(registry) == ["pi-1", "pi-9", "pi-2"]
    assert list(registry["pi-2"]["cameras"]) == ["door", "till"]
    for entry in registry.values():
        assert tuple(entry) == REGISTRY_FIELDS
        assert all(tuple(camera) == CAMERA_FIELDS for camera in entry["cameras"].values())


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
        lambda d: d["stores"].update(
            {"Store 3": {"timezone": "Europe/Berlin", "devices": {"pi-3": {"camera_id": "c", "zone": "z"}}}}
        ),
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
        lambda d: d["stores"].update({"store-3": {"timezone": "Europe/Berlin", "devices": {}}}),
        "deployment 'eu': field 'stores.store-3.devices': Dictionary should have at least 1 item",
        id="store-without-devices",
    ),
    pytest.param(
        lambda d: d["stores"]["store-1"]["devices"]["pi-1"].update(cameras={"till": {"zone": "checkout"}}),
        "deployment 'eu': field 'stores.store-1.devices.pi-1': give either a cameras table or camera_id and zone"
        " (the one-camera short form), not both",
        id="device-with-both-camera-forms",
    ),
    pytest.param(
        lambda d: d["stores"]["store-1"]["devices"].update({"pi-3": {}}),
        "deployment 'eu': field 'stores.store-1.devices.pi-3': no cameras: give a cameras table, or camera_id and"
        " zone for a single camera",
        id="device-without-cameras",
    ),
    pytest.param(
        lambda d: d["stores"]["store-1"]["devices"]["pi-1"].pop("zone"),
        "deployment 'eu': field 'stores.store-1.devices.pi-1': the one-camera short form needs both camera_id and"
        " zone (missing 'zone')",
        id="short-form-without-zone",
    ),
    pytest.param(
        lambda d: d["stores"]["store-1"]["devices"].update({"pi-3": {"cameras": {}}}),
        "deployment 'eu': field 'stores.store-1.devices.pi-3.cameras': Dictionary should have at least 1 item",
        id="empty-cameras-table",
    ),
    pytest.param(
        lambda d: d["stores"]["store-1"]["devices"].update({"pi-3": {"cameras": {"door": {"zone": "z", "fps": 2}}}}),
        "deployment 'eu': unknown key 'stores.store-1.devices.pi-3.cameras.door.fps'",
        id="unknown-camera-key",
    ),
    pytest.param(
        lambda d: d.update(region="eu-wset-1"),
        "deployment 'eu': field 'region': region 'eu-wset-1' is not a region of the aws, aws-cn or aws-us-gov"
        " partition (did you mean 'eu-west-1'?)",
        id="region-that-does-not-exist",
    ),
    pytest.param(
        lambda d: d.update(region="any", account="123456789012"),
        "deployment 'eu': field 'account': account '123456789012' is given with region = \"any\"",
        id="account-with-any-region",
    ),
    pytest.param(
        lambda d: d["stores"]["store-1"].pop("timezone"),
        "deployment 'eu': missing required field 'stores.store-1.timezone'",
        id="store-without-time-zone",
    ),
    pytest.param(
        lambda d: d["stores"]["store-1"].update(timezone="Europe/Berln"),
        "deployment 'eu': field 'stores.store-1.timezone': time zone 'Europe/Berln' is not an IANA time zone name"
        " such as 'Europe/Berlin' or 'America/Los_Angeles' (did you mean 'Europe/Berlin'?)",
        id="unknown-time-zone",
    ),
    pytest.param(
        lambda d: d["stores"]["store-1"].update(timezone="PST"),
        "deployment 'eu': field 'stores.store-1.timezone': time zone 'PST' is not an IANA time zone name",
        id="time-zone-abbreviation",
    ),
    pytest.param(
        lambda d: d.update(dashboard_lookback_days=0),
        "deployment 'eu': field 'dashboard_lookback_days': Input should be greater than or equal to 1",
        id="dashboard-lookback-of-zero-days",
    ),
    pytest.param(
        lambda d: d.update(quicksight_service_role="my-quicksight-role"),
        "deployment 'eu': field 'quicksight_service_role': quicksight_service_role 'my-quicksight-role' is given"
        " without quicksight_principal_arn",
        id="quicksight-role-without-a-dashboard",
    ),
    pytest.param(
        lambda d: d.update(
            quicksight_principal_arn="arn:aws:quicksight:us-east-1:123456789012:user/default/analyst",
            quicksight_service_role="arn:aws:iam::123456789012:role/service-role/qs",
        ),
        "deployment 'eu': field 'quicksight_service_role': IAM role name"
        " 'arn:aws:iam::123456789012:role/service-role/qs' has characters or a length not allowed",
        id="quicksight-role-as-an-arn",
    ),
    pytest.param(
        lambda d: d["stores"]["store-1"]["devices"].update(
            {"pi-3": {"cameras": {"Door": {"zone": "a"}, "door": {"zone": "b"}}}}
        ),
        "deployment 'eu': field 'stores.store-1.devices.pi-3.cameras': camera ids 'Door' and 'door'"
        " differ only in case",
        id="camera-ids-differing-only-in-case",
    ),
    pytest.param(
        lambda d: d["stores"]["store-1"]["devices"].update({"PI-1": {"camera_id": "door", "zone": "entrance"}}),
        "deployment 'eu': device ids 'pi-1' (store 'store-1') and 'PI-1' (store 'store-1') differ only in case",
        id="device-ids-differing-only-in-case-in-one-store",
    ),
    pytest.param(
        lambda d: d["stores"]["store-2"]["devices"].update({"Pi-1": {"camera_id": "door", "zone": "entrance"}}),
        "deployment 'eu': device ids 'pi-1' (store 'store-1') and 'Pi-1' (store 'store-2') differ only in case",
        id="device-ids-differing-only-in-case-across-stores",
    ),
    pytest.param(
        # The store id alphabet is lower-case, so store ids cannot differ only in case.
        lambda d: d["stores"].update(
            {"Store-1": {"timezone": "Europe/Berlin", "devices": {"pi-3": {"camera_id": "c", "zone": "z"}}}}
        ),
        "deployment 'eu': field 'stores': store id 'Store-1' has characters or a length not allowed",
        id="store-id-in-upper-case",
    ),
    pytest.param(
        lambda d: d["stores"].update(
            {
                "store-3": {
                    "timezone": "Europe/Berlin",
                    "devices": {
                        f"pi-3-{n}": {"camera_id": "c", "zone": "z"} for n in range(MAX_DEVICES_PER_DEPLOYMENT - 1)
                    },
                }
            }
        ),
        f"deployment 'eu': field 'stores': {MAX_DEVICES_PER_DEPLOYMENT + 1} devices are more than one stack can hold"
        f" (at most {MAX_DEVICES_PER_DEPLOYMENT}:",
        id="more-devices-than-one-stack-holds",
    ),
]


@pytest.mark.parametrize(("change", "message"), ERRORS)
def test_bad_config_is_refused_naming_the_deployment_and_field(change, message):
    with pytest.raises(ConfigError) as excinfo:
        parse_config(with_change(change), source="deployments.toml")
    assert str(excinfo.value).startswith("deployments.toml: ")
    assert message in str(excinfo.value)


@pytest.mark.parametrize("device_id", [CHECK_DEVICE_ID, CHECK_DEVICE_ID.upper()])
def test_the_device_id_reserved_for_the_deployment_check_is_refused_for_a_real_device(device_id):
    def reserved(d):
        d["stores"]["store-2"]["devices"][device_id] = {"camera_id": "door", "zone": "entrance"}

    with pytest.raises(ConfigError) as excinfo:
        parse_config(with_change(reserved), source="deployments.toml")
    assert f"deployment 'eu': field 'stores.store-2.devices': device id {device_id!r} is reserved for the" in str(
        excinfo.value
    )
    assert "give the real device another id" in str(excinfo.value)


def test_a_device_in_two_deployments_is_refused():
    data = copy.deepcopy(GOOD)
    data["deployments"]["us"] = copy.deepcopy(data["deployments"]["eu"]) | {"region": "us-east-1"}
    with pytest.raises(ConfigError, match="device id 'pi-1' is listed in deployments 'eu' and 'us'"):
        parse_config(data)


def test_a_device_id_in_two_deployments_differing_only_in_case_is_refused():
    data = copy.deepcopy(GOOD)
    data["deployments"]["us"] = copy.deepcopy(data["deployments"]["eu"]) | {"region": "us-east-1"}
    data["deployments"]["us"]["stores"] = {
        "store-9": {"timezone": "Europe/Berlin", "devices": {"PI-2": {"camera_id": "door", "zone": "entrance"}}}
    }
    with pytest.raises(ConfigError) as excinfo:
        parse_config(data, source="deployments.toml")
    assert str(excinfo.value) == (
        "deployments.toml: config: device ids 'pi-2' (deployment 'eu') and 'PI-2' (deployment 'us') differ only"
        " in case; a device id (its IoT thing name) must differ from the others in more than case: rename one"
    )


def test_deployment_names_differing_only_in_case_are_refused():
    data = copy.deepcopy(GOOD)
    data["deployments"] = {"prod": data["deployments"]["eu"], "Prod": copy.deepcopy(data["deployments"]["eu"])}
    data["deployments"]["Prod"]["stores"] = {
        "store-9": {"timezone": "Europe/Berlin", "devices": {"pi-9": {"camera_id": "door", "zone": "entrance"}}}
    }
    with pytest.raises(ConfigError) as excinfo:
        parse_config(data, source="deployments.toml")
    assert str(excinfo.value).startswith(
        "deployments.toml: config: deployment names 'prod' and 'Prod' differ only in case; the Glue database"
    )


@pytest.mark.parametrize("region", ["eu-west-1", "cn-north-1", "us-gov-west-1", "any"])
def test_a_region_of_each_partition_or_any_is_accepted(region):
    (deployment,) = parse_config(with_change(lambda d: d.update(region=region))).deployments
    assert deployment.region == region


def test_as_many_devices_as_one_stack_holds_are_accepted():
    def full(d):
        d["stores"]["store-1"]["devices"] = {
            f"pi-1-{n}": {"camera_id": "c", "zone": "z"} for n in range(MAX_DEVICES_PER_DEPLOYMENT - 1)
        }

    (deployment,) = parse_config(with_change(full)).deployments
    assert len(deployment.device_registry()) == MAX_DEVICES_PER_DEPLOYMENT


def test_the_device_maximum_fits_in_one_stack_beside_the_stacks_own_resources(tmp_path: Path):
    """MAX_DEVICES_PER_DEPLOYMENT, checked against synthesized templates rather than a count by hand."""

    def deployment(devices: dict) -> dict:
        return {
            "region": "any",
            "retention_days": 30,
            "rekognition_tps": 5,
            "stores": {"s1": {"timezone": "Europe/Berlin", "devices": devices}},
        }

    config = parse_config(
        {
            "deployments": {
                "one": deployment({"pi-a": {"camera_id": "door", "zone": "entrance"}}),
                "two": deployment(
                    {
                        "pi-b": {"camera_id": "door", "zone": "entrance"},
                        "pi-c": {"cameras": {"till": {"zone": "checkout"}, "aisle": {"zone": "grocery"}}},
                    }
                ),
            }
        }
    )
    assembly = build_app(new_app(tmp_path), config).synth()
    one, two = (assembly.get_stack_by_name(f"ShopperSentiment-{name}").template["Resources"] for name in ("one", "two"))
    per_device = len(two) - len(one)
    assert per_device == 1, "a device (whatever its cameras) should add exactly its IoT thing to the stack"
    fixed = len(one) - per_device
    assert fixed + MAX_DEVICES_PER_DEPLOYMENT * per_device <= CLOUDFORMATION_RESOURCES_PER_STACK, (
        f"the stack has {fixed} resources of its own: lower MAX_DEVICES_PER_DEPLOYMENT to at most"
        f" {CLOUDFORMATION_RESOURCES_PER_STACK - fixed}"
    )


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
        '[deployments.eu.stores.s1]\ntimezone = "UTC"\n'
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
