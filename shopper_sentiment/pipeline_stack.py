"""PipelineStack: one deployment (a region or a single store) = the three tiers.

Its outputs, keyed by shopper_sentiment/contracts/outputs.py, name what operators and their
tools need (buckets, workgroup, role alias, the credentials-endpoint lookup),
so nobody digs in the console for a generated name.
"""

from __future__ import annotations

from typing import Any

from aws_cdk import CfnOutput, Duration, RemovalPolicy, Stack
from constructs import Construct

from shopper_sentiment.building.storage import access_log_bucket
from shopper_sentiment.config import Deployment
from shopper_sentiment.contracts import outputs
from shopper_sentiment.contracts.analyze_function import metrics_namespace
from shopper_sentiment.tiers.analytics import AnalyticsTier
from shopper_sentiment.tiers.compaction import CompactionTier, firehose_buffering_interval
from shopper_sentiment.tiers.ingest import IngestTier
from shopper_sentiment.tiers.monitoring import DEAD_LETTERS, Monitoring, StoreHours
from shopper_sentiment.tiers.process import DEFAULT_TIMEOUT, ProcessTier, queue_visibility_timeout_for
from shopper_sentiment.tiers.quicksight_access import QuickSightToAthena

#: What each output (shopper_sentiment/contracts/outputs.py) is, as `aws cloudformation describe-stacks` shows it.
OUTPUT_DESCRIPTIONS = {
    outputs.SOURCE_BUCKET: "Source bucket: edge devices upload stills under incoming/<device id>/",
    outputs.CURATED_BUCKET: "Curated bucket: Parquet face records under faces/ (the Glue faces table)",
    outputs.ARCHIVE_BUCKET: "Archive bucket: analyzed images under incoming/, images that cannot be analyzed under "
    "quarantine/",
    outputs.IDEMPOTENCY_TABLE: "DynamoDB table of stored analyses and delivered markers (TTL 7 days); "
    "shopper-sentiment erase deletes its items",
    outputs.ATHENA_WORKGROUP: "Athena workgroup to query the faces table in (results encrypted, scan limit enforced)",
    outputs.ATHENA_RESULTS_BUCKET: "Bucket where the Athena workgroup writes query results (under results/)",
    outputs.EDGE_ROLE_ALIAS: "IoT role alias through which edge devices trade their certificate for upload credentials",
    outputs.CREDENTIALS_ENDPOINT_COMMAND: "AWS CLI command that prints the IoT credentials-provider endpoint the "
    "edge devices call (one per account and region)",
    outputs.INCOMING_QUEUE_URL: "SQS queue of incoming/ object-created events that feeds the analyze function",
    outputs.DEAD_LETTER_QUEUE_URL: "SQS dead-letter queue of messages the function failed; "
    "shopper-sentiment redrive moves them back",
    outputs.ALARM_TOPIC_ARN: "SNS topic every alarm of the deployment notifies (subscribe on-call to it)",
}
#: The AWS CLI call that prints the credentials-provider endpoint (CloudFormation has no attribute for it).
CREDENTIALS_ENDPOINT_LOOKUP = "aws iot describe-endpoint --endpoint-type iot:CredentialProvider"


