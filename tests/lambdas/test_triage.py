"""Triage of one object: analyze, skip or quarantine (botocore Stubber for S3/DynamoDB, no moto)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest
from botocore.stub import ANY, Stubber
from shopper_analyze.analyzers import ImageRejectedError, ImageUnreadableError
from shopper_analyze.delivered_markers import marker_id
from shopper_analyze.face_records import encode_record
from shopper_analyze.metric_tally import MetricTally
from shopper_analyze.s3_events import S3ObjectRef
from shopper_analyze.settings import CameraInfo, DeviceInfo
from shopper_analyze.triage import (
    KEY_NOT_IN_LAYOUT,
    UNKNOWN_CAMERA,
    UNKNOWN_DEVICE,
    ImageRowNotDeliveredError,
    ImageTriage,
    StagedImage,
)

from tests.lambdas.local_aws import ARCHIVE_BUCKET, IDEMPOTENCY_TABLE, REGION, SOURCE_BUCKET, image_key

KEY = image_key()
IMAGES_STREAM = "shopper-images"
ETAG = "9b2cf535f27731c9"
REGISTRY = {
    "pi-s001-entrance": DeviceInfo(
        store_id="store-001", timezone="America/Los_Angeles", cameras={"entrance": CameraInfo(zone="entrance")}
    )
}
RECORDS = [{"record_id": "r0", "face_index": 0}, {"record_id": "r1", "face_index": 1}]


class RowFirehose:
    """The images stream: keeps the rows it accepts, or refuses every one (``refusing``)."""

    def __init__(self, *, refusing: bool = False) -> None:
        self.refusing = refusing
        self.rows: list[dict[str, Any]] = []

    def put_record_batch(self, *, DeliveryStreamName: str, Records: list[dict[str, bytes]]) -> dict[str, Any]:
        assert DeliveryStreamName == IMAGES_STREAM
        if self.refusing:
            failure = {"ErrorCode": "ServiceUnavailableException", "ErrorMessage": "Slow down."}
            return {"FailedPutCount": len(Records), "RequestResponses": [failure] * len(Records)}
        self.rows.extend(json.loads(record["Data"]) for record in Records)
        return {"FailedPutCount": 0, "RequestResponses": [{"RecordId": "r"}] * len(Records)}

    @property
    def row(self) -> dict[str, Any]:
        (only,) = self.rows
        return only


class RecordingAnalysis:
    """Stands in for the stored analysis: answers with ``records`` or raises ``error``; remembers requests."""

    def __init__(self, records: list[dict[str, Any]] | None = None, error: Exception | None = None) -> None:
        self.records = records if records is not None else RECORDS
        self.error = error
        self.requests: list[dict[str, Any]] = []

    def __call__(self, *, image: dict[str, Any], tally: MetricTally) -> dict[str, Any]:
        self.requests.append(image)
        if self.error is not None:
            raise self.error
        return {"records": self.records}


@pytest.fixture
def s3() -> Iterator[Stubber]:
    client = boto3.client("s3", region_name=REGION)
    with Stubber(client) as stubber:
        yield stubber
        stubber.assert_no_pending_responses()


@pytest.fixture
def dynamodb() -> Iterator[Stubber]:
    client = boto3.client("dynamodb", region_name=REGION)
    with Stubber(client) as stubber:
        yield stubber
        stubber.assert_no_pending_responses()


@pytest.fixture
def firehose() -> RowFirehose:
    return RowFirehose()


def triage(
    s3: Stubber,
    dynamodb: Stubber,
    logger: Any,
    analysis: RecordingAnalysis | None = None,
    firehose: RowFirehose | None = None,
) -> ImageTriage:
    return ImageTriage(
        s3=s3.client,
        dynamodb=dynamodb.client,
        firehose=firehose or RowFirehose(),
        images_stream_name=IMAGES_STREAM,
        retry_sleep=lambda seconds: None,
        analyze=analysis or RecordingAnalysis(),
        archive_bucket=ARCHIVE_BUCKET,
        idempotency_table=IDEMPOTENCY_TABLE,
        device_registry=REGISTRY,
        logger=logger,
    )


def ref(key: str = KEY, *, version_id: str | None = None, etag: str | None = ETAG) -> S3ObjectRef:
    return S3ObjectRef(bucket=SOURCE_BUCKET, key=key, version_id=version_id, etag=etag, size=None)


def expect_head(s3: Stubber, key: str = KEY, *, size: int = 48213, version_id: str | None = None) -> None:
    s3.add_response(
        "head_object",
        {"ContentLength": size, "ETag": f'"{ETAG}"', **({"VersionId": version_id} if version_id else {})},
        {"Bucket": SOURCE_BUCKET, "Key": key},
    )


def expect_head_gone(s3: Stubber, key: str = KEY) -> None:
    s3.add_client_error(
        "head_object", "404", http_status_code=404, expected_params={"Bucket": SOURCE_BUCKET, "Key": key}
    )


def expect_quarantine(s3: Stubber, reason: str, key: str = KEY) -> None:
    target = f"quarantine/{reason}/{key}"
    s3.add_response(
        "copy_object",
        {},
        {
            "CopySource": {"Bucket": SOURCE_BUCKET, "Key": key},
            "Bucket": ARCHIVE_BUCKET,
            "Key": target,
            "TaggingDirective": "REPLACE",
            "Tagging": f"quarantine-reason={reason}",
        },
    )
    s3.add_response("delete_object", {}, {"Bucket": SOURCE_BUCKET, "Key": key})


def expect_no_marker(dynamodb: Stubber, etag: str = ETAG) -> None:
    dynamodb.add_response("get_item", {}, marker_lookup(etag))


def marker_lookup(etag: str = ETAG) -> dict[str, Any]:
    return {
        "TableName": IDEMPOTENCY_TABLE,
        "Key": {"id": {"S": marker_id((SOURCE_BUCKET, KEY, etag))}},
        "ConsistentRead": True,
    }


def quarantined(tally: MetricTally) -> dict[str, float]:
    dimensioned = tally.drain().dimensioned.items()
    return {reason: value for (name, _, reason), value in dimensioned if name == "ImagesQuarantined"}


def test_image_is_analyzed_and_staged_with_its_encoded_records(s3, dynamodb, logger):
    expect_head(s3)
    expect_no_marker(dynamodb)
    analysis = RecordingAnalysis()
    tally = MetricTally()

    staged = triage(s3, dynamodb, logger, analysis).stage(ref(), "m0", tally)

    assert staged == StagedImage(
        message_id="m0",
        source=ref(),
        version_id=None,
        identity=(SOURCE_BUCKET, KEY, ETAG),
        blobs=[encode_record(r) for r in RECORDS],
    )
    (request,) = analysis.requests
    assert (request["key"], request["version"], request["store_id"], request["captured_at_ms"]) == (
        KEY,
        ETAG,
        "store-001",
        1773480413412,
    )


def test_content_identity_is_the_etag_before_the_version(s3, dynamodb, logger):
    expect_head(s3, version_id="v2")
    expect_no_marker(dynamodb)

    staged = triage(s3, dynamodb, logger).stage(ref(), "m0", MetricTally())

    assert staged is not None
    assert (staged.version_id, staged.identity) == ("v2", (SOURCE_BUCKET, KEY, ETAG))


def test_key_not_in_layout_is_quarantined_without_a_head(s3, dynamodb, logger, firehose):
    key = "incoming/pi-s001-entrance/snapshot.jpg"
    expect_quarantine(s3, KEY_NOT_IN_LAYOUT, key)
    tally = MetricTally()

    assert triage(s3, dynamodb, logger, firehose=firehose).stage(ref(key), "m0", tally) is None
    assert quarantined(tally) == {KEY_NOT_IN_LAYOUT: 1}
    # Nothing about the image is known but its key: no store, no capture time; dated when processed (UTC).
    row = firehose.row
    assert (row["outcome"], row["quarantine_reason"], row["image_key"]) == ("quarantined", KEY_NOT_IN_LAYOUT, key)
    assert (row["device_id"], row["captured_at"], row["store_id"]) == (None, None, "_unregistered")
    assert row["dt"] == datetime.fromtimestamp(row["processed_at"] / 1000, UTC).strftime("%Y-%m-%d")


def test_device_missing_from_the_registry_is_quarantined_as_unknown_device(s3, dynamodb, logger, firehose):
    key = image_key(device_id="pi-s999-stolen", captured_at=datetime(2026, 11, 24, 3, 0, tzinfo=UTC))
    expect_quarantine(s3, UNKNOWN_DEVICE, key)
    tally = MetricTally()

    assert triage(s3, dynamodb, logger, firehose=firehose).stage(ref(key), "m0", tally) is None
    assert quarantined(tally) == {UNKNOWN_DEVICE: 1}
    # No store, so no time zone: the UTC date, and no wall-clock time.
    row = firehose.row
    assert (row["device_id"], row["store_id"], row["dt"]) == ("pi-s999-stolen", "_unregistered", "2026-11-24")
    assert row["captured_at_local"] is None and row["zone"] is None


def test_camera_not_registered_for_its_device_is_quarantined_as_unknown_camera(s3, dynamodb, logger, firehose):
    # The device has only "entrance"; its store is in Los Angeles.
    key = image_key(
        device_id="pi-s001-entrance", camera_id="back-door", captured_at=datetime(2026, 11, 24, 3, 0, tzinfo=UTC)
    )
    expect_quarantine(s3, UNKNOWN_CAMERA, key)
    tally = MetricTally()

    assert triage(s3, dynamodb, logger, firehose=firehose).stage(ref(key), "m0", tally) is None
    assert quarantined(tally) == {UNKNOWN_CAMERA: 1}
    row = firehose.row
    assert (row["store_id"], row["dt"], row["camera_id"], row["zone"]) == ("store-001", "2026-11-23", "back-door", None)
    assert row["captured_at_local"] == int(datetime(2026, 11, 23, 19, 0, tzinfo=UTC).timestamp() * 1000)


def test_a_quarantine_whose_row_firehose_refuses_fails_and_leaves_the_image_in_incoming(s3, dynamodb, logger):
    key = image_key(device_id="pi-s999-stolen")
    # No S3 call is expected: the image must not move before its row is in.
    with pytest.raises(ImageRowNotDeliveredError, match="stays in incoming"):
        triage(s3, dynamodb, logger, firehose=RowFirehose(refusing=True)).stage(ref(key), "m0", MetricTally())


def test_an_analyzed_image_is_staged_with_its_image_row(s3, dynamodb, logger):
    expect_head(s3)
    expect_no_marker(dynamodb)
    row = {"image_id": "i0", "outcome": "analyzed", "faces_kept": 2}

    class WithRow(RecordingAnalysis):
        def __call__(self, *, image: dict[str, Any], tally: MetricTally) -> dict[str, Any]:
            return super().__call__(image=image, tally=tally) | {"image": row}

    staged = triage(s3, dynamodb, logger, WithRow()).stage(ref(), "m0", MetricTally())

    assert staged is not None and staged.image_blob == encode_record(row)


def test_empty_object_is_quarantined_as_invalid_image_format_without_analysis(s3, dynamodb, logger):
    expect_head(s3, size=0)
    expect_quarantine(s3, "invalid-image-format")
    analysis = RecordingAnalysis()
    tally = MetricTally()

    assert triage(s3, dynamodb, logger, analysis).stage(ref(), "m0", tally) is None
    assert analysis.requests == []
    assert quarantined(tally) == {"invalid-image-format": 1}


def test_object_over_the_analyzer_limit_is_quarantined_as_too_large_without_analysis(s3, dynamodb, logger):
    expect_head(s3, size=15 * 1024 * 1024 + 1)
    expect_quarantine(s3, "image-too-large")
    analysis = RecordingAnalysis()
    tally = MetricTally()

    assert triage(s3, dynamodb, logger, analysis).stage(ref(), "m0", tally) is None
    assert analysis.requests == []
    assert quarantined(tally) == {"image-too-large": 1}


def test_image_the_analyzer_rejects_is_quarantined_with_the_analyzers_reason(s3, dynamodb, logger):
    expect_head(s3)
    expect_no_marker(dynamodb)
    expect_quarantine(s3, "invalid-image-format")
    analysis = RecordingAnalysis(error=ImageRejectedError("invalid-image-format", "InvalidImageFormatException"))
    tally = MetricTally()

    assert triage(s3, dynamodb, logger, analysis).stage(ref(), "m0", tally) is None
    assert quarantined(tally) == {"invalid-image-format": 1}


def test_object_already_gone_is_counted_not_failed(s3, dynamodb, logger):
    expect_head_gone(s3)
    tally = MetricTally()

    assert triage(s3, dynamodb, logger).stage(ref(), "m0", tally) is None
    assert tally.drain().counts == {"ImagesGone": 1}


def test_object_gone_before_its_quarantine_move_is_counted_not_quarantined(s3, dynamodb, logger):
    key = image_key(device_id="pi-s999-stolen")
    s3.add_client_error("copy_object", "NoSuchKey", http_status_code=404)
    tally = MetricTally()

    assert triage(s3, dynamodb, logger).stage(ref(key), "m0", tally) is None
    snapshot = tally.drain()
    # The row went in before the move found the object gone (another invocation moved it, and
    # wrote the same row, same image_id: the queries count it once).
    assert (snapshot.counts, snapshot.dimensioned) == (
        {"FirehoseCalls": 1, "ImageRowsDelivered": 1, "ImagesGone": 1},
        {},
    )


def test_content_delivered_before_is_staged_for_archiving_without_analysis(s3, dynamodb, logger):
    expect_head(s3)
    dynamodb.add_response("get_item", {"Item": {"id": {"S": "x"}, "delivered_records": {"N": "3"}}}, marker_lookup())
    analysis = RecordingAnalysis()

    staged = triage(s3, dynamodb, logger, analysis).stage(ref(), "m0", MetricTally())

    assert staged is not None
    assert (staged.blobs, staged.delivered_before) == ([], 3)
    assert analysis.requests == []


def test_unreadable_object_that_still_exists_fails_its_message(s3, dynamodb, logger):
    expect_head(s3)
    expect_no_marker(dynamodb)
    expect_head(s3)
    analysis = RecordingAnalysis(error=ImageUnreadableError("InvalidS3ObjectException"))

    with pytest.raises(RuntimeError, match="cannot read an object that exists"):
        triage(s3, dynamodb, logger, analysis).stage(ref(), "m0", MetricTally())


def test_unreadable_object_deleted_meanwhile_is_counted_as_gone(s3, dynamodb, logger):
    expect_head(s3)
    expect_no_marker(dynamodb)
    expect_head_gone(s3)
    analysis = RecordingAnalysis(error=ImageUnreadableError("InvalidS3ObjectException"))
    tally = MetricTally()

    assert triage(s3, dynamodb, logger, analysis).stage(ref(), "m0", tally) is None
    assert tally.drain().counts == {"ImagesGone": 1}


def test_object_outside_incoming_is_only_reported(s3, dynamodb, logger):
    tally = MetricTally()

    assert triage(s3, dynamodb, logger).stage(ref("other/readme.txt"), "m0", tally) is None
    assert tally.drain().counts == {"ObjectsIgnored": 1}


def test_quarantine_moves_the_version_the_event_names(s3, dynamodb, logger):
    key = image_key(device_id="pi-s999-stolen")
    version = {"CopySource": {"Bucket": SOURCE_BUCKET, "Key": key, "VersionId": "v1"}}
    s3.add_response(
        "copy_object",
        {},
        {**version, "Bucket": ARCHIVE_BUCKET, "Key": ANY, "TaggingDirective": "REPLACE", "Tagging": ANY},
    )
    s3.add_response("delete_object", {}, {"Bucket": SOURCE_BUCKET, "Key": key, "VersionId": "v1"})

    assert triage(s3, dynamodb, logger).stage(ref(key, version_id="v1"), "m0", MetricTally()) is None
