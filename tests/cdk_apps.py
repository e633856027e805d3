"""CDK apps for tests: the same context (feature flags) the CLI gets from cdk.json."""

from __future__ import annotations

from pathlib import Path

import aws_cdk as cdk

from app import cdk_json_context

PROJECT_ROOT = Path(__file__).resolve().parents[1]


def new_app(outdir: Path | None = None) -> cdk.App:
    """An App with exactly the context cdk.json gives the CLI."""
    return cdk.App(context=cdk_json_context(), outdir=str(outdir) if outdir else None)
