"""Simulated time for real threaded code: hours of waiting run in seconds, the code itself unchanged.

The burst simulation (``local.sqs_simulation``) runs the real analyze handler,
with its analysis threads and botocore's retries, against stand-ins that
answer after a latency. Waiting for those latencies in wall time would take as
long as the real thing (10,000 images at 5 requests/s: half an hour), so
every wait happens on a ``VirtualClock`` instead:

- Threads the clock runs (``spawn``, ``run``) take turns: exactly one runs
  at a time, until it waits on the clock (``sleep``, a ``VirtualEvent``, a
  ``VirtualCondition``, a future of a ``VirtualThreadPool``). The next ready
  thread then runs; when none is ready, the clock jumps to the earliest
  timer. Computing takes no simulated time; waiting takes exactly the time
  waited. Turns go in a fixed order (first ready, first run), so a run is
  repeatable.
- ``VirtualThreadPool`` is a ``concurrent.futures.Executor`` whose workers are
  such threads: the handler's ``create_handler(..., thread_pool=...)`` runs
  its analysis threads on it.
- ``botocore_in_virtual_time`` makes botocore wait on the clock: the sleep
  between retry attempts, and the adaptive retry mode's client-side rate
  limiter (its clock, and the condition its token bucket waits on). The
  retry logic itself is botocore's own.

One rule follows from taking turns: a thread must not wait on the clock while
it holds a lock another simulated thread may need. Waiting here always
releases the lock it waits under (``VirtualCondition``), and the handler,
botocore and moto hold no other lock across a call to a service.
"""

from __future__ import annotations

import heapq
import itertools
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Executor, Future
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import ModuleType
from typing import Any, TypeVar

from local.lambda_runtime import LambdaContextStub

T = TypeVar("T")

#: The wall-clock instant simulated time 0 stands for (botocore's limiter reads epoch seconds).
EPOCH = datetime(2026, 3, 16, 8, 0, tzinfo=UTC).timestamp()


class SimulationError(RuntimeError):
    """The simulated threads cannot go on (all wait and no timer is due), or one of them failed."""


@dataclass(eq=False)
class _Waiter:
    """One wait of one thread: released by a wake-up or by its timer, whichever comes first."""

    event: threading.Event = field(default_factory=threading.Event)
    released: bool = False
    timed_out: bool = False


class VirtualClock:
    """Simulated time, and the turn-taking of the threads that wait on it."""

    def __init__(self, *, epoch: float = EPOCH) -> None:
        self.epoch = epoch
        self._now = 0.0
        self._lock = threading.Lock()
        self._ready: deque[_Waiter] = deque()
        self._timers: list[tuple[float, int, _Waiter]] = []
        self._order = itertools.count()
        self._alive = 0
        self._local = threading.local()
        self._finished = threading.Event()
        self._failure: BaseException | None = None

    def now(self) -> float:
        """Seconds of simulated time since the start."""
        return self._now

    def time(self) -> float:
        """Simulated epoch seconds (what ``time.time()`` would say)."""
        return self.epoch + self._now

    def monotonic(self) -> float:
        """What ``time.monotonic()`` would say (the analyze function's ``Clock``)."""
        return self._now

    def in_simulation(self) -> bool:
        """Whether the calling thread is one the clock runs."""
        return bool(getattr(self._local, "simulated", False))

    def sleep(self, seconds: float) -> None:
        """Let ``seconds`` of simulated time pass for this thread (others run meanwhile)."""
        if not self.in_simulation():
            raise SimulationError("VirtualClock.sleep called from a thread the clock does not run")
        self.wait(_Waiter(), timeout=max(0.0, seconds))

    def wait(self, waiter: _Waiter, timeout: float | None = None) -> None:
        """Give up the turn until ``wake(waiter)`` or, with a timeout, until it elapses."""
        with self._lock:
            if timeout is not None:
                heapq.heappush(self._timers, (self._now + timeout, next(self._order), waiter))
            following = self._next_locked(waiting=True)
        if following is not None:
            following.event.set()
        waiter.event.wait()

    def wake(self, waiter: _Waiter) -> None:
        """Make the thread waiting on ``waiter`` ready to run (it runs when the current one waits)."""
        with self._lock:
            if not waiter.released:
                waiter.released = True
                self._ready.append(waiter)

    def spawn(self, target: Callable[[], object], *, name: str) -> None:
        """Start ``target`` on a new simulated thread; it runs once the current thread waits."""
        start = _Waiter(released=True)

        def body() -> None:
            self._local.simulated = True
            start.event.wait()
            try:
                target()
            except BaseException as exc:
                self._fail(exc)
                return  # keep the turn: nothing runs after a failure
            self._exit()

        with self._lock:
            self._alive += 1
            self._ready.append(start)
        threading.Thread(target=body, name=name, daemon=True).start()

    def run(self, main: Callable[[], T], *, name: str = "simulation") -> T:
        """Run ``main`` on a simulated thread until it returns; its result, or the failure that stopped it.

        Every other simulated thread must have ended by then.
        """
        if self._alive:
            raise SimulationError("this clock is already running a simulation")
        outcome: list[T] = []

        def main_body() -> None:
            outcome.append(main())
            with self._lock:
                others = self._alive - 1
            if others:
                raise SimulationError(f"{others} simulated thread(s) still running when the simulation ended")
            self._finished.set()

        self.spawn(main_body, name=name)
        with self._lock:
            first = self._next_locked(waiting=False)
        assert first is not None
        first.event.set()
        self._finished.wait()
        if self._failure is not None:
            raise SimulationError(f"the simulation stopped: {self._failure!r}") from self._failure
        return outcome[0]

    def _exit(self) -> None:
        with self._lock:
            self._alive -= 1
            following = self._next_locked(waiting=False)
        if following is not None:
            following.event.set()

    def _next_locked(self, *, waiting: bool) -> _Waiter | None:
        """The waiter whose thread runs next: first the ready ones in order, then the earliest timer."""
        if self._ready:
            return self._ready.popleft()
        while self._timers:
            due, _, waiter = heapq.heappop(self._timers)
            if waiter.released:
                continue  # woken before its timer
            waiter.released = waiter.timed_out = True
            self._now = max(self._now, due)
            return waiter
        if waiting or self._alive:
            self._failure = SimulationError(
                f"every simulated thread waits and no timer is due (t={self._now:.3f} s): a deadlock"
            )
            self._finished.set()
        return None

    def _fail(self, exc: BaseException) -> None:
        self._failure = exc
        self._finished.set()


