"""The CDK feature flags the tiers are built and tested with, set on each tier's own subtree.

A CDK app's flags (its cdk.json context) change what an L2 synthesizes; an
app of yours may have none of these set (``cdk.App()`` with no cdk.json has
none), and then, for one, a bucket's server access logs would be granted by
an ACL on the log bucket, which its disabled ACLs refuse. Each tier sets
these on itself before it adds a child, so it synthesizes what the tests
check in any app, and leaves the rest of the app's flags alone. One flag is
read at the stack, not the tier: ``minimizePolicies`` only orders and merges
a policy's statements, which grant the same either way. This repository's
cdk.json sets the same values (``tests/stacks/test_feature_flags.py``
checks both).
"""

from __future__ import annotations

from types import MappingProxyType

from constructs import Construct

TIER_FEATURE_FLAGS = MappingProxyType(
    {
        "@aws-cdk/aws-lambda:recognizeLayerVersion": True,
        "@aws-cdk/core:checkSecretUsage": True,
        "@aws-cdk/aws-iam:minimizePolicies": True,
        "@aws-cdk/core:validateSnapshotRemovalPolicy": True,
        "@aws-cdk/aws-s3:createDefaultLoggingPolicy": True,
        "@aws-cdk/aws-s3:serverAccessLogsUseBucketPolicy": True,
        "@aws-cdk/aws-sqs:dlqMaxReceiveCount": True,
        "@aws-cdk/core:enablePartitionLiterals": True,
        "@aws-cdk/aws-iam:standardizedServicePrincipals": True,
        "@aws-cdk/aws-lambda:useLatestRuntimeVersion": True,
    }
)


def pin_feature_flags(construct: Construct) -> None:
    """Set ``TIER_FEATURE_FLAGS`` on ``construct``; call it before the construct adds any child."""
    for flag, value in TIER_FEATURE_FLAGS.items():
        construct.node.set_context(flag, value)
