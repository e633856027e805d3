"""Fixtures for the analyze Lambda: moto for S3/DynamoDB/Firehose, Stubber for Rekognition."""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import boto3
import pytest
from aws_lambda_powertools import Metrics
from aws_lambda_powertools.metrics.provider import cold_start
from moto import mock_aws

from tests.lambdas.local_aws import (
    LAMBDA_DIR,
    REGION,
    FakeLambdaContext,
    UnorderedStubber,
    create_resources,
    function_environment,
    load_handler_module,
    write_device_registry,
)

SERVICE = "shopper-sentiment-analyze"

# The pure modules are imported by their deployed name (the asset folder is
# the Lambda's import root), never as lambdas.analyze_image.shopper_analyze.
# Appended, not prepended: the folder's app.py must never shadow the CDK
# app.py at the repository root for the rest of the test session.
if str(LAMBDA_DIR) not in sys.path:
    sys.path.append(str(LAMBDA_DIR))


@pytest.fixture
def lambda_context() -> FakeLambdaContext:
    return FakeLambdaContext()


@pytest.fixture(autouse=True)
def reset_powertools() -> Iterator[None]:
    """Metrics are module-global in Powertools; every test starts cold with none pending."""

    def reset() -> None:
        metrics = Metrics()
        metrics.clear_metrics()
        metrics.clear_default_dimensions()
        cold_start.reset_cold_start_flag()
        # A Logger binds its handler to sys.stdout when first configured; let
        # each test's fresh module bind to this test's captured stdout.
        logging.Logger.manager.loggerDict.pop(SERVICE, None)

    reset()
    yield
    reset()


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[boto3.Session]:
    """A mocked account with the stack's resources; the function's environment as deployed."""
    for name, value in function_environment(registry_file=write_device_registry(tmp_path)).items():
        monkeypatch.setenv(name, value)
    with mock_aws():
        session = boto3.Session(region_name=REGION)
        create_resources(session)
        yield session


@pytest.fixture
def s3(aws: boto3.Session) -> Any:
    return aws.client("s3", region_name=REGION)


@pytest.fixture
def analyze_app(aws: boto3.Session) -> ModuleType:
    """The handler module, imported at 'cold start' inside the mocked account."""
    return load_handler_module()


@pytest.fixture
def rekognition(analyze_app: ModuleType) -> Iterator[UnorderedStubber]:
    """Stubbed Rekognition (moto has no DetectFaces), in any call order; every queued response must be used."""
    with UnorderedStubber(analyze_app.rekognition) as stubber:
        yield stubber
        stubber.assert_no_pending_responses()
