"""Every attempt of one API operation, and the throttled ones, as botocore sends them.

botocore retries a throttled call itself (the analyzer's Rekognition client:
adaptive mode, five attempts), so a call that succeeds on its third attempt
looks like one call to the handler while two of the budget's requests were
refused. Counting at botocore's ``response-received`` event, once per
attempt, is what shows how much of the DetectFaces budget throttling eats.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from shopper_analyze.metric_tally import MetricTally

#: The throttling error codes botocore's retry handlers know, across services.
THROTTLING_CODES = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "RequestThrottledException",
        "TooManyRequestsException",
        "ProvisionedThroughputExceededException",
        "RequestLimitExceeded",
        "RequestThrottled",
        "SlowDown",
        "LimitExceededException",
        "BandwidthLimitExceeded",
    }
)


class CallAttempts:
    """Counts attempts of ``operation`` on the clients it is attached to; safe on many threads.

    The counts belong to the execution environment (its clients outlive an
    invocation); each invocation drains them into its tally.
    """

    def __init__(self, *, service_id: str, operation: str) -> None:
        self.event_name = f"response-received.{service_id}.{operation}"
        self._lock = threading.Lock()
        self._attempts = 0
        self._throttled = 0

    def attach(self, client: Any) -> Any:
        """Count the attempts of this client (returned, for chaining)."""
        client.meta.events.register(self.event_name, self._on_response)
        return client

    def _on_response(self, *, parsed_response: dict[str, Any] | None = None, **_: Any) -> None:
        code = ((parsed_response or {}).get("Error") or {}).get("Code")
        with self._lock:
            self._attempts += 1
            if code in THROTTLING_CODES:
                self._throttled += 1

    def drain_into(self, tally: MetricTally, *, attempts_metric: str, throttled_metric: str) -> None:
        """Add the counts since the last drain to ``tally`` (zeros too: a quiet minute is a 0, not a gap)."""
        with self._lock:
            attempts, throttled, self._attempts, self._throttled = self._attempts, self._throttled, 0, 0
        tally.count(attempts_metric, attempts)
        tally.count(throttled_metric, throttled)
