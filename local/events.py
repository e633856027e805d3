"""The events Lambda hands the analyze function: S3 notifications inside SQS messages.

Built the way the services build them, so the handler parses locally what it
parses in AWS: S3 form-encodes the key (``+`` for a space) in its
notification, and Lambda's SQS poller wraps each received message in an event
record with its attributes.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import quote_plus

REGION = "us-east-1"
QUEUE_ARN = f"arn:aws:sqs:{REGION}:123456789012:shopper-sentiment-incoming"


def s3_record(
    key: str,
    *,
    bucket: str,
    size: int = 48213,
    etag: str | None = None,
    version_id: str | None = None,
    event_name: str = "ObjectCreated:Put",
    region: str = REGION,
) -> dict[str, Any]:
    """One S3 event record for ``key`` (decoded); the ETag defaults to the MD5 of the key."""
    obj: dict[str, Any] = {
        "key": quote_plus(key, safe="/"),
        "size": size,
        "eTag": etag or hashlib.md5(key.encode(), usedforsecurity=False).hexdigest(),
        "sequencer": "0065F2C1A3B2D1E4F5",
    }
    if version_id:
        obj["versionId"] = version_id
    return {
        "eventVersion": "2.1",
        "eventSource": "aws:s3",
        "awsRegion": region,
        "eventTime": "2026-03-14T09:26:53.589Z",
        "eventName": event_name,
        "userIdentity": {"principalId": "AWS:AROAEXAMPLEROLEID:device"},
        "requestParameters": {"sourceIPAddress": "203.0.113.24"},
        "responseElements": {"x-amz-request-id": "C3D13FE58DE4C810", "x-amz-id-2": "local"},
        "s3": {
            "s3SchemaVersion": "1.0",
            "configurationId": "incoming-images",
            "bucket": {
                "name": bucket,
                "ownerIdentity": {"principalId": "A3NL1KOZZKExample"},
                "arn": f"arn:aws:s3:::{bucket}",
            },
            "object": obj,
        },
    }


def s3_notification(*records: Mapping[str, Any]) -> str:
    """The message body S3 sends to the queue for these records."""
    return json.dumps({"Records": list(records)})


def sqs_record(
    body: str,
    *,
    message_id: str,
    receipt_handle: str | None = None,
    receive_count: int = 1,
    queue_arn: str = QUEUE_ARN,
) -> dict[str, Any]:
    """One record of an SQS event as Lambda's poller builds it."""
    now = str(int(time.time() * 1000))
    return {
        "messageId": message_id,
        "receiptHandle": receipt_handle or f"receipt-{message_id}",
        "body": body,
        "attributes": {
            "ApproximateReceiveCount": str(receive_count),
            "SentTimestamp": now,
            "SenderId": "AIDAIENQZJOLO23YVJ4VO",
            "ApproximateFirstReceiveTimestamp": now,
        },
        "messageAttributes": {},
        "md5OfBody": hashlib.md5(body.encode(), usedforsecurity=False).hexdigest(),
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn,
        "awsRegion": queue_arn.split(":")[3],
    }


def sqs_event(*bodies: str, queue_arn: str = QUEUE_ARN) -> dict[str, Any]:
    """An SQS event with one message per body; message ids m0, m1, ..."""
    return {"Records": [sqs_record(body, message_id=f"m{i}", queue_arn=queue_arn) for i, body in enumerate(bodies)]}


def sqs_event_from(received: Iterable[Mapping[str, Any]], *, queue_arn: str) -> dict[str, Any]:
    """The event for messages received from a queue (``ReceiveMessage``'s ``Messages``)."""
    return {
        "Records": [
            sqs_record(
                m["Body"],
                message_id=m["MessageId"],
                receipt_handle=m["ReceiptHandle"],
                receive_count=int(m.get("Attributes", {}).get("ApproximateReceiveCount", "1")),
                queue_arn=queue_arn,
            )
            for m in received
        ]
    }
