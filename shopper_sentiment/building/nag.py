"""cdk-nag 3 acknowledgements, written next to the construct they concern.

cdk-nag 3 reads CDK's native ``Validations.of(construct).acknowledge()``.
Granular findings (``AwsSolutions-IAM5[Resource::<Bucket.Arn>/incoming/*]``)
name the resource the way cdk-nag renders CloudFormation intrinsics; build
those ids with ``finding`` from the real token instead of pasting a logical
id with its hash into code.
"""

from __future__ import annotations

import re
from typing import Any

from aws_cdk import Acknowledgment, Stack, Validations
from constructs import IConstruct

#: cdk-nag's plugin prefix: acknowledgement ids read "AwsSolutions::AwsSolutions-S1".
PACK_PREFIX = "AwsSolutions::"


def acknowledge(construct: IConstruct, rule_id: str, reason: str) -> None:
    """Acknowledge one AwsSolutions finding on ``construct`` (and what it contains)."""
    if not rule_id.startswith("AwsSolutions-"):
        raise ValueError(f"not an AwsSolutions rule id: {rule_id!r}")
    Validations.of(construct).acknowledge(Acknowledgment(id=PACK_PREFIX + rule_id, reason=reason))


def _render(value: Any) -> str:
    # cdk-nag renders intrinsics as <LogicalId> (Ref) and <LogicalId.Attr> (GetAtt).
    if isinstance(value, str):
        # IAM policy variables (${credentials-iot:ThingName}) read as <...>.
        return re.sub(r"\$\{([^}]+)\}", r"<\1>", value)
    if isinstance(value, dict) and len(value) == 1:
        ((fn, arg),) = value.items()
        if fn == "Ref":
            return f"<{arg}>"
        if fn == "Fn::GetAtt":
            return f"<{arg[0]}.{arg[1]}>"
        if fn == "Fn::ImportValue" and isinstance(arg, str):
            # Another stack's export (cdk-nag names it as is).
            return arg
        if fn == "Fn::Join":
            separator, parts = arg
            return separator.join(_render(p) for p in parts)
    raise ValueError(f"cannot render {value!r} as a cdk-nag finding")


def finding(scope: IConstruct, rule_id: str, kind: str, value: str) -> str:
    """``Rule[Kind::value]`` with tokens in ``value`` rendered as cdk-nag does."""
    return f"{rule_id}[{kind}::{_render(Stack.of(scope).resolve(value))}]"
