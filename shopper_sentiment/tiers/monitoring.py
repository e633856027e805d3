"""Monitoring: alarms that reach someone, a dashboard, and the silence check, for one deployment.

Defaults (each alarm has a runbook entry under its name in docs/operations.md;
thresholds a deployment may tune come from its ``alarms`` table, see
shopper_sentiment/config.py for each default and why):

- One SNS topic for every alarm of the stack, the tiers' own included
  (``adopt``: the dead-letter alarm of IngestTier, say): created with a customer-managed KMS key CloudWatch may use
  (the AWS-managed SNS key's policy does not let CloudWatch publish) and a
  TLS-only policy, and the configured e-mail subscribed; or, with
  ``topic_arn``, an existing topic.
- Alarms (name = ``<stack>-<key>``; ``ALARM_KEYS``): function errors and
  throttles; the incoming queue's oldest message past a share of its
  retention; DetectFaces throttled above a share of the budget for 15
  minutes; the quarantine rate of an hour; per Firehose stream: data
  freshness, S3 delivery success, records that failed Parquet conversion
  (written under ``errors/``), the active-partition limit; stores silent
  inside their opening hours.
- The silence check: a small function, every 15 minutes, that publishes
  ``StoresSilent`` (lambdas/silence_check/app.py says why a scheduled check).
- A CloudWatch dashboard ``<stack>-operations``: cdk-monitoring-constructs'
  Lambda, SQS (with DLQ) and Firehose segments, and what it lacks (images in
  and faces out, quarantine reasons, retry causes, DetectFaces calls against
  the budget, Firehose freshness and conversion failures, images per store,
  silent stores, every alarm's state).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass

from aws_cdk import Duration, RemovalPolicy, Stack
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cloudwatch_actions
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kinesisfirehose as firehose
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from aws_cdk import aws_sqs as sqs
from cdk_monitoring_constructs import DefaultDashboardFactory, MonitoringFacade
from constructs import Construct

from shopper_sentiment.building.cfn import depends_on_only
from shopper_sentiment.building.feature_flags import pin_feature_flags
from shopper_sentiment.building.lambda_code import LAMBDA_ARCHITECTURE, LAMBDA_RUNTIME, code_with_file
from shopper_sentiment.building.nag import acknowledge
from shopper_sentiment.building.package_files import packaged_folder
from shopper_sentiment.config import Alarms
from shopper_sentiment.contracts.analyze_function import METRICS_NAMESPACE, SERVICE_NAME

SILENCE_CHECK_DIR = packaged_folder("shopper_sentiment.functions", "silence_check")
STORES_FILE_NAME = "stores.json"  # lambdas/silence_check/app.py STORES_FILE_NAME
SILENCE_CHECK_SERVICE = "shopper-sentiment-silence-check"  # its SERVICE
#: The check runs this often; its alarm's period is twice that, so one late run leaves no gap.
SILENCE_CHECK_RATE = Duration.minutes(15)
#: SQS's default retention, when a queue sets none.
_SQS_DEFAULT_RETENTION_SECONDS = 4 * 24 * 3600
#: An hour with fewer images than this says nothing about a quarantine *rate* (one bad still of ten is 10 %).
QUARANTINE_RATE_MIN_IMAGES = 20
#: The causes the dashboard's retry graph and the runbook know (shopper_analyze/failure_causes.py).
RETRY_CAUSE_METRIC = "MessagesRetried"

#: Every alarm's key: its name is ``<stack name>-<key>``, and docs/operations.md has a section per key.
FUNCTION_ERRORS = "AnalyzeFunctionErrors"
FUNCTION_THROTTLES = "AnalyzeFunctionThrottled"
QUEUE_AGE = "IncomingQueueOldMessages"
DETECT_FACES_THROTTLED = "DetectFacesThrottled"
QUARANTINE_RATE = "QuarantineRate"
STORES_SILENT = "StoresSilent"
DEAD_LETTERS = "DeadLetters"
#: Per Firehose stream, prefixed with the stream's key (``Faces``, ``Images``).
FIREHOSE_FRESHNESS = "FirehoseDataFreshness"
FIREHOSE_DELIVERY = "FirehoseDeliveryFailing"
FIREHOSE_CONVERSION = "FirehoseConversionFailed"
FIREHOSE_PARTITIONS = "FirehosePartitionLimit"
FIREHOSE_ALARMS = (FIREHOSE_FRESHNESS, FIREHOSE_DELIVERY, FIREHOSE_CONVERSION, FIREHOSE_PARTITIONS)


#: The thresholds' defaults (shopper_sentiment/config.py says why each), no address and no existing topic.
DEFAULT_ALARMS = Alarms()


@dataclass(frozen=True)
class StoreHours:
    """A store's IANA time zone and its opening hours per weekday (Monday first; None = closed)."""

    timezone: str
    hours: tuple[str | None, ...]

    def __post_init__(self) -> None:
        if len(self.hours) != 7:
            raise ValueError("StoreHours needs the hours of 7 weekdays, Monday first")


