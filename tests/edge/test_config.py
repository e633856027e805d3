"""The TOML config: the example is valid, and bad values are refused naming the field."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

import pytest
from shopper_edge.cli import main
from shopper_edge.config import WATCH_ROOT, ConfigError, load_config, parse_config

EXAMPLE = Path(__file__).parents[2] / "edge" / "agent.example.toml"


def minimal(**sections: dict[str, Any]) -> dict[str, Any]:
    raw: dict[str, Any] = {
        "device": {"id": "store-1-cam-a", "camera_id": "entrance"},
        "watch": {"directory": "/var/lib/shopper-edge/spool"},
        "s3": {"bucket": "shopper-source", "region": "eu-west-1"},
        "credentials": {"mode": "default"},
        "spool": {"state_dir": "/var/lib/shopper-edge/state"},
    }
    for name, values in sections.items():
        raw.setdefault(name, {}).update(values)
    return raw


def test_the_commented_example_is_a_valid_config() -> None:
    config = load_config(EXAMPLE)
    assert config.credentials.mode == "iot"
    assert config.thinning.enabled is True  # thinning is on by default
    assert config.credentials.role_alias == "ShopperSentiment-demo-edge"
    assert config.cameras == {"cam1": "entrance", "cam2": "aisle-3"}


def test_a_single_camera_device_maps_the_watch_directory_itself_to_its_camera() -> None:
    config = parse_config(minimal(), base_dir=Path("/etc/shopper-edge"))
    assert config.cameras == {WATCH_ROOT: "entrance"}
    assert config.camera_of("") == "entrance"
    assert config.camera_of("cam1") is None  # a sub-folder is no camera of a single-camera device
    assert config.camera_prefix("entrance") == "incoming/store-1-cam-a/entrance/"


def test_a_multi_camera_device_maps_each_sub_folder_to_a_camera() -> None:
    raw = minimal(cameras={"cam1": "entrance", "cam2": "aisle-3"})
    del raw["device"]["camera_id"]
    config = parse_config(raw, base_dir=Path("/etc/shopper-edge"))
    assert config.cameras == {"cam1": "entrance", "cam2": "aisle-3"}
    assert (config.camera_of("cam2"), config.camera_of(""), config.camera_of("cam3")) == ("aisle-3", None, None)
    assert config.camera_folders() == {"entrance": "cam1", "aisle-3": "cam2"}


def _multi(cameras: Any) -> dict[str, Any]:
    raw = minimal()
    del raw["device"]["camera_id"]
    raw["cameras"] = cameras
    return raw


def _without_camera() -> dict[str, Any]:
    raw = minimal()
    del raw["device"]["camera_id"]
    return raw


@pytest.mark.parametrize(
    ("raw", "field", "says"),
    [
        (minimal(device={"camera_id": "bad id!"}), "device.camera_id", "must match"),
        (minimal(device={"camera_id": "c" * 65}), "device.camera_id", "must match"),
        (minimal(device={"camera_id": 3}), "device.camera_id", "must match"),
        (_without_camera(), "device.camera_id", "is required"),
        (minimal(cameras={"cam1": "entrance"}), "device.camera_id", "not both"),
        (_multi({}), "cameras", "at least one folder"),
        (_multi("entrance"), "cameras", "must be a table"),
        (_multi({".cam1": "entrance"}), "cameras..cam1", "not a sub-folder name"),
        (_multi({"cam1/x": "entrance"}), "cameras.cam1/x", "not a sub-folder name"),
        (_multi({"..": "entrance"}), "cameras...", "not a sub-folder name"),
        (_multi({"cam1": "-entrance"}), "cameras.cam1", "must match"),
        (_multi({"cam1": 1}), "cameras.cam1", "must match"),
        (_multi({"cam1": {"id": "entrance"}}), "cameras.cam1", "must match"),
        (_multi({"cam1": "entrance", "cam2": "entrance"}), "cameras.cam2", "already the camera of folder 'cam1'"),
    ],
)
def test_a_bad_camera_setting_is_refused_naming_the_key(raw: dict[str, Any], field: str, says: str) -> None:
    with pytest.raises(ConfigError) as error:
        parse_config(raw, base_dir=Path("/etc/shopper-edge"))
    assert error.value.field == field
    assert f"'{field}'" in str(error.value) and says in str(error.value)


def test_defaults_are_the_documented_ones() -> None:
    config = parse_config(minimal(), base_dir=Path("/etc/shopper-edge"))
    assert config.thinning.enabled and config.thinning.window_seconds == 10
    assert (config.thinning.grid_columns, config.thinning.grid_rows, config.thinning.cell_threshold) == (32, 24, 8.0)
    assert config.spool.min_free_bytes == 128 * 1024 * 1024
    assert config.clock.max_ahead_seconds == 300
    assert config.clock.check is False  # credentials.mode "default": a development machine


def test_the_clock_check_is_on_for_a_shop_device_with_iot_credentials() -> None:
    assert load_config(EXAMPLE).clock.check is True


def test_the_old_dhash_distance_is_accepted_ignored_and_named_as_deprecated() -> None:
    config = parse_config(minimal(thinning={"max_distance": 6}), base_dir=Path("/etc/shopper-edge"))
    assert "thinning.max_distance" in config.deprecated
    assert "thinning.cell_threshold" in config.deprecated["thinning.max_distance"]
    assert parse_config(minimal(), base_dir=Path("/etc/shopper-edge")).deprecated == {}
    assert config.jpeg.max_bytes == 15 * 1024 * 1024
    assert config.key_prefix == "incoming/store-1-cam-a/"


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"device": {"id": "bad id!"}}, "device.id"),
        ({"device": {"id": ""}}, "device.id"),
        ({"s3": {"bucket": "Bad_Bucket"}}, "s3.bucket"),
        ({"s3": {"region": "europe"}}, "s3.region"),
        ({"s3": {"endpoint_url": "localhost:5000"}}, "s3.endpoint_url"),
        ({"credentials": {"mode": "keys"}}, "credentials.mode"),
        ({"credentials": {"mode": "iot"}}, "credentials.endpoint"),
        ({"spool": {"max_bytes": -1}}, "spool.max_bytes"),
        ({"spool": {"max_files": 1.5}}, "spool.max_files"),
        ({"spool": {"max_files": True}}, "spool.max_files"),
        ({"spool": {"state_dir": "/var/lib/shopper-edge/spool/state"}}, "spool.state_dir"),
        ({"watch": {"settle_seconds": "2"}}, "watch.settle_seconds"),
        ({"watch": {"filename_timezone": "Mars/Olympus"}}, "watch.filename_timezone"),
        ({"watch": {"extensions": []}}, "watch.extensions"),
        ({"watch": {"settle_second": 2}}, "watch.settle_second"),
        ({"thinning": {"max_distance": 65.5}}, "thinning.max_distance"),
        ({"thinning": {"grid_columns": 65}}, "thinning.grid_columns"),
        ({"thinning": {"grid_rows": 0}}, "thinning.grid_rows"),
        ({"thinning": {"cell_threshold": 256}}, "thinning.cell_threshold"),
        ({"spool": {"min_free_bytes": -1}}, "spool.min_free_bytes"),
        ({"clock": {"max_ahead_seconds": 1}}, "clock.max_ahead_seconds"),
        ({"clock": {"check": "yes"}}, "clock.check"),
        ({"thinning": {"enabled": "yes"}}, "thinning.enabled"),
        ({"jpeg": {"max_bytes": 16 * 1024 * 1024}}, "jpeg.max_bytes"),
        ({"upload": {"concurrency": 0}}, "upload.concurrency"),
        ({"log": {"level": "chatty"}}, "log.level"),
        ({"typo": {}}, "typo"),
    ],
)
def test_a_bad_value_is_refused_with_the_field_named(overrides: dict[str, Any], field: str) -> None:
    with pytest.raises(ConfigError) as error:
        parse_config(minimal(**overrides), base_dir=Path("/etc/shopper-edge"))
    assert error.value.field == field
    assert f"'{field}'" in str(error.value)


def test_a_missing_required_field_is_named() -> None:
    raw = minimal()
    del raw["s3"]["bucket"]
    with pytest.raises(ConfigError, match=r"'s3\.bucket': is required"):
        parse_config(raw, base_dir=Path("/"))


def test_relative_paths_are_relative_to_the_config_file(tmp_path: Path) -> None:
    raw = minimal(watch={"directory": "spool"}, spool={"state_dir": "state"})
    config = parse_config(raw, base_dir=tmp_path)
    assert config.watch.directory == tmp_path / "spool"


def _write(tmp_path: Path, raw: dict[str, Any]) -> Path:
    lines: list[str] = []
    for section, values in raw.items():
        lines.append(f"[{section}]")
        for key, value in values.items():
            lines.append(f"{key} = {value!r}".replace("'", '"').replace("True", "true").replace("False", "false"))
    path = tmp_path / "agent.toml"
    path.write_text("\n".join(lines) + "\n")
    tomllib.loads(path.read_text())
    return path


def test_run_refuses_a_bad_config_at_start_naming_the_field(tmp_path: Path, capsys: Any) -> None:
    path = _write(tmp_path, minimal(spool={"max_files": 0}))
    assert main(["run", "--config", str(path)]) == 2
    assert "'spool.max_files'" in capsys.readouterr().err


def test_check_config_accepts_a_good_file_and_names_missing_iot_files(tmp_path: Path, capsys: Any) -> None:
    good = _write(tmp_path, minimal(watch={"directory": str(tmp_path / "spool")}))
    assert main(["check-config", "--config", str(good)]) == 0
    out = capsys.readouterr().out
    assert "ok: device store-1-cam-a" in out
    assert (
        "camera entrance: captures directly in the watch directory -> "
        "s3://shopper-source/incoming/store-1-cam-a/entrance/" in out
    )
    iot = minimal(
        credentials={
            "mode": "iot",
            "endpoint": "abc.credentials.iot.eu-west-1.amazonaws.com",
            "role_alias": "ShopperSentiment-demo-edge",
            "certificate": "device.cert.pem",
            "private_key": "device.private.key",
            "ca": "AmazonRootCA1.pem",
        }
    )
    assert main(["check-config", "--config", str(_write(tmp_path, iot))]) == 2
    assert "'credentials.certificate'" in capsys.readouterr().err


def test_check_config_prints_each_camera_with_its_folder_and_prefix(tmp_path: Path, capsys: Any) -> None:
    raw = _multi({"cam1": "entrance", "cam2": "aisle-3"})
    raw["watch"]["directory"] = str(tmp_path / "spool")
    assert main(["check-config", "--config", str(_write(tmp_path, raw))]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[1:] == [
        "  camera entrance: captures cam1/ -> s3://shopper-source/incoming/store-1-cam-a/entrance/",
        "  camera aisle-3: captures cam2/ -> s3://shopper-source/incoming/store-1-cam-a/aisle-3/",
        "  captures anywhere else in the watch directory are kept on disk and reported, never uploaded",
    ]
