"""What a deployed stack offers the operator commands, made on moto: its outputs and its idempotency table."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from shopper_sentiment.contracts.identifiers import stack_name


def publish_outputs(session: Any, deployment: str, values: Mapping[str, str]) -> None:
    """A CloudFormation stack named as the deployment's, whose outputs are ``values`` (output key → value)."""
    template = {
        "Resources": {"Queue": {"Type": "AWS::SQS::Queue"}},
        "Outputs": {key: {"Value": value} for key, value in values.items()},
    }
    session.client("cloudformation").create_stack(StackName=stack_name(deployment), TemplateBody=json.dumps(template))


def create_idempotency_table(session: Any, name: str) -> None:
    """The function's idempotency table: partition key ``id``, on demand (shopper_sentiment/tiers/process.py)."""
    session.client("dynamodb").create_table(
        TableName=name,
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
