"""Is the time a still carries believable?

A Raspberry Pi has no real-time clock: without network time it boots in 1970
(or at the time fake-hwclock saved), and motion stamps every still with that
clock. A key dated 1970 lands in a partition Athena never reads, so such a
still is held (kept on disk, not uploaded) instead:

* a capture time before ``BUILD_DATE`` (no still of this agent can be older
  than the agent) is implausible;
* so is one more than ``clock.max_ahead_seconds`` ahead of the time AWS
  reports (the ``Date`` of the IoT credentials provider's and S3's answers,
  carried forward on the monotonic clock), or of the local clock before AWS
  was heard;
* and while the local clock is off from the AWS time by more than that margin,
  every still is held: motion is stamping them with the wrong clock.

When the clock is set (NTP steps it), the step is measured against the
monotonic clock and the stills taken earlier in the same boot are re-dated by
it; what is then plausible is uploaded.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

#: The day this version of the agent was built: no still it uploads can be
#: older. Bump it with every release.
BUILD_DATE = datetime(2026, 11, 25, tzinfo=UTC)

# A change of (wall clock - monotonic clock) below this is drift or an NTP
# slew, not a step; HTTP dates have whole seconds anyway.
STEP_THRESHOLD_SECONDS = 2.0


def _boottime() -> float:
    # CLOCK_BOOTTIME keeps counting through suspend, so it ties the wall clock
    # to the boot; time.monotonic is the portable fallback.
    clock = getattr(time, "CLOCK_BOOTTIME", None)
    return time.clock_gettime(clock) if clock is not None else time.monotonic()


@dataclass(frozen=True)
class ClockStep:
    """The wall clock jumped by ``seconds``.

    Stills stamped between ``boot_started`` and ``old_now`` (both on the old
    clock) were stamped by it in this boot: their true time is stamp + seconds.
    """

    seconds: float
    boot_started: float
    old_now: float


class CaptureClock:
    """The agent's view of time: its wall clock, the AWS time it has heard, and the plausibility rule."""

    def __init__(
        self,
        *,
        max_ahead_seconds: float,
        earliest: datetime = BUILD_DATE,
        wall: Callable[[], float] = time.time,
        boottime: Callable[[], float] = _boottime,
    ) -> None:
        self.max_ahead_seconds = max_ahead_seconds
        self.earliest = earliest
        self._earliest = earliest.timestamp()
        self._wall = wall
        self._boottime = boottime
        self._lock = threading.Lock()
        self._server: tuple[float, float, str] | None = None  # (AWS epoch, boottime then, source)
        self._offset = wall() - boottime()

    def now(self) -> float:
        """The local wall clock (epoch seconds), right or wrong."""
        return self._wall()

    # ---- AWS time -------------------------------------------------------------------

    def observe_date(self, header: str | None, source: str) -> None:
        """Remember an HTTP ``Date`` from an AWS answer (any status: a refusal carries the time too)."""
        if not header:
            return
        try:
            moment = parsedate_to_datetime(header)
        except (TypeError, ValueError):
            return
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        with self._lock:
            self._server = (moment.timestamp(), self._boottime(), source)

    def observe_response(self, http_response: Any = None, **_: Any) -> None:
        """botocore ``after-call`` handler: the Date of every S3 answer."""
        headers = getattr(http_response, "headers", None) or {}
        self.observe_date(headers.get("Date") or headers.get("date"), "S3")

    @property
    def heard_aws(self) -> bool:
        with self._lock:
            return self._server is not None

    def reference(self) -> tuple[float, str]:
        """The best estimate of the true time and where it comes from."""
        with self._lock:
            server = self._server
        if server is None:
            return self._wall(), "local clock"
        epoch, then, source = server
        return epoch + (self._boottime() - then), f"{source} time"

    def local_error(self) -> float | None:
        """Seconds the local clock is ahead (+) or behind (-) the AWS time; None before AWS was heard."""
        if not self.heard_aws:
            return None
        reference, _ = self.reference()
        return self._wall() - reference

    def local_clock_sane(self) -> bool:
        error = self.local_error()
        now = self._wall()
        if now < self._earliest:
            return False
        return error is None or abs(error) <= self.max_ahead_seconds

    # ---- the rule -------------------------------------------------------------------

    def implausible(self, taken_at: float) -> str | None:
        """Why a still taken at ``taken_at`` (epoch seconds) cannot be dated right, or None if it can."""
        if taken_at < self._earliest:
            return f"taken before {self.earliest:%Y-%m-%d}, the agent's build date"
        reference, source = self.reference()
        if taken_at > reference + self.max_ahead_seconds:
            return f"taken more than {self.max_ahead_seconds:g} s ahead of the {source}"
        error = self.local_error()
        if error is not None and abs(error) > self.max_ahead_seconds:
            side = "ahead of" if error > 0 else "behind"
            return f"the device clock is {abs(error):.0f} s {side} the {source}: stills are stamped wrong"
        return None

    def take_step(self) -> ClockStep | None:
        """A step of the wall clock since the last call, or None."""
        wall, boot = self._wall(), self._boottime()
        offset = wall - boot
        step = offset - self._offset
        previous = self._offset
        self._offset = offset
        if abs(step) < STEP_THRESHOLD_SECONDS:
            return None
        return ClockStep(seconds=step, boot_started=previous, old_now=previous + boot)
