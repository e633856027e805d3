"""A metric for every outcome: retry causes, DetectFaces attempts and throttles, images per store, totals.

The alarms of shopper_sentiment/tiers/monitoring.py read exactly these names and dimensions;
tests/stacks/test_monitoring.py checks the alarms' side.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import replace
from typing import Any

import boto3
import pytest
from aws_lambda_powertools.utilities.idempotency.exceptions import (
    IdempotencyAlreadyInProgressError,
    IdempotencyPersistenceLayerError,
)
from botocore.awsrequest import AWSResponse
from botocore.config import Config
from botocore.exceptions import ClientError, ConnectTimeoutError, ReadTimeoutError
from moto.core.models import botocore_stubber
from shopper_analyze import failure_causes as causes
from shopper_analyze.analyzers import ImageUnreadableError, RekognitionAnalyzer
from shopper_analyze.call_attempts import CallAttempts
from shopper_analyze.failure_causes import failure_cause
from shopper_analyze.metric_tally import MetricTally
from shopper_analyze.s3_events import MalformedEventError
from shopper_analyze.settlement import ContentNotDeliveredError, FirehoseDeliveryError
from shopper_analyze.staging import DeadlineApproachingError
from shopper_analyze.triage import ImageRowNotDeliveredError

from tests.lambdas.local_aws import (
    ARCHIVE_BUCKET,
    REGION,
    SOURCE_BUCKET,
    image_key,
    keys_in,
    load_event,
    s3_notification,
    s3_record,
    sqs_event,
)
from tests.lambdas.test_handler import (
    JPEG,
    THREE_FACES,
    FlakyFirehose,
    expect_detect_faces,
    expect_detect_faces_error,
    upload,
)

SERVICE = "shopper-sentiment-analyze"


def client_error(code: str, operation: str, status: int = 400) -> ClientError:
    return ClientError(
        {"Error": {"Code": code, "Message": code}, "ResponseMetadata": {"HTTPStatusCode": status}}, operation
    )


def raised_from(outer: Exception, inner: BaseException) -> Exception:
    """``outer`` as ``raise outer from inner`` leaves it."""
    try:
        raise outer from inner
    except Exception as exc:
        return exc


def raised_while_handling(outer: Exception, handled: BaseException) -> Exception:
    """``outer`` raised inside an ``except`` for ``handled`` (its context, not its cause)."""
    try:
        try:
            raise handled
        except BaseException:
            raise outer  # noqa: B904 - the point is an implicit context
    except Exception as exc:
        return exc


@pytest.mark.parametrize(
    ("exc", "cause"),
    [
        (client_error("ThrottlingException", "DetectFaces"), causes.THROTTLED),
        (client_error("ProvisionedThroughputExceededException", "DetectFaces"), causes.THROTTLED),
        (client_error("SlowDown", "CopyObject", 503), causes.THROTTLED),
        # Powertools wraps the idempotency table's errors: the wrapped one decides.
        (
            raised_from(
                IdempotencyPersistenceLayerError("Failed to save in progress record"),
                client_error("ProvisionedThroughputExceededException", "PutItem"),
            ),
            causes.THROTTLED,
        ),
        (client_error("AccessDenied", "CopyObject", 403), causes.ACCESS_DENIED),
        (client_error("AccessDeniedException", "DetectFaces"), causes.ACCESS_DENIED),
        (client_error("KMS.AccessDeniedException", "GetObject", 403), causes.ACCESS_DENIED),
        (
            raised_from(RuntimeError("the analyzer cannot read an object that exists"), ImageUnreadableError("x")),
            causes.ACCESS_DENIED,
        ),
        (ReadTimeoutError(endpoint_url="https://firehose"), causes.TIMEOUT),
        (ConnectTimeoutError(endpoint_url="https://rekognition"), causes.TIMEOUT),
        (DeadlineApproachingError("not enough time left"), causes.DEADLINE),
        (FirehoseDeliveryError("records still rejected"), causes.FIREHOSE_REJECTED),
        (ContentNotDeliveredError("same bytes not delivered"), causes.FIREHOSE_REJECTED),
        # A quarantine whose row Firehose refused fails for Firehose, not for what was being quarantined.
        (
            raised_while_handling(
                ImageRowNotDeliveredError("row refused"), client_error("InvalidImageFormatException", "DetectFaces")
            ),
            causes.FIREHOSE_REJECTED,
        ),
        (client_error("ValidationException", "PutItem"), causes.DYNAMODB_FAILED),
        (
            raised_from(IdempotencyPersistenceLayerError("Failed to update record"), ValueError("bad")),
            causes.DYNAMODB_FAILED,
        ),
        (IdempotencyAlreadyInProgressError("in progress"), causes.IN_PROGRESS),
        (MalformedEventError("message body is not JSON"), causes.MALFORMED_MESSAGE),
        (client_error("InternalServerError", "DetectFaces", 500), causes.SERVICE_ERROR),
        (client_error("ServiceUnavailable", "CopyObject", 503), causes.SERVICE_ERROR),
        (KeyError("Records"), causes.OTHER),
    ],
)
def test_every_failure_has_one_cause_of_the_fixed_set(exc, cause):
    assert failure_cause(exc) == cause
    assert cause in causes.CAUSES


# --- DetectFaces attempts, as botocore sends them ---------------------------------------------------


class RekognitionAnswers:
    """Answers DetectFaces at botocore's send step, so its retry handler sees every answer (unlike Stubber)."""

    def __init__(self, *answers: tuple[int, dict[str, Any]]) -> None:
        self.answers = list(answers)
        self.sent = 0

    def __call__(self, request: Any, **_: Any) -> AWSResponse:
        status, body = self.answers.pop(0)
        self.sent += 1
        return AWSResponse(request.url, status, {"content-type": "application/x-amz-json-1.1"}, _Raw(body))


