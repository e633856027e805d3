"""local/event_source.py: Lambda's SQS event source with partial batch failures, locally."""

from __future__ import annotations

import boto3
from moto import mock_aws

from local.event_source import drain_queue


def test_drain_deletes_what_succeeded_keeps_what_failed_and_batches_up_to_the_size():
    seen: list[list[str]] = []

    def handler(event, context):
        bodies = [record["body"] for record in event["Records"]]
        seen.append(bodies)
        assert context.get_remaining_time_in_millis() > 0
        failed = [r["messageId"] for r in event["Records"] if r["body"] == "poison"]
        return {"batchItemFailures": [{"itemIdentifier": message_id} for message_id in failed]}

    with mock_aws():
        sqs = boto3.client("sqs", region_name="us-east-1")
        url = sqs.create_queue(QueueName="incoming", Attributes={"VisibilityTimeout": "2"})["QueueUrl"]
        for index in range(24):
            sqs.send_message(QueueUrl=url, MessageBody=f"image-{index}")
        sqs.send_message(QueueUrl=url, MessageBody="poison")

        report = drain_queue(
            handler, sqs, url, batch_size=12, idle_polls=1, progress=lambda line: None, max_invocations=6
        )

        # The failed message comes back once its visibility timeout has passed.
        left = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=3)["Messages"]

    assert all(len(batch) <= 12 for batch in seen)
    delivered = sorted(b for batch in seen for b in batch if b != "poison")
    assert delivered == sorted(f"image-{i}" for i in range(24))  # each exactly once
    assert report.messages == 24
    assert report.message_failures == 1
    assert [m["Body"] for m in left] == ["poison"]