class Monitoring(Construct):
    """Alarms on the tiers' resources notifying one SNS topic, the silence check, and a dashboard.

    Attributes: ``topic`` (``sns.ITopic``), ``alarms`` (key → alarm, the adopted
    ones included), ``silence_check`` (the function, None without opening
    hours), ``dashboard``.
    """

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        name_prefix: str,
        function: lambda_.IFunction,
        queue: sqs.IQueue,
        dead_letter_queue: sqs.IQueue,
        delivery_streams: Mapping[str, firehose.IDeliveryStream],
        rekognition_tps: int,
        stores: Mapping[str, StoreHours],
        alarms: Alarms = DEFAULT_ALARMS,
        adopt: Mapping[str, cloudwatch.Alarm] | None = None,
        metrics_namespace: str = METRICS_NAMESPACE,
        log_retention: logs.RetentionDays = logs.RetentionDays.ONE_MONTH,
        removal_policy: RemovalPolicy = RemovalPolicy.RETAIN,
    ) -> None:
        super().__init__(scope, id_)
        pin_feature_flags(self)
        if rekognition_tps < 1:
            raise ValueError("Monitoring rekognition_tps must be at least 1")
        if not delivery_streams:
            raise ValueError("Monitoring needs the delivery streams to watch")
        self._name_prefix = name_prefix
        self._namespace = metrics_namespace
        self._settings = alarms
        self.alarms: dict[str, cloudwatch.Alarm] = {}
        self.topic = self._topic(alarms)
        self._action = cloudwatch_actions.SnsAction(self.topic)
        for key, alarm in (adopt or {}).items():
            self._adopt(key, alarm)

        self._function_alarms(function)
        self._queue_alarm(queue)
        self._detect_faces_alarm(rekognition_tps)
        self._quarantine_alarm()
        for key, stream in delivery_streams.items():
            self._firehose_alarms(key, stream)
        self.silence_check = self._silence_check(stores, log_retention, removal_policy) if stores else None
        self.dashboard = self._dashboard(function, queue, dead_letter_queue, delivery_streams, rekognition_tps)

    # --- notification ---------------------------------------------------------------------------

    def _topic(self, settings: Alarms) -> sns.ITopic:
        if settings.topic_arn:
            return sns.Topic.from_topic_arn(self, "AlarmTopic", settings.topic_arn)
        key = kms.Key(
            self,
            "AlarmTopicKey",
            description=f"Encrypts the alarm notifications of {self._name_prefix}",
            enable_key_rotation=True,
            # Only the key: the topic's messages are notifications, gone once delivered.
            removal_policy=RemovalPolicy.DESTROY,
        )
        # CloudWatch publishes to an encrypted topic only with these on the key.
        key.add_to_resource_policy(
            iam.PolicyStatement(
                sid="CloudWatchAlarmsPublish",
                principals=[iam.ServicePrincipal("cloudwatch.amazonaws.com")],
                actions=["kms:Decrypt", "kms:GenerateDataKey*"],
                resources=["*"],
                conditions={"StringEquals": {"aws:SourceAccount": Stack.of(self).account}},
            )
        )
        topic = sns.Topic(
            self,
            "AlarmTopic",
            display_name=f"{self._name_prefix} alarms",
            master_key=key,
            enforce_ssl=True,
        )
        if settings.email:
            topic.add_subscription(subscriptions.EmailSubscription(settings.email))
        return topic

    def _adopt(self, key: str, alarm: cloudwatch.Alarm) -> None:
        """Name an alarm another construct made ``<stack>-<key>`` and make it notify the topic."""
        resource = alarm.node.default_child
        if not isinstance(resource, cloudwatch.CfnAlarm):  # pragma: no cover - an imported alarm
            raise TypeError(f"Monitoring can adopt only alarms of this stack, not {alarm}")
        resource.alarm_name = self._alarm_name(key)
        self._notify(key, alarm)

    def _notify(self, key: str, alarm: cloudwatch.Alarm) -> None:
        if key in self.alarms:
            raise ValueError(f"Monitoring: an alarm named {key!r} exists already")
        alarm.add_alarm_action(self._action)
        # The all-clear too: whoever was paged learns when it is over.
        alarm.add_ok_action(self._action)
        self.alarms[key] = alarm

    def _alarm_name(self, key: str) -> str:
        return f"{self._name_prefix}-{key}"

    def _alarm(
        self,
        key: str,
        *,
        metric: cloudwatch.IMetric,
        threshold: float,
        description: str,
        evaluation_periods: int = 1,
        comparison: cloudwatch.ComparisonOperator = cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
        missing: cloudwatch.TreatMissingData = cloudwatch.TreatMissingData.NOT_BREACHING,
    ) -> cloudwatch.Alarm:
        if key in self.alarms:  # before the construct: its id would clash first, with a worse message
            raise ValueError(f"Monitoring: an alarm named {key!r} exists already")
        alarm = cloudwatch.Alarm(
            self,
            key,
            alarm_name=self._alarm_name(key),
            alarm_description=f"{description} Runbook: docs/operations.md#{key.lower()}",
            metric=metric,
            threshold=threshold,
            comparison_operator=comparison,
            evaluation_periods=evaluation_periods,
            datapoints_to_alarm=evaluation_periods,
            treat_missing_data=missing,
        )
        self._notify(key, alarm)
        return alarm

    # --- alarms ---------------------------------------------------------------------------------

    def _function_alarms(self, function: lambda_.IFunction) -> None:
        # Partial batch failures are not errors: an Error is an invocation that
        # crashed or timed out, and its whole batch goes back to SQS. One may be
        # a fluke the retry absorbs; two five-minute periods in a row are not.
        self._alarm(
            FUNCTION_ERRORS,
            metric=function.metric_errors(period=Duration.minutes(5), statistic="Sum"),
            threshold=0,
            evaluation_periods=2,
            description="The analyze function crashed or timed out in two 5-minute periods in a row; whole "
            "batches go back to SQS.",
        )
        # The event source's maximum concurrency keeps SQS from being throttled by
        # the function itself: a throttle means the account's concurrency is spent.
        self._alarm(
            FUNCTION_THROTTLES,
            metric=function.metric_throttles(period=Duration.minutes(5), statistic="Sum"),
            threshold=0,
            evaluation_periods=3,
            description="Lambda refused invocations of the analyze function for 15 minutes: the account's "
            "concurrency is used up elsewhere.",
        )

    def _queue_alarm(self, queue: sqs.IQueue) -> None:
        resource = queue.node.default_child if isinstance(queue, sqs.Queue) else None
        retention = getattr(resource, "message_retention_period", None) or _SQS_DEFAULT_RETENTION_SECONDS
        threshold = retention * self._settings.queue_age_percent / 100
        self._alarm(
            QUEUE_AGE,
            metric=queue.metric_approximate_age_of_oldest_message(period=Duration.minutes(5), statistic="Maximum"),
            threshold=threshold,
            evaluation_periods=3,
            description=f"A message has waited in the incoming queue over {threshold / 3600:g} hours "
            f"({self._settings.queue_age_percent:g} % of its {retention / 86400:g}-day retention): the function "
            "is not draining it, and SQS drops what outlives the retention.",
        )

    def _analyze_metric(self, name: str, period: Duration, **dimensions: str) -> cloudwatch.Metric:
        return cloudwatch.Metric(
            namespace=self._namespace,
            metric_name=name,
            dimensions_map={"service": SERVICE_NAME, **dimensions},
            statistic="Sum",
            period=period,
        )

    def _detect_faces_alarm(self, rekognition_tps: int) -> None:
        throttled = self._analyze_metric("DetectFacesThrottled", Duration.minutes(5))
        share = cloudwatch.MathExpression(
            expression=f"100 * FILL(throttled, 0) / PERIOD(throttled) / {rekognition_tps}",
            using_metrics={"throttled": throttled},
            label="DetectFaces throttled, % of the budget",
            period=Duration.minutes(5),
        )
        self._alarm(
            DETECT_FACES_THROTTLED,
            metric=share,
            threshold=self._settings.detect_faces_throttled_percent,
            evaluation_periods=3,
            description=f"Rekognition throttled over {self._settings.detect_faces_throttled_percent:g} % of the "
            f"{rekognition_tps}/s DetectFaces budget for 15 minutes: the account's quota is lower than the "
            "budget or shared.",
        )

    def _quarantine_alarm(self) -> None:
        hour = Duration.hours(1)
        rate = cloudwatch.MathExpression(
            expression=f"IF(received >= {QUARANTINE_RATE_MIN_IMAGES}, 100 * FILL(quarantined, 0) / received, 0)",
            using_metrics={
                "quarantined": self._analyze_metric("ImagesQuarantined", hour),
                "received": self._analyze_metric("ImagesReceived", hour),
            },
            label="Images quarantined, % of images received",
            period=hour,
        )
        self._alarm(
            QUARANTINE_RATE,
            metric=rate,
            threshold=self._settings.quarantine_percent,
            description=f"Over {self._settings.quarantine_percent:g} % of an hour's images were quarantined "
            "(never analyzed); the reason dimension of ImagesQuarantined says why.",
        )

    def _firehose_alarms(self, key: str, stream: firehose.IDeliveryStream) -> None:
        five_minutes = Duration.minutes(5)
        freshness = self._settings.firehose_freshness_minutes
        self._alarm(
            f"{key}{FIREHOSE_FRESHNESS}",
            metric=stream.metric("DeliveryToS3.DataFreshness", period=five_minutes, statistic="Maximum"),
            threshold=freshness * 60,
            description=f"The oldest {key.lower()} record in Firehose is over {freshness} minutes old: delivery "
            "to the curated bucket is stuck.",
        )
        # Firehose retries S3 for up to a day; a quarter of an hour of failures is not a blip.
        self._alarm(
            f"{key}{FIREHOSE_DELIVERY}",
            metric=stream.metric("DeliveryToS3.Success", period=five_minutes, statistic="Average"),
            threshold=1,
            comparison=cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
            evaluation_periods=3,
            description=f"Firehose failed to write {key.lower()} objects to the curated bucket for 15 minutes "
            "(DeliveryToS3.Success under 1).",
        )
        # Zero tolerance: every record that fails conversion is a row missing from the tables.
        self._alarm(
            f"{key}{FIREHOSE_CONVERSION}",
            metric=stream.metric("FailedConversion.Records", period=five_minutes, statistic="Sum"),
            threshold=0,
            description=f"{key} records failed Parquet conversion and were written under errors/ of the curated "
            "bucket instead of the table.",
        )
        # Above the active-partition limit Firehose writes records under errors/ too.
        self._alarm(
            f"{key}{FIREHOSE_PARTITIONS}",
            metric=stream.metric("PartitionCountExceeded", period=five_minutes, statistic="Maximum"),
            threshold=1,
            comparison=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            description=f"The {key.lower()} stream hit its active-partition limit (store x day); records over it "
            "go under errors/.",
        )

    # --- silence check --------------------------------------------------------------------------

    def _silence_check(
        self, stores: Mapping[str, StoreHours], log_retention: logs.RetentionDays, removal_policy: RemovalPolicy
    ) -> lambda_.Function:
        stores_json = json.dumps(
            {store_id: {"timezone": s.timezone, "hours": list(s.hours)} for store_id, s in sorted(stores.items())},
            sort_keys=True,
            separators=(",", ":"),
        )
        log_group = logs.LogGroup(self, "SilenceCheckLogs", retention=log_retention, removal_policy=removal_policy)
        role = iam.Role(
            self,
            "SilenceCheckRole",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description="Silence check: read the analyze function's per-store metric, publish StoresSilent",
        )
        policy = iam.Policy(
            self,
            "SilenceCheckPolicy",
            statements=[
                iam.PolicyStatement(
                    sid="ReadMetrics",
                    actions=["cloudwatch:GetMetricData"],
                    # GetMetricData supports no resource-level permissions.
                    resources=["*"],
                ),
                iam.PolicyStatement(
                    sid="PublishOwnNamespace",
                    actions=["cloudwatch:PutMetricData"],
                    resources=["*"],
                    conditions={"StringEquals": {"cloudwatch:namespace": self._namespace}},
                ),
                iam.PolicyStatement(
                    sid="OwnLogGroup",
                    actions=["logs:CreateLogStream", "logs:PutLogEvents"],
                    resources=[log_group.log_group_arn, f"{log_group.log_group_arn}:*"],
                ),
            ],
        )
        policy.attach_to_role(role)
        acknowledge(
            policy,
            "AwsSolutions-IAM5[Resource::*]",
            "CloudWatch GetMetricData and PutMetricData support no resource-level permissions; PutMetricData is "
            "limited to the deployment's own metrics namespace by condition.",
        )
        acknowledge(
            policy,
            f"AwsSolutions-IAM5[Resource::<{Stack.of(self).get_logical_id(log_group.node.default_child)}.Arn>:*]",
            "Log streams are created by Lambda at run time; the wildcard is limited to this function's log group.",
        )
        function = lambda_.Function(
            self,
            "SilenceCheck",
            description="Every 15 minutes: stores inside their opening hours that sent no still for "
            f"{self._settings.silent_store_hours} hours",
            runtime=LAMBDA_RUNTIME,
            architecture=LAMBDA_ARCHITECTURE,
            handler="app.handler",
            code=code_with_file(SILENCE_CHECK_DIR, STORES_FILE_NAME, stores_json),
            role=role,
            log_group=log_group,
            timeout=Duration.minutes(1),
            memory_size=256,
            environment={
                "SILENT_HOURS": str(self._settings.silent_store_hours),
                "METRICS_NAMESPACE": self._namespace,
            },
        )
        depends_on_only(function.node.default_child, policy)
        events.Rule(
            self,
            "SilenceCheckSchedule",
            description="Look for stores silent inside their opening hours",
            schedule=events.Schedule.rate(SILENCE_CHECK_RATE),
            # A missed run is made up by the next one, 15 minutes later.
            targets=[targets.LambdaFunction(function, retry_attempts=0, max_event_age=SILENCE_CHECK_RATE)],
        )
        period = Duration.minutes(SILENCE_CHECK_RATE.to_minutes() * 2)
        self._alarm(
            STORES_SILENT,
            metric=cloudwatch.Metric(
                namespace=self._namespace,
                metric_name="StoresSilent",
                dimensions_map={"service": SILENCE_CHECK_SERVICE},
                statistic="Maximum",
                period=period,
            ),
            threshold=0,
            # The check publishes on every run, 0 included: nothing at all means it is not running.
            missing=cloudwatch.TreatMissingData.BREACHING,
            description=f"A store inside its opening hours sent no still for {self._settings.silent_store_hours} "
            "hours (StoreSilent says which), or the silence check itself stopped reporting.",
        )
        return function

    # --- dashboard ------------------------------------------------------------------------------

    def _dashboard(
        self,
        function: lambda_.IFunction,
        queue: sqs.IQueue,
        dead_letter_queue: sqs.IQueue,
        delivery_streams: Mapping[str, firehose.IDeliveryStream],
        rekognition_tps: int,
    ) -> cloudwatch.Dashboard:
        factory = DefaultDashboardFactory(
            self,
            "Dashboards",
            dashboard_name_prefix=f"{self._name_prefix}-operations",
            create_dashboard=True,
            create_summary_dashboard=False,
            create_alarm_dashboard=False,
        )
        facade = MonitoringFacade(self, "Facade", dashboard_factory=factory)
        five = Duration.minutes(5)

        def analyze(name: str, label: str) -> cloudwatch.Metric:
            return self._analyze_metric(name, five).with_(label=label)

        def search(metric: str, dimension: str, statistic: str = "Sum", service: str = SERVICE_NAME) -> str:
            return (
                f'SEARCH(\'{{{self._namespace},service,{dimension}}} MetricName="{metric}" '
                f"service=\"{service}\"', '{statistic}', 300)"
            )

        def by_dimension(title: str, expression: str, label: str) -> cloudwatch.GraphWidget:
            return cloudwatch.GraphWidget(
                title=title,
                width=12,
                left=[cloudwatch.MathExpression(expression=expression, label=label, period=five)],
            )

        facade.add_large_header(f"{self._name_prefix}: images in, faces out")
        facade.add_widget(
            cloudwatch.GraphWidget(
                title="Images in, faces out (per 5 minutes)",
                width=12,
                left=[
                    analyze("ImagesReceived", "images received"),
                    analyze("ImagesAnalyzed", "analyzed"),
                    analyze("ImagesWithoutFaces", "without faces"),
                    analyze("ImagesQuarantined", "quarantined"),
                    analyze("MessagesRetried", "messages retried"),
                ],
                right=[analyze("FacesDelivered", "faces delivered"), analyze("ImageRowsDelivered", "image rows")],
            )
        )
        calls = self._analyze_metric("DetectFacesCalls", five)
        throttled = self._analyze_metric("DetectFacesThrottled", five)
        facade.add_widget(
            cloudwatch.GraphWidget(
                title=f"DetectFaces calls per second against the budget ({rekognition_tps}/s)",
                width=12,
                left=[
                    cloudwatch.MathExpression(
                        expression="FILL(calls, 0) / PERIOD(calls)",
                        using_metrics={"calls": calls},
                        label="attempts/s",
                        period=five,
                    ),
                    cloudwatch.MathExpression(
                        expression="FILL(throttled, 0) / PERIOD(throttled)",
                        using_metrics={"throttled": throttled},
                        label="throttled/s",
                        period=five,
                    ),
                ],
                left_annotations=[cloudwatch.HorizontalAnnotation(value=rekognition_tps, label="budget")],
            )
        )
        facade.add_widget(
            by_dimension("Quarantined images by reason", search("ImagesQuarantined", "reason"), "[reason]")
        )
        facade.add_widget(by_dimension("Retried messages by cause", search(RETRY_CAUSE_METRIC, "cause"), "[cause]"))
        facade.add_widget(by_dimension("Images per store", search("StoreImages", "store"), "[store]"))
        facade.add_widget(
            by_dimension(
                "Stores silent inside opening hours (1 = silent)",
                search("StoreSilent", "store", "Maximum", SILENCE_CHECK_SERVICE),
                "[store]",
            )
        )
        facade.add_widget(
            cloudwatch.GraphWidget(
                title="Firehose: data freshness (s) and records that failed conversion",
                width=12,
                left=[
                    stream.metric("DeliveryToS3.DataFreshness", period=five, statistic="Maximum", label=f"{key} age")
                    for key, stream in delivery_streams.items()
                ],
                left_annotations=[
                    cloudwatch.HorizontalAnnotation(value=self._settings.firehose_freshness_minutes * 60, label="alarm")
                ],
                right=[
                    stream.metric("FailedConversion.Records", period=five, statistic="Sum", label=f"{key} failed")
                    for key, stream in delivery_streams.items()
                ],
            )
        )
        facade.add_widget(cloudwatch.AlarmStatusWidget(title="Alarms", width=24, alarms=list(self.alarms.values())))
        # What cdk-monitoring-constructs covers: the function, the queues, the streams.
        facade.add_large_header("Analyze function, queues, Firehose streams")
        facade.monitor_lambda_function(lambda_function=function, human_readable_name="Analyze function")
        facade.monitor_sqs_queue_with_dlq(
            queue=queue, dead_letter_queue=dead_letter_queue, human_readable_name="Incoming queue"
        )
        for key, stream in delivery_streams.items():
            facade.monitor_kinesis_firehose(
                delivery_stream_name=stream.delivery_stream_name,
                human_readable_name=f"{key} delivery stream",
                alarm_friendly_name=f"{key}Stream",
            )
        dashboard = factory.dashboard
        return dashboard