class _Raw:
    def __init__(self, body: dict[str, Any]) -> None:
        self.body = json.dumps(body).encode()

    def stream(self, **_: Any) -> Any:
        yield self.body


def answer_instead_of_moto(client: Any, answers: RekognitionAnswers) -> None:
    client.meta.events.unregister("before-send", botocore_stubber)
    client.meta.events.register("before-send.rekognition.DetectFaces", answers)


THROTTLED = (400, {"__type": "ThrottlingException", "message": "Rate exceeded"})


def rekognition_answering(answers: RekognitionAnswers, attempts: CallAttempts) -> Any:
    """A real Rekognition client (standard retries, 3 attempts) whose requests never leave the process.

    botocore calls every ``before-send`` handler, moto's mock among them
    (which has no DetectFaces), so this client goes without moto's.
    """
    client = boto3.client(
        "rekognition", region_name=REGION, config=Config(retries={"mode": "standard", "total_max_attempts": 3})
    )
    answer_instead_of_moto(client, answers)
    return attempts.attach(client)


def test_every_detect_faces_attempt_and_every_throttled_one_is_counted(monkeypatch):
    monkeypatch.setattr("time.sleep", lambda _: None)  # botocore's backoff between attempts
    attempts = CallAttempts(service_id="rekognition", operation="DetectFaces")
    answers = RekognitionAnswers(THROTTLED, THROTTLED, (200, {"FaceDetails": []}))
    client = rekognition_answering(answers, attempts)

    assert (
        RekognitionAnalyzer(client).detect_faces(bucket="shopper-source", key="incoming/k.jpg", version_id=None) == []
    )

    tally = MetricTally()
    attempts.drain_into(tally, attempts_metric="Calls", throttled_metric="Throttled")
    assert answers.sent == 3
    assert tally.drain().counts == {"Calls": 3, "Throttled": 2}
    # Drained: the next invocation starts from zero, and reports zeros rather than nothing.
    attempts.drain_into(tally, attempts_metric="Calls", throttled_metric="Throttled")
    assert tally.drain().counts == {"Calls": 0, "Throttled": 0}


