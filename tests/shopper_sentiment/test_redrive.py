"""``shopper-sentiment redrive`` and ``reprocess-quarantine`` end to end against moto.

moto has no StartMessageMoveTask: the move-task method is tested with botocore's Stubber (validated against
the SQS model); the copy method and reprocess-quarantine run against moto's SQS and S3.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber
from moto import mock_aws

from shopper_sentiment.cli import main
from shopper_sentiment.commands.redrive import Queues, redrive
from shopper_sentiment.contracts import outputs
from shopper_sentiment.contracts.identifiers import stack_name
from shopper_sentiment.contracts.layout import image_key, quarantine_key
from tests.shopper_sentiment.deployed import publish_outputs

REGION = "eu-west-1"
SOURCE, ARCHIVE = "redrive-source", "redrive-archive"
CONFIG = """
[deployments.shop]
region = "eu-west-1"
rekognition_tps = 5

[deployments.shop.stores.berlin]
timezone = "Europe/Berlin"

[deployments.shop.stores.berlin.devices]
pi-door = { camera_id = "door", zone = "entrance" }
"""


@pytest.fixture
def config_file(tmp_path: Path) -> Path:
    path = tmp_path / "deployments.toml"
    path.write_text(CONFIG, encoding="utf-8")
    return path


@pytest.fixture
def account(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    for name, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}.items():
        monkeypatch.setenv(name, value)
    with mock_aws():
        session = boto3.Session(region_name=REGION)
        sqs = session.client("sqs")
        dead = sqs.create_queue(QueueName="incoming-dlq")["QueueUrl"]
        incoming = sqs.create_queue(QueueName="incoming")["QueueUrl"]
        s3 = session.client("s3")
        for bucket in (SOURCE, ARCHIVE):
            s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": REGION})
            s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
        publish_outputs(
            session,
            "shop",
            {
                outputs.SOURCE_BUCKET: SOURCE,
                outputs.ARCHIVE_BUCKET: ARCHIVE,
                outputs.INCOMING_QUEUE_URL: incoming,
                outputs.DEAD_LETTER_QUEUE_URL: dead,
            },
        )
        yield {"sqs": sqs, "s3": s3, "incoming": incoming, "dead": dead}


def s3_event(key: str) -> str:
    return json.dumps({"Records": [{"eventName": "ObjectCreated:Put", "s3": {"object": {"key": key}}}]})


def drain(sqs: Any, url: str) -> list[str]:
    bodies = []
    while messages := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", []):
        for message in messages:
            bodies.append(message["Body"])
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    return bodies


def cli(command: str, *args: str, config: Path) -> int:
    return main([command, "--config", str(config), "--deployment", "shop", *args])


def test_redrive_dry_run_counts_and_moves_nothing(account, config_file, capsys):
    for n in range(3):
        account["sqs"].send_message(QueueUrl=account["dead"], MessageBody=s3_event(f"incoming/k{n}"))

    assert cli("redrive", "--dry-run", config=config_file) == 0

    assert "would move 3 messages" in capsys.readouterr().out
    assert drain(account["sqs"], account["incoming"]) == []
    assert len(drain(account["sqs"], account["dead"])) == 3


def test_redrive_by_copy_moves_every_message_back_once(account, config_file, capsys):
    bodies = [s3_event(f"incoming/k{n}") for n in range(23)]  # more than one receive of 10
    for body in bodies:
        account["sqs"].send_message(QueueUrl=account["dead"], MessageBody=body)

    assert cli("redrive", "--method", "copy", "--json", config=config_file) == 0

    report = json.loads(capsys.readouterr().out)
    assert (report["waiting"], report["moved"], report["failed"], report["left"]) == (23, 23, 0, 0)
    assert sorted(drain(account["sqs"], account["incoming"])) == sorted(bodies)
    assert drain(account["sqs"], account["dead"]) == []


def test_redrive_with_the_move_task_follows_it_to_its_end():
    sqs = boto3.client("sqs", region_name=REGION, aws_access_key_id="x", aws_secret_access_key="x")
    dead_url = "https://sqs.eu-west-1.amazonaws.com/123456789012/incoming-dlq"
    incoming_url = "https://sqs.eu-west-1.amazonaws.com/123456789012/incoming"
    dead_arn, incoming_arn = (
        "arn:aws:sqs:eu-west-1:123456789012:incoming-dlq",
        "arn:aws:sqs:eu-west-1:123456789012:incoming",
    )
    counts = ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    with Stubber(sqs) as stub:
        stub.add_response(
            "get_queue_attributes",
            {"Attributes": {counts[0]: "5", counts[1]: "2"}},
            {"QueueUrl": dead_url, "AttributeNames": counts},
        )
        stub.add_response(
            "get_queue_attributes",
            {"Attributes": {"QueueArn": dead_arn}},
            {"QueueUrl": dead_url, "AttributeNames": ["QueueArn"]},
        )
        stub.add_response(
            "get_queue_attributes",
            {"Attributes": {"QueueArn": incoming_arn}},
            {"QueueUrl": incoming_url, "AttributeNames": ["QueueArn"]},
        )
        stub.add_response(
            "start_message_move_task", {"TaskHandle": "h"}, {"SourceArn": dead_arn, "DestinationArn": incoming_arn}
        )
        stub.add_response(
            "list_message_move_tasks",
            {
                "Results": [
                    {"Status": "RUNNING", "ApproximateNumberOfMessagesMoved": 3, "ApproximateNumberOfMessagesToMove": 7}
                ]
            },
            {"SourceArn": dead_arn, "MaxResults": 1},
        )
        stub.add_response(
            "list_message_move_tasks",
            {"Results": [{"Status": "COMPLETED", "ApproximateNumberOfMessagesMoved": 7}]},
            {"SourceArn": dead_arn, "MaxResults": 1},
        )
        stub.add_response(
            "get_queue_attributes",
            {"Attributes": {counts[0]: "0", counts[1]: "0"}},
            {"QueueUrl": dead_url, "AttributeNames": counts},
        )
        said: list[str] = []
        report = redrive(
            sqs,
            Queues(incoming_url, dead_url),
            method="move-task",
            dry_run=False,
            timeout=60,
            say=said.append,
            sleep=lambda seconds: None,
        )
        stub.assert_no_pending_responses()
    assert (report.waiting, report.moved, report.left, report.task_status) == (7, 7, 0, "COMPLETED")
    assert any("moving: 3 of 7" in line for line in said)


def test_redrive_without_the_queue_outputs_names_the_missing_output(account, config_file, capsys, tmp_path):
    outputs_file = tmp_path / "outputs.json"
    outputs_file.write_text(json.dumps({stack_name("shop"): {outputs.SOURCE_BUCKET: SOURCE}}))

    assert cli("redrive", "--outputs-file", str(outputs_file), config=config_file) == 2
    assert f"has no output {outputs.INCOMING_QUEUE_URL}" in capsys.readouterr().err


# --- reprocess-quarantine -------------------------------------------------------------------------


def quarantine(s3: Any, reason: str, n: int) -> list[str]:
    keys = []
    for i in range(n):
        key = image_key("pi-door", "door", datetime(2026, 3, 1, 9, i, tzinfo=UTC), f"{i:012x}")
        s3.put_object(
            Bucket=ARCHIVE,
            Key=quarantine_key(reason, key),
            Body=b"jpeg" * (i + 1),
            Tagging=f"quarantine-reason={reason}",
        )
        keys.append(key)
    return keys


def current_keys(s3: Any, bucket: str, prefix: str = "") -> list[str]:
    return sorted(o["Key"] for o in s3.list_objects_v2(Bucket=bucket, Prefix=prefix).get("Contents", []))


def all_versions(s3: Any, bucket: str, prefix: str) -> int:
    listing = s3.list_object_versions(Bucket=bucket, Prefix=prefix)
    return len(listing.get("Versions", [])) + len(listing.get("DeleteMarkers", []))


def test_reprocess_puts_one_reasons_images_back_in_incoming_and_leaves_the_others(account, config_file, capsys):
    s3 = account["s3"]
    unknown = quarantine(s3, "unknown-device", 3)
    broken = quarantine(s3, "invalid-image-format", 1)

    assert cli("reprocess-quarantine", "--reason", "unknown-device", "--json", config=config_file) == 0

    report = json.loads(capsys.readouterr().out)
    assert (report["found"], report["moved"], report["bytes"], report["left"]) == (3, 3, 4 + 8 + 12, 0)
    assert current_keys(s3, SOURCE) == sorted(unknown)
    assert s3.get_object_tagging(Bucket=SOURCE, Key=unknown[0])["TagSet"] == []
    assert s3.get_object(Bucket=SOURCE, Key=unknown[1])["Body"].read() == b"jpeg" * 2
    # Nothing of the quarantined copies is left, not even a delete marker; the other reason stays.
    assert all_versions(s3, ARCHIVE, "quarantine/unknown-device/") == 0
    assert current_keys(s3, ARCHIVE) == [quarantine_key("invalid-image-format", broken[0])]


def test_reprocess_dry_run_counts_and_moves_nothing(account, config_file, capsys):
    s3 = account["s3"]
    quarantine(s3, "unknown-camera", 2)

    assert cli("reprocess-quarantine", "--reason", "unknown-camera", "--dry-run", config=config_file) == 0

    assert "would put back 2 images (12 bytes) of unknown-camera" in capsys.readouterr().out
    assert current_keys(s3, SOURCE) == []
    assert len(current_keys(s3, ARCHIVE)) == 2


def test_an_image_already_back_in_incoming_is_skipped_and_makes_the_exit_code_one(account, config_file, capsys):
    s3 = account["s3"]
    (key, other) = quarantine(s3, "unknown-device", 2)
    s3.put_object(Bucket=SOURCE, Key=key, Body=b"re-uploaded")

    assert cli("reprocess-quarantine", "--reason", "unknown-device", config=config_file) == 1

    out = capsys.readouterr().out
    assert "skipped (already in incoming/): 1, failed: 0, left: 1" in out
    assert s3.get_object(Bucket=SOURCE, Key=key)["Body"].read() == b"re-uploaded"
    assert current_keys(s3, SOURCE) == sorted([key, other])


def test_a_reason_without_images_names_the_reasons_that_have_some(account, config_file, capsys):
    quarantine(account["s3"], "unknown-device", 1)

    assert cli("reprocess-quarantine", "--reason", "image-too-large", "--dry-run", config=config_file) == 0
    assert "reasons with images: unknown-device" in capsys.readouterr().out


def test_a_reason_that_is_no_folder_name_is_refused_by_argparse(config_file, capsys):
    with pytest.raises(SystemExit) as exited:
        cli("reprocess-quarantine", "--reason", "../incoming", config=config_file)
    assert exited.value.code == 2


@pytest.mark.parametrize(
    ("command", "example"),
    [
        ("redrive", "shopper-sentiment redrive --config deployments.toml --deployment demo --dry-run"),
        ("reprocess-quarantine", "shopper-sentiment reprocess-quarantine --config deployments.toml --deployment demo"),
    ],
)
def test_the_cli_lists_each_command_with_an_example_in_its_help(capsys, command, example):
    with pytest.raises(SystemExit) as exited:
        main([command, "--help"])
    assert exited.value.code == 0
    help_text = capsys.readouterr().out
    assert "--dry-run" in help_text and example in help_text