class VirtualEvent:
    """``threading.Event`` for simulated threads: ``wait`` gives up the turn."""

    def __init__(self, clock: VirtualClock) -> None:
        self._clock = clock
        self._flag = False
        self._waiters: list[_Waiter] = []

    def is_set(self) -> bool:
        return self._flag

    def set(self) -> None:
        self._flag = True
        waiters, self._waiters = self._waiters, []
        for waiter in waiters:
            self._clock.wake(waiter)

    def clear(self) -> None:
        self._flag = False

    def wait(self, timeout: float | None = None) -> bool:
        if self._flag:
            return True
        waiter = _Waiter()
        self._waiters.append(waiter)
        self._clock.wait(waiter, timeout)
        if waiter in self._waiters:
            self._waiters.remove(waiter)
        return self._flag


class VirtualCondition:
    """``threading.Condition`` over a real lock, whose ``wait`` waits in simulated time."""

    def __init__(self, clock: VirtualClock, lock: Any) -> None:
        self._clock = clock
        self._lock = lock
        self._waiters: list[_Waiter] = []

    def __enter__(self) -> bool:
        return bool(self._lock.acquire())

    def __exit__(self, *exc_info: object) -> None:
        self._lock.release()

    def wait(self, timeout: float | None = None) -> bool:
        waiter = _Waiter()
        self._waiters.append(waiter)
        self._lock.release()
        try:
            self._clock.wait(waiter, timeout)
        finally:
            self._lock.acquire()
        if waiter in self._waiters:
            self._waiters.remove(waiter)
        return not waiter.timed_out

    def notify(self, n: int = 1) -> None:
        for waiter in self._waiters[:n]:
            self._clock.wake(waiter)
        del self._waiters[:n]

    def notify_all(self) -> None:
        self.notify(len(self._waiters))


class _VirtualFuture(Future[Any]):
    """A future whose ``result`` waits in simulated time."""

    def __init__(self, clock: VirtualClock) -> None:
        super().__init__()
        self._settled = VirtualEvent(clock)

    def set_result(self, result: Any) -> None:
        super().set_result(result)
        self._settled.set()

    def set_exception(self, exception: BaseException | None) -> None:
        super().set_exception(exception)
        self._settled.set()

    def result(self, timeout: float | None = None) -> Any:
        self._settled.wait(timeout)
        return super().result(timeout=0)

    def exception(self, timeout: float | None = None) -> BaseException | None:
        self._settled.wait(timeout)
        return super().exception(timeout=0)