def test_a_call_throttled_on_every_attempt_counts_each_attempt_and_fails(monkeypatch):
    monkeypatch.setattr("time.sleep", lambda _: None)
    attempts = CallAttempts(service_id="rekognition", operation="DetectFaces")
    client = rekognition_answering(RekognitionAnswers(THROTTLED, THROTTLED, THROTTLED), attempts)

    with pytest.raises(ClientError) as raised:
        RekognitionAnalyzer(client).detect_faces(bucket="shopper-source", key="incoming/k.jpg", version_id=None)

    assert failure_cause(raised.value) == causes.THROTTLED
    tally = MetricTally()
    attempts.drain_into(tally, attempts_metric="Calls", throttled_metric="Throttled")
    assert tally.drain().counts == {"Calls": 3, "Throttled": 3}


# --- what the handler publishes ---------------------------------------------------------------------


def emf_series(output: str) -> Counter[tuple[str, frozenset[tuple[str, str]]]]:
    """Sum of every EMF value per (metric, dimension set): a value published under two sets counts in both."""
    series: Counter[tuple[str, frozenset[tuple[str, str]]]] = Counter()
    for line in output.splitlines():
        if not line.startswith("{"):
            continue
        blob = json.loads(line)
        if "_aws" not in blob:
            continue
        for directive in blob["_aws"]["CloudWatchMetrics"]:
            assert directive["Namespace"] == "ShopperSentiment"
            for dimension_set in directive["Dimensions"]:
                dimensions = frozenset((name, blob[name]) for name in dimension_set)
                for metric in directive["Metrics"]:
                    value = blob[metric["Name"]]
                    series[(metric["Name"], dimensions)] += sum(value) if isinstance(value, list) else value
    return series


def dims(**values: str) -> frozenset[tuple[str, str]]:
    return frozenset({("service", SERVICE), *values.items()})


def test_a_failed_message_is_counted_by_its_cause_and_in_the_total(handler, rekognition, s3, lambda_context, capsys):
    throttled = upload(s3, image_key(content=b"throttled"))
    denied = upload(s3, image_key(content=b"denied"))
    fine = upload(s3, image_key(content=b"fine"))
    expect_detect_faces_error(rekognition, throttled, "ThrottlingException")
    expect_detect_faces_error(rekognition, denied, "AccessDeniedException")
    expect_detect_faces(rekognition, fine, THREE_FACES)
    event = sqs_event(*(s3_notification(s3_record(key)) for key in (throttled, denied, fine)), "not json")

    response = handler(event, lambda_context)

    assert sorted(f["itemIdentifier"] for f in response["batchItemFailures"]) == ["m0", "m1", "m3"]
    series = emf_series(capsys.readouterr().out)
    assert series[("MessagesRetried", dims(cause=causes.THROTTLED))] == 1
    assert series[("MessagesRetried", dims(cause=causes.ACCESS_DENIED))] == 1
    assert series[("MessagesRetried", dims(cause=causes.MALFORMED_MESSAGE))] == 1
    assert series[("MessagesRetried", dims())] == 3  # the total an alarm can divide by


def test_a_message_failed_in_settlement_is_counted_as_firehose_rejected(
    make_handler, clients, rekognition, s3, lambda_context, capsys
):
    key = upload(s3, image_key())
    expect_detect_faces(rekognition, key, THREE_FACES)
    handler = make_handler(firehose=FlakyFirehose(clients.firehose, reject=lambda call, record: True))

    response = handler(sqs_event(s3_notification(s3_record(key))), lambda_context)

    assert response == {"batchItemFailures": [{"itemIdentifier": "m0"}]}
    series = emf_series(capsys.readouterr().out)
    assert series[("MessagesRetried", dims(cause=causes.FIREHOSE_REJECTED))] == 1
    assert series[("MessagesRetried", dims())] == 1


