"""PipelineStack: one deployment (a region or a single store) = the three tiers."""

from __future__ import annotations

from typing import Any

from aws_cdk import Duration, RemovalPolicy, Stack
from constructs import Construct

from stacks.analytics import AnalyticsTier
from stacks.config import Deployment
from stacks.ingest import IngestTier
from stacks.process import DEFAULT_TIMEOUT, ProcessTier, queue_visibility_timeout_for
from stacks.storage import access_log_bucket


class PipelineStack(Stack):
    """Composes IngestTier → ProcessTier → AnalyticsTier for one deployment."""

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        deployment: Deployment,
        removal_policy: RemovalPolicy = RemovalPolicy.RETAIN,
        **kwargs: Any,
    ) -> None:
        super().__init__(
            scope,
            id_,
            description=f"Shopper Sentiment pipeline for deployment {deployment.name} "
            f"({len(deployment.stores)} stores, {len(deployment.device_registry())} devices)",
            **kwargs,
        )
        name_prefix = deployment.stack_name
        logs = access_log_bucket(self, "AccessLogs", removal_policy=removal_policy)
        # One timeout for the function and the queue it drains: raising it
        # raises the visibility timeout with it.
        function_timeout = DEFAULT_TIMEOUT

        self.ingest = IngestTier(
            self,
            "Ingest",
            device_ids=list(deployment.device_registry()),
            retention=Duration.days(deployment.retention_days),
            name_prefix=name_prefix,
            removal_policy=removal_policy,
            server_access_logs_bucket=logs,
            queue_visibility_timeout=queue_visibility_timeout_for(function_timeout),
        )
        self.analytics = AnalyticsTier(
            self,
            "Analytics",
            store_ids=sorted(deployment.stores),
            name_prefix=name_prefix,
            bytes_scanned_cutoff_mb=deployment.athena_bytes_scanned_cutoff_mb,
            removal_policy=removal_policy,
            server_access_logs_bucket=logs,
        )
        self.process = ProcessTier(
            self,
            "Process",
            source_bucket=self.ingest.source_bucket,
            archive_bucket=self.ingest.archive_bucket,
            queue=self.ingest.queue,
            curated_bucket=self.analytics.curated_bucket,
            faces_table=self.analytics.table,
            device_registry=deployment.device_registry(),
            rekognition_tps=deployment.rekognition_tps,
            min_detection_confidence=deployment.min_detection_confidence,
            min_sharpness=deployment.min_sharpness,
            timeout=function_timeout,
            removal_policy=removal_policy,
        )
