"""The plausibility rule for capture times and the clock-step measurement (pure, no AWS)."""

from __future__ import annotations

from datetime import UTC, datetime

from shopper_edge.clock import BUILD_DATE, CaptureClock

NOW = datetime(2026, 11, 29, 12, tzinfo=UTC).timestamp()


class Ticking:
    """A wall clock and a monotonic clock the test moves by hand."""

    def __init__(self, wall: float) -> None:
        self.wall_at = wall
        self.boot = 100.0

    def wall(self) -> float:
        return self.wall_at

    def boottime(self) -> float:
        return self.boot

    def advance(self, seconds: float) -> None:
        self.wall_at += seconds
        self.boot += seconds


def _clock(ticking: Ticking) -> CaptureClock:
    return CaptureClock(max_ahead_seconds=300, wall=ticking.wall, boottime=ticking.boottime)


def test_a_time_before_the_build_date_is_implausible() -> None:
    clock = _clock(Ticking(NOW))
    assert "build date" in (clock.implausible(0.0) or "")
    assert clock.implausible(BUILD_DATE.timestamp() - 1) is not None
    assert clock.implausible(NOW - 3600) is None


def test_ahead_of_the_aws_time_is_implausible_and_the_aws_time_runs_on_the_monotonic_clock() -> None:
    ticking = Ticking(NOW + 86400)  # the device clock runs a day ahead
    clock = _clock(ticking)
    assert clock.implausible(NOW + 86400) is None  # before AWS was heard, the local clock is all there is
    clock.observe_date("Sun, 29 Nov 2026 12:00:00 GMT", "S3")
    ticking.advance(60)
    reference, source = clock.reference()
    assert (reference, source) == (NOW + 60, "S3 time")
    assert "ahead of the S3 time" in (clock.implausible(NOW + 86400) or "")
    # While the device clock is off, every still is held: it was stamped by that clock.
    assert "device clock is 86400 s ahead" in (clock.implausible(NOW) or "")
    assert clock.local_clock_sane() is False


def test_an_unreadable_date_is_ignored() -> None:
    clock = _clock(Ticking(NOW))
    clock.observe_date("yesterday-ish", "S3")
    clock.observe_date(None, "S3")
    assert clock.heard_aws is False


def test_a_step_of_the_wall_clock_is_measured_against_the_monotonic_clock() -> None:
    ticking = Ticking(12.0)  # booted in 1970
    clock = _clock(ticking)
    ticking.advance(5)
    assert clock.take_step() is None  # time passing is no step
    ticking.wall_at += 0.5
    assert clock.take_step() is None  # nor is an NTP slew
    ticking.wall_at = NOW
    step = clock.take_step()
    assert step is not None
    assert step.seconds == NOW - 17.5
    assert step.boot_started == 12.0 - 100.0 + 0.5  # the old clock's time of the boot
    assert step.old_now == 17.5
