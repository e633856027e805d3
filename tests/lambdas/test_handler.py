"""The analyze handler end to end: moto S3/DynamoDB/Firehose, Rekognition through botocore's Stubber."""

from __future__ import annotations

import copy
import json
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import pytest
from aws_lambda_powertools import Logger
from botocore.exceptions import ClientError

from tests.lambdas.local_aws import (
    ARCHIVE_BUCKET,
    IDEMPOTENCY_TABLE,
    SOURCE_BUCKET,
    FakeLambdaContext,
    UnorderedStubber,
    delivered_image_rows,
    delivered_records,
    emf_metrics,
    faces_response,
    image_key,
    keys_in,
    load_event,
    load_handler_module,
    log_lines,
    s3_notification,
    s3_record,
    sqs_event,
)

JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00" + bytes(range(256)) * 40 + b"\xff\xd9"
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)) * 40
THREE_FACES = load_event("detect_faces_three_faces.json")
NO_FACES = load_event("detect_faces_no_faces.json")
LOW_QUALITY_FACES = load_event("detect_faces_low_quality_faces.json")


def expect_detect_faces(
    stubber: UnorderedStubber, key: str, response: dict[str, Any], version_id: str | None = None
) -> None:
    s3_object = {"Bucket": SOURCE_BUCKET, "Name": key, **({"Version": version_id} if version_id else {})}
    stubber.add_response(
        "detect_faces", copy.deepcopy(response), {"Image": {"S3Object": s3_object}, "Attributes": ["ALL"]}
    )


def expect_detect_faces_error(stubber: UnorderedStubber, key: str, code: str, status: int = 400) -> None:
    stubber.add_client_error(
        "detect_faces",
        service_error_code=code,
        service_message=f"{code} (stubbed)",
        http_status_code=status,
        expected_params={"Image": {"S3Object": {"Bucket": SOURCE_BUCKET, "Name": key}}, "Attributes": ["ALL"]},
    )


def log_to_captured_stdout() -> None:
    """Powertools' Logger (one per service) bound sys.stdout when the handler was built; capsys replaces it now."""
    Logger().logger_handler.setStream(sys.stdout)


def upload(s3: Any, key: str, body: bytes = JPEG) -> str:
    s3.put_object(Bucket=SOURCE_BUCKET, Key=key, Body=body)
    return key


def quarantined(s3: Any, reason: str, key: str) -> dict[str, str]:
    """Tags of the quarantined copy (fails if it is not there)."""
    tagging = s3.get_object_tagging(Bucket=ARCHIVE_BUCKET, Key=f"quarantine/{reason}/{key}")
    return {tag["Key"]: tag["Value"] for tag in tagging["TagSet"]}


class FlakyFirehose:
    """The real (moto) Firehose client, except that chosen records are answered as failed.

    ``reject(attempt, record)`` decides per record and per PutRecordBatch call;
    rejected records never reach the stream, as with a real FailedPutCount.
    """

    def __init__(self, real: Any, reject: Callable[[int, dict[str, Any]], bool]) -> None:
        self.real = real
        self.reject = reject
        self.calls = 0

    def put_record_batch(self, *, DeliveryStreamName: str, Records: list[dict[str, bytes]]) -> dict[str, Any]:
        call = self.calls
        self.calls += 1
        rejected = [self.reject(call, json.loads(r["Data"])) for r in Records]
        accepted = [r for r, no in zip(Records, rejected, strict=True) if not no]
        real_entries = iter(
            self.real.put_record_batch(DeliveryStreamName=DeliveryStreamName, Records=accepted)["RequestResponses"]
            if accepted
            else []
        )
        entries = [
            {"ErrorCode": "ServiceUnavailableException", "ErrorMessage": "Slow down."} if no else next(real_entries)
            for no in rejected
        ]
        return {"FailedPutCount": sum(rejected), "Encrypted": False, "RequestResponses": entries}


# --- the happy path -----------------------------------------------------------------------------


def test_image_becomes_one_record_per_face_and_moves_to_archive(handler, rekognition, s3, lambda_context, capsys):
    key = upload(s3, image_key())
    expect_detect_faces(rekognition, key, THREE_FACES)

    response = handler(sqs_event(s3_notification(s3_record(key))), lambda_context)

    assert response == {"batchItemFailures": []}
    records = delivered_records(s3)
    assert [r["face_index"] for r in records] == [0, 1, 2]
    assert {r["faces_in_image"] for r in records} == {3}
    assert {(r["store_id"], r["camera_id"], r["zone"], r["device_id"]) for r in records} == {
        ("store-001", "entrance", "entrance", "pi-s001-entrance")
    }
    assert {r["captured_at"] for r in records} == {1773480413412}  # 2026-03-14T09:26:53.412Z, from the key
    # The store is in Los Angeles (PDT since 2026-03-08): 02:26:53.412 on its wall clock, the same date.
    assert {r["captured_at_local"] for r in records} == {1773480413412 - 7 * 3600 * 1000}
    assert {r["dt"] for r in records} == {"2026-03-14"}
    assert [r["dominant_emotion"] for r in records] == ["happy", "calm", "sad"]
    (row,) = delivered_image_rows(s3)
    assert (row["outcome"], row["faces_detected"], row["faces_kept"], row["image_key"]) == ("analyzed", 3, 3, key)
    assert {r["image_id"] for r in records} == {row["image_id"]}
    assert keys_in(s3, SOURCE_BUCKET) == []
    assert keys_in(s3, ARCHIVE_BUCKET) == [key]
    assert s3.get_object(Bucket=ARCHIVE_BUCKET, Key=key)["Body"].read() == JPEG
    metrics = emf_metrics(capsys.readouterr().out)
    assert metrics["ImagesAnalyzed"] == 1
    assert metrics["FacesDetected"] == 3
    assert metrics["FacesDelivered"] == 3
    assert metrics["ImagesProcessed"] == 1
    assert metrics["FirehoseCalls"] == 2  # one per stream: the faces and the image row


