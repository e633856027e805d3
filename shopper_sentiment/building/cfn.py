"""Small CloudFormation tidying the L2s leave undone."""

from __future__ import annotations

from aws_cdk import CfnElement, CfnResource, Stack
from aws_cdk import aws_s3 as s3
from constructs import IConstruct


def depends_on_only(resource: CfnResource, *targets: IConstruct) -> None:
    """Replace ``resource``'s DependsOn with exactly ``targets``.

    L2s add DependsOn on resources the template already references with
    Ref/GetAtt; CloudFormation orders those anyway and cfn-lint reports the
    duplicate as W3005. Keep only the ordering that nothing else implies.
    """
    stack = Stack.of(resource)
    ids = []
    for target in targets:
        element = target if isinstance(target, CfnElement) else target.node.default_child
        if not isinstance(element, CfnElement):
            raise TypeError(f"{target.node.path} has no CloudFormation resource to depend on")
        ids.append(stack.get_logical_id(element))
    if ids:
        resource.add_override("DependsOn", sorted(set(ids)))
    else:
        resource.add_deletion_override("DependsOn")


def objects_arn(scope: IConstruct, bucket: s3.IBucket, pattern: str) -> str:
    """``bucket.arn_for_objects(pattern)`` as the stack of ``scope`` reads it.

    A bucket that another stack of the app owns is read through an import of
    that stack's export, and cdk-nag names a finding on it by the export's
    name. Building the ARN from ``export_value`` (the very export CDK makes
    for a reference) puts that name in both the policy and the
    acknowledgement; in the bucket's own stack it is the plain ARN.
    """
    owner = Stack.of(bucket)
    if isinstance(bucket, s3.Bucket) and owner is not Stack.of(scope):
        return f"{owner.export_value(bucket.bucket_arn)}/{pattern}"
    return bucket.arn_for_objects(pattern)
