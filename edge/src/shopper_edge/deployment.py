"""A deployment's pipeline stack as the operator commands see it: its name, its edge names, its outputs.

`provision` and `decommission` run on an operator's machine, not on the Pi,
but ship in the same package, without the repository. Copies of the
contracts (tests/contracts ties them to shopper_sentiment/contracts/):

* ``STACK_NAME_PREFIX``, ``stack_name``: shopper_sentiment/contracts/identifiers.py ``stack_name``;
* ``EDGE_NAME_SUFFIX``, ``edge_name``: ``role_alias_name`` and ``iot_policy_name``
  (IngestTier gives the role alias and the IoT policy the same name);
* ``SOURCE_BUCKET``, ``EDGE_ROLE_ALIAS``: the output keys of shopper_sentiment/contracts/outputs.py.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

STACK_NAME_PREFIX = "ShopperSentiment"
EDGE_NAME_SUFFIX = "-edge"
SOURCE_BUCKET = "SourceBucketName"
EDGE_ROLE_ALIAS = "EdgeRoleAliasName"


class DeploymentLookupError(ValueError):
    """The deployment named on the command line cannot be resolved (a bad argument: exit 2)."""


def stack_name(deployment: str) -> str:
    """The pipeline stack of a deployment."""
    return f"{STACK_NAME_PREFIX}-{deployment}"


def edge_name(stack: str) -> str:
    """The IoT role alias and the IoT policy of a pipeline stack."""
    return f"{stack}{EDGE_NAME_SUFFIX}"


def edge_resource_name(deployment: str) -> str:
    """Role alias and IoT policy name IngestTier creates for a deployment."""
    return edge_name(stack_name(deployment))


@dataclass(frozen=True)
class EdgeTarget:
    """What a device of one deployment is given: where it uploads, which role alias and IoT policy it uses."""

    stack: str
    bucket: str
    role_alias: str
    policy: str


def stack_outputs(cloudformation: Any, stack: str) -> dict[str, str]:
    """OutputKey -> OutputValue of a deployed stack (CloudFormation DescribeStacks)."""
    try:
        response = cloudformation.describe_stacks(StackName=stack)
    except ClientError as exc:
        message = exc.response.get("Error", {}).get("Message", "")
        if "does not exist" not in message:
            raise
        region = cloudformation.meta.region_name
        raise DeploymentLookupError(
            f"stack {stack!r} not found in {region}: check --stack and --region (ShopperSentiment-<deployment>)"
        ) from exc
    (described,) = response["Stacks"]
    return {output["OutputKey"]: output["OutputValue"] for output in described.get("Outputs", [])}


def _output(outputs: dict[str, str], stack: str, key: str) -> str:
    try:
        return outputs[key]
    except KeyError:
        raise DeploymentLookupError(
            f"stack {stack!r} has no output {key!r}: deploy the pipeline stack from this version of the app"
        ) from None


def edge_target(
    cloudformation: Any | None,
    *,
    stack: str | None = None,
    deployment: str | None = None,
    bucket: str | None = None,
) -> EdgeTarget:
    """Resolve the deployment from ``--stack`` (its outputs) or from ``--deployment`` and ``--bucket``.

    Flags given next to ``--stack`` must agree with it: a mix that disagrees
    would give the device a bucket its role may not write to.
    """
    if stack is None:
        if deployment is None or bucket is None:
            raise DeploymentLookupError("give --stack ShopperSentiment-<deployment>, or both --deployment and --bucket")
        name = edge_resource_name(deployment)
        return EdgeTarget(stack=stack_name(deployment), bucket=bucket, role_alias=name, policy=name)
    if deployment is not None and stack_name(deployment) != stack:
        raise DeploymentLookupError(
            f"--deployment {deployment} is stack {stack_name(deployment)!r}, but --stack is {stack!r}: give one of them"
        )
    if cloudformation is None:
        raise ValueError("a CloudFormation client is needed to read the outputs of --stack")
    outputs = stack_outputs(cloudformation, stack)
    stack_bucket = _output(outputs, stack, SOURCE_BUCKET)
    if bucket is not None and bucket != stack_bucket:
        raise DeploymentLookupError(
            f"--bucket {bucket} disagrees with stack {stack!r}, whose output {SOURCE_BUCKET} is {stack_bucket!r}: "
            "leave --bucket out"
        )
    return EdgeTarget(
        stack=stack,
        bucket=stack_bucket,
        role_alias=_output(outputs, stack, EDGE_ROLE_ALIAS),
        policy=edge_name(stack),
    )