def test_a_capture_is_dated_by_its_stores_wall_clock_in_records_and_image_row(handler, rekognition, s3, lambda_context):
    # 2026-11-24T03:00Z in store-001 (America/Los_Angeles, PST) is 19:00 on the 23rd; store-002 is in
    # Berlin, where 23:30Z on the 23rd is already 00:30 on the 24th.
    west = upload(s3, image_key(captured_at=datetime(2026, 11, 24, 3, 0, tzinfo=UTC), content=b"west"))
    east = upload(
        s3,
        image_key(device_id="pi-s002-aisle-3", captured_at=datetime(2026, 11, 23, 23, 30, tzinfo=UTC), content=b"e"),
    )
    expect_detect_faces(rekognition, west, THREE_FACES)
    expect_detect_faces(rekognition, east, THREE_FACES)

    response = handler(sqs_event(s3_notification(s3_record(west)), s3_notification(s3_record(east))), lambda_context)

    assert response == {"batchItemFailures": []}
    wall = {"store-001": datetime(2026, 11, 23, 19, 0), "store-002": datetime(2026, 11, 24, 0, 30)}
    for row in [*delivered_records(s3), *delivered_image_rows(s3)]:
        local = wall[row["store_id"]]
        assert row["dt"] == local.strftime("%Y-%m-%d")
        assert row["captured_at_local"] == int(local.replace(tzinfo=UTC).timestamp() * 1000)


def test_image_without_faces_writes_no_face_record_but_its_image_row_and_is_archived(
    handler, rekognition, s3, lambda_context, capsys
):
    key = upload(s3, image_key())
    expect_detect_faces(rekognition, key, NO_FACES)

    response = handler(sqs_event(s3_notification(s3_record(key))), lambda_context)

    assert response == {"batchItemFailures": []}
    assert delivered_records(s3) == []
    # The still with nobody in it is still counted: the denominator of every per-still figure.
    (row,) = delivered_image_rows(s3)
    assert (row["outcome"], row["faces_detected"], row["faces_kept"]) == ("analyzed", 0, 0)
    assert keys_in(s3, ARCHIVE_BUCKET) == [key]
    metrics = emf_metrics(capsys.readouterr().out)
    assert metrics["ImagesWithoutFaces"] == 1
    assert metrics["ImagesProcessed"] == 1
    assert metrics["FirehoseCalls"] == 1  # the image row only


def test_faces_under_confidence_or_sharpness_floor_are_dropped_and_counted(
    handler, rekognition, s3, lambda_context, capsys
):
    key = upload(s3, image_key())
    expect_detect_faces(rekognition, key, LOW_QUALITY_FACES)  # one good, one at 74 %, one with sharpness 3.5

    handler(sqs_event(s3_notification(s3_record(key))), lambda_context)

    records = delivered_records(s3)
    assert [(r["face_index"], r["faces_in_image"], r["detection_confidence"]) for r in records] == [(0, 1, 99.998)]
    metrics = emf_metrics(capsys.readouterr().out)
    assert metrics["FacesDetected"] == 3
    assert metrics["FacesDropped"] == 2


def test_every_record_of_a_notification_body_is_processed(handler, rekognition, s3, lambda_context):
    first = upload(s3, image_key(content=b"one"))
    second = upload(s3, image_key(device_id="pi-s002-aisle-3", content=b"two"))
    expect_detect_faces(rekognition, first, THREE_FACES)
    expect_detect_faces(rekognition, second, NO_FACES)

    response = handler(sqs_event(s3_notification(s3_record(first), s3_record(second))), lambda_context)

    assert response == {"batchItemFailures": []}
    assert len(delivered_records(s3)) == 3
    assert keys_in(s3, ARCHIVE_BUCKET) == sorted([first, second])


def test_records_of_a_whole_batch_share_firehose_calls(handler, rekognition, s3, lambda_context, capsys):
    keys = [upload(s3, image_key(content=str(i).encode())) for i in range(10)]
    for key in keys:
        expect_detect_faces(rekognition, key, THREE_FACES)

    response = handler(sqs_event(*(s3_notification(s3_record(key)) for key in keys)), lambda_context)

    assert response == {"batchItemFailures": []}
    assert len(delivered_records(s3)) == 30
    assert len(delivered_image_rows(s3)) == 10
    assert emf_metrics(capsys.readouterr().out)["FirehoseCalls"] == 2  # one per stream


def test_thousand_faces_of_one_batch_take_two_firehose_calls(handler, rekognition, s3, lambda_context, capsys):
    keys = [upload(s3, image_key(content=str(i).encode())) for i in range(10)]
    for key in keys:
        expect_detect_faces(rekognition, key, faces_response(100))  # DetectFaces returns at most 100 faces

    response = handler(sqs_event(*(s3_notification(s3_record(key)) for key in keys)), lambda_context)

    assert response == {"batchItemFailures": []}
    assert len({r["record_id"] for r in delivered_records(s3)}) == 1000
    assert emf_metrics(capsys.readouterr().out)["FirehoseCalls"] == 3  # 500 faces per call, and the 10 rows


