"""The deployment a command acts on: its config entry, its session and its stack's outputs.

Every command takes ``--config``, ``--deployment``, ``--region`` and
``--outputs-file`` (``add_deployment_arguments``) and finds the deployment's
resources from its pipeline stack's outputs (CloudFormation DescribeStacks),
or from the file ``cdk deploy --outputs-file`` wrote, never from names a user
guesses (shopper_sentiment/contracts/outputs.py names the keys).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from shopper_sentiment.commands import UsageError

DEFAULT_CONFIG = "deployments.toml"


def add_deployment_arguments(parser: argparse.ArgumentParser) -> None:
    """``--config``, ``--deployment``, ``--region`` and ``--outputs-file``, as every command names them."""
    parser.add_argument("--config", default=DEFAULT_CONFIG, help=f"deployment config (default: {DEFAULT_CONFIG})")
    parser.add_argument("--deployment", help="deployment name in the config (needed when it has several)")
    parser.add_argument("--region", help="AWS region of the stack (default: the deployment's, unless it is 'any')")
    parser.add_argument(
        "--outputs-file",
        type=Path,
        help="read the stack outputs from this file (`cdk deploy --outputs-file`) instead of DescribeStacks",
    )


def deployment_from(args: argparse.Namespace) -> Any:
    """The ``shopper_sentiment.config.Deployment`` that ``--config`` and ``--deployment`` name; UsageError otherwise."""
    from shopper_sentiment.config import ConfigError, load_config

    if not Path(args.config).is_file():
        raise UsageError(f"{args.config}: config file not found (give the deployment config with --config PATH)")
    try:
        config = load_config(args.config)
    except ConfigError as exc:
        raise UsageError(str(exc)) from None
    names = [d.name for d in config.deployments]
    if args.deployment is None:
        if len(names) > 1:
            raise UsageError(
                f"{args.config} has several deployments ({', '.join(names)}): choose one with --deployment"
            )
        return config.deployments[0]
    for deployment in config.deployments:
        if deployment.name == args.deployment:
            return deployment
    raise UsageError(f"deployment {args.deployment!r} is not in {args.config} (its deployments: {', '.join(names)})")


def region_of(args: argparse.Namespace, deployment: Any) -> str | None:
    """``--region``, else the deployment's (None for an environment-agnostic one: the credentials' region)."""
    return args.region or (None if deployment.is_environment_agnostic else deployment.region)


def session_for(args: argparse.Namespace, deployment: Any, command: str) -> Any:
    """A boto3 session in the deployment's region."""
    try:
        import boto3
    except ImportError:
        raise UsageError(
            f"{command} needs boto3: install the pinned dependencies (pip install -r requirements-dev.txt)"
        ) from None
    return boto3.Session(region_name=region_of(args, deployment))


def outputs_of(args: argparse.Namespace, session: Any, stack_name: str) -> dict[str, str]:
    """The stack's outputs from ``--outputs-file`` if given, else from DescribeStacks."""
    if args.outputs_file:
        return outputs_from_file(args.outputs_file, stack_name)
    return stack_outputs(session.client("cloudformation"), stack_name)


def stack_outputs(cloudformation: Any, stack_name: str) -> dict[str, str]:
    from botocore.exceptions import ClientError

    try:
        (stack,) = cloudformation.describe_stacks(StackName=stack_name)["Stacks"]
    except ClientError as exc:
        raise UsageError(
            f"stack {stack_name} cannot be described ({exc.response.get('Error', {}).get('Message', exc)});"
            " check the region (--region) and the credentials"
        ) from None
    return {item["OutputKey"]: item["OutputValue"] for item in stack.get("Outputs", [])}


def outputs_from_file(path: Path, stack_name: str) -> dict[str, str]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise UsageError(f"{path}: cannot read the stack outputs: {exc}") from None
    if not isinstance(data, dict) or not isinstance(data.get(stack_name), dict):
        raise UsageError(f"{path}: no outputs of stack {stack_name} (as written by cdk deploy --outputs-file)")
    return {str(k): str(v) for k, v in data[stack_name].items()}
