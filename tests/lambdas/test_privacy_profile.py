"""A camera's privacy profile in the handler: attributes never asked for or written, images not kept, quiet logs."""

from __future__ import annotations

import base64
import copy
import json
import logging
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from botocore.stub import Stubber
from shopper_analyze.face_records import ATTRIBUTE_COLUMNS, EMOTIONS, FaceFloor, ImageContext, face_records_from
from shopper_analyze.settings import ConfigurationError, parse_device_registry

from tests.lambdas.local_aws import (
    ARCHIVE_BUCKET,
    DEVICE_REGISTRY,
    SOURCE_BUCKET,
    delivered_image_rows,
    delivered_records,
    image_key,
    keys_in,
    log_lines,
    s3_notification,
    s3_record,
    sqs_event,
)
from tests.lambdas.test_handler import JPEG, THREE_FACES, FlakyFirehose, log_to_captured_stdout, upload

NO_EMOTIONS_REQUESTED = [
    "DEFAULT",
    "AGE_RANGE",
    *("SMILE", "EYEGLASSES", "SUNGLASSES", "BEARD", "MUSTACHE", "EYES_OPEN", "MOUTH_OPEN", "FACE_OCCLUDED"),
    "GENDER",
]
EMOTION_COLUMNS = ("dominant_emotion", "dominant_emotion_confidence", *(f"emotion_{e}" for e in EMOTIONS))


def registry_with(camera_profile: dict[str, Any]) -> dict[str, Any]:
    """The test registry with the store-001 entrance camera's profile replaced."""
    registry = copy.deepcopy(DEVICE_REGISTRY)
    registry["pi-s001-entrance"]["cameras"]["entrance"].update(camera_profile)
    return registry


def handler_for(make_handler, settings, registry: dict[str, Any]):
    return make_handler(settings=replace(settings, device_registry=parse_device_registry(json.dumps(registry))))


def expect_detect_faces_with(stubber, key: str, attributes: list[str], response: dict[str, Any] = THREE_FACES) -> None:
    # The Stubber validates the parameters against the service model and matches them exactly.
    stubber.add_response(
        "detect_faces",
        copy.deepcopy(response),
        {"Image": {"S3Object": {"Bucket": SOURCE_BUCKET, "Name": key}}, "Attributes": attributes},
    )


# --- attributes ----------------------------------------------------------------------------------


def test_camera_with_emotions_off_asks_rekognition_for_no_emotions_and_writes_none(
    make_handler, settings, rekognition, s3, lambda_context
):
    handler = handler_for(make_handler, settings, registry_with({"attributes": ["age", "appearance", "gender"]}))
    key = upload(s3, image_key())
    # No EMOTIONS among the requested attributes (and not ALL). The stubbed answer
    # carries emotions all the same: what the function writes must not depend on
    # the service leaving them out.
    expect_detect_faces_with(
        rekognition,
        key,
        NO_EMOTIONS_REQUESTED,
    )

    assert handler(sqs_event(s3_notification(s3_record(key))), lambda_context) == {"batchItemFailures": []}

    records = delivered_records(s3)
    assert len(records) == 3
    assert all(record[column] is None for record in records for column in EMOTION_COLUMNS)
    # What is collected still is.
    assert [r["gender"] for r in records] == ["Female", "Male", "Male"]
    assert all(r["age_low"] is not None and r["smile"] is not None for r in records)


def test_camera_collecting_nothing_asks_only_for_the_default_attributes(
    make_handler, settings, rekognition, s3, lambda_context
):
    handler = handler_for(make_handler, settings, registry_with({"attributes": []}))
    key = upload(s3, image_key())
    expect_detect_faces_with(rekognition, key, ["DEFAULT"])

    assert handler(sqs_event(s3_notification(s3_record(key))), lambda_context) == {"batchItemFailures": []}

    records = delivered_records(s3)
    withheld = [column for columns in ATTRIBUTE_COLUMNS.values() for column in columns]
    assert len(records) == 3
    assert all(record[column] is None for record in records for column in withheld)
    assert all(record["bbox_width"] is not None and record["pose_yaw"] is not None for record in records)
    (row,) = delivered_image_rows(s3)
    assert (row["faces_detected"], row["faces_kept"]) == (3, 3)  # people are still counted


