"""Shopper Sentiment edge agent: `shopper-edge run | status | check-config | provision | decommission`."""

from __future__ import annotations

import argparse
import json
import logging
import signal
import sys
import textwrap
from pathlib import Path
from types import FrameType
from typing import Any

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


def _refuse(command: str, message: object, exit_code: int) -> int:
    print(f"shopper-edge {command}: {message}", file=sys.stderr)
    return exit_code


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
    from .clock import CaptureClock
    from .credentials import session_from_config
    from .upload import s3_client

    clock = CaptureClock(max_ahead_seconds=config.clock.max_ahead_seconds)
    session = session_from_config(config, on_date=clock.observe_date)
    agent = CaptureAgent(config, s3_client(session, config), clock=clock)

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
    for camera, folder in config.camera_folders().items():
        where = "directly in the watch directory" if folder == "." else f"{folder}/"
        print(f"  camera {camera}: captures {where} -> s3://{config.s3.bucket}/{config.camera_prefix(camera)}")
    print("  captures anywhere else in the watch directory are kept on disk and reported, never uploaded")
    return 0


def cmd_provision(args: argparse.Namespace) -> int:
    import boto3
    from botocore.exceptions import BotoCoreError, ClientError

    from .deployment import DeploymentLookupError, edge_target
    from .provision import ProvisionError, cameras_from_options, provision_device

    try:
        cameras = cameras_from_options(args.camera or [])
        cloudformation = boto3.client("cloudformation", region_name=args.region) if args.stack else None
        target = edge_target(cloudformation, stack=args.stack, deployment=args.deployment, bucket=args.bucket)
    except (ValueError, DeploymentLookupError) as exc:
        return _refuse("provision", exc, EXIT_CONFIG)
    except (ClientError, BotoCoreError) as exc:
        return _refuse("provision", f"reading stack {args.stack!r} failed: {exc}", 1)
    iot = boto3.client("iot", region_name=args.region)
    try:
        result = provision_device(
            iot,
            thing_name=args.thing,
            target=target,
            cameras=cameras,
            region=args.region,
            out_dir=args.out,
            watch_dir=args.watch_dir,
            state_dir=args.state_dir,
        )
    except ProvisionError as exc:
        return _refuse("provision", exc, EXIT_CONFIG)
    except (ClientError, BotoCoreError) as exc:
        return _refuse("provision", f"AWS IoT refused ({exc}); no certificate was left behind", 1)
    print(f"certificate {result.certificate_id} attached to thing {args.thing} and policy {target.policy}")
    print(f"uploads to s3://{target.bucket}/incoming/{args.thing}/<camera>/ through role alias {target.role_alias}")
    print(f"bundle written to {result.bundle_dir} (copy it to /etc/shopper-edge on the device)")
    return 0


def cmd_decommission(args: argparse.Namespace) -> int:
    import boto3
    from botocore.exceptions import BotoCoreError, ClientError

    from .config import DEVICE_ID_PATTERN
    from .decommission import DecommissionError, execute, plan_decommission
    from .deployment import edge_name, edge_resource_name

    if not DEVICE_ID_PATTERN.fullmatch(args.thing):
        return _refuse("decommission", f"--thing {args.thing!r} is not a thing name", EXIT_CONFIG)
    policy = edge_name(args.stack) if args.stack else edge_resource_name(args.deployment) if args.deployment else None
    iot = boto3.client("iot", region_name=args.region)
    try:
        plan = plan_decommission(iot, thing_name=args.thing, region=args.region, policy=policy)
        if not args.json:
            print("\n".join(plan.plan_lines()) + "\n", flush=True)
        if not args.dry_run:
            execute(iot, plan)
    except DecommissionError as exc:
        return _refuse("decommission", exc, EXIT_CONFIG)
    except (ClientError, BotoCoreError) as exc:
        # Only reading the plan can get here (execute records a failed step and goes on): nothing changed.
        return _refuse("decommission", f"AWS IoT refused: {exc}; nothing was changed", 1)
    print(json.dumps(plan.as_json(), indent=2) if args.json else "\n".join(plan.result_lines()))
    return 1 if plan.left() else 0


