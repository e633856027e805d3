"""Markers saying an image's records are in Firehose, kept in the idempotency table.

Powertools' idempotency record keeps the *analysis*, so a redelivered image is
not analyzed (or billed) twice; it cannot say whether the records already
reached Firehose. Without a marker, every redelivery that finds the image
still in incoming/ (the archive move failed after Firehose accepted the
records, or the edge agent uploaded the same bytes again as a new version)
would write the records a second time.

The marker shares the table (partition key ``id``, TTL attribute
``expiration``) in its own id namespace: Powertools' keys are
``<function name>.<module>.<function>#<hash>`` and always contain a dot before
the ``#``, a marker id never does. Only GetItem and PutItem are used.
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient  # type stubs only, never at runtime

MARKER_PREFIX = "delivered#"
KEY_ATTRIBUTE = "id"
EXPIRY_ATTRIBUTE = "expiration"
RECORDS_ATTRIBUTE = "delivered_records"

#: (bucket, key, version) — version being the content (ETag) first, as for the analysis.
Identity = tuple[str, str, str]


def marker_id(identity: Identity) -> str:
    bucket, key, version = identity
    # Bucket names and ETags contain no "/", so the joined string is unambiguous.
    return MARKER_PREFIX + hashlib.sha256(f"{bucket}/{key}/{version}".encode()).hexdigest()


def delivered_record_count(client: DynamoDBClient, *, table: str, identity: Identity) -> int | None:
    """How many records of this image Firehose accepted earlier, or None when no marker exists.

    A marker found after its expiration time (TTL deletion lags behind) is
    still honoured: it states a fact, the records were delivered.
    """
    response = client.get_item(
        TableName=table,
        Key={KEY_ATTRIBUTE: {"S": marker_id(identity)}},
        # The marker may have been written a moment ago by another invocation.
        ConsistentRead=True,
    )
    item = response.get("Item")
    if item is None:
        return None
    return int(item.get(RECORDS_ATTRIBUTE, {}).get("N", "0"))


def mark_delivered(client: DynamoDBClient, *, table: str, identity: Identity, records: int, expires_at: int) -> None:
    """Record that every record of this image was accepted by Firehose."""
    client.put_item(
        TableName=table,
        Item={
            KEY_ATTRIBUTE: {"S": marker_id(identity)},
            EXPIRY_ATTRIBUTE: {"N": str(expires_at)},
            RECORDS_ATTRIBUTE: {"N": str(records)},
        },
    )