class VirtualThreadPool(Executor):
    """``ThreadPoolExecutor`` on simulated threads: up to ``max_workers`` run the submitted calls."""

    def __init__(self, clock: VirtualClock, max_workers: int, thread_name_prefix: str = "pool") -> None:
        if max_workers < 1:
            raise ValueError("max_workers must be at least 1")
        self._clock = clock
        self._max_workers = max_workers
        self._prefix = thread_name_prefix
        self._tasks: deque[tuple[_VirtualFuture, Callable[..., Any], tuple[Any, ...], dict[str, Any]]] = deque()
        self._idle: list[_Waiter] = []
        self._workers = 0
        self._started = 0
        self._closed = False
        self._all_exited = VirtualEvent(clock)

    @classmethod
    def factory(cls, clock: VirtualClock) -> Callable[..., VirtualThreadPool]:
        """What ``create_handler(..., thread_pool=...)`` takes: called like ``ThreadPoolExecutor``."""

        def make(max_workers: int, thread_name_prefix: str = "pool") -> VirtualThreadPool:
            return cls(clock, max_workers, thread_name_prefix)

        return make

    def submit(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> Future[T]:
        if self._closed:
            raise RuntimeError("cannot schedule new futures after shutdown")
        future = _VirtualFuture(self._clock)
        self._tasks.append((future, fn, args, kwargs))
        if self._idle:
            self._clock.wake(self._idle.pop())
        elif self._workers < self._max_workers:
            self._workers += 1
            self._started += 1
            self._clock.spawn(self._work, name=f"{self._prefix}_{self._started}")
        return future

    def _work(self) -> None:
        while True:
            if self._tasks:
                future, fn, args, kwargs = self._tasks.popleft()
                if not future.set_running_or_notify_cancel():
                    continue
                try:
                    result = fn(*args, **kwargs)
                except BaseException as exc:
                    future.set_exception(exc)
                else:
                    future.set_result(result)
            elif self._closed:
                self._workers -= 1
                if not self._workers:
                    self._all_exited.set()
                return
            else:
                waiter = _Waiter()
                self._idle.append(waiter)
                self._clock.wait(waiter)

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        self._closed = True
        if cancel_futures:
            while self._tasks:
                self._tasks.popleft()[0].cancel()
        idle, self._idle = self._idle, []
        for waiter in idle:
            self._clock.wake(waiter)
        if wait and self._workers:
            self._all_exited.wait()


class VirtualLambdaContext(LambdaContextStub):
    """The LambdaContext of one invocation, its remaining time running down in simulated time."""

    def __init__(self, clock: VirtualClock, timeout_ms: int, request_id: str) -> None:
        super().__init__(timeout_ms)
        self._clock = clock
        self._invoked_at = clock.now()
        self.aws_request_id = request_id

    def get_remaining_time_in_millis(self) -> int:
        return max(0, self.remaining_ms - int((self._clock.now() - self._invoked_at) * 1000))


class _ClockTime:
    """The ``time`` module as botocore's endpoint sees it: its retry sleeps wait on the clock."""

    def __init__(self, clock: VirtualClock, real: ModuleType) -> None:
        self._clock = clock
        self._real = real

    def sleep(self, seconds: float) -> None:
        if self._clock.in_simulation():
            self._clock.sleep(seconds)
        else:
            self._real.sleep(seconds)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)


class _LimiterClock:
    """botocore.retries.bucket.Clock on simulated time."""

    def __init__(self, clock: VirtualClock) -> None:
        self.virtual = clock

    def sleep(self, amount: float) -> None:
        self.virtual.sleep(amount)

    def current_time(self) -> float:
        return self.virtual.time()


@contextmanager
def botocore_in_virtual_time(clock: VirtualClock) -> Iterator[None]:
    """While open: botocore's retry sleeps, and the rate limiter of adaptive clients created now, use ``clock``.

    Only the waiting changes: which attempts are retried, the backoff, the
    retry quota and the adaptive mode's rate (CUBIC) are botocore's own. The
    endpoint's sleep stays real for threads the clock does not run.
    """
    from botocore import endpoint
    from botocore.retries import bucket

    real_bucket = bucket.TokenBucket

    class VirtualTokenBucket(real_bucket):  # type: ignore[misc,valid-type]
        """botocore's token bucket; its wait for capacity is a simulated one."""

        def __init__(self, max_rate: float, clock: _LimiterClock, **kwargs: Any) -> None:
            super().__init__(max_rate, clock, **kwargs)
            self._new_fill_rate_condition = VirtualCondition(clock.virtual, self._lock)

    saved = (endpoint.time, bucket.Clock, bucket.TokenBucket)
    endpoint.time = _ClockTime(clock, time)  # type: ignore[assignment]
    bucket.Clock = lambda: _LimiterClock(clock)  # type: ignore[assignment,misc]
    bucket.TokenBucket = VirtualTokenBucket  # type: ignore[misc]
    try:
        yield
    finally:
        endpoint.time, bucket.Clock, bucket.TokenBucket = saved  # type: ignore[assignment,misc]
