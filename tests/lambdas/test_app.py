"""The handler module's wiring: the factory, the idempotency key, the deployed clients (moto)."""

from __future__ import annotations

import copy
import hashlib
import json
from dataclasses import replace

from tests.lambdas.local_aws import (
    ARCHIVE_BUCKET,
    IDEMPOTENCY_TABLE,
    SOURCE_BUCKET,
    image_key,
    keys_in,
    load_event,
    s3_notification,
    s3_record,
    sqs_event,
)

THREE_FACES = load_event("detect_faces_three_faces.json")


def stored_analysis_ids(aws, table: str) -> list[str]:
    items = aws.client("dynamodb").scan(TableName=table)["Items"]
    return [item["id"]["S"] for item in items if "status" in item]  # not the delivered markers


def expect_detect_faces(rekognition, key: str) -> None:
    s3_object = {"Bucket": SOURCE_BUCKET, "Name": key}
    rekognition.add_response(
        "detect_faces", copy.deepcopy(THREE_FACES), {"Image": {"S3Object": s3_object}, "Attributes": ["ALL"]}
    )


def test_stored_analysis_is_keyed_by_the_modules_analyze_function_and_the_content(
    analyze_app, handler, rekognition, s3, lambda_context, aws
):
    key = image_key()
    s3.put_object(Bucket=SOURCE_BUCKET, Key=key, Body=b"jpeg")
    expect_detect_faces(rekognition, key)
    record = s3_record(key)

    assert handler(sqs_event(s3_notification(record)), lambda_context) == {"batchItemFailures": []}

    # Deployed, the module is "app": "<function name>.app.analyze#<md5>", as before the factory existed.
    content = json.dumps([SOURCE_BUCKET, key, record["s3"]["object"]["eTag"]], sort_keys=True)
    expected = f"test-func.{analyze_app.__name__}.analyze#{hashlib.md5(content.encode()).hexdigest()}"
    assert stored_analysis_ids(aws, IDEMPOTENCY_TABLE) == [expected]


def test_handlers_built_by_the_factory_keep_their_own_idempotency_store(
    make_handler, settings, rekognition, s3, lambda_context, aws
):
    other_table = f"{IDEMPOTENCY_TABLE}-other"
    aws.client("dynamodb").create_table(
        TableName=other_table,
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        BillingMode="PAY_PER_REQUEST",
    )
    first_key, second_key = image_key(content=b"first"), image_key(content=b"second")
    for key in (first_key, second_key):
        s3.put_object(Bucket=SOURCE_BUCKET, Key=key, Body=b"jpeg")
        expect_detect_faces(rekognition, key)
    first = make_handler()
    second = make_handler(settings=replace(settings, idempotency_table=other_table))

    # The first handler runs after the second was built: building one must not reconfigure the other.
    assert first(sqs_event(s3_notification(s3_record(first_key))), lambda_context) == {"batchItemFailures": []}
    assert second(sqs_event(s3_notification(s3_record(second_key))), lambda_context) == {"batchItemFailures": []}

    assert len(stored_analysis_ids(aws, IDEMPOTENCY_TABLE)) == 1
    assert len(stored_analysis_ids(aws, other_table)) == 1
    assert stored_analysis_ids(aws, IDEMPOTENCY_TABLE) != stored_analysis_ids(aws, other_table)


def test_deployed_clients_hold_a_connection_per_analysis_thread(analyze_app, settings):
    clients = analyze_app.aws_clients(replace(settings, analyze_threads=32))

    for client in (clients.s3, clients.firehose, clients.dynamodb):
        assert client.meta.config.max_pool_connections == 32
        assert client.meta.config.connect_timeout == 2
    assert analyze_app.aws_clients(replace(settings, analyze_threads=1)).s3.meta.config.max_pool_connections == 10


def test_lambda_entry_point_is_the_handler_built_at_import_on_the_deployed_clients(analyze_app, s3, lambda_context):
    key = "incoming/pi-s001-entrance/snapshot.jpg"
    s3.put_object(Bucket=SOURCE_BUCKET, Key=key, Body=b"jpeg")

    response = analyze_app.handler(sqs_event(s3_notification(s3_record(key))), lambda_context)

    assert response == {"batchItemFailures": []}
    assert keys_in(s3, ARCHIVE_BUCKET) == [f"quarantine/key-not-in-layout/{key}"]


def test_each_deployed_client_makes_exactly_the_attempts_it_is_given(analyze_app, settings):
    """botocore's ``max_attempts`` counts retries; the clients set the total, first attempt included."""
    clients = analyze_app.aws_clients(settings)
    totals = {name: getattr(clients, name).meta.config.retries for name in ("s3", "firehose", "dynamodb")}
    assert totals == {
        "s3": {"mode": "standard", "total_max_attempts": 5},
        "firehose": {"mode": "standard", "total_max_attempts": 3},
        "dynamodb": {"mode": "standard", "total_max_attempts": 3},
    }
    rekognition = clients.analyzer.unpaced._client
    assert rekognition.meta.config.retries == {"mode": "adaptive", "total_max_attempts": 5}
