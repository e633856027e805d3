"""`shopper-edge decommission`: take a device's certificates out of AWS IoT.

`provision` attaches each device certificate to the thing and to the
deployment's IoT policy outside CloudFormation. While a principal is attached,
AWS refuses to delete the thing or the policy, so removing the device from the
deployment config (or deleting the stack) fails. Decommission undoes what
provision did, certificate by certificate:

1. detach every IoT policy from it (the deployment's, and any other);
2. set it INACTIVE: from here on it gets no credentials, whatever fails later;
3. detach it from the thing - the last step before the delete, because that
   attachment is how a second run finds a certificate a failed step left;
4. delete it.

A certificate that is attached to another thing too is only detached from
this thing: the other thing still uses it, with its policies.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

#: Pauses before the delete is retried: AWS detaches a thing principal
#: asynchronously, so a delete right after it may still see it attached.
DELETE_RETRY_SECONDS = (1.0, 2.0, 4.0, 8.0)

_STEP_TEXT = {
    "detach_policy": "detach policy {target}",
    "deactivate": "set INACTIVE",
    "detach_thing": "detach from thing {target}",
    "delete": "delete",
}
_COUNT_TEXT = {
    "detach_policy": "policies detached",
    "deactivate": "set INACTIVE",
    "detach_thing": "detached from the thing",
    "delete": "deleted",
}


class DecommissionError(ValueError):
    """The thing cannot be decommissioned as named (a bad argument: exit 2)."""


@dataclass
class Step:
    action: str  # a key of _STEP_TEXT
    target: str  # the policy or thing name; the certificate id for deactivate and delete
    status: str = "planned"  # planned, done, failed, not run
    error: str | None = None

    def describe(self) -> str:
        return _STEP_TEXT[self.action].format(target=self.target)


@dataclass
class CertificateRetirement:
    arn: str
    steps: list[Step]
    left: str | None = None  # why the certificate stays, if it does

    @property
    def id(self) -> str:
        return certificate_id(self.arn)


@dataclass
class Decommission:
    """The plan for one thing and, once executed, what was done."""

    thing: str
    region: str
    policy: str | None
    certificates: list[CertificateRetirement]
    other_principals: list[str]
    dry_run: bool = True
    checks: list[str] = field(default_factory=list)
    unexpected: list[str] = field(default_factory=list)

    def left(self) -> list[str]:
        """Everything that is still attached or still exists, named."""
        return [
            *(f"certificate {c.id}: {c.left}" for c in self.certificates if c.left),
            *(
                f"principal {p}: not a certificate, detach it with `aws iot detach-thing-principal`"
                for p in self.other_principals
            ),
            *self.unexpected,
        ]

    def counts(self) -> dict[str, int]:
        """Steps done per action (planned ones, for a dry run)."""
        wanted = "planned" if self.dry_run else "done"
        return {
            action: sum(s.action == action and s.status == wanted for c in self.certificates for s in c.steps)
            for action in _STEP_TEXT
        }

    def as_json(self) -> dict[str, Any]:
        return {
            "thing": self.thing,
            "region": self.region,
            "policy": self.policy,
            "dry_run": self.dry_run,
            "certificates": [
                {
                    "id": c.id,
                    "arn": c.arn,
                    "steps": [
                        {"action": s.action, "target": s.target, "status": s.status, "error": s.error} for s in c.steps
                    ],
                    "left": c.left,
                }
                for c in self.certificates
            ],
            "other_principals": self.other_principals,
            "counts": self.counts(),
            "checks": self.checks,
            "left": self.left(),
        }

    def plan_lines(self) -> list[str]:
        policy = f", deployment policy {self.policy}" if self.policy else ""
        lines = [f"thing {self.thing} in {self.region}{policy}:"]
        if not self.certificates and not self.other_principals:
            lines.append("  no certificate attached: nothing to do")
        for cert in self.certificates:
            lines.append(f"  certificate {cert.id}: " + "; ".join(s.describe() for s in cert.steps))
            if cert.left:
                lines.append(f"    stays: {cert.left}")
        lines += [f"  principal {p}: not a certificate, left alone" for p in self.other_principals]
        return lines

    def result_lines(self) -> list[str]:
        lines: list[str] = []
        if not self.dry_run:
            for cert in self.certificates:
                lines.append(f"certificate {cert.id}:")
                for step in cert.steps:
                    error = f" ({step.error})" if step.error else ""
                    lines.append(f"  {step.describe()}: {step.status}{error}")
        counts = ", ".join(f"{_COUNT_TEXT[a]} {n}" for a, n in self.counts().items())
        lines.append(f"{'would do' if self.dry_run else 'done'}: {len(self.certificates)} certificate(s); {counts}")
        lines += self.checks
        lines += [f"left: {item}" for item in self.left()]
        if self.dry_run:
            lines.append("dry run: nothing changed")
        return lines


def certificate_id(arn: str) -> str:
    """arn:aws:iot:<region>:<account>:cert/<id> -> <id>."""
    return arn.rsplit("/", 1)[-1]


def _all(iot: Any, operation: str, key: str, **kwargs: Any) -> list[Any]:
    return [item for page in iot.get_paginator(operation).paginate(**kwargs) for item in page.get(key, [])]


def retirement_steps(thing_name: str, policies: Iterable[str], cert_arn: str, *, active: bool = True) -> list[Step]:
    """The steps that retire a certificate only this thing uses, in the order they must run."""
    cert_id = certificate_id(cert_arn)
    return [
        *(Step("detach_policy", policy) for policy in policies),
        *([Step("deactivate", cert_id)] if active else []),
        Step("detach_thing", thing_name),
        Step("delete", cert_id),
    ]


def run_step(iot: Any, cert_arn: str, step: Step, *, sleep: Callable[[float], None] = time.sleep) -> None:
    cert_id = certificate_id(cert_arn)
    if step.action == "detach_policy":
        iot.detach_policy(policyName=step.target, target=cert_arn)
    elif step.action == "deactivate":
        iot.update_certificate(certificateId=cert_id, newStatus="INACTIVE")
    elif step.action == "detach_thing":
        iot.detach_thing_principal(thingName=step.target, principal=cert_arn)
    elif step.action == "delete":
        for pause in (*DELETE_RETRY_SECONDS, None):
            try:
                iot.delete_certificate(certificateId=cert_id)
                return
            except iot.exceptions.DeleteConflictException:
                if pause is None:
                    raise
                sleep(pause)
    else:
        raise ValueError(f"unknown step {step.action!r}")


def retire_quietly(iot: Any, *, thing_name: str, policies: Iterable[str], cert_arn: str) -> None:
    """Best-effort undo of a half-provisioned certificate (each step may not have happened)."""
    for step in retirement_steps(thing_name, policies, cert_arn):
        try:
            run_step(iot, cert_arn, step)
        except Exception:  # noqa: S112 - cleanup continues past steps that never happened
            continue


def plan_decommission(iot: Any, *, thing_name: str, region: str, policy: str | None = None) -> Decommission:
    """Read what is attached to the thing and plan each certificate's retirement; changes nothing."""
    try:
        principals = _all(iot, "list_thing_principals", "principals", thingName=thing_name)
    except iot.exceptions.ResourceNotFoundException as exc:
        raise DecommissionError(f"IoT thing {thing_name!r} not found in {region}: check --thing and --region") from exc
    certificates: list[CertificateRetirement] = []
    others: list[str] = []
    for arn in principals:
        if ":cert/" not in arn:
            others.append(arn)
            continue
        other_things = sorted(t for t in _all(iot, "list_principal_things", "things", principal=arn) if t != thing_name)
        if other_things:
            certificates.append(
                CertificateRetirement(
                    arn,
                    [Step("detach_thing", thing_name)],
                    left=f"also attached to thing(s) {', '.join(other_things)}: "
                    f"detached from {thing_name} only, not deleted",
                )
            )
            continue
        # The deployment's policy first: it is the one that blocks the stack.
        attached = sorted(
            (p["policyName"] for p in _all(iot, "list_attached_policies", "policies", target=arn)),
            key=lambda name: (name != policy, name),
        )
        status = iot.describe_certificate(certificateId=certificate_id(arn))["certificateDescription"]["status"]
        # A REVOKED certificate cannot be set INACTIVE, and need not be: it is deletable as it is.
        active = status not in ("INACTIVE", "REVOKED")
        certificates.append(CertificateRetirement(arn, retirement_steps(thing_name, attached, arn, active=active)))
    return Decommission(
        thing=thing_name, region=region, policy=policy, certificates=certificates, other_principals=others
    )


