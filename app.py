#!/usr/bin/env python3
"""CDK entry point: the stacks of every deployment in the config (``stacks.deployments``).

``cdk synth`` runs this file; the tests call ``build_app`` with their own
``cdk.App`` and config. cdk-nag's AwsSolutions pack is attached as a gate.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import aws_cdk as cdk

from shopper_sentiment.config import ConfigError, PipelineConfig, load_config
from stacks.deployments import add_deployments

PROJECT_ROOT = Path(__file__).resolve().parent


def config_path(app: cdk.App) -> Path:
    value = app.node.try_get_context("config")
    if not value:
        raise ConfigError("no config: set the 'config' context in cdk.json or pass -c config=PATH")
    path = Path(str(value))
    return path if path.is_absolute() else PROJECT_ROOT / path


def build_app(app: cdk.App, config: PipelineConfig | None = None) -> cdk.App:
    """Add the stacks of every deployment in the config to ``app``, with the cdk-nag gate."""
    return add_deployments(app, config or load_config(config_path(app)))


def cdk_json_context() -> dict:
    """The context (feature flags, config path) cdk.json gives the CLI; tests use the same."""
    return dict(json.loads((PROJECT_ROOT / "cdk.json").read_text(encoding="utf-8"))["context"])


def main() -> None:
    try:
        app = build_app(cdk.App())
    except ConfigError as exc:
        sys.exit(f"Shopper Sentiment config error: {exc}")
    app.synth()


if __name__ == "__main__":
    main()