def test_analysis_is_stored_for_redelivery_with_a_ttl(handler, rekognition, s3, lambda_context, aws):
    key = upload(s3, image_key())
    expect_detect_faces(rekognition, key, THREE_FACES)

    handler(sqs_event(s3_notification(s3_record(key))), lambda_context)

    items = aws.client("dynamodb").scan(TableName=IDEMPOTENCY_TABLE)["Items"]
    (item,) = [i for i in items if "status" in i]  # Powertools' record; the other is the delivered marker
    assert item["status"]["S"] == "COMPLETED"
    ttl = int(item["expiration"]["N"]) - time.time()
    assert 6.9 * 24 * 3600 < ttl <= 7 * 24 * 3600
    assert len(json.loads(item["data"]["S"])["records"]) == 3


def test_versioned_object_is_analyzed_and_removed_at_the_version_the_event_names(
    handler, rekognition, s3, lambda_context
):
    s3.put_bucket_versioning(Bucket=SOURCE_BUCKET, VersioningConfiguration={"Status": "Enabled"})
    key = image_key()
    version_id = s3.put_object(Bucket=SOURCE_BUCKET, Key=key, Body=JPEG, Metadata={"captured-by": "pi-s001-entrance"})[
        "VersionId"
    ]
    expect_detect_faces(rekognition, key, THREE_FACES, version_id=version_id)

    response = handler(sqs_event(s3_notification(s3_record(key, version_id=version_id))), lambda_context)

    assert response == {"batchItemFailures": []}
    assert "Versions" not in s3.list_object_versions(Bucket=SOURCE_BUCKET)  # the version itself, no delete marker
    assert keys_in(s3, ARCHIVE_BUCKET) == [key]
    archived = s3.head_object(Bucket=ARCHIVE_BUCKET, Key=key)
    assert archived["Metadata"] == {"captured-by": "pi-s001-entrance"}  # the edge agent's metadata travels along


def test_versioned_object_in_quarantine_keeps_reason_tag_and_leaves_no_version(
    handler, rekognition, s3, lambda_context
):
    s3.put_bucket_versioning(Bucket=SOURCE_BUCKET, VersioningConfiguration={"Status": "Enabled"})
    key = image_key(device_id="pi-s999-stolen")
    version_id = s3.put_object(Bucket=SOURCE_BUCKET, Key=key, Body=JPEG)["VersionId"]

    response = handler(sqs_event(s3_notification(s3_record(key, version_id=version_id))), lambda_context)

    assert response == {"batchItemFailures": []}
    assert quarantined(s3, "unknown-device", key) == {"quarantine-reason": "unknown-device"}
    assert "Versions" not in s3.list_object_versions(Bucket=SOURCE_BUCKET)


def test_s3_test_event_is_acknowledged_and_ignored(handler, rekognition, s3, lambda_context):
    response = handler(sqs_event(json.dumps(load_event("s3_test_event.json"))), lambda_context)

    assert response == {"batchItemFailures": []}
    assert delivered_records(s3) == []


# --- idempotency ---------------------------------------------------------------------------------


def test_redelivered_image_is_not_analyzed_twice(handler, rekognition, s3, lambda_context, capsys):
    key = upload(s3, image_key())
    expect_detect_faces(rekognition, key, THREE_FACES)  # one response only: a second call would fail
    event = sqs_event(s3_notification(s3_record(key)))

    first = handler(event, lambda_context)
    second = handler(event, lambda_context)

    assert first == second == {"batchItemFailures": []}
    assert len(delivered_records(s3)) == 3
    metrics = emf_metrics(capsys.readouterr().out)
    assert metrics["ImagesAnalyzed"] == 1
    assert metrics["ImagesGone"] == 1  # the redelivery found the image archived already


def test_duplicate_events_in_one_batch_are_analyzed_and_written_once(handler, rekognition, s3, lambda_context):
    key = upload(s3, image_key())
    expect_detect_faces(rekognition, key, THREE_FACES)
    body = s3_notification(s3_record(key))

    response = handler(sqs_event(body, body), lambda_context)

    assert response == {"batchItemFailures": []}
    assert len(delivered_records(s3)) == 3


def test_redelivery_after_failed_delivery_reuses_the_analysis(
    handler, make_handler, clients, rekognition, s3, lambda_context
):
    key = upload(s3, image_key())
    expect_detect_faces(rekognition, key, THREE_FACES)  # only once, for both invocations
    event = sqs_event(s3_notification(s3_record(key)))
    firehose_down = make_handler(firehose=FlakyFirehose(clients.firehose, reject=lambda call, record: True))
    assert firehose_down(event, lambda_context) == {"batchItemFailures": [{"itemIdentifier": "m0"}]}

    assert handler(event, lambda_context) == {"batchItemFailures": []}

    records = delivered_records(s3)
    assert len(records) == 3
    assert keys_in(s3, ARCHIVE_BUCKET) == [key]


# --- records written once: the delivered marker ----------------------------------------------------


def upload_version(s3: Any, key: str, body: bytes = JPEG) -> dict[str, Any]:
    """Put into the (versioned) source bucket; the S3 event record S3 would send for this version."""
    put = s3.put_object(Bucket=SOURCE_BUCKET, Key=key, Body=body)
    return s3_record(key, version_id=put["VersionId"], etag=put["ETag"].strip('"'), size=len(body))


