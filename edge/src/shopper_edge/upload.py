"""One verified PutObject.

The device role may only s3:PutObject under its own prefix (no HEAD, GET or
LIST), so the proof that S3 stored exactly these bytes has to come from the
PutObject exchange itself:

* Content-MD5 and x-amz-checksum-sha256 are sent: S3 rejects a body that does
  not match either (400 BadDigest / InvalidRequest) instead of storing it;
* the response must echo the same ChecksumSHA256, and for single-part PUTs to
  SSE-S3 or unencrypted buckets the ETag is the body's MD5, which is checked
  too (turn off `s3.verify_etag` for SSE-KMS buckets, where it is not).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from botocore.config import Config

from .capture import CaptureDigest
from .config import AgentConfig


class UploadNotConfirmed(RuntimeError):
    """S3 answered 200 but not with the proof that it stored our bytes."""


@dataclass(frozen=True)
class PutResult:
    etag: str
    checksum_sha256: str | None


def s3_client(session: Any, config: AgentConfig) -> Any:
    """The S3 client used by upload workers.

    Retries are ours (exponential backoff with jitter across all files), so
    botocore makes one attempt; timeouts are short because a Pi on shop WiFi
    should notice a dead link quickly and keep queueing.
    """
    client_config = Config(
        region_name=config.s3.region,
        connect_timeout=config.s3.connect_timeout,
        read_timeout=config.s3.read_timeout,
        retries={"total_max_attempts": 1, "mode": "standard"},
        max_pool_connections=config.upload.concurrency + 2,
        # A local endpoint (moto, MinIO) has no virtual-host DNS.
        s3={"addressing_style": "path"} if config.s3.endpoint_url else {},
        user_agent_extra="shopper-edge",
    )
    return session.client("s3", endpoint_url=config.s3.endpoint_url, config=client_config)


def put_verified(
    client: Any,
    *,
    bucket: str,
    key: str,
    data: bytes,
    digest: CaptureDigest,
    metadata: dict[str, str],
    verify_etag: bool,
) -> PutResult:
    """PutObject with integrity headers; raises unless S3 confirmed these bytes."""
    response = client.put_object(
        Bucket=bucket,
        Key=key,
        Body=data,
        ContentMD5=digest.md5_b64,
        ChecksumSHA256=digest.sha256_b64,
        ContentType="image/jpeg",
        Metadata=metadata,
    )
    etag = str(response.get("ETag", "")).strip('"')
    checksum = response.get("ChecksumSHA256")
    if checksum is not None and checksum != digest.sha256_b64:
        raise UploadNotConfirmed(f"{key}: S3 returned ChecksumSHA256 {checksum}, expected {digest.sha256_b64}")
    if verify_etag and etag != digest.md5_hex:
        raise UploadNotConfirmed(f"{key}: S3 returned ETag {etag!r}, expected MD5 {digest.md5_hex}")
    if checksum is None and not verify_etag:
        raise UploadNotConfirmed(f"{key}: S3 returned no ChecksumSHA256 and ETag verification is off")
    return PutResult(etag=etag, checksum_sha256=checksum)
