"""IngestTier guarantees: secure buckets, DLQ'd notifications, upload-only edge role."""

from __future__ import annotations

import aws_cdk as cdk
import pytest
from aws_cdk.assertions import Match, Template

from shopper_sentiment.tiers.ingest import IngestTier
from tests.cdk_apps import new_app

DEVICES = ["pi-a", "pi-b", "pi-c"]


@pytest.fixture(scope="module")
def ingest() -> tuple[cdk.Stack, IngestTier, Template]:
    stack = cdk.Stack(new_app(), "Bare")
    tier = IngestTier(stack, "Ingest", device_ids=DEVICES, retention=cdk.Duration.days(30), name_prefix="Shop-x")
    return stack, tier, Template.from_stack(stack)


def test_ingest_tier_builds_alone_in_a_bare_stack(ingest):
    _, tier, template = ingest
    template.resource_count_is("AWS::S3::Bucket", 3)  # source, archive, access logs
    assert tier.role_alias_name == "Shop-x-edge"
    assert tier.thing_names == tuple(DEVICES)


def test_every_bucket_is_encrypted_private_and_tls_only(ingest):
    _stack, _, template = ingest
    buckets = template.find_resources("AWS::S3::Bucket")
    for logical_id, bucket in buckets.items():
        props = bucket["Properties"]
        sse = props["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]
        assert sse["ServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256", logical_id
        assert props["PublicAccessBlockConfiguration"] == {
            "BlockPublicAcls": True,
            "BlockPublicPolicy": True,
            "IgnorePublicAcls": True,
            "RestrictPublicBuckets": True,
        }, logical_id
    policies = template.find_resources("AWS::S3::BucketPolicy")
    tls_denied = {
        p["Properties"]["Bucket"]["Ref"]
        for p in policies.values()
        for s in p["Properties"]["PolicyDocument"]["Statement"]
        if s["Effect"] == "Deny" and s["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    }
    assert tls_denied == set(buckets)


def test_source_and_archive_log_to_the_access_log_bucket(ingest):
    stack, tier, template = ingest
    log_bucket_id = stack.get_logical_id(tier.log_bucket.node.default_child)
    for bucket in (tier.source_bucket, tier.archive_bucket):
        props = template.to_json()["Resources"][stack.get_logical_id(bucket.node.default_child)]["Properties"]
        assert props["LoggingConfiguration"]["DestinationBucketName"] == {"Ref": log_bucket_id}
        assert props["VersioningConfiguration"] == {"Status": "Enabled"}


def test_archive_expires_objects_after_the_retention_days(ingest):
    stack, tier, template = ingest
    props = template.to_json()["Resources"][stack.get_logical_id(tier.archive_bucket.node.default_child)]["Properties"]
    rules = props["LifecycleConfiguration"]["Rules"]
    assert any(r.get("ExpirationInDays") == 30 and r["Status"] == "Enabled" for r in rules)


def test_incoming_uploads_notify_the_queue_which_has_a_dead_letter_queue(ingest):
    stack, tier, template = ingest
    dlq_id = stack.get_logical_id(tier.dead_letter_queue.node.default_child)
    template.has_resource_properties(
        "AWS::SQS::Queue",
        {
            "RedrivePolicy": {"deadLetterTargetArn": {"Fn::GetAtt": [dlq_id, "Arn"]}, "maxReceiveCount": 5},
            "VisibilityTimeout": 1800,
            "SqsManagedSseEnabled": True,
        },
    )
    template.has_resource_properties(
        "Custom::S3BucketNotifications",
        {
            "NotificationConfiguration": {
                "QueueConfigurations": [
                    {
                        "Events": ["s3:ObjectCreated:*"],
                        "Filter": {"Key": {"FilterRules": [{"Name": "prefix", "Value": "incoming/"}]}},
                        "QueueArn": {"Fn::GetAtt": [stack.get_logical_id(tier.queue.node.default_child), "Arn"]},
                    }
                ]
            }
        },
    )
    # Both queues refuse non-TLS access.
    for policy in template.find_resources("AWS::SQS::QueuePolicy").values():
        statements = policy["Properties"]["PolicyDocument"]["Statement"]
        assert any(
            s["Effect"] == "Deny" and s["Condition"] == {"Bool": {"aws:SecureTransport": "false"}} for s in statements
        )


def test_edge_role_may_only_put_objects_under_its_own_thing_prefix(ingest):
    stack, tier, template = ingest
    role = template.to_json()["Resources"][stack.get_logical_id(tier.edge_role.node.default_child)]["Properties"]
    assert role["AssumeRolePolicyDocument"]["Statement"] == [
        {"Action": "sts:AssumeRole", "Effect": "Allow", "Principal": {"Service": "credentials.iot.amazonaws.com"}}
    ]
    assert "ManagedPolicyArns" not in role
    source_id = stack.get_logical_id(tier.source_bucket.node.default_child)
    assert role["Policies"] == [
        {
            "PolicyName": "UploadOwnPrefixOnly",
            "PolicyDocument": {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Sid": "PutOwnCapturesOnly",
                        "Action": "s3:PutObject",
                        "Effect": "Allow",
                        "Resource": {
                            "Fn::Join": [
                                "",
                                [{"Fn::GetAtt": [source_id, "Arn"]}, "/incoming/${credentials-iot:ThingName}/*"],
                            ]
                        },
                    }
                ],
            },
        }
    ]
    # Nothing else in the template grants the edge role anything.
    role_id = stack.get_logical_id(tier.edge_role.node.default_child)
    for policy in template.find_resources("AWS::IAM::Policy").values():
        assert {"Ref": role_id} not in policy["Properties"].get("Roles", [])


def test_each_device_is_a_thing_behind_one_role_alias_and_iot_policy(ingest):
    stack, tier, template = ingest
    template.resource_count_is("AWS::IoT::Thing", len(DEVICES))
    for device in DEVICES:
        template.has_resource_properties("AWS::IoT::Thing", {"ThingName": device})
    template.has_resource_properties(
        "AWS::IoT::RoleAlias",
        {
            "RoleAlias": "Shop-x-edge",
            "RoleArn": {"Fn::GetAtt": [stack.get_logical_id(tier.edge_role.node.default_child), "Arn"]},
            "CredentialDurationSeconds": 3600,
        },
    )
    template.has_resource_properties(
        "AWS::IoT::Policy",
        {
            "PolicyName": "Shop-x-edge",
            "PolicyDocument": {
                "Statement": [
                    Match.object_like(
                        {
                            "Action": "iot:AssumeRoleWithCertificate",
                            "Condition": {"Bool": {"iot:Connection.Thing.IsAttached": "true"}},
                        }
                    )
                ]
            },
        },
    )


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"device_ids": []}, "at least one device"),
        ({"device_ids": ["a", "a"]}, "unique"),
        ({"retention": cdk.Duration.hours(12)}, "at least one day"),
    ],
)
def test_ingest_tier_refuses_unsafe_props(kwargs, message):
    stack = cdk.Stack(new_app(), "Bad")
    props = {"device_ids": ["a"], "retention": cdk.Duration.days(1), "name_prefix": "x"} | kwargs
    with pytest.raises(ValueError, match=message):
        IngestTier(stack, "Ingest", **props)


def test_a_message_in_the_dead_letter_queue_raises_an_alarm(ingest):
    stack, tier, template = ingest
    template.has_resource_properties(
        "AWS::CloudWatch::Alarm",
        {
            "MetricName": "ApproximateNumberOfMessagesVisible",
            "Namespace": "AWS/SQS",
            "Dimensions": [
                {
                    "Name": "QueueName",
                    "Value": {
                        "Fn::GetAtt": [stack.get_logical_id(tier.dead_letter_queue.node.default_child), "QueueName"]
                    },
                }
            ],
            "Statistic": "Maximum",
            "Threshold": 0,
            "ComparisonOperator": "GreaterThanThreshold",
            "TreatMissingData": "notBreaching",
        },
    )