class PipelineStack(Stack):
    """Composes IngestTier → ProcessTier → AnalyticsTier → CompactionTier for one deployment.

    With a QuickSight principal in the deployment it also grants QuickSight's
    service role (the deployment's ``quicksight_service_role``) what the dashboard's
    queries need (``QuickSightToAthena``).

    Attributes: ``ingest``, ``analytics``, ``process``, ``compaction``, ``monitoring``, ``quicksight_access``
    (``None`` without a QuickSight principal).
    """

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
        # Every function and alarm of the deployment publishes and reads its own namespace.
        namespace = metrics_namespace(deployment.name)
        logs = access_log_bucket(self, "AccessLogs", removal_policy=removal_policy)
        # One timeout for the function and the queue it drains: raising it
        # raises the visibility timeout with it.
        function_timeout = DEFAULT_TIMEOUT

        self.ingest = IngestTier(
            self,
            "Ingest",
            device_ids=list(deployment.device_registry()),
            retention=Duration.days(deployment.retention_days),
            incoming_retention=Duration.days(deployment.incoming_retention_days),
            quarantine_retention=Duration.days(deployment.quarantine_retention_days),
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
            results_retention=Duration.days(deployment.query_results_retention_days),
            curated_retention=Duration.days(deployment.curated_retention_days),
            error_retention=Duration.days(deployment.error_retention_days),
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
            images_table=self.analytics.images_table,
            device_registry=deployment.device_registry(),
            rekognition_tps=deployment.rekognition_tps,
            min_detection_confidence=deployment.min_detection_confidence,
            min_sharpness=deployment.min_sharpness,
            timeout=function_timeout,
            removal_policy=removal_policy,
            metrics_namespace=namespace,
        )
        # Rewrites each closed store-day into one object; a day is closed once the
        # slower stream's last flush for it is over.
        self.compaction = CompactionTier(
            self,
            "Compaction",
            curated_bucket=self.analytics.curated_bucket,
            store_time_zones={store_id: store.timezone for store_id, store in deployment.stores.items()},
            buffering_interval=firehose_buffering_interval(self.process.delivery_stream, self.process.images_stream),
            removal_policy=removal_policy,
            metrics_namespace=namespace,
        )
        # Every alarm of the stack, the tiers' own included, notifies one topic.
        self.monitoring = Monitoring(
            self,
            "Monitoring",
            name_prefix=name_prefix,
            metrics_namespace=namespace,
            function=self.process.function,
            queue=self.ingest.queue,
            dead_letter_queue=self.ingest.dead_letter_queue,
            delivery_streams={"Faces": self.process.delivery_stream, "Images": self.process.images_stream},
            rekognition_tps=deployment.rekognition_tps,
            stores={
                store_id: StoreHours(timezone=store.timezone, hours=tuple(store.hours_on(day) for day in range(7)))
                for store_id, store in deployment.stores.items()
                if store.opening_hours
            },
            alarms=deployment.alarms,
            adopt={DEAD_LETTERS: self.ingest.dead_letter_alarm, "CompactionLagging": self.compaction.alarm},
            removal_policy=removal_policy,
        )
        self.quicksight_access: QuickSightToAthena | None = None
        if deployment.quicksight_principal_arn:
            # Granted here, with the buckets, so the dashboard stack (deployed
            # after this one) finds its first SPICE refresh allowed.
            self.quicksight_access = QuickSightToAthena(
                self,
                "QuickSightAccess",
                workgroup=self.analytics.workgroup,
                faces_table=self.analytics.table,
                curated_bucket=self.analytics.curated_bucket,
                results_bucket=self.analytics.results_bucket,
                role_name=deployment.quicksight_service_role_name,
            )
        self._add_outputs()

    def _add_outputs(self) -> None:
        values = {
            outputs.SOURCE_BUCKET: self.ingest.source_bucket.bucket_name,
            outputs.CURATED_BUCKET: self.analytics.curated_bucket.bucket_name,
            outputs.ARCHIVE_BUCKET: self.ingest.archive_bucket.bucket_name,
            outputs.IDEMPOTENCY_TABLE: self.process.idempotency_table.table_name,
            outputs.ATHENA_WORKGROUP: self.analytics.workgroup.ref,
            outputs.ATHENA_RESULTS_BUCKET: self.analytics.results_bucket.bucket_name,
            outputs.EDGE_ROLE_ALIAS: self.ingest.role_alias.ref,
            # The region token makes the command right for environment-agnostic stacks too.
            outputs.CREDENTIALS_ENDPOINT_COMMAND: f"{CREDENTIALS_ENDPOINT_LOOKUP} --region {self.region}",
            outputs.INCOMING_QUEUE_URL: self.ingest.queue.queue_url,
            outputs.DEAD_LETTER_QUEUE_URL: self.ingest.dead_letter_queue.queue_url,
            outputs.ALARM_TOPIC_ARN: self.monitoring.topic.topic_arn,
        }
        # Declared on the stack itself so each logical id (the OutputKey) is exactly its key.
        for key, value in values.items():
            CfnOutput(self, key, value=value, description=OUTPUT_DESCRIPTIONS[key])