def versions_left(s3: Any) -> list[str]:
    listing = s3.list_object_versions(Bucket=SOURCE_BUCKET)
    return [v["VersionId"] for v in listing.get("Versions", [])] + [
        m["VersionId"] for m in listing.get("DeleteMarkers", [])
    ]


class CopyDeniedS3:
    """The real (moto) S3 client, except that CopyObject is denied while ``denying`` is true."""

    def __init__(self, real: Any) -> None:
        self.real = real
        self.denying = True

    def copy_object(self, **kwargs: Any) -> Any:
        if self.denying:
            raise ClientError({"Error": {"Code": "AccessDenied", "Message": "denied"}}, "CopyObject")
        return self.real.copy_object(**kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.real, name)


def test_same_bytes_uploaded_again_as_a_new_version_are_not_analyzed_or_written_again(
    handler, rekognition, s3, lambda_context, capsys
):
    s3.put_bucket_versioning(Bucket=SOURCE_BUCKET, VersioningConfiguration={"Status": "Enabled"})
    key = image_key()
    first = upload_version(s3, key)
    expect_detect_faces(rekognition, key, THREE_FACES, version_id=first["s3"]["object"]["versionId"])  # once only
    assert handler(sqs_event(s3_notification(first)), lambda_context) == {"batchItemFailures": []}
    ids = sorted(r["record_id"] for r in delivered_records(s3))

    # The edge agent was killed between S3's confirmation and its ledger: the same bytes again, a new version.
    second = upload_version(s3, key)
    assert second["s3"]["object"]["versionId"] != first["s3"]["object"]["versionId"]
    assert second["s3"]["object"]["eTag"] == first["s3"]["object"]["eTag"]
    response = handler(sqs_event(s3_notification(second)), lambda_context)

    assert response == {"batchItemFailures": []}
    assert sorted(r["record_id"] for r in delivered_records(s3)) == ids  # one copy of each record
    assert versions_left(s3) == []  # the second version left incoming/ as well
    assert keys_in(s3, ARCHIVE_BUCKET) == [key]
    metrics = emf_metrics(capsys.readouterr().out)
    assert metrics["ImagesAnalyzed"] == 1
    assert metrics["RecordsAlreadyDelivered"] == 3
    assert metrics["ImagesProcessed"] == 2


def test_same_bytes_uploaded_twice_in_one_batch_are_analyzed_and_written_once(
    handler, rekognition, s3, lambda_context, capsys
):
    s3.put_bucket_versioning(Bucket=SOURCE_BUCKET, VersioningConfiguration={"Status": "Enabled"})
    key = image_key()
    first, second = upload_version(s3, key), upload_version(s3, key)
    expect_detect_faces(rekognition, key, THREE_FACES, version_id=first["s3"]["object"]["versionId"])

    response = handler(sqs_event(s3_notification(first), s3_notification(second)), lambda_context)

    assert response == {"batchItemFailures": []}
    assert len(delivered_records(s3)) == 3
    assert versions_left(s3) == []
    metrics = emf_metrics(capsys.readouterr().out)
    assert (metrics["ImagesAnalyzed"], metrics["FacesDelivered"], metrics["ImagesProcessed"]) == (1, 3, 2)


def test_second_upload_in_a_batch_waits_when_the_first_ones_records_are_not_delivered(
    handler, make_handler, clients, rekognition, s3, lambda_context
):
    s3.put_bucket_versioning(Bucket=SOURCE_BUCKET, VersioningConfiguration={"Status": "Enabled"})
    key = image_key()
    first, second = upload_version(s3, key), upload_version(s3, key)
    expect_detect_faces(rekognition, key, THREE_FACES, version_id=first["s3"]["object"]["versionId"])
    firehose_down = make_handler(firehose=FlakyFirehose(clients.firehose, reject=lambda call, record: True))
    event = sqs_event(s3_notification(first), s3_notification(second))

    response = firehose_down(event, lambda_context)

    # Neither version may leave incoming/ before the records of their bytes are in.
    assert response == {"batchItemFailures": [{"itemIdentifier": "m0"}, {"itemIdentifier": "m1"}]}
    assert len(versions_left(s3)) == 2
    assert handler(event, lambda_context) == {"batchItemFailures": []}
    assert len(delivered_records(s3)) == 3
    assert versions_left(s3) == []


def test_redelivery_after_firehose_accepted_but_archiving_failed_does_not_write_records_again(
    make_handler, clients, rekognition, s3, lambda_context, capsys
):
    key = upload(s3, image_key())
    expect_detect_faces(rekognition, key, THREE_FACES)  # only once, for both invocations
    event = sqs_event(s3_notification(s3_record(key)))
    copies = CopyDeniedS3(clients.s3)
    handler = make_handler(s3=copies)
    assert handler(event, lambda_context) == {"batchItemFailures": [{"itemIdentifier": "m0"}]}
    assert len(delivered_records(s3)) == 3
    assert keys_in(s3, SOURCE_BUCKET) == [key]

    copies.denying = False
    response = handler(event, lambda_context)

    assert response == {"batchItemFailures": []}
    assert len(delivered_records(s3)) == 3
    assert keys_in(s3, SOURCE_BUCKET) == []
    assert keys_in(s3, ARCHIVE_BUCKET) == [key]
    metrics = emf_metrics(capsys.readouterr().out)
    assert metrics["RecordsAlreadyDelivered"] == 3
    assert metrics["FacesDelivered"] == 3  # all from the first invocation


