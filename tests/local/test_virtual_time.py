"""Simulated time: threads take turns, waits cost exactly their simulated length, botocore waits on the clock."""

from __future__ import annotations

import pytest
from botocore import endpoint
from botocore.retries import bucket

from local.virtual_time import (
    SimulationError,
    VirtualClock,
    VirtualEvent,
    VirtualLambdaContext,
    VirtualThreadPool,
    botocore_in_virtual_time,
)


def test_pool_threads_wait_side_by_side_in_simulated_time():
    clock = VirtualClock()
    finished: list[tuple[int, float]] = []

    def job(n: int) -> int:
        clock.sleep(1.0 + n / 10)
        finished.append((n, round(clock.now(), 6)))
        return n * 2

    def main() -> list[int]:
        with VirtualThreadPool(clock, max_workers=3) as pool:
            return list(pool.map(job, range(7)))

    assert clock.run(main) == [0, 2, 4, 6, 8, 10, 12]
    # Three workers: 0, 1, 2 at once; each worker then takes the next job when it is free.
    assert finished == [(0, 1.0), (1, 1.1), (2, 1.2), (3, 2.3), (4, 2.5), (5, 2.7), (6, 3.9)]
    assert clock.now() == pytest.approx(3.9)


def test_an_exception_in_a_pool_task_reaches_the_caller():
    clock = VirtualClock()

    def job(n: int) -> int:
        clock.sleep(0.5)
        if n == 2:
            raise ValueError("image 2")
        return n

    def main() -> str:
        with VirtualThreadPool(clock, max_workers=2) as pool:
            try:
                list(pool.map(job, range(4)))
            except ValueError as exc:
                return str(exc)
        return "no error"

    assert clock.run(main) == "image 2"


def test_an_event_wakes_its_waiter_at_the_simulated_instant_it_is_set():
    clock = VirtualClock()
    done = VirtualEvent(clock)

    def setter() -> None:
        clock.sleep(42.0)
        done.set()

    def main() -> tuple[bool, float, bool, float]:
        clock.spawn(setter, name="setter")
        timed_out = done.wait(timeout=10.0)
        at_timeout = clock.now()
        woken = done.wait()
        return timed_out, at_timeout, woken, clock.now()

    assert clock.run(main) == (False, 10.0, True, 42.0)


def test_every_thread_waiting_with_no_timer_due_is_reported_as_a_deadlock():
    clock = VirtualClock()
    never = VirtualEvent(clock)

    with pytest.raises(SimulationError, match="deadlock"):
        clock.run(never.wait)


def test_a_failing_simulated_thread_stops_the_simulation_with_its_error():
    clock = VirtualClock()

    def broken() -> None:
        clock.sleep(1.0)
        raise KeyError("lost image")

    def main() -> None:
        clock.spawn(broken, name="broken")
        clock.sleep(5.0)

    with pytest.raises(SimulationError) as raised:
        clock.run(main)
    assert isinstance(raised.value.__cause__, KeyError)


def test_the_lambda_context_runs_down_in_simulated_time():
    clock = VirtualClock()

    def main() -> tuple[int, int]:
        clock.sleep(3.0)
        context = VirtualLambdaContext(clock, timeout_ms=300_000, request_id="r-1")
        clock.sleep(120.5)
        return context.get_remaining_time_in_millis(), len(context.aws_request_id)

    assert clock.run(main) == (179_500, 3)


def test_botocore_retry_sleeps_and_the_adaptive_limiter_use_the_clock_only_while_open():
    clock = VirtualClock()
    real_sleep, real_clock, real_bucket = endpoint.time.sleep, bucket.Clock, bucket.TokenBucket
    with botocore_in_virtual_time(clock):
        limiter_clock = bucket.Clock()
        token_bucket = bucket.TokenBucket(max_rate=2, clock=limiter_clock)

        def main() -> tuple[float, float]:
            token_bucket.acquire(2)  # 2 tokens/s into an empty bucket: one second's wait
            waited_for_tokens = clock.now()
            endpoint.time.sleep(12.5)  # the endpoint's wait between retry attempts
            return waited_for_tokens, clock.now() - waited_for_tokens

        waited_for_tokens, slept = clock.run(main)
    assert waited_for_tokens == pytest.approx(1.0)
    assert slept == 12.5
    assert limiter_clock.current_time() == clock.epoch + clock.now()
    assert (endpoint.time.sleep, bucket.Clock, bucket.TokenBucket) == (real_sleep, real_clock, real_bucket)
