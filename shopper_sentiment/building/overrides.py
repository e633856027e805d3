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
from collections.abc import Mapping, Sequence
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


#: Bucket fields an override may not set at all, with why.
_BUCKET_FIELDS_REFUSED = {
    "access_control": "ACLs are disabled (object ownership is bucket-owner-enforced)",
    "encryption_key": "the tier's roles are granted object access, not key use; a customer-managed key would "
    "lock out the functions and Firehose",
    "replication_rules": "a replica would outlive the lifetimes the tier sets on this bucket",
    "replication_role": "a replica would outlive the lifetimes the tier sets on this bucket",
    "website_index_document": "a website endpoint serves objects publicly",
    "website_error_document": "a website endpoint serves objects publicly",
    "website_redirect": "a website endpoint serves objects publicly",
    "website_routing_rules": "a website endpoint serves objects publicly",
}


def _bucket_field_refusal(name: str, value: Any, *, versioned: bool) -> str | None:
    """Why ``name = value`` would weaken a bucket default, or None if it does not."""
    if name in _BUCKET_FIELDS_REFUSED:
        return _BUCKET_FIELDS_REFUSED[name]
    weakened = {
        "block_public_access": lambda: not _blocks_all(value),
        "public_read_access": lambda: bool(value),
        "enforce_ssl": lambda: not value,
        "encryption": lambda: value != s3.BucketEncryption.S3_MANAGED,
        "object_ownership": lambda: value != s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
        "versioned": lambda: versioned and not value,
        "minimum_tls_version": lambda: float(value) < 1.2,
    }
    reasons = {
        "block_public_access": "the bucket blocks all public access (BlockPublicAccess.BLOCK_ALL)",
        "public_read_access": "the bucket is private",
        "enforce_ssl": "the bucket refuses requests without TLS",
        "encryption": "the bucket is encrypted with SSE-S3: the tier's roles are granted object access, not key "
        "use, so another encryption would lock out the functions and Firehose",
        "object_ownership": "ACLs are disabled (ObjectOwnership.BUCKET_OWNER_ENFORCED)",
        "versioned": "the bucket is versioned (a re-upload or rewrite never destroys the bytes a reader holds)",
        "minimum_tls_version": "TLS below 1.2 is refused",
    }
    if name in weakened and weakened[name]():
        return reasons[name]
    return None


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
        reason = _bucket_field_refusal(name, value, versioned=versioned)
        if reason:
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
        raise PropsError(f"{name} is refused: {_BUCKET_FIELDS_REFUSED['encryption_key']}")
    for rule in lifecycle_rules:
        bucket.add_lifecycle_rule(
            id=rule.id,
            prefix=rule.prefix,
            expiration=rule.expiration,
            noncurrent_version_expiration=rule.noncurrent_version_expiration,
            abort_incomplete_multipart_upload_after=rule.abort_incomplete_multipart_upload_after,
        )
