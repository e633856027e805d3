"""Synthesize once per session (the jsii runtime is slow to start) and share."""

from __future__ import annotations

from pathlib import Path

import aws_cdk as cdk
import pytest
from aws_cdk.assertions import Template

from stacks.app_builder import build_app, cdk_json_context
from stacks.config import PipelineConfig, load_config
from stacks.pipeline_stack import PipelineStack

PROJECT_ROOT = Path(__file__).resolve().parents[2]


def new_app(outdir: Path | None = None) -> cdk.App:
    """An App with exactly the context (feature flags) cdk.json gives the CLI."""
    return cdk.App(context=cdk_json_context(), outdir=str(outdir) if outdir else None)


@pytest.fixture(scope="session")
def demo_config() -> PipelineConfig:
    return load_config(PROJECT_ROOT / "deployments.toml")


@pytest.fixture(scope="session")
def demo_assembly(tmp_path_factory: pytest.TempPathFactory, demo_config: PipelineConfig) -> cdk.cx_api.CloudAssembly:
    app = build_app(new_app(tmp_path_factory.mktemp("cdk.out")), demo_config)
    return app.synth()


@pytest.fixture(scope="session")
def demo_templates(demo_assembly: cdk.cx_api.CloudAssembly) -> dict[str, dict]:
    return {stack.stack_name: stack.template for stack in demo_assembly.stacks}


@pytest.fixture(scope="session")
def demo_stack(demo_config: PipelineConfig) -> PipelineStack:
    """The demo PipelineStack as a construct tree, for aws_cdk.assertions."""
    app = new_app()
    deployment = demo_config.deployments[0]
    return PipelineStack(app, deployment.stack_name, deployment=deployment)


@pytest.fixture(scope="session")
def demo_template(demo_stack: PipelineStack) -> Template:
    return Template.from_stack(demo_stack)