def test_an_analysis_stored_before_emotions_were_turned_off_is_written_without_them(
    make_handler, settings, clients, rekognition, s3, lambda_context
):
    key = upload(s3, image_key())
    event = sqs_event(s3_notification(s3_record(key)))
    expect_detect_faces_with(rekognition, key, ["ALL"])  # once: the second run reuses the stored analysis
    failing = make_handler(firehose=FlakyFirehose(clients.firehose, reject=lambda call, record: True))
    assert failing(event, lambda_context) == {"batchItemFailures": [{"itemIdentifier": "m0"}]}

    no_emotions = handler_for(make_handler, settings, registry_with({"attributes": ["age", "appearance", "gender"]}))
    assert no_emotions(event, lambda_context) == {"batchItemFailures": []}

    records = delivered_records(s3)
    assert len(records) == 3
    assert all(record[column] is None for record in records for column in EMOTION_COLUMNS)


def test_face_records_from_nulls_exactly_the_groups_that_are_off():
    image = ImageContext(
        bucket="b",
        key="k",
        version="v",
        device_id="d",
        store_id="s",
        camera_id="c",
        zone="z",
        captured_at=datetime(2026, 3, 14, tzinfo=UTC),
        time_zone="UTC",
    )
    result = face_records_from(
        THREE_FACES["FaceDetails"],
        image=image,
        analyzer="rekognition",
        processed_at=datetime(2026, 3, 14, tzinfo=UTC),
        floor=FaceFloor(0, 0),
        collected={"emotions"},
    )
    for record in result.records:
        assert record["dominant_emotion"] is not None
        for group in ("age", "gender", "appearance"):
            assert all(record[column] is None for column in ATTRIBUTE_COLUMNS[group])


@pytest.mark.parametrize(
    ("camera", "message"),
    [
        ({"zone": "z", "attributes": ["emotion"]}, "attributes 'emotion' is not an attribute group"),
        ({"zone": "z", "attributes": "age"}, "attributes must be a list"),
        ({"zone": "z", "keep_images": "no"}, "keep_images must be true or false"),
    ],
)
def test_a_bad_camera_profile_in_the_registry_is_refused_by_name(camera, message):
    raw = json.dumps({"pi-1": {"store_id": "s", "timezone": "UTC", "cameras": {"c": camera}}})
    with pytest.raises(ConfigurationError, match=message):
        parse_device_registry(raw)


# --- keep_images ---------------------------------------------------------------------------------


def versions_in(s3: Any, bucket: str) -> list[str]:
    listing = s3.list_object_versions(Bucket=bucket)
    return sorted(v["Key"] for v in [*listing.get("Versions", []), *listing.get("DeleteMarkers", [])])


def test_keep_images_off_leaves_no_image_behind_after_delivery(make_handler, settings, rekognition, s3, lambda_context):
    s3.put_bucket_versioning(Bucket=SOURCE_BUCKET, VersioningConfiguration={"Status": "Enabled"})
    handler = handler_for(make_handler, settings, registry_with({"keep_images": False}))
    put = s3.put_object(Bucket=SOURCE_BUCKET, Key=(key := image_key()), Body=JPEG)
    record = s3_record(key, version_id=put["VersionId"], etag=put["ETag"].strip('"'), size=len(JPEG))
    rekognition.add_response(
        "detect_faces",
        copy.deepcopy(THREE_FACES),
        {
            "Image": {"S3Object": {"Bucket": SOURCE_BUCKET, "Name": key, "Version": put["VersionId"]}},
            "Attributes": ["ALL"],
        },
    )

    assert handler(sqs_event(s3_notification(record)), lambda_context) == {"batchItemFailures": []}

    assert len(delivered_records(s3)) == 3
    assert versions_in(s3, SOURCE_BUCKET) == []  # no version, no delete marker
    assert keys_in(s3, ARCHIVE_BUCKET) == []