def test_images_are_counted_per_registered_store_and_quarantines_in_a_total(
    handler, rekognition, s3, lambda_context, capsys
):
    store_1 = upload(s3, image_key(device_id="pi-s001-entrance", camera_id="entrance", content=b"one"))
    store_2 = upload(s3, image_key(device_id="pi-s002-aisle-3", camera_id="door", content=b"two"))
    store_2_empty = upload(s3, image_key(device_id="pi-s002-aisle-3", camera_id="aisle-3", content=b"e"), body=b"")
    stranger = upload(s3, image_key(device_id="pi-s999-stolen", camera_id="entrance", content=b"x"), body=JPEG)
    expect_detect_faces(rekognition, store_1, THREE_FACES)
    expect_detect_faces(rekognition, store_2, load_event("detect_faces_no_faces.json"))
    keys = (store_1, store_2, store_2_empty, stranger)

    assert handler(sqs_event(*(s3_notification(s3_record(k)) for k in keys)), lambda_context) == {
        "batchItemFailures": []
    }

    series = emf_series(capsys.readouterr().out)
    assert series[("StoreImages", dims(store="store-001"))] == 1
    # A quarantined still of a registered camera counts for its store: the store is not silent.
    assert series[("StoreImages", dims(store="store-002"))] == 2
    assert series[("StoreImages", dims())] == 3  # an unregistered device belongs to no store
    assert series[("ImagesQuarantined", dims(reason="invalid-image-format"))] == 1
    assert series[("ImagesQuarantined", dims(reason="unknown-device"))] == 1
    assert series[("ImagesQuarantined", dims())] == 2
    assert series[("ImagesReceived", dims())] == 4
    assert series[("ImagesWithoutFaces", dims())] == 1
    assert keys_in(s3, ARCHIVE_BUCKET) == sorted(
        [store_1, store_2, f"quarantine/invalid-image-format/{store_2_empty}", f"quarantine/unknown-device/{stranger}"]
    )


def test_the_handler_publishes_detect_faces_attempts_and_throttles_of_its_client(
    analyze_app, settings, clients, s3, lambda_context, capsys, monkeypatch
):
    monkeypatch.setattr("time.sleep", lambda _: None)
    attempts = CallAttempts(service_id="rekognition", operation="DetectFaces")
    analyzer = RekognitionAnalyzer(rekognition_answering(RekognitionAnswers(THROTTLED, (200, THREE_FACES)), attempts))
    handler = analyze_app.create_handler(settings, replace(clients, analyzer=analyzer), detect_faces_attempts=attempts)
    key = upload(s3, image_key())

    assert handler(sqs_event(s3_notification(s3_record(key))), lambda_context) == {"batchItemFailures": []}
    assert keys_in(s3, SOURCE_BUCKET) == []
    series = emf_series(capsys.readouterr().out)
    assert series[("DetectFacesCalls", dims())] == 2
    assert series[("DetectFacesThrottled", dims())] == 1
    assert series[("ImagesAnalyzed", dims())] == 1


def test_the_deployed_clients_count_the_attempts_of_their_rekognition_client(analyze_app, settings, monkeypatch):
    monkeypatch.setattr("time.sleep", lambda _: None)
    attempts = CallAttempts(service_id="rekognition", operation="DetectFaces")
    deployed = analyze_app.aws_clients(settings, detect_faces_attempts=attempts)
    rekognition = deployed.analyzer._analyzer._client  # PacedAnalyzer → RekognitionAnalyzer → boto3 client
    answer_instead_of_moto(rekognition, RekognitionAnswers(THROTTLED, (200, {"FaceDetails": []})))

    assert deployed.analyzer.detect_faces(bucket="shopper-source", key="incoming/k.jpg", version_id=None) == []

    tally = MetricTally()
    attempts.drain_into(tally, attempts_metric="Calls", throttled_metric="Throttled")
    assert tally.drain().counts == {"Calls": 2, "Throttled": 1}
