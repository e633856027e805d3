"""Metrics recorded on analysis threads, handed to Powertools by the invocation's own thread.

Powertools' ``Metrics.add_metric`` is not thread-safe: it reads a metric's
value list, appends and writes it back (two threads can lose a value), and
once a metric holds 100 values it serialises and clears the shared set with a
``print`` that another thread's log line can split. The tally takes the
values under a lock; the handler publishes it once the threads are done.
Counts are summed per invocation (one EMF value instead of up to 500 ones),
other units keep every value.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field


@dataclass
class TallySnapshot:
    #: name → sum of the counts (a name counted with 0 is kept: the metric is reported as 0).
    counts: dict[str, float] = field(default_factory=dict)
    #: (name, unit, value) in the order recorded.
    samples: list[tuple[str, str, float]] = field(default_factory=list)
    #: (name, dimension name, dimension value) → sum of the counts.
    dimensioned: dict[tuple[str, str, str], float] = field(default_factory=dict)


class MetricTally:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._snapshot = TallySnapshot()

    def count(self, name: str, value: float = 1) -> None:
        with self._lock:
            self._snapshot.counts[name] = self._snapshot.counts.get(name, 0) + value

    def sample(self, name: str, unit: str, value: float) -> None:
        with self._lock:
            self._snapshot.samples.append((name, unit, value))

    def count_with_dimension(self, name: str, dimension: str, dimension_value: str, value: float = 1) -> None:
        key = (name, dimension, dimension_value)
        with self._lock:
            self._snapshot.dimensioned[key] = self._snapshot.dimensioned.get(key, 0) + value

    def drain(self) -> TallySnapshot:
        """Everything recorded so far; the tally starts empty again."""
        with self._lock:
            snapshot, self._snapshot = self._snapshot, TallySnapshot()
        return snapshot


def milliseconds_since(started: float) -> int:
    """Whole milliseconds since ``started`` (a ``time.perf_counter()`` reading), for timings in logs and metrics."""
    return round((time.perf_counter() - started) * 1000)
