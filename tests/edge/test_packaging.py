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
from shopper_edge.config import load_config

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


def test_motion_snippet_writes_names_the_agent_parses_per_camera() -> None:
    settings = dict(
        line.split(None, 1)
        for line in (EDGE / "motion.conf.snippet").read_text().splitlines()
        if line.strip() and not line.startswith(("#", ";"))
    )
    example = load_config(EDGE / "agent.example.toml")
    assert Path(settings["target_dir"]) == example.watch.directory
    assert "on_picture_save" not in settings
    # Expand motion's specifiers the way motion does (strftime + %t camera + %q frame).
    taken = time.struct_time((2026, 11, 25, 14, 30, 5, 2, 329, 0))
    name = time.strftime(settings["picture_filename"].replace("%t", "2").replace("%q", "07"), taken) + ".jpg"
    path = example.watch.directory / name
    assert capture.is_capture_name(path, example.watch.extensions)
    assert capture.camera_of(path, example.watch.directory) == "cam2"
    assert capture.time_from_filename(path.name, "UTC") == datetime(2026, 11, 25, 14, 30, 5, tzinfo=UTC)


def test_package_exposes_the_console_script_and_install_script_parses() -> None:
    project = tomllib.loads((EDGE / "pyproject.toml").read_text())["project"]
    assert project["name"] == "shopper-edge"
    assert project["scripts"]["shopper-edge"] == "shopper_edge.cli:main"
    assert subprocess.run(["bash", "-n", str(EDGE / "install.sh")], check=False).returncode == 0
