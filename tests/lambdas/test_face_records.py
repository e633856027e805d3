import copy
import json
from datetime import UTC, datetime

import pytest
from shopper_analyze.face_records import (
    RECORD_KEYS,
    FaceFloor,
    ImageContext,
    encode_record,
    epoch_millis,
    face_records_from,
    from_epoch_millis,
    record_id_for,
)

from tests.lambdas.local_aws import faces_response, load_event

IMAGE = ImageContext(
    bucket="shopper-source",
    key="incoming/pi-s001-entrance/2026/03/14/20260314T235959999Z-3f9a1c2be4d7.jpg",
    version="0123456789abcdef0123456789abcdef",
    device_id="pi-s001-entrance",
    store_id="store-001",
    camera_id="entrance",
    zone="entrance",
    captured_at=datetime(2026, 3, 14, 23, 59, 59, 999000, tzinfo=UTC),
    time_zone="America/Los_Angeles",
)
PROCESSED_AT = datetime(2026, 3, 15, 0, 0, 1, 250000, tzinfo=UTC)
NO_FLOOR = FaceFloor(min_detection_confidence=0, min_sharpness=0)
THREE_FACES = load_event("detect_faces_three_faces.json")["FaceDetails"]
LOW_QUALITY_FACES = load_event("detect_faces_low_quality_faces.json")["FaceDetails"]


def records_for(faces, floor=NO_FLOOR, image=IMAGE):
    return face_records_from(faces, image=image, analyzer="rekognition", processed_at=PROCESSED_AT, floor=floor)


def test_one_record_per_face_with_exactly_the_record_keys_in_order():
    result = records_for(THREE_FACES)

    assert len(result.records) == 3
    assert all(tuple(record) == RECORD_KEYS for record in result.records)


def test_face_attributes_map_to_columns():
    first = records_for(THREE_FACES).records[0]

    assert first["age_low"] == 29 and first["age_high"] == 37
    assert (first["gender"], first["gender_confidence"]) == ("Female", 99.87)
    assert (first["dominant_emotion"], first["dominant_emotion_confidence"]) == ("happy", 96.48)
    assert first["emotion_fear"] == 5.9 and first["emotion_angry"] == 0.09
    assert (first["smile"], first["eyeglasses"], first["beard"], first["face_occluded"]) == (True, False, False, False)
    assert (first["bbox_left"], first["bbox_top"], first["bbox_width"], first["bbox_height"]) == (
        0.412,
        0.201,
        0.101,
        0.187,
    )
    assert (first["pose_yaw"], first["pose_pitch"], first["pose_roll"]) == (-11.07, 4.83, 2.41)
    assert (first["quality_brightness"], first["quality_sharpness"]) == (81.53, 86.86)
    assert first["detection_confidence"] == 99.998
    assert first["analyzer"] == "rekognition"


def test_capture_time_comes_from_the_image_and_dt_is_its_utc_date():
    record = records_for(THREE_FACES).records[0]

    assert record["captured_at"] == 1773532799999  # 2026-03-14T23:59:59.999Z
    assert record["processed_at"] == 1773532801250
    assert record["dt"] == "2026-03-14"  # processed the next day; partitioned by capture


def test_dominant_emotion_ignores_unknown_and_ties_resolve_in_schema_order():
    face = copy.deepcopy(THREE_FACES[0])
    face["Emotions"] = [
        {"Type": "UNKNOWN", "Confidence": 99.0},
        {"Type": "CALM", "Confidence": 40.0},
        {"Type": "SAD", "Confidence": 40.0},
    ]

    record = records_for([face]).records[0]

    assert (record["dominant_emotion"], record["dominant_emotion_confidence"]) == ("sad", 40.0)
    assert record["emotion_happy"] is None


def test_attributes_missing_from_the_response_become_nulls():
    bare = {"BoundingBox": {"Width": 0.1, "Height": 0.2, "Left": 0.3, "Top": 0.4}, "Confidence": 99.5}

    record = records_for([bare]).records[0]

    assert tuple(record) == RECORD_KEYS
    assert record["gender"] is None and record["age_low"] is None and record["smile"] is None
    assert record["dominant_emotion"] is None and record["dominant_emotion_confidence"] is None


def test_faces_under_the_confidence_or_sharpness_floor_are_dropped_and_counted():
    result = records_for(LOW_QUALITY_FACES, floor=FaceFloor(min_detection_confidence=90, min_sharpness=10))

    assert (result.faces_detected, result.faces_dropped) == (3, 2)
    assert [(r["face_index"], r["faces_in_image"]) for r in result.records] == [(0, 1)]
    assert result.records[0]["quality_sharpness"] == 86.86


def test_face_without_sharpness_fails_a_sharpness_floor_but_not_a_zero_one():
    face = {"Confidence": 99.5}

    assert records_for([face], floor=FaceFloor(90, 5)).faces_dropped == 1
    assert records_for([face], floor=FaceFloor(90, 0)).faces_dropped == 0


