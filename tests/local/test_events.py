"""local/events.py: S3 notifications and SQS events as the services build them."""

from __future__ import annotations

import sys
from pathlib import Path

from local.events import s3_notification, s3_record, sqs_event, sqs_event_from

LAMBDA_DIR = Path(__file__).resolve().parents[2] / "lambdas" / "analyze_image"
if str(LAMBDA_DIR) not in sys.path:
    sys.path.append(str(LAMBDA_DIR))

from shopper_analyze.s3_events import s3_objects_from  # noqa: E402 - the function's deployed import root

KEY = "incoming/pi-1/2026/03/14/20260314T092653412Z-0123456789ab.jpg"


def test_the_function_reads_the_s3_events_built_here_as_s3_sends_them():
    key_with_space = "incoming/pi-1/odd name+plus.jpg"
    body = s3_notification(
        s3_record(KEY, bucket="b", version_id="v1", etag="e1"), s3_record(key_with_space, bucket="b")
    )
    first, second = s3_objects_from(body)
    assert (first.bucket, first.key, first.version_id, first.etag) == ("b", KEY, "v1", "e1")
    assert second.key == key_with_space  # form-encoded on the wire, decoded by the function


def test_sqs_events_carry_one_record_per_message_with_lambdas_attributes():
    event = sqs_event("a", "b")
    assert [r["messageId"] for r in event["Records"]] == ["m0", "m1"]
    assert all(
        r["eventSource"] == "aws:sqs" and r["attributes"]["ApproximateReceiveCount"] == "1" for r in event["Records"]
    )
    received = [{"MessageId": "x", "ReceiptHandle": "h", "Body": "a", "Attributes": {"ApproximateReceiveCount": "3"}}]
    (record,) = sqs_event_from(received, queue_arn="arn:aws:sqs:eu-west-1:123456789012:q")["Records"]
    assert (record["receiptHandle"], record["attributes"]["ApproximateReceiveCount"], record["awsRegion"]) == (
        "h",
        "3",
        "eu-west-1",
    )
