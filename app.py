#!/usr/bin/env python3
"""CDK entry point: one PipelineStack (and, with a QuickSight principal, a DashboardStack) per deployment.

``cdk synth`` runs this file; the tests call ``build_app`` with their own
``cdk.App`` and config. cdk-nag's AwsSolutions pack is attached as a gate.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import aws_cdk as cdk
from aws_cdk import Validations
from cdk_nag import AwsSolutionsChecks

from stacks.config import ConfigError, PipelineConfig, load_config
from stacks.pipeline_stack import PipelineStack

PROJECT_ROOT = Path(__file__).resolve().parent


def config_path(app: cdk.App) -> Path:
    value = app.node.try_get_context("config")
    if not value:
        raise ConfigError("no config: set the 'config' context in cdk.json or pass -c config=PATH")
    path = Path(str(value))
    return path if path.is_absolute() else PROJECT_ROOT / path


def build_app(app: cdk.App, config: PipelineConfig | None = None) -> cdk.App:
    """Add the stacks of every deployment to ``app`` and the cdk-nag gate."""
    config = config or load_config(config_path(app))
    for deployment in config.deployments:
        env = (
            None
            if deployment.is_environment_agnostic
            else cdk.Environment(account=deployment.account, region=deployment.region)
        )
        pipeline = PipelineStack(app, deployment.stack_name, deployment=deployment, env=env)
        if deployment.quicksight_principal_arn:
            # Imported here: the QuickSight builders are only needed when a
            # deployment asks for a dashboard.
            from dashboards.stack import DashboardStack

            dashboard = DashboardStack(
                app,
                f"{deployment.stack_name}-Dashboard",
                name_prefix=deployment.stack_name,
                workgroup_name=pipeline.analytics.workgroup_name,
                database_name=pipeline.analytics.database_name,
                principal_arn=deployment.quicksight_principal_arn,
                import_mode=deployment.quicksight_import_mode,
                lookback_days=deployment.dashboard_lookback_days,
                not_collected=deployment.attributes_not_collected(),
                env=env,
                description=f"Shopper Sentiment QuickSight dashboard for deployment {deployment.name}",
            )
            dashboard.add_stack_dependency(
                pipeline,
                "queries the pipeline's Athena workgroup and Glue table with the QuickSight service role "
                "the pipeline grants",
            )
    # cdk-nag 3: rules run as a synth-time validation; any unacknowledged
    # finding fails the synth with the rule and the resource named.
    Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    return app


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