def _command(sub: Any, name: str, *, help_text: str, description: str, example: str) -> argparse.ArgumentParser:
    # Raw: the examples keep their line breaks; the description is wrapped here instead.
    return sub.add_parser(
        name,
        help=help_text,
        description="\n\n".join(textwrap.fill(paragraph, 79) for paragraph in description.split("\n\n")),
        epilog=f"example:\n{example}",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="shopper-edge",
        description=__doc__,
        epilog="examples:\n"
        "  shopper-edge check-config --config /etc/shopper-edge/agent.toml   # the cameras and their S3 prefixes\n"
        "  shopper-edge status --json\n"
        "  shopper-edge provision --thing pi-s002 --stack ShopperSentiment-demo --region eu-west-1 \\\n"
        "      --camera cam1=entrance --camera cam2=aisle-3 --out bundle/\n"
        "  shopper-edge <command> --help   # each command's options, with an example",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"shopper-edge {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="command")

    for name, func, help_text, example in (
        ("run", cmd_run, "watch the capture directory and upload (the systemd service)", ""),
        (
            "status",
            cmd_status,
            "queue depth per camera, bytes pending, last upload/error, dropped, skipped and unmapped files",
            " --json",
        ),
        ("check-config", cmd_check_config, "validate the configuration file, print the cameras and exit", ""),
    ):
        command = _command(
            sub,
            name,
            help_text=help_text,
            description=help_text[0].upper() + help_text[1:] + ".",
            example=f"  shopper-edge {name} --config /etc/shopper-edge/agent.toml{example}",
        )
        command.add_argument(
            "-c", "--config", type=Path, default=DEFAULT_CONFIG, help="the agent's TOML file (%(default)s)"
        )
        command.set_defaults(func=func)
        if name == "status":
            command.add_argument("--json", action="store_true", help="machine-readable output")

    prov = _command(
        sub,
        "provision",
        help_text="create and attach the device certificate, write the device bundle",
        description="Create the device certificate, attach it to the IoT thing and the deployment's IoT policy, "
        "and write the bundle for /etc/shopper-edge (certificate, private key, agent.toml with the cameras).\n\n"
        "The source bucket and the role alias come from the outputs of the pipeline stack (--stack), or "
        "from --deployment and --bucket; flags given next to --stack must agree with it.\n\n"
        "Exit status: 0 done, 1 AWS refused (no certificate left behind), 2 bad arguments.",
        example="  # a Pi with two cameras; motion writes cam1/... and cam2/... under the watch directory\n"
        "  shopper-edge provision --thing pi-s002 --stack ShopperSentiment-demo --region eu-west-1 \\\n"
        "      --camera cam1=entrance --camera cam2=aisle-3 --out bundle/\n"
        "  # a Pi with one camera; motion writes into the watch directory itself\n"
        "  shopper-edge provision --thing pi-s001-entrance --stack ShopperSentiment-demo --region eu-west-1 \\\n"
        "      --camera entrance --out bundle/",
    )
    prov.add_argument("--thing", required=True, help="IoT thing name = device id")
    prov.add_argument("--region", required=True, help="the deployment's AWS region")
    prov.add_argument(
        "--stack", help="pipeline stack (ShopperSentiment-<deployment>): bucket and role alias from its outputs"
    )
    prov.add_argument("--deployment", help="without --stack: deployment name (role alias ShopperSentiment-<name>-edge)")
    prov.add_argument("--bucket", help="without --stack: the deployment's source bucket")
    prov.add_argument(
        "--camera",
        action="append",
        required=True,
        metavar="[FOLDER=]ID",
        help="ID: the only camera, captures directly in the watch directory; "
        "FOLDER=ID, once per camera: motion's sub-folder of the watch directory and its camera id",
    )
    prov.add_argument("--out", type=Path, required=True, help="directory for the bundle")
    prov.add_argument(
        "--watch-dir", default="/var/lib/shopper-edge/spool", help="watch.directory on the device (%(default)s)"
    )
    prov.add_argument(
        "--state-dir", default="/var/lib/shopper-edge/state", help="spool.state_dir on the device (%(default)s)"
    )
    prov.set_defaults(func=cmd_provision)

    dec = _command(
        sub,
        "decommission",
        help_text="detach, deactivate and delete a device's certificates (before removing it from the config)",
        description="For every certificate attached to the thing: detach its IoT policies, set it INACTIVE, "
        "detach it from the thing and delete it, so that CloudFormation can then delete the thing and the "
        "policy. A certificate that another thing uses too is only detached from this thing, and named.\n\n"
        "Prints the plan before changing anything and what was done per step at the end; a second run "
        "finds nothing to do. Retire a device in this order: decommission, remove the device from the "
        "deployment config, cdk deploy.\n\n"
        "Exit status: 0 done (or nothing to do), 1 something left (named), 2 bad arguments.",
        example="  shopper-edge decommission --thing pi-s002 --stack ShopperSentiment-demo --region eu-west-1 \\\n"
        "      --dry-run\n"
        "  shopper-edge decommission --thing pi-s002 --stack ShopperSentiment-demo --region eu-west-1\n"
        "  # then remove pi-s002 from deployments.toml and run `cdk deploy`",
    )
    dec.add_argument("--thing", required=True, help="IoT thing name = device id")
    dec.add_argument("--region", required=True, help="the deployment's AWS region")
    which = dec.add_mutually_exclusive_group()
    which.add_argument("--deployment", help="deployment name: its IoT policy is ShopperSentiment-<name>-edge")
    which.add_argument("--stack", help="pipeline stack (ShopperSentiment-<deployment>): its IoT policy is <stack>-edge")
    dec.add_argument("--dry-run", action="store_true", help="print what would be done and change nothing")
    dec.add_argument("--json", action="store_true", help="print the result as one JSON document")
    dec.set_defaults(func=cmd_decommission)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.func(args))
