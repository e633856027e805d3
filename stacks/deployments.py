"""The stacks of every deployment in the config, and the cdk-nag gate over them.

One ``PipelineStack`` per deployment, and a ``DashboardStack`` beside it when
the deployment names a QuickSight principal. Both come from the library; the
only choices made here are the stack names and the order they deploy in.
"""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import Validations
from cdk_nag import AwsSolutionsChecks

from shopper_sentiment.config import Deployment, PipelineConfig
from shopper_sentiment.pipeline_stack import PipelineStack


def environment_of(deployment: Deployment) -> cdk.Environment | None:
    """The deployment's account and region, or None for an environment-agnostic stack."""
    if deployment.is_environment_agnostic:
        return None
    return cdk.Environment(account=deployment.account, region=deployment.region)


def add_deployment(app: cdk.App, deployment: Deployment) -> PipelineStack:
    """The pipeline stack of ``deployment`` and, with a QuickSight principal, its dashboard stack."""
    env = environment_of(deployment)
    pipeline = PipelineStack(app, deployment.stack_name, deployment=deployment, env=env)
    if deployment.quicksight_principal_arn:
        # Imported here: the QuickSight builders are only needed when a
        # deployment asks for a dashboard.
        from shopper_sentiment.dashboards.stack import DashboardStack

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
    return pipeline


def add_deployments(app: cdk.App, config: PipelineConfig) -> cdk.App:
    """Every deployment's stacks, then cdk-nag's AwsSolutions pack as a synth gate over the app."""
    for deployment in config.deployments:
        add_deployment(app, deployment)
    # cdk-nag 3: rules run as a synth-time validation; any unacknowledged
    # finding fails the synth with the rule and the resource named.
    Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    return app
