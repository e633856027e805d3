"""CDK apps for tests: the same context (feature flags) the CLI gets from cdk.json."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import aws_cdk as cdk

from app import cdk_json_context
from shopper_sentiment.contracts.analyze_function import DEVICE_REGISTRY_FILE

PROJECT_ROOT = Path(__file__).resolve().parents[1]


def new_app(outdir: Path | None = None) -> cdk.App:
    """An App with exactly the context cdk.json gives the CLI."""
    return cdk.App(context=cdk_json_context(), outdir=str(outdir) if outdir else None)


def is_analyze_function(resource: dict[str, Any]) -> bool:
    """Whether a template resource is the analyze function: the one given the device registry."""
    if resource["Type"] != "AWS::Lambda::Function":
        return False
    return DEVICE_REGISTRY_FILE in resource["Properties"].get("Environment", {}).get("Variables", {})
