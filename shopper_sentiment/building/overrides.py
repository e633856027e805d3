"""Bring your own resource, or override chosen props: what a tier accepts and what it refuses.

The pattern is AWS Solutions Constructs': a tier that owns a resource takes
either an existing one (``existing_<resource>``) or props to override its
defaults (``<resource>_props``), never both. What an override may not do is
weaken a security default, so those props are refused with the prop, the
field and the reason named:

- a bucket stays private (Block Public Access on all four settings, no
  public read, no ACLs, no website), TLS-only, SSE-S3 encrypted (the
  functions' roles and Firehose are granted object access, not key use, so a
  customer-managed key would break them), versioned where the tier versions
  it, and unreplicated (a replica would outlive the lifetimes the tier sets);
- a bucket's lifecycle rules are added to the tier's, never replace them:
  S3 applies the earliest expiration, so the configured lifetimes still hold.

An existing bucket created in the same app (an ``s3.Bucket``) is refused
with a customer-managed key and gets the tier's lifecycle rules (its public
access and TLS policy are what cdk-nag's gate checks on every bucket);
an imported one (``Bucket.from_bucket_name``) cannot be inspected, so the
synth warns that its settings and lifetimes are its owner's to keep.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from aws_cdk import Annotations
from aws_cdk import aws_s3 as s3
from constructs import Construct


class PropsError(ValueError):
    """A tier's props are refused: an existing resource together with props, or an override that weakens a default."""


def given(props: Any, struct: type) -> dict[str, Any]:
    """The fields set in ``props`` (a jsii struct of type ``struct`` or a mapping), by snake_case name."""
    if props is None:
        return {}
    names = [name for name in inspect.signature(struct.__init__).parameters if name != "self"]
    if isinstance(props, Mapping):
        unknown = sorted(set(props) - set(names))
        if unknown:
            raise PropsError(f"{struct.__name__} has no field {', '.join(unknown)}")
        values = dict(props)
    elif isinstance(props, struct):
        values = {name: getattr(props, name) for name in names}
    else:
        raise PropsError(f"expected {struct.__name__} or a mapping of its fields, got {type(props).__name__}")
    return {name: value for name, value in values.items() if value is not None}


def refuse_both(owner: str, resource: str, existing: object, props: object) -> None:
    """Refuse an existing resource given together with props to override the one the tier would create."""
    if existing is not None and props is not None:
        raise PropsError(
            f"{owner}: give existing_{resource} or {resource}_props, not both: props override the {resource} "
            f"the tier creates, and with an existing one it creates none"
        )


def _blocks_all(value: s3.BlockPublicAccess) -> bool:
    settings = (value.block_public_acls, value.block_public_policy, value.ignore_public_acls)
    return all(settings) and bool(value.restrict_public_buckets)


_PUBLIC_WEBSITE = "a website endpoint serves objects publicly"
_REPLICA = "a replica would outlive the lifetimes the tier sets on this bucket"
_KEY_USE = (
    "the tier's roles are granted object access, not key use, so a customer-managed key would lock out the "
    "functions and Firehose"
)


def _always(_value: Any, _versioned: bool) -> bool:
    return True


#: Bucket field → (does this value weaken the default, given whether the tier versions the bucket?, why not).
_BUCKET_FIELD_CHECKS: dict[str, tuple[Callable[[Any, bool], bool], str]] = {
    "block_public_access": (
        lambda value, _: not _blocks_all(value),
        "the bucket blocks all public access (BlockPublicAccess.BLOCK_ALL)",
    ),
    "public_read_access": (lambda value, _: bool(value), "the bucket is private"),
    "enforce_ssl": (lambda value, _: not value, "the bucket refuses requests without TLS"),
    "minimum_tls_version": (lambda value, _: float(value) < 1.2, "TLS below 1.2 is refused"),
    "encryption": (
        lambda value, _: value != s3.BucketEncryption.S3_MANAGED,
        f"the bucket is encrypted with SSE-S3: {_KEY_USE}",
    ),
    "encryption_key": (_always, _KEY_USE),
    "object_ownership": (
        lambda value, _: value != s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
        "ACLs are disabled (ObjectOwnership.BUCKET_OWNER_ENFORCED)",
    ),
    "access_control": (_always, "ACLs are disabled (object ownership is bucket-owner-enforced)"),
    "versioned": (
        lambda value, versioned: versioned and not value,
        "the bucket is versioned (a re-upload or rewrite never destroys the bytes a reader holds)",
    ),
    "replication_rules": (_always, _REPLICA),
    "replication_role": (_always, _REPLICA),
    "website_index_document": (_always, _PUBLIC_WEBSITE),
    "website_error_document": (_always, _PUBLIC_WEBSITE),
    "website_redirect": (_always, _PUBLIC_WEBSITE),
    "website_routing_rules": (_always, _PUBLIC_WEBSITE),
}


#: Fields the tier sets itself whose only permitted override is the same value: dropped from the overrides.
_BUCKET_DEFAULTS = ("block_public_access", "public_read_access", "enforce_ssl", "encryption", "object_ownership")


def bucket_overrides(owner: str, prop: str, props: Any, *, versioned: bool) -> dict[str, Any]:
    """The fields of ``props`` (``s3.BucketProps`` or a mapping) to apply over the tier's bucket defaults.

    Refuses, naming ``owner``, ``prop`` and the field, any field that weakens
    a default (see the module docstring); ``lifecycle_rules`` come back as
    given, for ``secure_bucket`` to add after the tier's own.
    """
    fields = given(props, s3.BucketProps)
    for name, value in fields.items():
        weakens, reason = _BUCKET_FIELD_CHECKS.get(name, (lambda *_: False, ""))
        if weakens(value, versioned):
            raise PropsError(f"{owner}: {prop}.{name} is refused: {reason}")
    return {name: value for name, value in fields.items() if name not in _BUCKET_DEFAULTS and name != "versioned"}


def adopt_bucket(
    owner: Construct, prop: str, bucket: s3.IBucket, lifecycle_rules: Sequence[s3.LifecycleRule], *, lifetimes: str
) -> None:
    """Check an existing bucket as far as it can be seen, and give it the tier's lifetimes.

    An ``s3.Bucket`` of this app is refused if it has a customer-managed key,
    and gets ``lifecycle_rules``;
    an imported bucket gets a synth warning naming ``lifetimes``, which its
    owner must set.
    """
    name = f"{type(owner).__name__} {owner.node.path}: {prop}"
    if not isinstance(bucket, s3.Bucket):
        Annotations.of(owner).add_warning_v2(
            f"shopper-sentiment:{prop}-imported",
            f"{name} is imported, so its settings cannot be checked or changed here: keep it private (Block "
            f"Public Access on), TLS-only and SSE-S3 encrypted, and give it these lifetimes: {lifetimes}",
        )
        return
    # Its public access, TLS policy and logging are cdk-nag's to check (AwsSolutions-S1, S2, S10):
    # reading them back from the L1 through jsii would replace CDK's shared
    # BlockPublicAccess.BLOCK_ALL with a proxy for the rest of the app.
    if bucket.encryption_key is not None:
        raise PropsError(f"{name} is refused: {_KEY_USE}")
    for rule in lifecycle_rules:
        bucket.add_lifecycle_rule(**given(rule, s3.LifecycleRule))