def test_keep_images_off_still_keeps_the_image_when_delivery_fails(
    make_handler, settings, clients, rekognition, s3, lambda_context
):
    registry = parse_device_registry(json.dumps(registry_with({"keep_images": False})))
    handler = make_handler(
        settings=replace(settings, device_registry=registry),
        firehose=FlakyFirehose(clients.firehose, reject=lambda call, record: True),
    )
    key = upload(s3, image_key())
    expect_detect_faces_with(rekognition, key, ["ALL"])

    assert handler(sqs_event(s3_notification(s3_record(key))), lambda_context) == {
        "batchItemFailures": [{"itemIdentifier": "m0"}]
    }

    assert keys_in(s3, SOURCE_BUCKET) == [key]
    assert s3.get_object(Bucket=SOURCE_BUCKET, Key=key)["Body"].read() == JPEG
    assert keys_in(s3, ARCHIVE_BUCKET) == []


# --- logs ----------------------------------------------------------------------------------------

#: What a log line must never contain: face attribute names and values of THREE_FACES, record columns, image bytes.
FORBIDDEN_IN_LOGS = (
    "emotion",
    "Emotions",
    "HAPPY",
    "AgeRange",
    "age_low",
    "Gender",
    "gender",
    "Female",
    "Smile",
    "smile",
    "Beard",
    "JFIF",
    base64.b64encode(JPEG[:30]).decode()[:24],
    JPEG[40:80].hex(),
)


@pytest.mark.parametrize("level", ["DEBUG", "INFO", "WARNING", "ERROR"])
def test_logs_at_every_level_hold_no_face_attribute_and_no_image_bytes(
    level, monkeypatch, make_handler, settings, clients, rekognition, s3, lambda_context, capsys, caplog
):
    monkeypatch.setenv("POWERTOOLS_LOG_LEVEL", level)
    caplog.set_level(getattr(logging, level))  # every other logger too (botocore, urllib3, the root)
    key = upload(s3, image_key())
    failing_key = upload(s3, image_key(captured_at=image_key_time(1)))
    expect_detect_faces_with(rekognition, key, ["ALL"])
    expect_detect_faces_with(rekognition, failing_key, ["ALL"])
    # One image delivered, one refused: the error paths log too.
    handler = make_handler(
        firehose=FlakyFirehose(clients.firehose, reject=lambda call, record: record["image_key"] == failing_key)
    )
    log_to_captured_stdout()

    response = handler(
        sqs_event(s3_notification(s3_record(key)), s3_notification(s3_record(failing_key))), lambda_context
    )

    assert response == {"batchItemFailures": [{"itemIdentifier": "m1"}]}
    stdout = capsys.readouterr().out
    output = stdout + "\n".join(r.getMessage() for r in caplog.records)
    if level in ("DEBUG", "INFO"):
        assert log_lines(stdout), "nothing was logged: the test would prove nothing"
    leaked = [word for word in FORBIDDEN_IN_LOGS if word in output]
    assert leaked == []


def image_key_time(seconds: int) -> datetime:
    return datetime(2026, 3, 14, 9, 26, 53, tzinfo=UTC) + timedelta(seconds=seconds)


def test_the_deployed_analyzer_passes_a_restricted_request_through_its_pacing(analyze_app, settings):
    clients = analyze_app.aws_clients(settings)
    rekognition = clients.analyzer._analyzer._client
    with Stubber(rekognition) as stubber:
        stubber.add_response(
            "detect_faces",
            {"FaceDetails": []},
            {"Image": {"S3Object": {"Bucket": "bucket", "Name": "k"}}, "Attributes": ["DEFAULT", "AGE_RANGE"]},
        )
        assert (
            clients.analyzer.detect_faces(
                bucket="bucket", key="k", version_id=None, attributes=["DEFAULT", "AGE_RANGE"]
            )
            == []
        )
        stubber.assert_no_pending_responses()
