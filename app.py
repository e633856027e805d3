#!/usr/bin/env python3
"""CDK entry point: one PipelineStack per configured deployment, cdk-nag as a gate."""

import sys

import aws_cdk as cdk

from stacks.app_builder import build_app
from stacks.config import ConfigError

try:
    app = build_app(cdk.App())
except ConfigError as exc:
    sys.exit(f"Shopper Sentiment config error: {exc}")
app.synth()
