"""CDK apps for tests: the same context (feature flags) the CLI gets from cdk.json."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import aws_cdk as cdk

from app import cdk_json_context
from shopper_sentiment.contracts.analyze_function import DEVICE_REGISTRY_FILE
from shopper_sentiment.tiers.analytics import AnalyticsTier
from shopper_sentiment.tiers.ingest import IngestTier
from shopper_sentiment.tiers.process import ProcessTier

PROJECT_ROOT = Path(__file__).resolve().parents[1]
#: One device of store "berlin" with one camera, in the registry's shape.
ONE_DEVICE_REGISTRY = {
    "pi-a": {"store_id": "berlin", "timezone": "Europe/Berlin", "cameras": {"door": {"zone": "entrance"}}}
}


def new_app(outdir: Path | None = None) -> cdk.App:
    """An App with exactly the context cdk.json gives the CLI."""
    return cdk.App(context=cdk_json_context(), outdir=str(outdir) if outdir else None)


def is_analyze_function(resource: dict[str, Any]) -> bool:
    """Whether a template resource is the analyze function: the one given the device registry."""
    if resource["Type"] != "AWS::Lambda::Function":
        return False
    return DEVICE_REGISTRY_FILE in resource["Properties"].get("Environment", {}).get("Variables", {})


def process_tier(scope: cdk.Stack, ingest: IngestTier, analytics: AnalyticsTier) -> ProcessTier:
    """A ProcessTier wired to ``ingest`` and ``analytics`` as PipelineStack wires them, for ``ONE_DEVICE_REGISTRY``."""
    return ProcessTier(
        scope,
        "Process",
        source_bucket=ingest.source_bucket,
        archive_bucket=ingest.archive_bucket,
        queue=ingest.queue,
        curated_bucket=analytics.curated_bucket,
        faces_table=analytics.table,
        images_table=analytics.images_table,
        device_registry=ONE_DEVICE_REGISTRY,
        rekognition_tps=5,
    )