def test_marker_lost_in_a_crash_is_the_only_case_that_sends_records_again(
    make_handler, clients, rekognition, s3, lambda_context, aws
):
    from shopper_analyze.delivered_markers import marker_id

    marked, crashed = upload(s3, image_key(content=b"marked")), upload(s3, image_key(content=b"crashed"))
    expect_detect_faces(rekognition, marked, THREE_FACES)
    expect_detect_faces(rekognition, crashed, THREE_FACES)
    events = [s3_record(marked), s3_record(crashed)]
    event = sqs_event(*(s3_notification(e) for e in events))
    copies = CopyDeniedS3(clients.s3)
    handler = make_handler(s3=copies)
    assert handler(event, lambda_context) == {"batchItemFailures": [{"itemIdentifier": "m0"}, {"itemIdentifier": "m1"}]}
    first = delivered_records(s3)
    first_ids = {k: sorted(r["record_id"] for r in first if r["image_key"] == k) for k in (marked, crashed)}
    # The crash window: Firehose accepted the records, the invocation died before the marker was written.
    etag = events[1]["s3"]["object"]["eTag"]
    aws.client("dynamodb").delete_item(
        TableName=IDEMPOTENCY_TABLE, Key={"id": {"S": marker_id((SOURCE_BUCKET, crashed, etag))}}
    )

    copies.denying = False
    assert handler(event, lambda_context) == {"batchItemFailures": []}

    records = delivered_records(s3)
    assert sorted(r["record_id"] for r in records if r["image_key"] == marked) == first_ids[marked]
    resent = sorted(r["record_id"] for r in records if r["image_key"] == crashed)
    assert resent == sorted(first_ids[crashed] * 2)  # sent again, with the same record ids: removable downstream
    assert keys_in(s3, ARCHIVE_BUCKET) == sorted([marked, crashed])


def test_failed_marker_write_is_reported_and_the_image_still_archived(
    handler, clients, rekognition, s3, lambda_context, capsys
):
    key = upload(s3, image_key())
    expect_detect_faces(rekognition, key, THREE_FACES)

    def refuse_markers(params: dict[str, Any], **_: Any) -> None:
        if params["Item"]["id"]["S"].startswith("delivered#"):
            raise ClientError({"Error": {"Code": "InternalServerError", "Message": "x"}}, "PutItem")

    clients.dynamodb.meta.events.register("before-parameter-build.dynamodb.PutItem", refuse_markers)

    response = handler(sqs_event(s3_notification(s3_record(key))), lambda_context)

    assert response == {"batchItemFailures": []}
    assert len(delivered_records(s3)) == 3
    assert keys_in(s3, ARCHIVE_BUCKET) == [key]
    assert emf_metrics(capsys.readouterr().out)["DeliveredMarkersFailed"] == 1


def test_image_whose_records_arrived_is_archived_even_when_its_message_fails(
    handler, make_handler, clients, rekognition, s3, lambda_context
):
    good, bad = upload(s3, image_key(content=b"good")), upload(s3, image_key(content=b"bad"))
    expect_detect_faces(rekognition, good, THREE_FACES)
    expect_detect_faces(rekognition, bad, THREE_FACES)
    event = sqs_event(s3_notification(s3_record(good), s3_record(bad)))  # one message, two images
    rejecting_bad = make_handler(firehose=FlakyFirehose(clients.firehose, reject=lambda call, r: r["image_key"] == bad))
    assert rejecting_bad(event, lambda_context) == {"batchItemFailures": [{"itemIdentifier": "m0"}]}
    assert keys_in(s3, ARCHIVE_BUCKET) == [good]

    assert handler(event, lambda_context) == {"batchItemFailures": []}

    records = delivered_records(s3)
    assert sorted(r["image_key"] for r in records) == sorted([good] * 3 + [bad] * 3)
    assert keys_in(s3, ARCHIVE_BUCKET) == sorted([good, bad])


# --- concurrency -----------------------------------------------------------------------------------


class BarrierAnalyzer:
    """Answers DetectFaces only once ``parties`` calls wait at the same time: proof they run concurrently."""

    name = "rekognition"

    def __init__(self, parties: int, faces_by_key: dict[str, int]) -> None:
        self.barrier = threading.Barrier(parties, timeout=10)
        self.faces_by_key = faces_by_key
        self.threads: set[str] = set()

    def detect_faces(self, *, bucket: str, key: str, version_id: str | None) -> list[dict[str, Any]]:
        self.threads.add(threading.current_thread().name)
        self.barrier.wait()
        return faces_response(self.faces_by_key[key])["FaceDetails"]