def execute(iot: Any, plan: Decommission, *, sleep: Callable[[float], None] = time.sleep) -> Decommission:
    """Run the plan; a certificate whose step fails keeps its later steps undone and is named as left."""
    plan.dry_run = False
    for cert in plan.certificates:
        for index, step in enumerate(cert.steps):
            try:
                run_step(iot, cert.arn, step, sleep=sleep)
            except (ClientError, BotoCoreError) as exc:
                step.status, step.error = "failed", str(exc)
                for later in cert.steps[index + 1 :]:
                    later.status = "not run"
                cert.left = f"{step.describe()} failed: {exc}"
                break
            step.status = "done"
    try:
        _check(iot, plan)
    except (ClientError, BotoCoreError) as exc:
        plan.unexpected.append(f"reading back what is attached to {plan.thing} failed: {exc}")
    return plan


def _check(iot: Any, plan: Decommission) -> None:
    """Read back what is still attached; anything the plan did not expect is named as left."""
    expected = {c.arn for c in plan.certificates if c.left} | set(plan.other_principals)
    remaining = _all(iot, "list_thing_principals", "principals", thingName=plan.thing)
    plan.checks.append(f"thing {plan.thing}: {len(remaining)} principal(s) attached")
    plan.unexpected += [f"principal {p}: attached to {plan.thing} meanwhile" for p in remaining if p not in expected]
    if plan.policy is None:
        return
    try:
        targets = set(_all(iot, "list_targets_for_policy", "targets", policyName=plan.policy))
    except iot.exceptions.ResourceNotFoundException:
        plan.checks.append(f"policy {plan.policy}: not found in {plan.region}")
        return
    ours = sorted(targets & {c.arn for c in plan.certificates})
    plan.checks.append(f"policy {plan.policy}: {len(ours)} certificate(s) of {plan.thing} attached")
