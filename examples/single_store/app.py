#!/usr/bin/env python3
"""Shopper Sentiment for a single store, in two stacks of one app and one environment.

``AnalyticsStack`` holds the data lake alone (``AnalyticsTier``: the curated
bucket, the Glue tables, the Athena workgroup): it outlives and outgrows any
one store. ``StoreStack`` is the store's own pipeline (``IngestTier`` and
``ProcessTier``): its devices' uploads are analyzed into the analytics
stack's curated bucket and tables, which it references across stacks (CDK
exports them from the one and imports them in the other, and deploys the
analytics stack first). cdk-nag's AwsSolutions checks gate the synth.
"""

from __future__ import annotations

from typing import Any

import aws_cdk as cdk
from aws_cdk import Duration, Stack, Validations
from cdk_nag import AwsSolutionsChecks
from constructs import Construct

from shopper_sentiment import (
    DEFAULT_FUNCTION_TIMEOUT,
    AnalyticsTier,
    Deployment,
    IngestTier,
    ProcessTier,
    metrics_namespace,
    queue_visibility_timeout_for,
)

#: The store, its devices (one AWS IoT thing each) and where it deploys, checked by the library's config model.
STORE = Deployment.model_validate(
    {
        "name": "berlin",
        "account": "111111111111",
        "region": "eu-central-1",
        "rekognition_tps": 2,
        "stores": {
            "store-berlin": {
                "timezone": "Europe/Berlin",
                "devices": {
                    "pi-berlin": {
                        "cameras": {"entrance": {"zone": "entrance"}, "aisle-3": {"zone": "grocery"}},
                    },
                },
            },
        },
    }
)


class AnalyticsStack(Stack):
    """The curated bucket, Glue tables and Athena workgroup of the store's rows. Attribute: ``analytics``."""

    def __init__(self, scope: Construct, id_: str, *, deployment: Deployment, **kwargs: Any) -> None:
        super().__init__(scope, id_, **kwargs)
        self.analytics = AnalyticsTier(
            self,
            "Analytics",
            store_ids=sorted(deployment.stores),
            name_prefix=deployment.stack_name,
            curated_retention=Duration.days(deployment.curated_retention_days),
        )


class StoreStack(Stack):
    """The store's buckets, queue, device access and analyze function, writing into ``analytics``.

    Attributes: ``ingest``, ``process``.
    """

    def __init__(
        self, scope: Construct, id_: str, *, deployment: Deployment, analytics: AnalyticsTier, **kwargs: Any
    ) -> None:
        super().__init__(scope, id_, **kwargs)
        # One timeout for the function and the queue it drains (six times as long).
        function_timeout = DEFAULT_FUNCTION_TIMEOUT
        registry = deployment.device_registry()
        self.ingest = IngestTier(
            self,
            "Ingest",
            device_ids=list(registry),
            retention=Duration.days(deployment.retention_days),
            name_prefix=deployment.stack_name,
            queue_visibility_timeout=queue_visibility_timeout_for(function_timeout),
        )
        self.process = ProcessTier(
            self,
            "Process",
            source_bucket=self.ingest.source_bucket,
            archive_bucket=self.ingest.archive_bucket,
            queue=self.ingest.queue,
            curated_bucket=analytics.curated_bucket,
            faces_table=analytics.table,
            images_table=analytics.images_table,
            device_registry=registry,
            rekognition_tps=deployment.rekognition_tps,
            timeout=function_timeout,
            metrics_namespace=metrics_namespace(deployment.name),
        )


def main() -> None:
    app = cdk.App()
    env = cdk.Environment(account=STORE.account, region=STORE.region)
    analytics = AnalyticsStack(app, f"{STORE.stack_name}-Analytics", deployment=STORE, env=env)
    StoreStack(app, STORE.stack_name, deployment=STORE, analytics=analytics.analytics, env=env)
    # cdk-nag 3: every unacknowledged AwsSolutions finding fails the synth.
    Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    app.synth()


if __name__ == "__main__":
    main()
