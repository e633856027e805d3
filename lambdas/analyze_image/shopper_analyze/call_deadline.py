"""An instant by which every AWS call of an invocation must have returned.

A client's timeouts and retries bound one call, but not the batch: a Firehose
that accepts connections and never answers costs every PutRecordBatch its
read timeout times its attempts (plus backoff), and settlement makes several
such calls, one after the other: 120-160 s were observed, far more than the
30 s kept back for delivery. The function's timeout then cuts the batch off
mid-settlement, and every message of it comes back.

``CallDeadline`` is attached to each client (botocore's ``before-send``
event, once per attempt, retries included): an attempt is sent only if its
connect and read timeouts end before the deadline; otherwise the call fails
at once with ``CallDeadlineError`` (a ``BotoCoreError``, so every caller
that survives a failed call survives this one too: the message goes back to
SQS, its image stays in incoming/). The handler moves the deadline per phase
(``staging.DELIVERY_RESERVE_MS`` before the end for phase 1,
``SETTLE_MARGIN_MS`` before it for phase 2), so a batch always settles, its
failures reported, before Lambda's timeout.

What one attempt may still overrun: the backoff botocore sleeps before a
retry (the next attempt is then refused) — at most a few seconds with the
clients' retry settings, which ``SETTLE_MARGIN_MS`` covers.
"""

from __future__ import annotations

import threading
import time
from typing import Any, Protocol

from botocore.exceptions import BotoCoreError


class MonotonicClock(Protocol):
    def monotonic(self) -> float: ...


class _SystemClock:
    def monotonic(self) -> float:
        return time.monotonic()


class CallDeadlineError(BotoCoreError):
    """An attempt of an AWS call was not sent: it could not have ended before the invocation's deadline."""

    fmt = (
        "{operation} not sent: one attempt may take {attempt_seconds:g} s and {remaining_seconds:.1f} s are left"
        " before the invocation must settle; the message goes back to SQS"
    )


class CallDeadline:
    """The instant, on ``clock``, by which calls of the clients attached must end (none set: no limit)."""

    def __init__(self, clock: MonotonicClock | None = None) -> None:
        self._clock = clock or _SystemClock()
        self._lock = threading.Lock()
        self._at = float("inf")

    def set_in(self, seconds: float) -> None:
        """Calls must end within ``seconds`` from now."""
        with self._lock:
            self._at = self._clock.monotonic() + seconds

    def set_at(self, instant: float) -> None:
        """Calls must end by ``instant`` (on the clock's ``monotonic`` scale)."""
        with self._lock:
            self._at = instant

    def clear(self) -> None:
        with self._lock:
            self._at = float("inf")

    def now(self) -> float:
        return self._clock.monotonic()

    def remaining(self) -> float:
        with self._lock:
            return self._at - self._clock.monotonic()

    def attach(self, client: Any) -> Any:
        """Refuse this client's attempts that would end after the deadline (returned, for chaining)."""
        config = client.meta.config
        # One attempt ends by its connect plus its read timeout, whatever the server does.
        attempt_seconds = float(config.connect_timeout) + float(config.read_timeout)

        def before_send(*, event_name: str = "", **_: Any) -> None:
            remaining = self.remaining()
            if remaining < attempt_seconds:
                # "before-send.<service>.<operation>"
                operation = ".".join(event_name.split(".")[1:]) or "an AWS call"
                raise CallDeadlineError(
                    operation=operation, attempt_seconds=attempt_seconds, remaining_seconds=max(remaining, 0.0)
                )

        # Registered last: the adaptive mode's rate limiter (also before-send) has already waited.
        client.meta.events.register("before-send", before_send)
        return client
