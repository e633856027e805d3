"""The files that put the agent on a Pi agree with the agent and with each other."""

from __future__ import annotations

import configparser
import subprocess
import time
import tomllib
from datetime import UTC, datetime
from pathlib import Path

from shopper_edge import capture
from shopper_edge.cli import EXIT_CONFIG
from shopper_edge.config import load_config, parse_config

EDGE = Path(__file__).parents[2] / "edge"


def _unit() -> configparser.ConfigParser:
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read(EDGE / "shopper-edge.service")
    return parser


def test_systemd_unit_restarts_runs_unprivileged_and_is_hardened() -> None:
    service = _unit()["Service"]
    assert service["ExecStart"].startswith("/opt/shopper-edge/venv/bin/shopper-edge run ")
    assert service["Restart"] == "always"
    assert service["User"] == "shopper-edge"
    assert service["RestartPreventExitStatus"] == str(EXIT_CONFIG)  # a bad config is not retried forever
    for directive, value in {
        "NoNewPrivileges": "yes",
        "ProtectSystem": "strict",
        "PrivateTmp": "yes",
        "ProtectHome": "yes",
        "KillSignal": "SIGTERM",
        "CapabilityBoundingSet": "",
    }.items():
        assert service[directive] == value, directive


def test_unit_writable_paths_are_the_example_spool_and_state() -> None:
    service = _unit()["Service"]
    example = load_config(EDGE / "agent.example.toml")
    assert Path(service["ReadWritePaths"]) == example.watch.directory
    assert Path("/var/lib") / service["StateDirectory"] == example.spool.state_dir


def _motion_settings(*, alternative: bool = False) -> list[tuple[str, str]]:
    """(option, value) lines of the snippet; ``alternative``: the commented-out ``; option value`` lines."""
    lines = (EDGE / "motion.conf.snippet").read_text().splitlines()
    if alternative:
        lines = [line.removeprefix("; ") for line in lines if line.startswith("; ")]
    else:
        lines = [line for line in lines if line.strip() and not line.startswith(("#", ";"))]
    return [tuple(line.split(None, 1)) for line in lines if " " in line]  # type: ignore[misc]


def _motion_file_name(picture_filename: str, camera: int) -> str:
    # Expand motion's specifiers the way motion does (strftime + %t camera id + %q frame).
    taken = time.struct_time((2026, 11, 25, 14, 30, 5, 2, 329, 0))
    return time.strftime(picture_filename.replace("%t", str(camera)).replace("%q", "07"), taken) + ".jpg"


def test_motion_snippet_writes_one_folder_per_camera_of_the_example_config() -> None:
    settings = dict(_motion_settings())
    example = load_config(EDGE / "agent.example.toml")
    assert Path(settings["target_dir"]) == example.watch.directory
    assert "on_picture_save" not in settings
    cameras = set()
    for camera in (1, 2):
        path = example.watch.directory / _motion_file_name(settings["picture_filename"], camera)
        assert capture.is_capture_name(path, example.watch.extensions)
        folder = capture.camera_folder(path, example.watch.directory)
        assert folder is not None
        cameras.add(example.camera_of(folder))
        assert capture.time_from_filename(path.name, "UTC") == datetime(2026, 11, 25, 14, 30, 5, tzinfo=UTC)
    assert cameras == set(example.cameras.values()) == {"entrance", "aisle-3"}


def test_motion_snippet_single_camera_alternative_writes_into_the_watch_directory() -> None:
    (alternative,) = [value for option, value in _motion_settings(alternative=True) if option == "picture_filename"]
    raw = tomllib.loads((EDGE / "agent.example.toml").read_text())
    del raw["cameras"]
    raw["device"]["camera_id"] = "entrance"
    single = parse_config(raw, base_dir=EDGE)
    path = single.watch.directory / _motion_file_name(alternative, 1)
    folder = capture.camera_folder(path, single.watch.directory)
    assert folder is not None and single.camera_of(folder) == "entrance"


def test_package_exposes_the_console_script_and_install_script_parses() -> None:
    project = tomllib.loads((EDGE / "pyproject.toml").read_text())["project"]
    assert project["name"] == "shopper-edge"
    assert project["scripts"]["shopper-edge"] == "shopper_edge.cli:main"
    assert subprocess.run(["bash", "-n", str(EDGE / "install.sh")], check=False).returncode == 0
