"""A service that accepts connections and never answers cannot keep a batch past the function's timeout.

The clients are the deployed ones (``app.aws_clients``: their botocore
``Config``, timeouts and retries), pointed at a server on 127.0.0.1 that
accepts every connection and never sends a byte; the rest of the account is
moto. Each test runs the handler with a Lambda context whose remaining time
runs down with the wall clock and asserts that the handler returned, with
the stalled messages failed and their images still in incoming/, before that
time was up. Without the call deadline a stalled Firehose kept one batch for
more than two minutes (4 delivery attempts × 3 client attempts × 10 s).
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pytest
from shopper_analyze.analyzers import RekognitionAnalyzer
from shopper_analyze.call_deadline import CallDeadline, CallDeadlineError

from tests.lambdas.local_aws import (
    ARCHIVE_BUCKET,
    SOURCE_BUCKET,
    FakeLambdaContext,
    image_key,
    keys_in,
    load_event,
    s3_notification,
    s3_record,
    sqs_event,
)
from tests.lambdas.test_handler import JPEG, expect_detect_faces, upload

THREE_FACES = load_event("detect_faces_three_faces.json")


class StalledService:
    """Accepts TCP connections on 127.0.0.1 and holds them open without ever answering."""

    def __init__(self) -> None:
        self._server = socket.create_server(("127.0.0.1", 0))
        self._server.settimeout(0.2)
        self._held: list[socket.socket] = []
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()
        self.accepted = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.getsockname()[1]}"

    def _accept(self) -> None:
        while not self._stopping.is_set():
            try:
                connection, _ = self._server.accept()
            except TimeoutError:
                continue
            self.accepted += 1
            self._held.append(connection)

    def close(self) -> None:
        self._stopping.set()
        self._thread.join()
        for connection in self._held:
            connection.close()
        self._server.close()


@pytest.fixture
def stalled() -> Iterator[StalledService]:
    service = StalledService()
    yield service
    service.close()


def run_with_time_limit(handler: Any, event: dict[str, Any], context: FakeLambdaContext) -> tuple[Any, int]:
    """The handler's response and the milliseconds the context had left when it returned.

    The handler runs on a thread joined for a little longer than the context's
    time: a handler that overruns fails the test instead of hanging it.
    """
    result: dict[str, Any] = {}

    def invoke() -> None:
        try:
            result["response"] = handler(event, context)
        except BaseException as exc:  # reported below, on the test's thread
            result["error"] = exc

    thread = threading.Thread(target=invoke, daemon=True)
    thread.start()
    thread.join(timeout=context.remaining_ms / 1000 + 5)
    assert not thread.is_alive(), "the handler was still running after the function's timeout"
    if "error" in result:
        raise result["error"]
    return result["response"], context.get_remaining_time_in_millis()


def deployed_clients(
    analyze_app: Any, settings: Any, monkeypatch: pytest.MonkeyPatch, **endpoints: str
) -> tuple[Any, CallDeadline]:
    """The deployed clients on a fresh call deadline; ``endpoints``: service → endpoint URL."""
    for service, url in endpoints.items():
        monkeypatch.setenv(f"AWS_ENDPOINT_URL_{service.upper()}", url)
    deadline = CallDeadline()
    clients = analyze_app.aws_clients(settings, call_deadline=deadline)
    return clients, deadline


def test_a_stalled_firehose_fails_the_batch_before_the_function_times_out(
    analyze_app, settings, s3, rekognition_client, rekognition, stalled, monkeypatch
):
    clients, deadline = deployed_clients(analyze_app, settings, monkeypatch, firehose=stalled.url)
    handler = analyze_app.create_handler(
        settings, replace(clients, analyzer=RekognitionAnalyzer(rekognition_client)), call_deadline=deadline
    )
    key = upload(s3, image_key(), body=JPEG)
    expect_detect_faces(rekognition, key, THREE_FACES)
    # Phase 1 has time for its calls (one S3 attempt may take 2 s connect + 10 s read) beyond
    # the 30 s kept back for delivery; phase 2 then meets the stalled Firehose.
    context = FakeLambdaContext(remaining_ms=30_000 + 13_000, ticking=True)

    response, left_ms = run_with_time_limit(handler, sqs_event(s3_notification(s3_record(key))), context)

    assert response == {"batchItemFailures": [{"itemIdentifier": "m0"}]}
    assert stalled.accepted >= 1  # the records were sent, and Firehose never answered
    assert left_ms > 0
    assert keys_in(s3, SOURCE_BUCKET) == [key]
    assert keys_in(s3, ARCHIVE_BUCKET) == []


def test_a_stalled_detect_faces_fails_its_message_before_the_function_times_out(
    analyze_app, settings, s3, stalled, monkeypatch
):
    clients, deadline = deployed_clients(analyze_app, settings, monkeypatch, rekognition=stalled.url)
    handler = analyze_app.create_handler(settings, clients, call_deadline=deadline)
    key = upload(s3, image_key(), body=JPEG)
    # Phase 1 may send one DetectFaces attempt (2 s connect + 20 s read), not a second.
    context = FakeLambdaContext(remaining_ms=30_000 + 23_000, ticking=True)

    response, left_ms = run_with_time_limit(handler, sqs_event(s3_notification(s3_record(key))), context)

    assert response == {"batchItemFailures": [{"itemIdentifier": "m0"}]}
    assert stalled.accepted == 1
    # Phase 2 still had its time: the deadline cut phase 1, not the function's timeout.
    assert left_ms > 20_000
    assert keys_in(s3, SOURCE_BUCKET) == [key]


def test_an_attempt_that_cannot_end_before_the_deadline_is_not_sent(analyze_app, settings, stalled, monkeypatch):
    clients, deadline = deployed_clients(analyze_app, settings, monkeypatch, firehose=stalled.url)
    deadline.set_in(5)  # less than one attempt's 2 s connect + 10 s read

    with pytest.raises(CallDeadlineError, match="PutRecordBatch not sent"):
        clients.firehose.put_record_batch(DeliveryStreamName="any", Records=[{"Data": b"{}"}])
    assert stalled.accepted == 0
