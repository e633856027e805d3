"""Two messages that used to end in the dead-letter queue: a redelivery S3 answers with 403, an image
DetectFaces refuses as an invalid parameter (moto S3/DynamoDB/Firehose, Rekognition through the Stubber)."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from tests.lambdas.local_aws import (
    ARCHIVE_BUCKET,
    SOURCE_BUCKET,
    delivered_records,
    emf_metrics,
    image_key,
    keys_in,
    load_event,
    s3_notification,
    s3_record,
    sqs_event,
)
from tests.lambdas.test_handler import expect_detect_faces, expect_detect_faces_error, quarantined, upload

THREE_FACES = load_event("detect_faces_three_faces.json")


class S3WithoutListBucket:
    """The moto S3 client as the function's role sees S3: no s3:ListBucket, so a missing key is 403, not 404.

    S3 answers HEAD (and GET) of a key that does not exist with 403 Forbidden
    to a caller that may not list the bucket (HeadObject in the S3 API reference).
    """

    def __init__(self, real: Any) -> None:
        self._real = real
        self.forbidden: list[tuple[str, str]] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)

    def head_object(self, **kwargs: Any) -> dict[str, Any]:
        try:
            return self._real.head_object(**kwargs)
        except ClientError as exc:
            if exc.response["ResponseMetadata"]["HTTPStatusCode"] != 404:
                raise
            self.forbidden.append((kwargs["Bucket"], kwargs["Key"]))
            raise ClientError(
                {"Error": {"Code": "403", "Message": "Forbidden"}, "ResponseMetadata": {"HTTPStatusCode": 403}},
                "HeadObject",
            ) from None


def test_redelivery_of_an_archived_image_answered_with_403_is_acknowledged(
    make_handler, clients, rekognition, s3, lambda_context, capsys
):
    role_s3 = S3WithoutListBucket(clients.s3)
    handler = make_handler(s3=role_s3)
    key = upload(s3, image_key())
    expect_detect_faces(rekognition, key, THREE_FACES)
    event = sqs_event(s3_notification(s3_record(key)))
    assert handler(event, lambda_context) == {"batchItemFailures": []}
    assert keys_in(s3, ARCHIVE_BUCKET) == [key]
    capsys.readouterr()

    # SQS delivers the same message again (at-least-once): the image is in the archive now.
    assert handler(event, lambda_context) == {"batchItemFailures": []}

    assert (SOURCE_BUCKET, key) in role_s3.forbidden
    assert keys_in(s3, ARCHIVE_BUCKET) == [key]
    assert len(delivered_records(s3)) == 3  # nothing sent twice
    assert emf_metrics(capsys.readouterr().out)["ImagesGone"] == 1


def test_redelivery_of_a_quarantined_image_answered_with_403_is_acknowledged(
    make_handler, clients, rekognition, s3, lambda_context
):
    handler = make_handler(s3=S3WithoutListBucket(clients.s3))
    key = upload(s3, image_key())
    expect_detect_faces_error(rekognition, key, "InvalidImageFormatException")
    event = sqs_event(s3_notification(s3_record(key)))
    assert handler(event, lambda_context) == {"batchItemFailures": []}

    assert handler(event, lambda_context) == {"batchItemFailures": []}
    assert quarantined(s3, "invalid-image-format", key)


def test_403_for_an_image_that_was_never_settled_still_fails_its_message(
    make_handler, clients, rekognition, s3, lambda_context
):
    # Not in incoming/, not in the archive: a refusal the function cannot explain (the role, a bucket policy).
    handler = make_handler(s3=S3WithoutListBucket(clients.s3))
    key = image_key()

    response = handler(sqs_event(s3_notification(s3_record(key))), lambda_context)

    assert response == {"batchItemFailures": [{"itemIdentifier": "m0"}]}


def test_image_detect_faces_refuses_as_invalid_parameter_is_quarantined_not_retried(
    handler, rekognition, s3, lambda_context, capsys
):
    # DetectFaces refuses an image under 80 px on a side with InvalidParameterException.
    key = upload(s3, image_key())
    expect_detect_faces_error(rekognition, key, "InvalidParameterException")

    response = handler(sqs_event(s3_notification(s3_record(key))), lambda_context)

    assert response == {"batchItemFailures": []}
    assert quarantined(s3, "invalid-parameter", key) == {"quarantine-reason": "invalid-parameter"}
    assert keys_in(s3, SOURCE_BUCKET) == []
    assert emf_metrics(capsys.readouterr().out)["ImagesQuarantined"] == 1
