"""Small CloudFormation tidying the L2s leave undone."""

from __future__ import annotations

from aws_cdk import CfnElement, CfnResource, Stack
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
