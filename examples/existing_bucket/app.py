#!/usr/bin/env python3
"""Shopper Sentiment over a source bucket of your own: one stack, three tiers.

``UploadsStack`` creates the bucket the store devices upload to, and a bucket
for S3 server access logs, itself (as a team would that keeps its buckets in
its own code), then hands the first to ``IngestTier`` as
``existing_source_bucket``: the tier creates no source bucket of its own, and
adds its ``incoming/`` lifecycle rule and object-created notification to this
one. ``ProcessTier`` analyzes what arrives; ``AnalyticsTier`` holds the
Parquet rows, the Glue tables and the Athena workgroup. The stack is
environment-agnostic, and cdk-nag's AwsSolutions checks gate the synth.
"""

from __future__ import annotations

from typing import Any

import aws_cdk as cdk
from aws_cdk import Acknowledgment, CfnOutput, Duration, Stack, Validations
from aws_cdk import aws_s3 as s3
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

#: Two stores and their devices (one AWS IoT thing each), checked by the library's config model.
DEPLOYMENT = Deployment.model_validate(
    {
        "name": "uploads",
        "region": "any",
        "rekognition_tps": 5,
        "stores": {
            "store-dublin": {
                "timezone": "Europe/Dublin",
                "devices": {
                    "pi-dublin-entrance": {"camera_id": "entrance", "zone": "entrance"},
                    "pi-dublin-checkout": {"camera_id": "checkout", "zone": "checkout"},
                },
            },
            "store-cork": {
                "timezone": "Europe/Dublin",
                "devices": {"pi-cork-entrance": {"camera_id": "entrance", "zone": "entrance"}},
            },
        },
    }
)


def private_bucket(scope: Construct, id_: str, **props: Any) -> s3.Bucket:
    """A bucket encrypted with S3-managed keys, closed to the public, TLS-only, without ACLs."""
    return s3.Bucket(
        scope,
        id_,
        encryption=s3.BucketEncryption.S3_MANAGED,
        block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
        enforce_ssl=True,
        object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
        **props,
    )


class UploadsStack(Stack):
    """Your uploads bucket and its access-log bucket, and the ingest, process and analytics tiers over them.

    Attributes: ``uploads``, ``access_logs``, ``ingest``, ``process``, ``analytics``.
    """

    def __init__(self, scope: Construct, id_: str, *, deployment: Deployment, **kwargs: Any) -> None:
        super().__init__(scope, id_, **kwargs)
        self.access_logs = private_bucket(
            self, "AccessLogs", lifecycle_rules=[s3.LifecycleRule(expiration=Duration.days(365))]
        )
        Validations.of(self.access_logs).acknowledge(
            Acknowledgment(
                id="AwsSolutions::AwsSolutions-S1",
                reason="This bucket is the destination of the other buckets' S3 server access logs; logging it "
                "into itself would loop. It is private, encrypted, TLS-only and expires logs after a year.",
            )
        )
        self.uploads = private_bucket(
            self,
            "Uploads",
            versioned=True,
            server_access_logs_bucket=self.access_logs,
            server_access_logs_prefix="uploads/",
        )

        # One timeout for the function and the queue it drains (six times as long).
        function_timeout = DEFAULT_FUNCTION_TIMEOUT
        registry = deployment.device_registry()
        self.ingest = IngestTier(
            self,
            "Ingest",
            existing_source_bucket=self.uploads,
            device_ids=list(registry),
            retention=Duration.days(deployment.retention_days),
            name_prefix=deployment.stack_name,
            server_access_logs_bucket=self.access_logs,
            queue_visibility_timeout=queue_visibility_timeout_for(function_timeout),
        )
        self.analytics = AnalyticsTier(
            self,
            "Analytics",
            store_ids=sorted(deployment.stores),
            name_prefix=deployment.stack_name,
            server_access_logs_bucket=self.access_logs,
        )
        self.process = ProcessTier(
            self,
            "Process",
            source_bucket=self.ingest.source_bucket,
            archive_bucket=self.ingest.archive_bucket,
            queue=self.ingest.queue,
            curated_bucket=self.analytics.curated_bucket,
            faces_table=self.analytics.table,
            images_table=self.analytics.images_table,
            device_registry=registry,
            rekognition_tps=deployment.rekognition_tps,
            timeout=function_timeout,
            metrics_namespace=metrics_namespace(deployment.name),
        )
        CfnOutput(self, "UploadsBucket", value=self.uploads.bucket_name, description="Devices upload under incoming/")
        CfnOutput(self, "AthenaWorkGroup", value=self.analytics.workgroup.ref, description="Query the faces table here")


def main() -> None:
    app = cdk.App()
    UploadsStack(app, DEPLOYMENT.stack_name, deployment=DEPLOYMENT)
    # cdk-nag 3: every unacknowledged AwsSolutions finding fails the synth.
    Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    app.synth()


if __name__ == "__main__":
    main()
