"""The demo PipelineStack as a construct tree, for aws_cdk.assertions.

The synthesized demo app itself (``demo_config``, ``demo_assembly``,
``demo_templates``) is shared by every test folder: see tests/conftest.py.
"""

from __future__ import annotations

import pytest
from aws_cdk.assertions import Template

from shopper_sentiment.config import PipelineConfig
from shopper_sentiment.pipeline_stack import PipelineStack
from tests.cdk_apps import new_app


@pytest.fixture(scope="session")
def demo_stack(demo_config: PipelineConfig) -> PipelineStack:
    app = new_app()
    deployment = demo_config.deployments[0]
    return PipelineStack(app, deployment.stack_name, deployment=deployment)


@pytest.fixture(scope="session")
def demo_template(demo_stack: PipelineStack) -> Template:
    return Template.from_stack(demo_stack)
