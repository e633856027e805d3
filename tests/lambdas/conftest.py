"""Fixtures for the analyze Lambda: moto for S3/DynamoDB/Firehose, Stubber for Rekognition."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from types import ModuleType
from typing import Any
from unittest.mock import patch

import boto3
import pytest
from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics.provider import cold_start
from moto import mock_aws
from shopper_analyze.analyzers import RekognitionAnalyzer
from shopper_analyze.clients import Clients
from shopper_analyze.settings import Settings, load_settings

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

#: What the handler module's ``create_handler`` returns: Lambda's (event, context) → response.
Handler = Callable[[dict[str, Any], Any], dict[str, Any]]


@pytest.fixture
def lambda_context() -> FakeLambdaContext:
    return FakeLambdaContext()


@pytest.fixture
def logger() -> Logger:
    """A Powertools Logger of its own service, for the pure modules' tests."""
    return Logger(service="shopper-analyze-unit")


@pytest.fixture(autouse=True)
def reset_powertools() -> Iterator[None]:
    """Metrics are module-global in Powertools; every test starts cold with none pending."""

    def reset() -> None:
        metrics = Metrics()
        metrics.clear_metrics()
        metrics.clear_default_dimensions()
        cold_start.reset_cold_start_flag()
        # A Logger binds its handler to sys.stdout when first configured; let
        # the handlers each test builds bind to this test's captured stdout.
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


@pytest.fixture(scope="session")
def analyze_app() -> ModuleType:
    """The handler module, imported once as at a cold start; tests build their handlers with its factory."""
    with patch.dict(os.environ, function_environment()):
        return load_handler_module()


@pytest.fixture
def settings(aws: boto3.Session) -> Settings:
    """The function's settings, read from the environment the stack sets (the aws fixture)."""
    return load_settings(os.environ, base_dir=LAMBDA_DIR)


@pytest.fixture
def rekognition_client(aws: boto3.Session) -> Any:
    return aws.client("rekognition", region_name=REGION)


@pytest.fixture
def rekognition(rekognition_client: Any) -> Iterator[UnorderedStubber]:
    """Stubbed Rekognition (moto has no DetectFaces), in any call order; every queued response must be used."""
    with UnorderedStubber(rekognition_client) as stubber:
        yield stubber
        stubber.assert_no_pending_responses()


@pytest.fixture
def clients(analyze_app: ModuleType, settings: Settings, rekognition_client: Any) -> Clients:
    """The deployed clients (their botocore Config) in the mocked account; Rekognition as stubbed."""
    return replace(analyze_app.aws_clients(settings), analyzer=RekognitionAnalyzer(rekognition_client))


@pytest.fixture
def make_handler(analyze_app: ModuleType, settings: Settings, clients: Clients) -> Callable[..., Handler]:
    """The factory of the handler module; keyword arguments replace some clients (``firehose=...``)."""

    def make(*, settings: Settings = settings, **replaced: Any) -> Handler:
        return analyze_app.create_handler(settings, replace(clients, **replaced))

    return make


@pytest.fixture
def handler(make_handler: Callable[..., Handler]) -> Handler:
    """A handler on the clients fixture's clients."""
    return make_handler()