def test_images_of_a_batch_are_analyzed_concurrently_with_correct_logs_and_metrics(
    make_handler, s3, lambda_context, capsys
):
    keys = [upload(s3, image_key(content=str(i).encode())) for i in range(8)]
    faces = {key: i + 1 for i, key in enumerate(keys)}
    analyzer = BarrierAnalyzer(parties=4, faces_by_key=faces)
    handler = make_handler(analyzer=analyzer)
    log_to_captured_stdout()

    response = handler(sqs_event(*(s3_notification(s3_record(key)) for key in keys)), lambda_context)

    assert response == {"batchItemFailures": []}
    assert len(analyzer.threads) >= 4
    assert sorted(r["image_key"] for r in delivered_records(s3)) == sorted(k for k in keys for _ in range(faces[k]))
    output = capsys.readouterr().out
    metrics = emf_metrics(output)
    assert (metrics["ImagesReceived"], metrics["ImagesAnalyzed"], metrics["ImagesProcessed"]) == (8, 8, 8)
    assert metrics["FacesDetected"] == metrics["FacesDelivered"] == sum(faces.values())
    assert metrics["FirehoseCalls"] == 2  # the faces, the image rows
    analyzed = [e for e in log_lines(output) if e["message"] == "image analyzed"]
    # Each thread's log lines name its own image and message, never another thread's.
    assert sorted((e["image_key"], e["correlation_id"], e["faces_detected"]) for e in analyzed) == sorted(
        (key, f"m{i}", faces[key]) for i, key in enumerate(keys)
    )
    archived = [e for e in log_lines(output) if e["message"] == "image archived"]
    assert sorted((e["image_key"], e["correlation_id"]) for e in archived) == sorted(
        (key, f"m{i}") for i, key in enumerate(keys)
    )


def test_one_analysis_thread_processes_the_batch_too(make_handler, settings, s3, lambda_context):
    keys = [upload(s3, image_key(content=str(i).encode())) for i in range(3)]
    analyzer = BarrierAnalyzer(parties=1, faces_by_key=dict.fromkeys(keys, 2))
    handler = make_handler(settings=replace(settings, analyze_threads=1), analyzer=analyzer)

    response = handler(sqs_event(*(s3_notification(s3_record(key)) for key in keys)), lambda_context)

    assert response == {"batchItemFailures": []}
    assert analyzer.threads == {"analyze_0"}
    assert len(delivered_records(s3)) == 6


# --- Firehose failures ---------------------------------------------------------------------------


def test_firehose_partial_failure_is_retried_until_every_record_is_in(
    make_handler, clients, rekognition, s3, lambda_context, capsys
):
    key = upload(s3, image_key())
    expect_detect_faces(rekognition, key, THREE_FACES)
    # First call: faces 0 and 2 rejected; second call: face 2 rejected again; third: accepted.
    rejected = {0: {0, 2}, 1: {2}}
    flaky = FlakyFirehose(
        clients.firehose, reject=lambda call, r: "face_index" in r and r["face_index"] in rejected.get(call, set())
    )
    handler = make_handler(firehose=flaky)

    response = handler(sqs_event(s3_notification(s3_record(key))), lambda_context)

    assert response == {"batchItemFailures": []}
    assert sorted(r["face_index"] for r in delivered_records(s3)) == [0, 1, 2]  # each exactly once
    assert flaky.calls == 4  # three for the faces, one for the image row
    assert keys_in(s3, ARCHIVE_BUCKET) == [key]
    assert emf_metrics(capsys.readouterr().out)["FirehoseRecordsRetried"] == 3


def test_firehose_failing_every_retry_fails_that_message_and_keeps_its_image(
    make_handler, clients, rekognition, s3, lambda_context
):
    good = upload(s3, image_key(content=b"good"))
    bad = upload(s3, image_key(content=b"bad"))
    expect_detect_faces(rekognition, good, THREE_FACES)
    expect_detect_faces(rekognition, bad, THREE_FACES)
    flaky = FlakyFirehose(clients.firehose, reject=lambda call, record: record["image_key"] == bad)
    handler = make_handler(firehose=flaky)

    response = handler(sqs_event(s3_notification(s3_record(good)), s3_notification(s3_record(bad))), lambda_context)

    assert response == {"batchItemFailures": [{"itemIdentifier": "m1"}]}
    assert keys_in(s3, SOURCE_BUCKET) == [bad]
    assert keys_in(s3, ARCHIVE_BUCKET) == [good]
    assert {r["image_key"] for r in delivered_records(s3)} == {good}
    assert {r["image_key"] for r in delivered_image_rows(s3)} == {good}
    assert flaky.calls == 8  # on each stream, the first attempt and three retries


def test_archive_failure_fails_the_message_and_keeps_the_image(make_handler, clients, rekognition, s3, lambda_context):
    key = upload(s3, image_key())
    expect_detect_faces(rekognition, key, THREE_FACES)
    handler = make_handler(s3=CopyDeniedS3(clients.s3))

    response = handler(sqs_event(s3_notification(s3_record(key))), lambda_context)

    assert response == {"batchItemFailures": [{"itemIdentifier": "m0"}]}
    assert keys_in(s3, SOURCE_BUCKET) == [key]


# --- quarantine ----------------------------------------------------------------------------------


def test_corrupt_jpeg_is_quarantined_as_invalid_image_format(handler, rekognition, s3, lambda_context, capsys):
    key = upload(s3, image_key(), body=b"\xff\xd8\xff\xe0\x00\x10JFIF" + b"\x00" * 64)  # truncated
    expect_detect_faces_error(rekognition, key, "InvalidImageFormatException")

    response = handler(sqs_event(s3_notification(s3_record(key))), lambda_context)

    assert response == {"batchItemFailures": []}
    assert quarantined(s3, "invalid-image-format", key) == {"quarantine-reason": "invalid-image-format"}
    assert keys_in(s3, SOURCE_BUCKET) == []
    assert delivered_records(s3) == []
    assert emf_metrics(capsys.readouterr().out)["ImagesQuarantined"] == 1


