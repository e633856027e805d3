import time

from shopper_analyze.delivered_markers import MARKER_PREFIX, delivered_record_count, mark_delivered, marker_id

from tests.lambdas.local_aws import IDEMPOTENCY_TABLE, REGION

IDENTITY = ("shopper-source", "incoming/pi-1/2026/03/14/20260314T092653412Z-3f9a1c2be4d7.jpg", "9b2cf535f27731c9")


def test_marker_id_is_deterministic_and_names_the_content():
    assert marker_id(IDENTITY) == marker_id(tuple(IDENTITY))
    assert marker_id(IDENTITY) != marker_id((*IDENTITY[:2], "another-etag"))
    assert marker_id(IDENTITY) != marker_id(("shopper-source-2", *IDENTITY[1:]))


def test_marker_ids_cannot_collide_with_powertools_idempotency_keys():
    # Powertools: "<function name>.<module>.<function>#<md5>", always a dot before the "#".
    marker = marker_id(IDENTITY)
    prefix, digest = marker.split("#")
    assert marker.startswith(MARKER_PREFIX) and "." not in prefix
    assert len(digest) == 64  # sha256, no key or bucket in clear


def test_marker_round_trip_with_expiry(aws):
    client = aws.client("dynamodb", region_name=REGION)
    assert delivered_record_count(client, table=IDEMPOTENCY_TABLE, identity=IDENTITY) is None

    expires_at = int(time.time()) + 3600
    mark_delivered(client, table=IDEMPOTENCY_TABLE, identity=IDENTITY, records=7, expires_at=expires_at)

    assert delivered_record_count(client, table=IDEMPOTENCY_TABLE, identity=IDENTITY) == 7
    (item,) = client.scan(TableName=IDEMPOTENCY_TABLE)["Items"]
    assert item["expiration"] == {"N": str(expires_at)}  # the table's TTL attribute
