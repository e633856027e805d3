"""S3 event notifications as they arrive in SQS message bodies."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote_plus


class MalformedEventError(ValueError):
    """The message body is not an S3 event notification; it goes back to SQS (and on to the DLQ)."""


@dataclass(frozen=True)
class S3ObjectRef:
    """One created object named by an event record (key already decoded)."""

    bucket: str
    key: str
    version_id: str | None
    etag: str | None
    size: int | None


def s3_objects_from(body: str) -> list[S3ObjectRef]:
    """Every created object in one notification body; an ``s3:TestEvent`` gives none.

    S3 sends the key URL-encoded with ``+`` for a space (form encoding), so it
    is decoded with ``unquote_plus``; a literal ``+`` arrives as ``%2B``.
    """
    try:
        message: Any = json.loads(body)
    except (TypeError, json.JSONDecodeError) as exc:
        raise MalformedEventError(f"message body is not JSON: {exc}") from None
    if not isinstance(message, dict):
        raise MalformedEventError("message body is not a JSON object")
    if message.get("Event") == "s3:TestEvent":
        return []
    records = message.get("Records")
    if not isinstance(records, list):
        raise MalformedEventError("message body has no Records list (not an S3 event notification)")
    refs = []
    for index, record in enumerate(records):
        try:
            if record.get("eventSource") != "aws:s3" or not str(record.get("eventName", "")).startswith(
                "ObjectCreated:"
            ):
                continue
            s3 = record["s3"]
            obj = s3["object"]
            refs.append(
                S3ObjectRef(
                    bucket=s3["bucket"]["name"],
                    key=unquote_plus(obj["key"]),
                    version_id=obj.get("versionId") or None,
                    etag=(obj.get("eTag") or "").strip('"') or None,
                    size=obj.get("size"),
                )
            )
        except (AttributeError, KeyError, TypeError) as exc:
            raise MalformedEventError(f"record {index} is not an S3 event record: missing {exc}") from None
    return refs
