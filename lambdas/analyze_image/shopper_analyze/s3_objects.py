"""Moving images out of incoming/: to the archive after delivery, or to quarantine."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import urlencode

from botocore.exceptions import ClientError

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client  # type stubs only, never at runtime

QUARANTINE_PREFIX = "quarantine/"
QUARANTINE_TAG = "quarantine-reason"
_GONE = {"404", "NoSuchKey", "NoSuchVersion", "NotFound"}
_FORBIDDEN = {"403", "AccessDenied", "Forbidden"}


@dataclass(frozen=True)
class ObjectHead:
    size: int
    etag: str | None
    version_id: str | None


def is_gone(exc: ClientError) -> bool:
    return str(exc.response.get("Error", {}).get("Code")) in _GONE


def is_forbidden(exc: ClientError) -> bool:
    """403: refused, or (S3 says so to a caller without s3:ListBucket on the bucket) not there."""
    code = str(exc.response.get("Error", {}).get("Code"))
    return code in _FORBIDDEN or exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") == 403


def object_exists(client: S3Client, *, bucket: str, key: str) -> bool:
    """True if HEAD finds the key; False for 404 and for 403 (a missing key, to a caller that may not list)."""
    try:
        client.head_object(Bucket=bucket, Key=key)
    except ClientError as exc:
        if is_gone(exc) or is_forbidden(exc):
            return False
        raise
    return True


def head_object(client: S3Client, *, bucket: str, key: str, version_id: str | None) -> ObjectHead | None:
    """Size, ETag and version of the object, or None if it (or that version) no longer exists."""
    kwargs = {"VersionId": version_id} if version_id else {}
    try:
        head = client.head_object(Bucket=bucket, Key=key, **kwargs)
    except ClientError as exc:
        if is_gone(exc):
            return None
        raise
    version = head.get("VersionId")
    return ObjectHead(
        size=int(head["ContentLength"]),
        etag=(head.get("ETag") or "").strip('"') or None,
        # Unversioned buckets answer "null": no version to pin.
        version_id=version if version and version != "null" else None,
    )


def quarantine_key(reason: str, key: str) -> str:
    return f"{QUARANTINE_PREFIX}{reason}/{key}"


def move_object(
    client: S3Client,
    *,
    bucket: str,
    key: str,
    version_id: str | None,
    target_bucket: str,
    target_key: str,
    quarantine_reason: str | None = None,
) -> bool:
    """Copy, then delete the source: a failed copy leaves the image where it was.

    Returns False when the source is already gone (an earlier attempt moved it),
    True when this call moved it.
    """
    source = {"Bucket": bucket, "Key": key, **({"VersionId": version_id} if version_id else {})}
    # Tags are set, never copied: copying a version's tags would need
    # s3:GetObjectVersionTagging, and the edge agent writes none (its
    # metadata is copied as usual). A quarantine reason travels as a tag:
    # visible in the console and usable by lifecycle rules.
    # REPLACE without a Tagging header gives the copy an empty tag set.
    tagging = {"Tagging": urlencode({QUARANTINE_TAG: quarantine_reason})} if quarantine_reason else {}
    try:
        client.copy_object(
            CopySource=source, Bucket=target_bucket, Key=target_key, TaggingDirective="REPLACE", **tagging
        )
    except ClientError as exc:
        if is_gone(exc):
            return False
        raise
    # Deleting the exact version removes the image; without one this deletes the key.
    client.delete_object(Bucket=bucket, Key=key, **({"VersionId": version_id} if version_id else {}))
    return True


def delete_image(client: S3Client, *, bucket: str, key: str, version_id: str | None) -> None:
    """Delete the image for good: its exact version (no delete marker, nothing left to recover), else the key.

    Deleting what is already gone succeeds, so a retried settlement finds its work done.
    """
    client.delete_object(Bucket=bucket, Key=key, **({"VersionId": version_id} if version_id else {}))
