"""Console entry point: `shopper-edge run | status | check-config | provision`."""

from __future__ import annotations

import argparse
import json
import logging
import signal
import sys
from pathlib import Path
from types import FrameType

from . import __version__
from .config import AgentConfig, ConfigError, load_config
from .log import configure, emit

DEFAULT_CONFIG = Path("/etc/shopper-edge/agent.toml")
EXIT_CONFIG = 2


def _load(path: Path) -> AgentConfig | None:
    try:
        return load_config(path)
    except ConfigError as exc:
        print(f"shopper-edge: invalid configuration {path}: {exc}", file=sys.stderr)
        return None


def _missing_files(config: AgentConfig) -> list[str]:
    problems: list[str] = []
    if config.credentials.mode == "iot":
        for field in ("certificate", "private_key", "ca"):
            path = getattr(config.credentials, field)
            if path is None or not path.is_file():
                problems.append(f"config field 'credentials.{field}': file {path} does not exist")
    return problems


def cmd_run(args: argparse.Namespace) -> int:
    config = _load(args.config)
    if config is None:
        return EXIT_CONFIG
    configure(config.log_level)
    problems = _missing_files(config)
    if problems:
        for problem in problems:
            emit(logging.ERROR, "config_error", detail=problem)
        return EXIT_CONFIG

    # Imported here so `status` and `check-config` stay fast on a Pi Zero.
    from .agent import CaptureAgent
    from .credentials import session_from_config
    from .upload import s3_client

    agent = CaptureAgent(config, s3_client(session_from_config(config), config))

    def _graceful(signum: int, _frame: FrameType | None) -> None:
        emit(logging.INFO, "stopping", signal=signal.Signals(signum).name)
        agent.stop()

    signal.signal(signal.SIGTERM, _graceful)
    signal.signal(signal.SIGINT, _graceful)
    agent.run()
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    config = _load(args.config)
    if config is None:
        return EXIT_CONFIG
    from .status import format_report, status_report

    report = status_report(config)
    print(json.dumps(report, indent=2) if args.json else format_report(report))
    return 0


def cmd_check_config(args: argparse.Namespace) -> int:
    config = _load(args.config)
    if config is None:
        return EXIT_CONFIG
    problems = _missing_files(config)
    for problem in problems:
        print(f"shopper-edge: {problem}", file=sys.stderr)
    if problems:
        return EXIT_CONFIG
    print(
        f"ok: device {config.device_id} watches {config.watch.directory} -> "
        f"s3://{config.s3.bucket}/{config.key_prefix} ({config.s3.region}, credentials {config.credentials.mode})"
    )
    return 0


def cmd_provision(args: argparse.Namespace) -> int:
    import boto3

    from .provision import ProvisionError, provision_device

    iot = boto3.client("iot", region_name=args.region)
    try:
        result = provision_device(
            iot,
            thing_name=args.thing,
            deployment=args.deployment,
            bucket=args.bucket,
            region=args.region,
            out_dir=args.out,
            watch_dir=args.watch_dir,
            state_dir=args.state_dir,
        )
    except ProvisionError as exc:
        print(f"shopper-edge provision: {exc}", file=sys.stderr)
        return 1
    print(f"certificate {result.certificate_id} attached to thing {args.thing}")
    print(f"bundle written to {result.bundle_dir} (copy it to /etc/shopper-edge on the device)")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="shopper-edge", description=__doc__)
    parser.add_argument("--version", action="version", version=f"shopper-edge {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    for name, func, help_text in (
        ("run", cmd_run, "watch the capture directory and upload (the systemd service)"),
        ("status", cmd_status, "queue depth, bytes pending, last upload/error, dropped and skipped counts"),
        ("check-config", cmd_check_config, "validate the configuration file and exit"),
    ):
        command = sub.add_parser(name, help=help_text)
        command.add_argument("-c", "--config", type=Path, default=DEFAULT_CONFIG)
        command.set_defaults(func=func)
        if name == "status":
            command.add_argument("--json", action="store_true", help="machine-readable output")

    prov = sub.add_parser("provision", help="create and attach the device certificate, write the device bundle")
    prov.add_argument("--thing", required=True, help="IoT thing name = device id")
    prov.add_argument("--deployment", required=True, help="deployment name (role alias ShopperSentiment-<name>-edge)")
    prov.add_argument("--bucket", required=True, help="source bucket of that deployment")
    prov.add_argument("--region", required=True)
    prov.add_argument("--out", type=Path, required=True, help="directory for the bundle")
    prov.add_argument("--watch-dir", default="/var/lib/shopper-edge/spool")
    prov.add_argument("--state-dir", default="/var/lib/shopper-edge/state")
    prov.set_defaults(func=cmd_provision)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.func(args))
