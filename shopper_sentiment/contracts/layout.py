"""Where objects live: the edge agent's object key, the archive, the curated bucket.

Source bucket: every still the edge agent uploads is named::

    incoming/<device_id>/<camera_id>/<YYYY>/<MM>/<DD>/<YYYYMMDDTHHMMSSmmmZ>-<sha256[:12]>.jpg

``device_id`` is the IoT thing name (one agent, one certificate per Pi) and
``camera_id`` one of that device's cameras, so a Pi with several cameras
attributes every still to the right camera and zone. The date folders and the
timestamp are the capture instant in UTC (with milliseconds); the content
hash makes a retried upload land on the same key.
Only ``incoming/`` raises S3 events, and a device may write only under
``incoming/<its thing name>/``.

Archive bucket: an analyzed image keeps its key; an image that can never be
analyzed is moved to ``quarantine/<reason>/<its key>``.

Curated bucket: Firehose writes Parquet under ``faces/`` in Hive-style
partition folders, ``faces/store_id=<store>/dt=<yyyy-MM-dd>/``, which the Glue
table's partition projection reads back; records that fail format conversion
land under ``errors/``.

Copies: the edge agent (``shopper_edge.capture.object_key``) and the analyze
function (``shopper_analyze.image_keys``, ``shopper_analyze.s3_objects``)
carry their own; ``tests/contracts`` ties them to this module.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime

from shopper_sentiment.contracts.identifiers import DEVICE_ID_PATTERN, LABEL_PATTERN

INCOMING_PREFIX = "incoming/"
#: Full-match pattern of an object key under ``incoming/`` (ASCII digits only).
IMAGE_KEY_PATTERN = (
    rf"incoming/(?P<device_id>{DEVICE_ID_PATTERN})/(?P<camera_id>{LABEL_PATTERN})"
    r"/(?P<year>\d{4})/(?P<month>\d{2})/(?P<day>\d{2})"
    r"/(?P<stamp>\d{8}T\d{6})(?P<millis>\d{3})Z-(?P<sha>[0-9a-f]{12})\.jpg"
)
_IMAGE_KEY = re.compile(IMAGE_KEY_PATTERN, re.ASCII)
#: Hex digits of the content's SHA-256 kept in the key.
CONTENT_HASH_LENGTH = 12

QUARANTINE_PREFIX = "quarantine/"

#: The curated bucket's folder of face records (the ``faces`` table's location).
DATA_PREFIX = "faces"
#: Where the images table's Parquet goes in the curated bucket (one row per settled image).
IMAGES_PREFIX = "images"
#: Where Firehose writes records that failed format conversion.
ERROR_PREFIX = "errors/"
#: Where the Athena workgroup writes query results in its results bucket.
ATHENA_RESULTS_PREFIX = "results/"
#: Partition folders in this order under DATA_PREFIX (the Glue partition keys).
PARTITION_NAMES = ("store_id", "dt")


class KeyLayoutError(ValueError):
    """The key is not in the edge agent's layout."""


@dataclass(frozen=True)
class ImageKey:
    device_id: str
    camera_id: str
    captured_at: datetime  # UTC, millisecond precision
    content_sha: str


def image_key(device_id: str, camera_id: str, captured_at: datetime, sha256_hex: str) -> str:
    """The key a still of ``camera_id`` taken at ``captured_at`` (any zone; stored as UTC) is uploaded under."""
    utc = captured_at.astimezone(UTC)
    stamp = f"{utc:%Y%m%dT%H%M%S}{utc.microsecond // 1000:03d}Z"
    digest = sha256_hex[:CONTENT_HASH_LENGTH].lower()
    return f"{INCOMING_PREFIX}{device_id}/{camera_id}/{utc:%Y/%m/%d}/{stamp}-{digest}.jpg"


def parse_image_key(key: str) -> ImageKey:
    """Device, camera and capture instant of a (decoded) key; KeyLayoutError if it is not in the layout."""
    match = _IMAGE_KEY.fullmatch(key)
    if not match:
        raise KeyLayoutError(
            f"key {key!r} is not incoming/<device>/<camera>/<YYYY>/<MM>/<DD>/<YYYYMMDDTHHMMSSmmmZ>-<sha12>.jpg"
        )
    try:
        captured = datetime.strptime(match["stamp"], "%Y%m%dT%H%M%S").replace(
            microsecond=int(match["millis"]) * 1000, tzinfo=UTC
        )
    except ValueError:
        raise KeyLayoutError(f"key {key!r} has an impossible timestamp") from None
    if (match["year"], match["month"], match["day"]) != (f"{captured:%Y}", f"{captured:%m}", f"{captured:%d}"):
        raise KeyLayoutError(f"key {key!r}: date folders disagree with the timestamp")
    return ImageKey(
        device_id=match["device_id"], camera_id=match["camera_id"], captured_at=captured, content_sha=match["sha"]
    )


def device_prefix(device_id: str) -> str:
    """The only prefix a device may write under."""
    return f"{INCOMING_PREFIX}{device_id}/"


def quarantine_key(reason: str, key: str) -> str:
    """Where an image that can never be analyzed is kept in the archive bucket, by reason."""
    return f"{QUARANTINE_PREFIX}{reason}/{key}"


def partition_prefix(store_id: str, dt: str, *, table_prefix: str = DATA_PREFIX) -> str:
    """The curated folder of one table's store-day: Firehose writes it, the Glue table's projection reads it."""
    return f"{table_prefix}/store_id={store_id}/dt={dt}/"
