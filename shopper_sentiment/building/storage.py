"""Buckets with the project's non-negotiable defaults, shared by every tier."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_s3 as s3
from constructs import Construct

from shopper_sentiment.building.nag import acknowledge


def expiring(
    rule_id: str, prefix: str | None, expiration: Duration | None, *, old_versions: Duration
) -> s3.LifecycleRule:
    """One lifetime: what is under ``prefix`` (everything if None) expires after ``expiration``.

    Older versions expire after ``old_versions`` and abandoned uploads after a day.
    """
    return s3.LifecycleRule(
        id=rule_id,
        prefix=prefix,
        expiration=expiration,
        noncurrent_version_expiration=old_versions,
        abort_incomplete_multipart_upload_after=Duration.days(1),
    )


def _private_bucket(scope: Construct, id_: str, **props: Any) -> s3.Bucket:
    # What no bucket of ours may lack; callers add logging, versioning, lifecycle.
    return s3.Bucket(
        scope,
        id_,
        encryption=s3.BucketEncryption.S3_MANAGED,
        block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
        enforce_ssl=True,
        object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
        **props,
    )


def secure_bucket(
    scope: Construct,
    id_: str,
    *,
    removal_policy: RemovalPolicy,
    server_access_logs_bucket: s3.IBucket,
    server_access_logs_prefix: str,
    versioned: bool = True,
    lifecycle_rules: Sequence[s3.LifecycleRule] = (),
    overrides: Mapping[str, Any] | None = None,
) -> s3.Bucket:
    """SSE-S3, BlockPublicAccess.BLOCK_ALL, TLS-only policy, no ACLs, access logs.

    ``overrides`` (checked by ``overrides.bucket_overrides``: none of them
    weakens a default) replace the other props; their lifecycle rules are
    added after ``lifecycle_rules``.

    SSE-S3 rather than KMS: Rekognition reads source images with the
    caller's credentials, and per-request KMS charges would add to every
    image for no gain in this threat model (the data never leaves the account).
    """
    props: dict[str, Any] = {
        "versioned": versioned,
        "server_access_logs_bucket": server_access_logs_bucket,
        "server_access_logs_prefix": server_access_logs_prefix,
        "removal_policy": removal_policy,
    }
    extra = dict(overrides or {})
    props["lifecycle_rules"] = [*lifecycle_rules, *extra.pop("lifecycle_rules", ())]
    return _private_bucket(scope, id_, **{**props, **extra})


def access_log_bucket(scope: Construct, id_: str, *, removal_policy: RemovalPolicy) -> s3.Bucket:
    """The destination of S3 server access logs (private, encrypted, 1-year expiry)."""
    bucket = _private_bucket(
        scope,
        id_,
        lifecycle_rules=[s3.LifecycleRule(expiration=Duration.days(365))],
        removal_policy=removal_policy,
    )
    acknowledge(
        bucket,
        "AwsSolutions-S1",
        "This is the S3 server access log destination; logging it into itself would loop. "
        "It is private, encrypted, TLS-only and expires logs after 365 days.",
    )
    return bucket
