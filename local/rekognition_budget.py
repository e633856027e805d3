"""DetectFaces behind the account's requests-per-second budget, answering in simulated time.

Rekognition holds each account to a transactions-per-second quota per
operation: a request above it is refused with
``ProvisionedThroughputExceededException`` (and, when the service itself is
busy, ``ThrottlingException``). ``DetectFacesBudget`` models that as a token
bucket — tokens refill at ``rate`` per second up to ``burst`` — and answers
the real botocore Rekognition client (its retry logic and adaptive rate
limiter included) from its ``before-send`` event, so no request leaves the
process:

- a request that finds a token is accepted and answered after 150–400 ms
  (uniformly distributed), with the faces ``faces_for(key)`` says the image
  holds (``local.rekognition.detect_faces_response``);
- a request that finds none is refused after 10–40 ms (the service refuses
  before it does any work), with ``ProvisionedThroughputExceededException``,
  or ``ThrottlingException`` for a share of them (``throttling_share``);
- a request for an object the stand-in's S3 does not hold is answered with
  ``InvalidS3ObjectException``, as Rekognition answers when it cannot read it.

The bucket is checked when a request arrives. Latencies come from a random
generator seeded per request (the seed, the key and the attempt), so a run is
repeatable. Every request is recorded (``calls``) for the figures.
"""

from __future__ import annotations

import io
import json
import random
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from botocore.awsrequest import AWSResponse

from local.rekognition import detect_faces_response
from local.virtual_time import VirtualClock

#: Where clients answered by the stand-in point (``AWS_ENDPOINT_URL_REKOGNITION``): never
#: reached, and no moto backend claims it.
ENDPOINT_URL = "https://rekognition.simulation.invalid"
ACCEPTED_LATENCY_SECONDS = (0.150, 0.400)
THROTTLED_LATENCY_SECONDS = (0.010, 0.040)
PROVISIONED_THROUGHPUT_EXCEEDED = "ProvisionedThroughputExceededException"
THROTTLING = "ThrottlingException"
INVALID_S3_OBJECT = "InvalidS3ObjectException"
ACCEPTED = "accepted"
_TARGET = "RekognitionService.DetectFaces"


@dataclass(frozen=True)
class DetectFacesCall:
    """One request as the service saw it: when it arrived, for which image, and its answer."""

    at: float
    key: str
    outcome: str  # ACCEPTED or the error code


class _Body(io.BytesIO):
    """The raw HTTP body botocore reads a response from."""

    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self.getvalue()


class DetectFacesBudget:
    """The DetectFaces stand-in; ``register(events)`` answers every client made from those events."""

    def __init__(
        self,
        clock: VirtualClock,
        *,
        rate: float,
        burst: float,
        faces_for: Callable[[str], int],
        object_exists: Callable[[str, str, str | None], bool] | None = None,
        throttling_share: float = 0.25,
        accepted_latency: tuple[float, float] = ACCEPTED_LATENCY_SECONDS,
        throttled_latency: tuple[float, float] = THROTTLED_LATENCY_SECONDS,
        seed: int = 0,
    ) -> None:
        if rate <= 0 or burst < 1:
            raise ValueError("a DetectFaces budget needs a rate above 0 and a burst of at least 1 request")
        self.clock = clock
        self.rate = rate
        self.burst = burst
        self._faces_for = faces_for
        self._object_exists = object_exists
        self._throttling_share = throttling_share
        self._accepted_latency = accepted_latency
        self._throttled_latency = throttled_latency
        self._seed = seed
        self._tokens = burst
        self._refilled_at = clock.now()
        self._attempts: Counter[str] = Counter()
        self.calls: list[DetectFacesCall] = []

    def register(self, events: Any) -> None:
        """Answer DetectFaces for clients created from ``events`` (a botocore session's, or a client's).

        Registered last, so the client's own ``before-send`` handlers (the
        adaptive rate limiter) run before a request reaches the service.
        """
        events.register_last("before-send.rekognition.DetectFaces", self.answer)

    def answer(self, request: Any, **_: Any) -> AWSResponse:
        """The service's answer to one DetectFaces request, after its latency in simulated time."""
        if request.headers.get("X-Amz-Target", b"").decode() != _TARGET:
            raise ValueError("DetectFacesBudget answers DetectFaces only")
        s3_object = json.loads(request.body)["Image"]["S3Object"]
        key = s3_object["Name"]
        self._attempts[key] += 1
        draw = random.Random(f"{self._seed}:{key}:{self._attempts[key]}")
        arrived = self.clock.now()
        if self._object_exists and not self._object_exists(s3_object["Bucket"], key, s3_object.get("Version")):
            outcome = INVALID_S3_OBJECT
        elif self._take_token(arrived):
            outcome = ACCEPTED
        else:
            outcome = THROTTLING if draw.random() < self._throttling_share else PROVISIONED_THROUGHPUT_EXCEEDED
        self.calls.append(DetectFacesCall(at=arrived, key=key, outcome=outcome))
        self.clock.sleep(draw.uniform(*(self._accepted_latency if outcome == ACCEPTED else self._throttled_latency)))
        if outcome == ACCEPTED:
            return _response(request.url, 200, detect_faces_response(self._faces_for(key)))
        return _response(request.url, 400, {"__type": outcome, "Message": _MESSAGES[outcome]})

    def _take_token(self, now: float) -> bool:
        self._tokens = min(self.burst, self._tokens + (now - self._refilled_at) * self.rate)
        self._refilled_at = now
        if self._tokens >= 1:
            self._tokens -= 1
            return True
        return False


_MESSAGES = {
    PROVISIONED_THROUGHPUT_EXCEEDED: "The number of requests exceeded your throughput limit.",
    THROTTLING: "Amazon Rekognition is temporarily unable to process the request. Try your call again.",
    INVALID_S3_OBJECT: "Unable to get object metadata from S3. Check object key, region and/or access permissions.",
}


def _response(url: str, status: int, body: dict[str, Any]) -> AWSResponse:
    headers = {"Content-Type": "application/x-amz-json-1.1", "x-amzn-RequestId": "local-detect-faces"}
    return AWSResponse(url, status, headers, _Body(json.dumps(body).encode()))