def test_no_face_gives_no_record():
    result = records_for([])

    assert (result.records, result.faces_detected, result.faces_dropped) == ([], 0, 0)


def test_record_ids_are_deterministic_and_distinct_per_face_version_and_key():
    again = records_for(copy.deepcopy(THREE_FACES)).records
    first = records_for(THREE_FACES).records

    assert [r["record_id"] for r in first] == [r["record_id"] for r in again]
    assert len({r["record_id"] for r in first}) == 3
    base = record_id_for("b", "k", "v1", 0)
    assert len({base, record_id_for("b", "k", "v2", 0), record_id_for("b", "k2", "v1", 0)}) == 3


@pytest.mark.parametrize(
    "moment",
    [datetime(1970, 1, 1, tzinfo=UTC), datetime(2026, 3, 14, 9, 26, 53, 412000, tzinfo=UTC)],
)
def test_epoch_millis_round_trips_exactly(moment):
    assert from_epoch_millis(epoch_millis(moment)) == moment


def test_encoded_record_is_one_json_line_with_integer_timestamps():
    record = records_for(THREE_FACES).records[0]

    blob = encode_record(record)

    assert blob.endswith(b"\n") and blob.count(b"\n") == 1
    decoded = json.loads(blob)
    assert decoded == record
    assert isinstance(decoded["captured_at"], int) and isinstance(decoded["processed_at"], int)


def test_unicode_key_is_encoded_as_utf8_json():
    image = ImageContext(**{**IMAGE.__dict__, "key": "incoming/café/x.jpg"})

    blob = encode_record(records_for(THREE_FACES, image=image).records[0])

    assert "incoming/café/x.jpg".encode() in blob


def test_records_of_rekognitions_maximum_of_100_faces_fit_one_dynamodb_item():
    # The idempotency record stores them (DynamoDB items are at most 400 KB).
    faces = faces_response(100)["FaceDetails"]

    stored = json.dumps({"records": records_for(faces).records})

    assert len(stored.encode()) < 300_000


@pytest.mark.parametrize(
    ("time_zone", "captured_at", "local", "day"),
    [
        # West of UTC: 03:00Z is 19:00 the evening before in Los Angeles (PST).
        ("America/Los_Angeles", datetime(2026, 11, 24, 3, 0, tzinfo=UTC), datetime(2026, 11, 23, 19, 0), "2026-11-23"),
        # East of UTC: 23:30Z is already the next day in Berlin (CET).
        ("Europe/Berlin", datetime(2026, 11, 23, 23, 30, tzinfo=UTC), datetime(2026, 11, 24, 0, 30), "2026-11-24"),
        # Daylight saving ends in Los Angeles on 2026-11-01: 01:30 happens twice, an hour apart in UTC.
        ("America/Los_Angeles", datetime(2026, 11, 1, 8, 30, tzinfo=UTC), datetime(2026, 11, 1, 1, 30), "2026-11-01"),
        ("America/Los_Angeles", datetime(2026, 11, 1, 9, 30, tzinfo=UTC), datetime(2026, 11, 1, 1, 30), "2026-11-01"),
        # ... and starts on 2026-03-08: 10:00Z is 03:00 PDT (02:00-03:00 never happens there).
        ("America/Los_Angeles", datetime(2026, 3, 8, 10, 0, tzinfo=UTC), datetime(2026, 3, 8, 3, 0), "2026-03-08"),
        ("America/Los_Angeles", datetime(2026, 3, 8, 9, 59, tzinfo=UTC), datetime(2026, 3, 8, 1, 59), "2026-03-08"),
        # A store on UTC is UTC.
        (
            "UTC",
            datetime(2026, 12, 31, 23, 59, 59, 999000, tzinfo=UTC),
            datetime(2026, 12, 31, 23, 59, 59, 999000),
            "2026-12-31",
        ),
    ],
)
def test_records_are_dated_by_the_stores_wall_clock(time_zone, captured_at, local, day):
    image = ImageContext(**{**IMAGE.__dict__, "captured_at": captured_at, "time_zone": time_zone})
    (record,) = records_for(THREE_FACES[:1], image=image).records
    assert record["captured_at"] == epoch_millis(captured_at)  # the instant, UTC
    assert from_epoch_millis(record["captured_at_local"]).replace(tzinfo=None) == local
    assert record["dt"] == day


def test_the_repeated_hour_of_a_dst_change_keeps_its_two_instants_apart():
    """Two captures an hour apart at 01:30 and 01:30 again: same wall clock, distinct UTC instants."""
    first, second = (
        records_for(THREE_FACES[:1], image=ImageContext(**{**IMAGE.__dict__, "captured_at": moment})).records[0]
        for moment in (datetime(2026, 11, 1, 8, 30, tzinfo=UTC), datetime(2026, 11, 1, 9, 30, tzinfo=UTC))
    )
    assert first["captured_at_local"] == second["captured_at_local"]
    assert second["captured_at"] - first["captured_at"] == 3600 * 1000