def test_zero_byte_object_is_quarantined_without_calling_rekognition(handler, rekognition, s3, lambda_context):
    key = upload(s3, image_key(), body=b"")

    response = handler(sqs_event(s3_notification(s3_record(key, size=0))), lambda_context)

    assert response == {"batchItemFailures": []}
    assert quarantined(s3, "invalid-image-format", key)
    assert keys_in(s3, SOURCE_BUCKET) == []


def test_over_size_image_is_quarantined_without_calling_rekognition(handler, rekognition, s3, lambda_context):
    size = 15 * 1024 * 1024 + 1  # Rekognition's limit for an image in S3 is 15 MB
    key = upload(s3, image_key(), body=JPEG[:4] + b"\x00" * (size - 4))

    response = handler(sqs_event(s3_notification(s3_record(key, size=size))), lambda_context)

    assert response == {"batchItemFailures": []}
    assert quarantined(s3, "image-too-large", key)


def test_image_rekognition_finds_too_large_is_quarantined(handler, rekognition, s3, lambda_context):
    key = upload(s3, image_key())
    expect_detect_faces_error(rekognition, key, "ImageTooLargeException")

    handler(sqs_event(s3_notification(s3_record(key))), lambda_context)

    assert quarantined(s3, "image-too-large", key)


def test_png_under_a_layout_key_is_analyzed_because_rekognition_reads_png(handler, rekognition, s3, lambda_context):
    # DetectFaces accepts JPEG and PNG; the content type is Rekognition's call,
    # the image is never downloaded to sniff it.
    key = upload(s3, image_key(), body=PNG)
    expect_detect_faces(rekognition, key, THREE_FACES)

    response = handler(sqs_event(s3_notification(s3_record(key))), lambda_context)

    assert response == {"batchItemFailures": []}
    assert len(delivered_records(s3)) == 3


@pytest.mark.parametrize(
    "key",
    [
        pytest.param("incoming/pi-s001-entrance/2026/03/14/20260314T092653412Z-3f9a1c2be4d7.png", id="png-key"),
        pytest.param("incoming/caméra-1/2026/03/14/20260314T092653412Z-3f9a1c2be4d7.jpg", id="unicode-key"),
        pytest.param("incoming/pi s001 entrance/2026/03/14/20260314T092653412Z-3f9a1c2be4d7.jpg", id="spaces"),
        pytest.param("incoming/pi-s001-entrance/2026/03/15/20260314T092653412Z-3f9a1c2be4d7.jpg", id="date-folder"),
        pytest.param("incoming/pi-s001-entrance/snapshot+1 (copy).jpg", id="plus-and-parentheses"),
    ],
)
def test_key_not_in_layout_is_decoded_and_quarantined(handler, rekognition, s3, lambda_context, capsys, key):
    upload(s3, key)

    response = handler(sqs_event(s3_notification(s3_record(key))), lambda_context)

    assert response == {"batchItemFailures": []}
    assert quarantined(s3, "key-not-in-layout", key) == {"quarantine-reason": "key-not-in-layout"}
    assert keys_in(s3, SOURCE_BUCKET) == []
    blobs = [line for line in capsys.readouterr().out.splitlines() if '"ImagesQuarantined"' in line]
    assert len(blobs) == 1 and '"reason":"key-not-in-layout"' in blobs[0]


def test_unknown_device_is_quarantined(handler, rekognition, s3, lambda_context):
    key = upload(s3, image_key(device_id="pi-s999-stolen"))

    response = handler(sqs_event(s3_notification(s3_record(key))), lambda_context)

    assert response == {"batchItemFailures": []}
    assert quarantined(s3, "unknown-device", key)


def test_still_of_an_unregistered_camera_is_quarantined_and_never_analyzed(handler, rekognition, s3, lambda_context):
    # pi-s002-aisle-3 has the cameras aisle-3 and door; a third folder on the Pi is not in the config.
    key = upload(s3, image_key(device_id="pi-s002-aisle-3", camera_id="stockroom"))

    response = handler(sqs_event(s3_notification(s3_record(key))), lambda_context)

    assert response == {"batchItemFailures": []}
    assert quarantined(s3, "unknown-camera", key) == {"quarantine-reason": "unknown-camera"}
    assert delivered_records(s3) == []


def test_each_camera_of_a_multi_camera_device_gets_its_own_zone(handler, rekognition, s3, lambda_context):
    aisle = upload(s3, image_key(device_id="pi-s002-aisle-3", camera_id="aisle-3", content=b"a"))
    door = upload(s3, image_key(device_id="pi-s002-aisle-3", camera_id="door", content=b"d"))
    expect_detect_faces(rekognition, aisle, THREE_FACES)
    expect_detect_faces(rekognition, door, THREE_FACES)

    response = handler(sqs_event(s3_notification(s3_record(aisle)), s3_notification(s3_record(door))), lambda_context)

    assert response == {"batchItemFailures": []}
    assert {(r["camera_id"], r["zone"]) for r in delivered_records(s3)} == {
        ("aisle-3", "grocery"),
        ("door", "entrance"),
    }


def test_object_already_gone_is_acknowledged_and_counted(handler, rekognition, s3, lambda_context, capsys):
    key = image_key()  # never uploaded (or deleted before the event was handled)

    response = handler(sqs_event(s3_notification(s3_record(key))), lambda_context)

    assert response == {"batchItemFailures": []}
    assert keys_in(s3, ARCHIVE_BUCKET) == []
    assert emf_metrics(capsys.readouterr().out)["ImagesGone"] == 1


