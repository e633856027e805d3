"""Phase 2: deliver, mark, archive; which messages fail (in-memory Firehose, S3 and DynamoDB)."""

from __future__ import annotations

import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from botocore.exceptions import ClientError
from shopper_analyze.delivered_markers import marker_id
from shopper_analyze.metric_tally import MetricTally
from shopper_analyze.s3_events import S3ObjectRef
from shopper_analyze.settlement import ContentNotDeliveredError, FirehoseDeliveryError, Settlement
from shopper_analyze.staging import Invocation
from shopper_analyze.triage import StagedImage

from tests.lambdas.local_aws import ARCHIVE_BUCKET, IDEMPOTENCY_TABLE, SOURCE_BUCKET, image_key, sqs_event

TTL = 3600


class Journal:
    """What the fakes were asked to do, in order, across threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.entries: list[tuple[str, str]] = []

    def add(self, action: str, subject: str) -> None:
        with self._lock:
            self.entries.append((action, subject))

    def of(self, action: str) -> list[str]:
        return [subject for a, subject in self.entries if a == action]


class FakeFirehose:
    """Both streams; refuses (on every attempt) the face records of ``rejecting`` and the rows of ``rejecting_rows``.

    Journals a face record as "put" and an image row as "row".
    """

    def __init__(
        self, journal: Journal, rejecting: frozenset[str] = frozenset(), rejecting_rows: frozenset[str] = frozenset()
    ) -> None:
        self.journal = journal
        self.refused = {"faces": rejecting, "images": rejecting_rows}
        self.calls = 0

    def put_record_batch(self, *, DeliveryStreamName: str, Records: list[dict[str, bytes]]) -> dict[str, Any]:
        self.calls += 1
        refused = self.refused[DeliveryStreamName]
        keys = [json.loads(record["Data"])["image_key"] for record in Records]
        entries = []
        for key in keys:
            if key in refused:
                entries.append({"ErrorCode": "ServiceUnavailableException", "ErrorMessage": "Slow down."})
            else:
                self.journal.add("put" if DeliveryStreamName == "faces" else "row", key)
                entries.append({"RecordId": "r"})
        return {"FailedPutCount": sum(k in refused for k in keys), "RequestResponses": entries}


class FakeS3:
    """CopyObject and DeleteObject of move_object; copies of the keys in ``denying`` are refused."""

    def __init__(self, journal: Journal, denying: frozenset[str] = frozenset()) -> None:
        self.journal = journal
        self.denying = denying

    def copy_object(self, *, CopySource: dict[str, str], Bucket: str, Key: str, **_: Any) -> dict[str, Any]:
        assert Bucket == ARCHIVE_BUCKET
        if CopySource["Key"] in self.denying:
            raise ClientError({"Error": {"Code": "AccessDenied", "Message": "denied"}}, "CopyObject")
        self.journal.add("archive", CopySource["Key"])
        return {}

    def delete_object(self, *, Bucket: str, Key: str, **_: Any) -> dict[str, Any]:
        self.journal.add("delete", Key)
        return {}


class FakeDynamoDB:
    """PutItem of the delivered markers; refuses every put when ``failing``."""

    def __init__(self, journal: Journal, *, failing: bool = False) -> None:
        self.journal = journal
        self.failing = failing
        self.items: dict[str, dict[str, Any]] = {}

    def put_item(self, *, TableName: str, Item: dict[str, Any]) -> dict[str, Any]:
        assert TableName == IDEMPOTENCY_TABLE
        if self.failing:
            raise ClientError({"Error": {"Code": "InternalServerError", "Message": "x"}}, "PutItem")
        self.items[Item["id"]["S"]] = Item
        self.journal.add("mark", Item["id"]["S"])
        return {}


def image(
    message_id: str,
    key: str,
    *,
    faces: int = 2,
    etag: str | None = None,
    version_id: str | None = None,
    delivered_before: int | None = None,
    same_content_as_earlier: bool = False,
    row: bool = False,
) -> StagedImage:
    etag = etag or f"etag-{key}"
    return StagedImage(
        message_id=message_id,
        source=S3ObjectRef(bucket=SOURCE_BUCKET, key=key, version_id=version_id, etag=etag, size=1),
        version_id=version_id,
        identity=(SOURCE_BUCKET, key, etag),
        blobs=[json.dumps({"image_key": key, "face_index": i}).encode() + b"\n" for i in range(faces)],
        image_blob=json.dumps({"image_key": key, "faces_kept": faces}).encode() + b"\n" if row else None,
        delivered_before=delivered_before,
        same_content_as_earlier=same_content_as_earlier,
    )


def invocation_of(*images: StagedImage) -> Invocation:
    """The committed messages of these images (in order of first mention) and the images."""
    (template,) = sqs_event("{}")["Records"]
    invocation = Invocation(images=list(images))
    for message_id in dict.fromkeys(i.message_id for i in images):
        invocation.messages[message_id] = SQSRecord({**template, "messageId": message_id})
    return invocation


class FakeAws:
    """Firehose, S3 and DynamoDB in memory, writing one journal; a Settlement on them."""

    def __init__(
        self,
        *,
        rejecting: frozenset[str] = frozenset(),
        rejecting_rows: frozenset[str] = frozenset(),
        denying: frozenset[str] = frozenset(),
        markers_failing: bool = False,
    ) -> None:
        self.journal = Journal()
        self.firehose = FakeFirehose(self.journal, rejecting, rejecting_rows)
        self.s3 = FakeS3(self.journal, denying)
        self.dynamodb = FakeDynamoDB(self.journal, failing=markers_failing)
        self.tally = MetricTally()

    def settle(self, logger: Any, *images: StagedImage) -> dict[str, Exception]:
        """Settle one invocation of these images; the failed messages, by id."""
        settlement = Settlement(
            s3=self.s3,
            firehose=self.firehose,
            dynamodb=self.dynamodb,
            stream_name="faces",
            images_stream_name="images",
            archive_bucket=ARCHIVE_BUCKET,
            idempotency_table=IDEMPOTENCY_TABLE,
            marker_ttl_seconds=TTL,
            logger=logger,
            retry_sleep=lambda seconds: None,
        )
        with ThreadPoolExecutor(max_workers=4) as pool:
            failed = settlement.settle(invocation_of(*images), pool, self.tally)
        return {message.message_id: exc for message, exc in failed}

    def counts(self) -> dict[str, float]:
        return self.tally.drain().counts


def test_only_the_message_whose_records_firehose_rejected_fails_and_the_others_are_archived(logger):
    good, bad = image_key(content=b"good"), image_key(content=b"bad")
    aws = FakeAws(rejecting=frozenset({bad}))

    failed = aws.settle(logger, image("m0", good), image("m1", bad))

    assert list(failed) == ["m1"]
    assert isinstance(failed["m1"], FirehoseDeliveryError)
    assert aws.journal.of("archive") == [good]
    assert aws.journal.of("mark") == [marker_id((SOURCE_BUCKET, good, f"etag-{good}"))]
    assert aws.firehose.calls == 4  # the first attempt and three retries


def test_image_whose_records_arrived_is_archived_although_another_image_of_its_message_failed(logger):
    good, bad = image_key(content=b"good"), image_key(content=b"bad")
    aws = FakeAws(rejecting=frozenset({bad}))

    failed = aws.settle(logger, image("m0", good), image("m0", bad))

    assert list(failed) == ["m0"]
    assert aws.journal.of("archive") == [good]


def test_every_marker_is_written_before_the_first_archive_move(logger):
    keys = [image_key(content=str(i).encode()) for i in range(6)]
    aws = FakeAws()

    failed = aws.settle(logger, *(image(f"m{i}", k) for i, k in enumerate(keys)))

    assert failed == {}
    actions = [action for action, _ in aws.journal.entries if action in ("mark", "archive")]
    assert actions == ["mark"] * 6 + ["archive"] * 6
    assert sorted(aws.journal.of("archive")) == sorted(keys)


def test_marker_records_the_delivered_count_and_expires_with_the_stored_analyses(logger):
    aws = FakeAws()
    before = int(time.time())

    aws.settle(logger, image("m0", image_key(), faces=3))

    (item,) = aws.dynamodb.items.values()
    assert item["delivered_records"] == {"N": "3"}
    assert before + TTL <= int(item["expiration"]["N"]) <= int(time.time()) + TTL


def test_same_content_twice_in_a_batch_is_sent_once_and_both_uploads_archived(logger):
    key = image_key()
    aws = FakeAws()
    first = image("m0", key, etag="same", version_id="v1")
    second = image("m1", key, etag="same", version_id="v2", same_content_as_earlier=True)

    failed = aws.settle(logger, first, second)

    assert failed == {}
    assert aws.journal.of("put") == [key, key]  # the two faces of the first upload only
    assert aws.journal.of("delete") == [key, key]  # both versions left incoming/
    assert aws.counts()["ImagesProcessed"] == 2


def test_second_upload_of_undelivered_content_stays_with_its_own_message_failed(logger):
    key = image_key()
    aws = FakeAws(rejecting=frozenset({key}))
    first = image("m0", key, etag="same", version_id="v1")
    second = image("m1", key, etag="same", version_id="v2", same_content_as_earlier=True)

    failed = aws.settle(logger, first, second)

    assert isinstance(failed["m0"], FirehoseDeliveryError)
    assert isinstance(failed["m1"], ContentNotDeliveredError)
    assert aws.journal.of("archive") == []


def test_content_delivered_before_is_archived_without_sending_or_marking_again(logger):
    key = image_key()
    aws = FakeAws()

    failed = aws.settle(logger, image("m0", key, faces=0, delivered_before=3))

    assert failed == {}
    assert (aws.firehose.calls, aws.journal.of("mark"), aws.journal.of("archive")) == (0, [], [key])
    counts = aws.counts()
    assert counts["RecordsAlreadyDelivered"] == 3
    assert "ImagesWithoutFaces" not in counts


def test_failed_archive_move_fails_only_its_message(logger):
    stuck, fine = image_key(content=b"stuck"), image_key(content=b"fine")
    aws = FakeAws(denying=frozenset({stuck}))

    failed = aws.settle(logger, image("m0", stuck), image("m1", fine))

    assert list(failed) == ["m0"]
    assert isinstance(failed["m0"], ClientError)
    assert aws.journal.of("archive") == [fine]
    assert len(aws.journal.of("mark")) == 2  # the records of both are in: a retry must not send them again


def test_failed_marker_write_is_counted_and_the_image_still_archived(logger):
    key = image_key()
    aws = FakeAws(markers_failing=True)

    failed = aws.settle(logger, image("m0", key))

    assert failed == {}
    assert aws.journal.of("archive") == [key]
    assert aws.counts()["DeliveredMarkersFailed"] == 1


def test_image_without_faces_is_archived_unmarked_and_counted(logger):
    key = image_key()
    aws = FakeAws()

    failed = aws.settle(logger, image("m0", key, faces=0))

    assert failed == {}
    assert (aws.firehose.calls, aws.journal.of("mark"), aws.journal.of("archive")) == (0, [], [key])
    assert aws.counts()["ImagesWithoutFaces"] == 1


def test_image_rows_go_to_the_images_stream_and_a_refused_row_fails_only_its_image(logger):
    good, bad, empty = image_key(content=b"good"), image_key(content=b"bad"), image_key(content=b"empty")
    aws = FakeAws(rejecting_rows=frozenset({bad}))

    failed = aws.settle(
        logger, image("m0", good, row=True), image("m1", bad, row=True), image("m2", empty, faces=0, row=True)
    )

    # The faces of the image whose row was refused went in; its message fails, so it stays in
    # incoming/ and its redelivery sends both again (same ids: the queries remove the repeat).
    assert list(failed) == ["m1"]
    assert isinstance(failed["m1"], FirehoseDeliveryError)
    assert sorted(aws.journal.of("row")) == sorted([good, empty])
    assert sorted(aws.journal.of("archive")) == sorted([good, empty])
    assert aws.counts()["ImageRowsDelivered"] == 2
