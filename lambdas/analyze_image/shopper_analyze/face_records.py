"""DetectFaces ``FaceDetails`` → face records (the JSON rows Firehose turns into Parquet).

The column list mirrors ``shopper_sentiment/contracts/schema.py``, which the deployed asset cannot
import; tests/lambdas/test_record_contract.py proves the two agree.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from shopper_analyze.image_rows import epoch_millis, image_id_for, wall_clock

EMOTIONS = ("happy", "sad", "angry", "confused", "disgusted", "surprised", "calm", "fear")

#: Keys of one record, in the order of shopper_sentiment.contracts.schema.RECORD_KEYS.
RECORD_KEYS: tuple[str, ...] = (
    "record_id",
    "image_key",
    "device_id",
    "camera_id",
    "zone",
    "captured_at",
    "captured_at_local",
    "processed_at",
    "image_id",
    "face_index",
    "faces_in_image",
    "age_low",
    "age_high",
    "gender",
    "gender_confidence",
    "dominant_emotion",
    "dominant_emotion_confidence",
    *(f"emotion_{e}" for e in EMOTIONS),
    "smile",
    "eyeglasses",
    "sunglasses",
    "beard",
    "mustache",
    "eyes_open",
    "mouth_open",
    "face_occluded",
    "detection_confidence",
    "bbox_left",
    "bbox_top",
    "bbox_width",
    "bbox_height",
    "pose_yaw",
    "pose_pitch",
    "pose_roll",
    "quality_brightness",
    "quality_sharpness",
    "analyzer",
    "store_id",
    "dt",
)

# Boolean face attributes: record column → DetectFaces attribute.
_FLAGS = {
    "smile": "Smile",
    "eyeglasses": "Eyeglasses",
    "sunglasses": "Sunglasses",
    "beard": "Beard",
    "mustache": "Mustache",
    "eyes_open": "EyesOpen",
    "mouth_open": "MouthOpen",
    "face_occluded": "FaceOccluded",
}
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

#: The record columns of each attribute group a privacy profile can turn off
#: (settings.ATTRIBUTE_GROUPS); an off group's columns are written as null.
ATTRIBUTE_COLUMNS: dict[str, tuple[str, ...]] = {
    "age": ("age_low", "age_high"),
    "appearance": tuple(_FLAGS),
    "emotions": ("dominant_emotion", "dominant_emotion_confidence", *(f"emotion_{e}" for e in EMOTIONS)),
    "gender": ("gender", "gender_confidence"),
}
#: The DetectFaces ``Attributes`` values that return each group (the API lets a caller choose them).
DETECT_FACES_ATTRIBUTES: dict[str, tuple[str, ...]] = {
    "age": ("AGE_RANGE",),
    "appearance": (
        "SMILE",
        "EYEGLASSES",
        "SUNGLASSES",
        "BEARD",
        "MUSTACHE",
        "EYES_OPEN",
        "MOUTH_OPEN",
        "FACE_OCCLUDED",
    ),
    "emotions": ("EMOTIONS",),
    "gender": ("GENDER",),
}


def detect_faces_attributes(collected: frozenset[str] | set[str]) -> list[str]:
    """The ``Attributes`` of a DetectFaces request for these attribute groups.

    Everything collected: ``["ALL"]``. Otherwise ``DEFAULT`` (bounding box,
    confidence, pose, quality, landmarks: always returned) and only the
    groups that are on, so an attribute that is off is never estimated.
    """
    if set(ATTRIBUTE_COLUMNS) <= set(collected):
        return ["ALL"]
    return ["DEFAULT", *(name for group in sorted(collected) for name in DETECT_FACES_ATTRIBUTES[group])]


def withhold_attributes(record: Mapping[str, Any], collected: frozenset[str] | set[str]) -> dict[str, Any]:
    """The record with every column of the groups not collected set to null."""
    withheld = {column for group, columns in ATTRIBUTE_COLUMNS.items() if group not in collected for column in columns}
    return {key: None if key in withheld else value for key, value in record.items()}


@dataclass(frozen=True)
class ImageContext:
    """What a record says about the image, besides the faces."""

    bucket: str
    key: str
    version: str  # the content's ETag first, else the S3 version id: part of every record id
    device_id: str
    store_id: str
    camera_id: str
    zone: str
    captured_at: datetime  # UTC
    #: The store's IANA time zone: ``captured_at_local`` and ``dt`` are its wall clock.
    time_zone: str

    @property
    def image_id(self) -> str:
        return image_id_for(self.bucket, self.key, self.version)

    @property
    def captured_at_local(self) -> datetime:
        return wall_clock(self.captured_at, self.time_zone)


@dataclass(frozen=True)
class FaceFloor:
    """Faces under either floor are dropped (and counted)."""

    min_detection_confidence: float
    min_sharpness: float


@dataclass(frozen=True)
class FaceRecords:
    records: list[dict[str, Any]]
    faces_detected: int
    faces_dropped: int


def from_epoch_millis(millis: int) -> datetime:
    return _EPOCH + timedelta(milliseconds=millis)


def record_id_for(bucket: str, key: str, version: str, face_index: int) -> str:
    """Deterministic: the same content under the same key gives the same ids (duplicates can be removed)."""
    digest = hashlib.sha256("\n".join((bucket, key, version, str(face_index))).encode("utf-8"))
    return digest.hexdigest()[:32]


def _float(value: Any) -> float | None:
    return None if value is None else float(value)


def _int(value: Any) -> int | None:
    return None if value is None else int(value)


def _flag(face: Mapping[str, Any], attribute: str) -> bool | None:
    value = (face.get(attribute) or {}).get("Value")
    return None if value is None else bool(value)


def _is_kept(face: Mapping[str, Any], floor: FaceFloor) -> bool:
    if float(face.get("Confidence") or 0.0) < floor.min_detection_confidence:
        return False
    # A face without a sharpness estimate cannot prove it clears a non-zero floor.
    return floor.min_sharpness <= 0 or float((face.get("Quality") or {}).get("Sharpness") or 0.0) >= floor.min_sharpness


def _emotions(face: Mapping[str, Any]) -> dict[str, float]:
    scores: dict[str, float] = {}
    for emotion in face.get("Emotions") or ():
        name = str(emotion.get("Type", "")).lower()
        # Rekognition also reports UNKNOWN, which is no column and never dominant.
        if name in EMOTIONS and emotion.get("Confidence") is not None:
            scores[name] = float(emotion["Confidence"])
    return scores


def face_record(
    face: Mapping[str, Any],
    *,
    image: ImageContext,
    face_index: int,
    faces_in_image: int,
    analyzer: str,
    processed_at: datetime,
) -> dict[str, Any]:
    """One record (keys exactly RECORD_KEYS); attributes DetectFaces left out become nulls."""
    emotions = _emotions(face)
    # Ties resolve to the first in EMOTIONS order so a record never depends on dict order.
    dominant = max(EMOTIONS, key=lambda e: emotions.get(e, -1.0)) if emotions else None
    age = face.get("AgeRange") or {}
    gender = face.get("Gender") or {}
    box = face.get("BoundingBox") or {}
    pose = face.get("Pose") or {}
    quality = face.get("Quality") or {}
    local = image.captured_at_local
    record: dict[str, Any] = {
        "record_id": record_id_for(image.bucket, image.key, image.version, face_index),
        "image_key": image.key,
        "device_id": image.device_id,
        "camera_id": image.camera_id,
        "zone": image.zone,
        "captured_at": epoch_millis(image.captured_at),
        "captured_at_local": epoch_millis(local),
        "processed_at": epoch_millis(processed_at),
        "image_id": image.image_id,
        "face_index": face_index,
        "faces_in_image": faces_in_image,
        "age_low": _int(age.get("Low")),
        "age_high": _int(age.get("High")),
        "gender": gender.get("Value"),
        "gender_confidence": _float(gender.get("Confidence")),
        "dominant_emotion": dominant,
        "dominant_emotion_confidence": emotions.get(dominant) if dominant else None,
        **{f"emotion_{e}": emotions.get(e) for e in EMOTIONS},
        **{column: _flag(face, attribute) for column, attribute in _FLAGS.items()},
        "detection_confidence": _float(face.get("Confidence")),
        "bbox_left": _float(box.get("Left")),
        "bbox_top": _float(box.get("Top")),
        "bbox_width": _float(box.get("Width")),
        "bbox_height": _float(box.get("Height")),
        "pose_yaw": _float(pose.get("Yaw")),
        "pose_pitch": _float(pose.get("Pitch")),
        "pose_roll": _float(pose.get("Roll")),
        "quality_brightness": _float(quality.get("Brightness")),
        "quality_sharpness": _float(quality.get("Sharpness")),
        "analyzer": analyzer,
        "store_id": image.store_id,
        # The store's date: a capture at 03:00 UTC in Los Angeles belongs to the day before.
        "dt": local.strftime("%Y-%m-%d"),
    }
    return record


def face_records_from(
    face_details: Sequence[Mapping[str, Any]],
    *,
    image: ImageContext,
    analyzer: str,
    processed_at: datetime,
    floor: FaceFloor,
    collected: frozenset[str] | set[str] = frozenset(ATTRIBUTE_COLUMNS),
) -> FaceRecords:
    """Records for the faces that clear the floor, indexed 0..n-1 in the analyzer's order.

    Columns of attribute groups not ``collected`` are null whatever the analyzer returned.
    """
    kept = [face for face in face_details if _is_kept(face, floor)]
    records = [
        withhold_attributes(
            face_record(
                face,
                image=image,
                face_index=index,
                faces_in_image=len(kept),
                analyzer=analyzer,
                processed_at=processed_at,
            ),
            collected,
        )
        for index, face in enumerate(kept)
    ]
    return FaceRecords(records=records, faces_detected=len(face_details), faces_dropped=len(face_details) - len(kept))


def encode_record(record: Mapping[str, Any]) -> bytes:
    """One JSON object and a newline: Firehose concatenates Data blobs as they are."""
    return (json.dumps(record, separators=(",", ":"), ensure_ascii=False, allow_nan=False) + "\n").encode("utf-8")
