"""The face record schema: the single source for every consumer.

One record per detected face. The Glue table (and through it Firehose's
Parquet conversion and Athena), the pyarrow schema used by tests and the
local pipeline, and the QuickSight dataset columns are all derived from
``COLUMNS`` here. ``store_id`` and ``dt`` are partition keys: the handler puts
them in every JSON record so Firehose can route it, but they are not data
columns of the Parquet files.

Timestamps travel as epoch milliseconds (JSON integers). Firehose parses them
with the Hive JSON SerDe whose ``TimestampFormats`` is ``["millis"]`` (see
stacks/process.py); the pyarrow schema reads the same integers as
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


#: In the order of ``contracts.layout.PARTITION_NAMES`` (the curated folders).
PARTITION_KEYS: tuple[Column, ...] = (
    Column("store_id", "string", "Store the camera belongs to (deployment config)"),
    Column("dt", "string", "Capture date, UTC, yyyy-MM-dd"),
)

COLUMNS: tuple[Column, ...] = (
    Column("record_id", "string", "Deterministic id: bucket, key, version/ETag, face index"),
    Column("image_key", "string", "S3 key of the image under incoming/ when it was analyzed"),
    Column("device_id", "string", "Edge device (IoT thing name) that uploaded the image"),
    Column("camera_id", "string", "Camera, from the device registry"),
    Column("zone", "string", "Store zone the camera watches, from the device registry"),
    Column("captured_at", "timestamp", "Capture time (UTC) taken from the object key"),
    Column("processed_at", "timestamp", "When the analyzer produced this record (UTC)"),
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

COLUMN_NAMES: tuple[str, ...] = tuple(c.name for c in COLUMNS)
#: Keys of one JSON record as the handler sends it to Firehose.
RECORD_KEYS: tuple[str, ...] = COLUMN_NAMES + tuple(k.name for k in PARTITION_KEYS)


def glue_columns(columns: tuple[Column, ...] = COLUMNS) -> list[dict[str, str]]:
    """Columns in the shape of ``AWS::Glue::Table`` ``StorageDescriptor.Columns``."""
    return [{"name": c.name, "type": c.type, "comment": c.comment} for c in columns]


def arrow_schema(*, with_partitions: bool = False) -> pa.Schema:
    """The pyarrow schema of the Parquet data files (optionally with partitions)."""
    import pyarrow as pa

    types: dict[str, Any] = {
        "string": pa.string(),
        "int": pa.int32(),
        "double": pa.float64(),
        "boolean": pa.bool_(),
        "timestamp": pa.timestamp("ms"),
    }
    cols = COLUMNS + (PARTITION_KEYS if with_partitions else ())
    return pa.schema([pa.field(c.name, types[c.type], nullable=True) for c in cols])
