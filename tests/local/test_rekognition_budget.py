"""The DetectFaces stand-in holds a real botocore client to a token bucket and answers in simulated time."""

from __future__ import annotations

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from local.rekognition_budget import (
    ACCEPTED,
    ENDPOINT_URL,
    INVALID_S3_OBJECT,
    PROVISIONED_THROUGHPUT_EXCEEDED,
    THROTTLING,
    DetectFacesBudget,
)
from local.virtual_time import VirtualClock, VirtualThreadPool, botocore_in_virtual_time

BUCKET = "shopper-source"


@pytest.fixture
def session(monkeypatch: pytest.MonkeyPatch) -> boto3.Session:
    monkeypatch.setenv("AWS_ENDPOINT_URL_REKOGNITION", ENDPOINT_URL)
    return boto3.Session(aws_access_key_id="local", aws_secret_access_key="local", region_name="us-east-1")


def one_attempt(session: boto3.Session) -> object:
    """A client that sends every request exactly once: each call is one request the service sees."""
    return session.client("rekognition", config=Config(retries={"mode": "standard", "total_max_attempts": 1}))


def detect(client: object, key: str) -> dict | str:
    try:
        return client.detect_faces(Image={"S3Object": {"Bucket": BUCKET, "Name": key}}, Attributes=["ALL"])
    except ClientError as exc:
        return exc.response["Error"]["Code"]


def test_requests_above_the_bucket_are_refused_with_the_throttling_codes(session):
    clock = VirtualClock()
    budget = DetectFacesBudget(clock, rate=2, burst=3, faces_for=lambda key: 2, throttling_share=0.5)
    budget.register(session.events)
    client = one_attempt(session)

    def main() -> list:
        # Back to back: the burst of 3, then one every half second as tokens refill.
        return [detect(client, f"incoming/{n}.jpg") for n in range(40)]

    answers = clock.run(main)
    accepted = [a for a in answers if isinstance(a, dict)]
    refused = [a for a in answers if isinstance(a, str)]
    assert refused and set(refused) == {PROVISIONED_THROUGHPUT_EXCEEDED, THROTTLING}
    # Never more than the burst plus the rate over the time the requests took.
    assert len(accepted) <= 3 + 2 * clock.now()
    assert len(accepted) >= 2 * clock.now() - 1
    assert all(len(a["FaceDetails"]) == 2 for a in accepted)
    assert [c.outcome == ACCEPTED for c in budget.calls] == [isinstance(a, dict) for a in answers]


def test_answers_take_the_stated_latency_in_simulated_time(session):
    clock = VirtualClock()
    budget = DetectFacesBudget(clock, rate=1000, burst=1000, faces_for=lambda key: 0)
    budget.register(session.events)
    client = one_attempt(session)

    def main() -> list[float]:
        spans = []
        for n in range(50):
            started = clock.now()
            assert detect(client, f"incoming/{n}.jpg")["FaceDetails"] == []
            spans.append(clock.now() - started)
        return spans

    spans = clock.run(main)
    assert min(spans) >= 0.150
    assert max(spans) <= 0.400
    assert max(spans) - min(spans) > 0.1  # a distribution, not a constant


def test_an_object_the_service_cannot_read_is_answered_as_rekognition_does(session):
    clock = VirtualClock()
    budget = DetectFacesBudget(
        clock, rate=5, burst=5, faces_for=lambda key: 1, object_exists=lambda bucket, key, version: key != "gone.jpg"
    )
    budget.register(session.events)
    client = one_attempt(session)

    assert clock.run(lambda: [detect(client, "here.jpg") != INVALID_S3_OBJECT, detect(client, "gone.jpg")]) == [
        True,
        INVALID_S3_OBJECT,
    ]


def test_the_adaptive_client_retries_throttled_calls_and_all_get_through_at_the_budget(session):
    clock = VirtualClock()
    budget = DetectFacesBudget(clock, rate=2, burst=1, faces_for=lambda key: 1)
    budget.register(session.events)
    with botocore_in_virtual_time(clock):
        client = session.client("rekognition", config=Config(retries={"mode": "adaptive", "max_attempts": 10}))

        def main() -> list:
            with VirtualThreadPool(clock, max_workers=4) as pool:
                return list(pool.map(lambda n: detect(client, f"incoming/{n}.jpg"), range(30)))

        answers = clock.run(main)
    assert all(isinstance(a, dict) for a in answers)
    refused = [c for c in budget.calls if c.outcome != ACCEPTED]
    assert refused, "four threads at 150-400 ms each ask for more than 2/s: some are refused and retried"
    accepted_at = [c.at for c in budget.calls if c.outcome == ACCEPTED]
    assert max(accepted_at) >= (30 - 1) / 2  # the budget, not the threads, set the pace


def test_a_budget_needs_a_rate_and_room_for_one_request():
    with pytest.raises(ValueError, match="rate above 0"):
        DetectFacesBudget(VirtualClock(), rate=0, burst=1, faces_for=lambda key: 0)
    with pytest.raises(ValueError, match="burst of at least 1"):
        DetectFacesBudget(VirtualClock(), rate=1, burst=0.5, faces_for=lambda key: 0)
