"""The AWS clients and the face analyzer one analyze handler works with.

``app.py`` builds the deployed ones (boto3 clients with their botocore
``Config``) and hands them to its handler factory; tests, the demo and the
benchmark hand it their own (wrappers that inject failures, a local analyzer).

``PacedAnalyzer`` holds one execution environment to its share of the
deployment's DetectFaces budget. The stack sizes the event source so that
``maximum concurrency × ANALYZE_THREADS × DETECT_FACES_PER_SECOND_PER_THREAD``
is the budget (``parallelism_for`` in shopper_sentiment/tiers/process.py): each environment
then paces its calls to ``ANALYZE_THREADS × DETECT_FACES_PER_SECOND_PER_THREAD``
per second, and Rekognition seldom has to refuse one. Refused calls are the
waste a budget cannot afford: botocore's adaptive mode alone finds the rate
by being throttled, again and again, in every environment (the burst
simulation, bench/bench_burst.py, measured 1.2 calls per image at 5/s).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient  # type stubs only, never at runtime
    from mypy_boto3_firehose import FirehoseClient
    from mypy_boto3_s3 import S3Client

    from shopper_analyze.analyzers import FaceAnalyzer

#: The share of the DetectFaces budget one analysis thread stands for (calls
#: per second). shopper_sentiment/tiers/process.py divides the budget by the same number
#: (CALLS_PER_SECOND_PER_THREAD; a test keeps them equal).
DETECT_FACES_PER_SECOND_PER_THREAD = 0.5


@dataclass(frozen=True)
class Clients:
    #: Reads the source images, moves them to the archive or quarantine.
    s3: S3Client
    #: Receives the face records (PutRecordBatch).
    firehose: FirehoseClient
    #: The idempotency table: Powertools' stored analyses and the delivered markers.
    dynamodb: DynamoDBClient
    #: Finds the faces in an image (Rekognition when deployed).
    analyzer: FaceAnalyzer


class Clock(Protocol):
    """Where a pace reads the time and waits: the system's, or a simulation's."""

    def monotonic(self) -> float: ...

    def sleep(self, seconds: float) -> None: ...


class SystemClock:
    def monotonic(self) -> float:
        return time.monotonic()

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)


class PacedAnalyzer:
    """An analyzer whose calls start at most ``calls_per_second`` apart, across all the threads using it.

    Each call takes the next free slot, ``1 / calls_per_second`` after the
    previous one, and waits for it outside the lock; slots left unused while
    the environment was idle are not saved up, so it never bursts above its pace.
    """

    def __init__(self, analyzer: FaceAnalyzer, *, calls_per_second: float, clock: Clock | None = None) -> None:
        if calls_per_second <= 0:
            raise ValueError(f"calls_per_second must be above 0, not {calls_per_second}")
        self._analyzer = analyzer
        self._interval = 1 / calls_per_second
        self._clock = clock or SystemClock()
        self._lock = threading.Lock()
        self._next_slot = float("-inf")
        self.calls_per_second = calls_per_second

    @property
    def name(self) -> str:
        return self._analyzer.name

    @property
    def unpaced(self) -> FaceAnalyzer:
        """The analyzer itself (a benchmark of the handler's own cost waits for no budget)."""
        return self._analyzer

    def detect_faces(self, *, bucket: str, key: str, version_id: str | None, **options: Any) -> list[dict[str, Any]]:
        """The wrapped analyzer's answer; ``options`` (a privacy profile's ``attributes``) pass through."""
        with self._lock:
            now = self._clock.monotonic()
            slot = max(now, self._next_slot)
            self._next_slot = slot + self._interval
        if slot > now:
            self._clock.sleep(slot - now)
        return self._analyzer.detect_faces(bucket=bucket, key=key, version_id=version_id, **options)
