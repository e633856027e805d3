"""The record schemas of the two curated tables: the single source for every consumer.

``faces`` holds one record per detected face (``COLUMNS``); ``images`` holds
one row per image the function settled, faces or not, analyzed or
quarantined (``IMAGE_COLUMNS``): the denominator of every "per still"
figure, and the way to tell a quiet hour from a dead camera. The Glue tables
(and through them Firehose's Parquet conversion and Athena), the pyarrow
schemas used by tests and the local pipeline, and the QuickSight dataset
columns are all derived from here. ``store_id`` and ``dt`` are partition keys
of both: the handler puts them in every JSON record so Firehose can route it,
but they are not data columns of the Parquet files.

Time: ``captured_at`` is the UTC instant; ``captured_at_local`` is the same
moment on the store's wall clock (its configured IANA time zone, no offset
kept), and ``dt`` is the date of that wall clock, so a store's day and hours
are its own. An image the function cannot place (its key does not parse, or
its device is in no store) is in the ``images`` table under the store
``UNREGISTERED_STORE`` and the UTC date.

Timestamps travel as epoch milliseconds (JSON integers). Firehose parses them
with the Hive JSON SerDe whose ``TimestampFormats`` is ``["millis"]`` (see
shopper_sentiment/tiers/process.py); the pyarrow schema reads the same integers as
``timestamp[ms]`` (UTC, no zone, like a Hive ``timestamp``).

Copy: the analyze function's ``shopper_analyze.face_records`` builds records
with the same keys (it ships without this repository); ``tests/contracts``
ties the two.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pyarrow is a test/local dependency, never needed to synth
    import pyarrow as pa

TABLE_NAME = "faces"
IMAGES_TABLE_NAME = "images"
#: The store_id of an image whose device is in no store (``images`` only).
#: Store ids of the config cannot start with "_", so it never names a store.
UNREGISTERED_STORE = "_unregistered"

#: The ``outcome`` of an image row.
OUTCOME_ANALYZED = "analyzed"
OUTCOME_QUARANTINED = "quarantined"
OUTCOMES = (OUTCOME_ANALYZED, OUTCOME_QUARANTINED)

EMOTIONS = (
    "happy",
    "sad",
    "angry",
    "confused",
    "disgusted",
    "surprised",
    "calm",
    "fear",
)


@dataclass(frozen=True)
class Column:
    """One column: its name, Hive/Glue type and what it means."""

    name: str
    type: str  # Glue/Hive type: string, int, double, boolean, timestamp
    comment: str


#: In the order of ``shopper_sentiment.contracts.layout.PARTITION_NAMES`` (the curated folders).
PARTITION_KEYS: tuple[Column, ...] = (
    Column("store_id", "string", "Store the camera belongs to (deployment config)"),
    Column("dt", "string", "Capture date on the store's wall clock (its time zone), yyyy-MM-dd"),
)

COLUMNS: tuple[Column, ...] = (
    Column("record_id", "string", "Deterministic id: bucket, key, version/ETag, face index"),
    Column("image_key", "string", "S3 key of the image under incoming/ when it was analyzed"),
    Column("device_id", "string", "Edge device (IoT thing name) that uploaded the image"),
    Column("camera_id", "string", "Camera, from the device registry"),
    Column("zone", "string", "Store zone the camera watches, from the device registry"),
    Column("captured_at", "timestamp", "Capture time (UTC) taken from the object key"),
    Column("captured_at_local", "timestamp", "Capture time on the store's wall clock (its time zone)"),
    Column("processed_at", "timestamp", "When the analyzer produced this record (UTC)"),
    Column("image_id", "string", "Deterministic id of the image content (as in images.image_id)"),
    Column("face_index", "int", "0-based index of the face within the image"),
    Column("faces_in_image", "int", "Number of faces kept in the image"),
    Column("age_low", "int", "Estimated age range, low end"),
    Column("age_high", "int", "Estimated age range, high end"),
    Column("gender", "string", "Predicted gender (Male/Female)"),
    Column("gender_confidence", "double", "Confidence of the gender prediction, 0-100"),
    Column("dominant_emotion", "string", "Emotion with the highest confidence (lowercase)"),
    Column("dominant_emotion_confidence", "double", "Confidence of the dominant emotion, 0-100"),
    *(Column(f"emotion_{e}", "double", f"Confidence that the face shows {e}, 0-100") for e in EMOTIONS),
    Column("smile", "boolean", "Face is smiling"),
    Column("eyeglasses", "boolean", "Face wears eyeglasses"),
    Column("sunglasses", "boolean", "Face wears sunglasses"),
    Column("beard", "boolean", "Face has a beard"),
    Column("mustache", "boolean", "Face has a mustache"),
    Column("eyes_open", "boolean", "Eyes are open"),
    Column("mouth_open", "boolean", "Mouth is open"),
    Column("face_occluded", "boolean", "Face is partially occluded"),
    Column("detection_confidence", "double", "Confidence that this is a face, 0-100"),
    Column("bbox_left", "double", "Bounding box left, ratio of image width"),
    Column("bbox_top", "double", "Bounding box top, ratio of image height"),
    Column("bbox_width", "double", "Bounding box width, ratio of image width"),
    Column("bbox_height", "double", "Bounding box height, ratio of image height"),
    Column("pose_yaw", "double", "Head pose yaw, degrees"),
    Column("pose_pitch", "double", "Head pose pitch, degrees"),
    Column("pose_roll", "double", "Head pose roll, degrees"),
    Column("quality_brightness", "double", "Face brightness, 0-100"),
    Column("quality_sharpness", "double", "Face sharpness, 0-100"),
    Column("analyzer", "string", "What produced the record: rekognition or a local analyzer name"),
)

IMAGE_COLUMNS: tuple[Column, ...] = (
    Column("image_id", "string", "Deterministic id: bucket, key, version/ETag (a redelivery has the same)"),
    Column("image_key", "string", "S3 key of the image under incoming/ when it was settled"),
    Column("device_id", "string", "Edge device from the key; null if the key does not parse"),
    Column("camera_id", "string", "Camera from the key; null if the key does not parse"),
    Column("zone", "string", "Store zone the camera watches; null if the camera is not registered"),
    Column("captured_at", "timestamp", "Capture time (UTC) from the key; null if the key does not parse"),
    Column("captured_at_local", "timestamp", "Capture time on the store's wall clock; null if no store"),
    Column("processed_at", "timestamp", "When the function settled the image (UTC)"),
    Column("outcome", "string", "analyzed or quarantined"),
    Column("quarantine_reason", "string", "Why the image was quarantined (quarantine/<reason>/); else null"),
    Column("faces_detected", "int", "Faces the analyzer found; null if not analyzed"),
    Column("faces_kept", "int", "Faces above the floors, one faces row each; null if not analyzed"),
    Column("analyzer", "string", "What analyzed the image: rekognition or a local analyzer; null if not"),
)

COLUMN_NAMES: tuple[str, ...] = tuple(c.name for c in COLUMNS)
IMAGE_COLUMN_NAMES: tuple[str, ...] = tuple(c.name for c in IMAGE_COLUMNS)
#: Keys of one JSON record as the handler sends it to Firehose.
RECORD_KEYS: tuple[str, ...] = COLUMN_NAMES + tuple(k.name for k in PARTITION_KEYS)
IMAGE_RECORD_KEYS: tuple[str, ...] = IMAGE_COLUMN_NAMES + tuple(k.name for k in PARTITION_KEYS)
#: Each table's data columns, by table name.
TABLES: dict[str, tuple[Column, ...]] = {TABLE_NAME: COLUMNS, IMAGES_TABLE_NAME: IMAGE_COLUMNS}


def glue_columns(columns: tuple[Column, ...] = COLUMNS) -> list[dict[str, str]]:
    """Columns in the shape of ``AWS::Glue::Table`` ``StorageDescriptor.Columns``."""
    return [{"name": c.name, "type": c.type, "comment": c.comment} for c in columns]


def arrow_schema(*, with_partitions: bool = False, table: str = TABLE_NAME) -> pa.Schema:
    """The pyarrow schema of a table's Parquet data files (optionally with partitions)."""
    import pyarrow as pa

    types: dict[str, Any] = {
        "string": pa.string(),
        "int": pa.int32(),
        "double": pa.float64(),
        "boolean": pa.bool_(),
        "timestamp": pa.timestamp("ms"),
    }
    cols = TABLES[table] + (PARTITION_KEYS if with_partitions else ())
    return pa.schema([pa.field(c.name, types[c.type], nullable=True) for c in cols])