def test_object_outside_incoming_is_left_alone(handler, rekognition, s3, lambda_context):
    s3.put_object(Bucket=SOURCE_BUCKET, Key="other/readme.txt", Body=b"x")

    response = handler(sqs_event(s3_notification(s3_record("other/readme.txt"))), lambda_context)

    assert response == {"batchItemFailures": []}
    assert keys_in(s3, SOURCE_BUCKET) == ["other/readme.txt"]


# --- transient errors are retried, never quarantined ---------------------------------------------


@pytest.mark.parametrize(
    ("code", "status"),
    [("ThrottlingException", 400), ("ProvisionedThroughputExceededException", 400), ("InternalServerError", 500)],
)
def test_transient_rekognition_error_fails_only_that_message(handler, rekognition, s3, lambda_context, code, status):
    throttled = upload(s3, image_key(content=b"throttled"))
    fine = upload(s3, image_key(content=b"fine"))
    expect_detect_faces_error(rekognition, throttled, code, status)
    expect_detect_faces(rekognition, fine, THREE_FACES)
    event = sqs_event(s3_notification(s3_record(throttled)), s3_notification(s3_record(fine)))

    assert handler(event, lambda_context) == {"batchItemFailures": [{"itemIdentifier": "m0"}]}
    assert keys_in(s3, SOURCE_BUCKET) == [throttled]
    assert keys_in(s3, ARCHIVE_BUCKET) == [fine]

    # The failed attempt left no idempotency record behind: the retry analyzes.
    expect_detect_faces(rekognition, throttled, NO_FACES)
    retry = sqs_event(s3_notification(s3_record(throttled)))
    assert handler(retry, lambda_context) == {"batchItemFailures": []}
    assert keys_in(s3, ARCHIVE_BUCKET) == sorted([fine, throttled])


def test_unreadable_object_that_exists_is_retried_not_quarantined(handler, rekognition, s3, lambda_context):
    key = upload(s3, image_key())
    expect_detect_faces_error(rekognition, key, "InvalidS3ObjectException")  # e.g. a KMS key Rekognition cannot use

    response = handler(sqs_event(s3_notification(s3_record(key))), lambda_context)

    assert response == {"batchItemFailures": [{"itemIdentifier": "m0"}]}
    assert keys_in(s3, SOURCE_BUCKET) == [key]
    assert keys_in(s3, ARCHIVE_BUCKET) == []


def test_malformed_message_fails_alone(handler, rekognition, s3, lambda_context):
    key = upload(s3, image_key())
    expect_detect_faces(rekognition, key, NO_FACES)

    response = handler(sqs_event("not json", s3_notification(s3_record(key))), lambda_context)

    assert response == {"batchItemFailures": [{"itemIdentifier": "m0"}]}
    assert keys_in(s3, ARCHIVE_BUCKET) == [key]


def test_messages_reached_too_close_to_the_timeout_go_back_to_sqs(handler, rekognition, s3, lambda_context):
    key = upload(s3, image_key())

    response = handler(sqs_event(s3_notification(s3_record(key))), FakeLambdaContext(remaining_ms=5_000))

    assert response == {"batchItemFailures": [{"itemIdentifier": "m0"}]}
    assert keys_in(s3, SOURCE_BUCKET) == [key]


# --- logs and configuration ----------------------------------------------------------------------


def test_logs_carry_key_counts_and_timings_never_face_attributes(handler, rekognition, s3, lambda_context, capsys):
    key = upload(s3, image_key())
    expect_detect_faces(rekognition, key, THREE_FACES)
    log_to_captured_stdout()

    handler(sqs_event(s3_notification(s3_record(key))), lambda_context)

    entries = log_lines(capsys.readouterr().out)
    analyzed = next(e for e in entries if e["message"] == "image analyzed")
    assert analyzed["image_key"] == key
    assert analyzed["correlation_id"] == "m0"
    assert (analyzed["faces_detected"], analyzed["faces_kept"]) == (3, 3)
    assert isinstance(analyzed["analyzer_ms"], int)
    logs = "\n".join(json.dumps(entry) for entry in entries)
    for face_data in ("Female", "Male", "happy", "HAPPY", "emotion", "gender", "age_low", "AgeRange", "99.87", "JFIF"):
        assert face_data not in logs


def test_handler_refuses_to_start_without_its_firehose_stream(aws, monkeypatch):
    monkeypatch.delenv("FIREHOSE_STREAM_NAME")
    with pytest.raises(Exception, match="FIREHOSE_STREAM_NAME"):
        load_handler_module()


def test_handler_refuses_to_start_with_a_broken_device_registry_file(aws, monkeypatch, tmp_path):
    broken = tmp_path / "broken.json"
    broken.write_text('{"pi-1": {"store_id": "s"}}')
    monkeypatch.setenv("DEVICE_REGISTRY_FILE", str(broken))
    with pytest.raises(Exception, match="DEVICE_REGISTRY_FILE="):
        load_handler_module()


def test_floors_are_read_from_the_environment_at_cold_start(aws, monkeypatch):
    monkeypatch.setenv("MIN_DETECTION_CONFIDENCE", "97.5")
    monkeypatch.setenv("MIN_SHARPNESS", "12")

    app = load_handler_module()

    assert (app.SETTINGS.min_detection_confidence, app.SETTINGS.min_sharpness) == (97.5, 12.0)
