"""IngestTier: where camera stills land, how devices may write them, and
where they go when analysis is done.

Defaults (fixed: no prop of this construct can weaken them):

- Every bucket: SSE-S3 encryption, BlockPublicAccess.BLOCK_ALL, TLS-only
  bucket policy (``enforce_ssl``), bucket-owner-enforced object ownership.
- Source bucket: versioned (a re-upload never replaces the bytes an
  analysis is reading), server access logs to a dedicated log bucket,
  ``incoming/`` object-created notifications to an SQS queue (SSE, TLS-only)
  with a dead-letter queue after ``max_receive_count`` failed receives, and
  an alarm as soon as anything waits there. The queue's visibility timeout
  (``queue_visibility_timeout``, 30 minutes) must be at least six times the
  timeout of the function that drains it; ProcessTier refuses less. The queue
  and its dead-letter queue keep a message 14 days, SQS's maximum (a shorter
  retention would drop a backlog silently while its images stay). An image
  still under ``incoming/`` (never analyzed: its analysis kept failing) expires
  after ``incoming_retention``, which must outlive those 14 days. Noncurrent
  versions expire after a day: the archive holds the copy that matters.
- Archive bucket: analyzed images (their keys start with ``incoming/``)
  expire after ``retention``, quarantined ones (``quarantine/``) after
  ``quarantine_retention``; also versioned (noncurrent versions go after a
  day) and logged.
- Edge fleet access: one IoT thing per device id, an IoT role alias in front
  of an IAM role whose only permission is ``s3:PutObject`` on
  ``incoming/${credentials-iot:ThingName}/*`` of the source bucket, and an
  IoT policy letting a certificate attached to its thing assume that alias.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from aws_cdk import Duration, RemovalPolicy, Stack
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_iam as iam
from aws_cdk import aws_iot as iot
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_s3_notifications as s3n
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from shopper_sentiment.building.cfn import depends_on_only
from shopper_sentiment.building.feature_flags import pin_feature_flags
from shopper_sentiment.building.nag import acknowledge, finding
from shopper_sentiment.building.overrides import PropsError, adopt_bucket, bucket_overrides, refuse_both
from shopper_sentiment.building.storage import access_log_bucket, expiring, secure_bucket
from shopper_sentiment.contracts.identifiers import iot_policy_name, role_alias_name
from shopper_sentiment.contracts.layout import INCOMING_PREFIX, QUARANTINE_PREFIX

#: The IoT credentials provider sets this policy variable from the
#: x-amzn-iot-thingname header, and only when the certificate is attached
#: to that thing (AWS IoT Developer Guide, "Authorizing direct calls to AWS services").
THING_NAME_VARIABLE = "${credentials-iot:ThingName}"
#: SQS's maximum message retention: the incoming queue and its dead-letter queue keep messages this long.
QUEUE_RETENTION = Duration.days(14)
#: Noncurrent versions (a deleted or replaced image) are kept this long, for an undo within the day.
NONCURRENT_VERSION_RETENTION = Duration.days(1)
#: Construct id of aws-cdk-lib's singleton BucketNotificationsHandler.
NOTIFICATIONS_HANDLER_ID = "BucketNotificationsHandler050a0587b7544547bf325f094a3db834"


class IngestTier(Construct):
    """Source and archive buckets, the incoming queue, and the edge fleet's access.

    Attributes: ``source_bucket``, ``archive_bucket``, ``log_bucket``,
    ``queue``, ``dead_letter_queue``, ``dead_letter_alarm``, ``edge_role``, ``role_alias_name``,
    ``iot_policy_name``, ``thing_names``.
    """

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        device_ids: Sequence[str],
        retention: Duration,
        name_prefix: str,
        incoming_retention: Duration = Duration.days(15),
        quarantine_retention: Duration = Duration.days(30),
        removal_policy: RemovalPolicy = RemovalPolicy.RETAIN,
        queue_visibility_timeout: Duration = Duration.minutes(30),
        max_receive_count: int = 5,
        credential_duration: Duration = Duration.hours(1),
        server_access_logs_bucket: s3.IBucket | None = None,
        existing_source_bucket: s3.IBucket | None = None,
        source_bucket_props: s3.BucketProps | Mapping[str, Any] | None = None,
        archive_bucket_props: s3.BucketProps | Mapping[str, Any] | None = None,
    ) -> None:
        """The tier for ``device_ids`` (one IoT thing each), its names derived from ``name_prefix``.

        ``retention``, ``incoming_retention`` and ``quarantine_retention`` are
        the lifetimes of analyzed, never-analyzed and quarantined stills.
        ``existing_source_bucket`` is a bucket of yours to receive the stills
        instead of one the tier creates; ``source_bucket_props`` and
        ``archive_bucket_props`` override the props of the buckets it creates
        (``shopper_sentiment.building.overrides`` lists what is refused).
        """
        super().__init__(scope, id_)
        pin_feature_flags(self)
        refuse_both("IngestTier", "source_bucket", existing_source_bucket, source_bucket_props)
        source_overrides = bucket_overrides("IngestTier", "source_bucket_props", source_bucket_props, versioned=True)
        archive_overrides = bucket_overrides("IngestTier", "archive_bucket_props", archive_bucket_props, versioned=True)
        if not device_ids:
            raise ValueError("IngestTier needs at least one device id")
        if len(set(device_ids)) != len(device_ids):
            raise ValueError("IngestTier device ids must be unique")
        if retention.to_seconds() < 24 * 3600:
            raise ValueError("IngestTier retention must be at least one day")
        if quarantine_retention.to_seconds() < 24 * 3600:
            raise ValueError("IngestTier quarantine_retention must be at least one day")
        # A redriven message must still find its image: incoming/ outlives every message naming it.
        if incoming_retention.to_seconds() <= QUEUE_RETENTION.to_seconds():
            raise ValueError(
                "IngestTier incoming_retention must be longer than the queue's 14-day message retention, or a"
                " redriven message would find its image gone"
            )
        if not 1 <= max_receive_count <= 1000:
            raise ValueError("IngestTier max_receive_count must be 1..1000")

        self.log_bucket = server_access_logs_bucket or access_log_bucket(
            self, "AccessLogs", removal_policy=removal_policy
        )

        source_lifecycle = [
            expiring(
                "NeverAnalyzedImages", INCOMING_PREFIX, incoming_retention, old_versions=NONCURRENT_VERSION_RETENTION
            )
        ]
        self.source_bucket: s3.IBucket
        if isinstance(existing_source_bucket, s3.Bucket) and Stack.of(existing_source_bucket) is not Stack.of(self):
            raise PropsError(
                f"IngestTier: existing_source_bucket is refused: it belongs to stack "
                f"{Stack.of(existing_source_bucket).stack_name}, and its incoming/ notifications to this tier's queue "
                f"in stack {Stack.of(self).stack_name} would make each stack depend on the other; build the tier in "
                "the bucket's stack, or import the bucket by name (s3.Bucket.from_bucket_name) in the tier's"
            )
        if existing_source_bucket is not None:
            adopt_bucket(
                self,
                "existing_source_bucket",
                existing_source_bucket,
                source_lifecycle,
                lifetimes=f"{INCOMING_PREFIX} expires after {incoming_retention.to_days()} days, "
                f"older versions after {NONCURRENT_VERSION_RETENTION.to_days()} day",
            )
            self.source_bucket = existing_source_bucket
        else:
            self.source_bucket = secure_bucket(
                self,
                "Source",
                removal_policy=removal_policy,
                server_access_logs_bucket=self.log_bucket,
                server_access_logs_prefix="source/",
                lifecycle_rules=source_lifecycle,
                overrides=source_overrides,
            )
        self.archive_bucket = secure_bucket(
            self,
            "Archive",
            removal_policy=removal_policy,
            server_access_logs_bucket=self.log_bucket,
            server_access_logs_prefix="archive/",
            lifecycle_rules=[
                # Archived images keep their incoming/ keys.
                expiring("AnalyzedImages", INCOMING_PREFIX, retention, old_versions=NONCURRENT_VERSION_RETENTION),
                expiring(
                    "QuarantinedImages",
                    QUARANTINE_PREFIX,
                    quarantine_retention,
                    old_versions=NONCURRENT_VERSION_RETENTION,
                ),
            ],
            overrides=archive_overrides,
        )

        self.dead_letter_queue = sqs.Queue(
            self,
            "DeadLetters",
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            retention_period=QUEUE_RETENTION,
        )
        self.queue = sqs.Queue(
            self,
            "Incoming",
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            visibility_timeout=queue_visibility_timeout,
            retention_period=QUEUE_RETENTION,
            dead_letter_queue=sqs.DeadLetterQueue(queue=self.dead_letter_queue, max_receive_count=max_receive_count),
        )
        acknowledge(
            self.dead_letter_queue,
            "AwsSolutions-SQS3",
            "This queue is the dead-letter queue of the incoming queue; messages here wait for an operator "
            "to inspect and redrive them.",
        )
        # Nothing is lost while a message sits in the DLQ, but only for its
        # 14-day retention: the alarm is what makes someone look in time.
        # Callers add actions (SNS, chat) with dead_letter_alarm.add_alarm_action.
        self.dead_letter_alarm = cloudwatch.Alarm(
            self,
            "DeadLettersWaiting",
            alarm_description="Images whose analysis failed repeatedly wait in the dead-letter queue; "
            "inspect and redrive them within 14 days.",
            metric=self.dead_letter_queue.metric_approximate_number_of_messages_visible(
                period=Duration.minutes(5), statistic="Maximum"
            ),
            threshold=0,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
            evaluation_periods=1,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )
        self.source_bucket.add_event_notification(
            s3.EventType.OBJECT_CREATED,
            s3n.SqsDestination(self.queue),
            s3.NotificationKeyFilter(prefix=INCOMING_PREFIX),
        )
        self._acknowledge_notifications_handler()

        self._build_edge_access(device_ids, name_prefix, credential_duration)

    def _acknowledge_notifications_handler(self) -> None:
        # S3 notifications are configured by CDK's own singleton custom
        # resource (it avoids a bucket ↔ queue-policy dependency cycle).
        # The handler lives in the stack of the bucket (a bucket of yours may be in another stack).
        handler = Stack.of(self.source_bucket).node.try_find_child(NOTIFICATIONS_HANDLER_ID)
        if handler is None:  # pragma: no cover - CDK renamed its handler
            raise RuntimeError("CDK's bucket notifications handler was not found; update NOTIFICATIONS_HANDLER_ID")
        # Its Lambda references its role with GetAtt already (cfn-lint W3005).
        depends_on_only(handler.node.find_child("Resource"))
        # The notifications resource must wait for the queue policy (S3 checks
        # it may send) and the bucket policy, if the bucket has one here; the
        # queue itself it references.
        notifications = self.source_bucket.node.find_child("Notifications")
        bucket_policy = self.source_bucket.node.try_find_child("Policy")
        depends_on_only(
            notifications.node.find_child("Resource"),
            self.queue.node.find_child("Policy"),
            notifications.node.find_child("HandlerPolicy"),
            *([bucket_policy] if bucket_policy is not None else []),
        )
        acknowledge(
            handler,
            "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]",
            "CDK's bucket-notifications custom resource runs only during deployment to set the incoming/ "
            "notification; the AWS managed policy lets it write its own logs and nothing else.",
        )

    def _build_edge_access(self, device_ids: Sequence[str], name_prefix: str, credential_duration: Duration) -> None:
        self.role_alias_name = role_alias_name(name_prefix)
        self.iot_policy_name = iot_policy_name(name_prefix)
        self.thing_names = tuple(sorted(device_ids))

        upload_prefix = self.source_bucket.arn_for_objects(f"{INCOMING_PREFIX}{THING_NAME_VARIABLE}/*")
        self.edge_role = iam.Role(
            self,
            "EdgeRole",
            assumed_by=iam.ServicePrincipal("credentials.iot.amazonaws.com"),
            description="Assumed by store edge devices through the IoT credentials provider; upload-only.",
            max_session_duration=Duration.hours(1),
            inline_policies={
                "UploadOwnPrefixOnly": iam.PolicyDocument(
                    statements=[
                        iam.PolicyStatement(
                            sid="PutOwnCapturesOnly",
                            actions=["s3:PutObject"],
                            resources=[upload_prefix],
                        )
                    ]
                )
            },
        )
        acknowledge(
            self.edge_role,
            finding(self, "AwsSolutions-IAM5", "Resource", upload_prefix),
            "Devices create new objects with content-addressed names under their own prefix only: the "
            "wildcard sits below incoming/<thing name>/ (the IoT credentials provider binds the thing name to "
            "the device certificate) and the only action is s3:PutObject.",
        )

        self.role_alias = iot.CfnRoleAlias(
            self,
            "EdgeRoleAlias",
            role_alias=self.role_alias_name,
            role_arn=self.edge_role.role_arn,
            credential_duration_seconds=int(credential_duration.to_seconds()),
        )
        stack = Stack.of(self)
        role_alias_arn = stack.format_arn(service="iot", resource="rolealias", resource_name=self.role_alias_name)
        self.iot_policy = iot.CfnPolicy(
            self,
            "EdgeIotPolicy",
            policy_name=self.iot_policy_name,
            policy_document={
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Action": "iot:AssumeRoleWithCertificate",
                        "Resource": role_alias_arn,
                        # Only a certificate attached to the thing named in the
                        # request may exchange itself for credentials.
                        "Condition": {"Bool": {"iot:Connection.Thing.IsAttached": "true"}},
                    }
                ],
            },
        )
        self.iot_policy.node.add_dependency(self.role_alias)
        for thing_name in self.thing_names:
            iot.CfnThing(self, f"Thing-{thing_name}", thing_name=thing_name)
