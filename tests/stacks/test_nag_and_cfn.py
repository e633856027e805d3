"""The small helpers the tiers lean on: cdk-nag finding ids, DependsOn trimming, the config context."""

from __future__ import annotations

import aws_cdk as cdk
import pytest
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sqs as sqs
from aws_cdk.assertions import Template
from constructs import Construct

from app import build_app
from shopper_sentiment.building.cfn import depends_on_only
from shopper_sentiment.building.nag import acknowledge, finding
from shopper_sentiment.config import ConfigError
from tests.cdk_apps import new_app


def test_finding_renders_tokens_and_policy_variables_as_cdk_nag_does():
    stack = cdk.Stack(new_app(), "S")
    bucket = s3.Bucket(stack, "B")
    logical_id = stack.get_logical_id(bucket.node.default_child)
    arn = bucket.arn_for_objects("incoming/${credentials-iot:ThingName}/*")
    assert finding(stack, "AwsSolutions-IAM5", "Resource", arn) == (
        f"AwsSolutions-IAM5[Resource::<{logical_id}.Arn>/incoming/<credentials-iot:ThingName>/*]"
    )
    assert finding(stack, "AwsSolutions-IAM5", "Resource", bucket.bucket_name) == (
        f"AwsSolutions-IAM5[Resource::<{logical_id}>]"
    )


def test_only_awssolutions_rules_can_be_acknowledged():
    stack = cdk.Stack(new_app(), "S")
    with pytest.raises(ValueError, match="not an AwsSolutions rule id"):
        acknowledge(stack, "S1", "a reason that is long enough to pass the length check of the suite")


def test_depends_on_only_keeps_exactly_the_given_targets_or_none():
    stack = cdk.Stack(new_app(), "S")
    first, second = sqs.Queue(stack, "First"), sqs.Queue(stack, "Second")
    second.node.add_dependency(first)
    third = sqs.Queue(stack, "Third")
    third.node.add_dependency(first)
    depends_on_only(second.node.default_child)
    depends_on_only(third.node.default_child, first)
    resources = Template.from_stack(stack).to_json()["Resources"]
    assert "DependsOn" not in resources[stack.get_logical_id(second.node.default_child)]
    assert resources[stack.get_logical_id(third.node.default_child)]["DependsOn"] == [
        stack.get_logical_id(first.node.default_child)
    ]


def test_depends_on_only_refuses_a_target_without_a_cloudformation_resource():
    stack = cdk.Stack(new_app(), "S")
    queue = sqs.Queue(stack, "Q")
    with pytest.raises(TypeError, match="no CloudFormation resource"):
        depends_on_only(queue.node.default_child, Construct(stack, "Plain"))


def test_an_app_without_a_config_context_says_how_to_give_one():
    with pytest.raises(ConfigError, match="-c config=PATH"):
        build_app(cdk.App())
