"""The analyzer's pace: one environment's DetectFaces calls stay within its share of the budget."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest
from shopper_analyze.clients import DETECT_FACES_PER_SECOND_PER_THREAD, PacedAnalyzer

from local.virtual_time import VirtualClock, VirtualThreadPool
from shopper_sentiment.tiers.process import CALLS_PER_SECOND_PER_THREAD


class RecordingAnalyzer:
    name = "recording"

    def __init__(self, clock: VirtualClock, latency: float) -> None:
        self.clock = clock
        self.latency = latency
        self.started: list[float] = []

    def detect_faces(self, *, bucket: str, key: str, version_id: str | None) -> list[dict[str, Any]]:
        self.started.append(self.clock.now())
        self.clock.sleep(self.latency)
        return [{"key": key}]


def test_calls_from_many_threads_start_one_interval_apart():
    clock = VirtualClock()
    inner = RecordingAnalyzer(clock, latency=0.3)
    paced = PacedAnalyzer(inner, calls_per_second=4, clock=clock)

    def main() -> list:
        with VirtualThreadPool(clock, max_workers=8) as pool:
            return list(pool.map(lambda n: paced.detect_faces(bucket="b", key=f"k{n}", version_id=None), range(20)))

    answers = clock.run(main)
    assert answers == [[{"key": f"k{n}"}] for n in range(20)]
    gaps = [later - earlier for earlier, later in zip(inner.started, inner.started[1:], strict=False)]
    assert gaps == pytest.approx([0.25] * 19)
    assert paced.name == "recording"
    assert paced.unpaced is inner


def test_an_idle_environment_saves_up_no_calls_for_a_burst():
    clock = VirtualClock()
    inner = RecordingAnalyzer(clock, latency=0.0)
    paced = PacedAnalyzer(inner, calls_per_second=2, clock=clock)

    def main() -> None:
        paced.detect_faces(bucket="b", key="first", version_id=None)
        clock.sleep(60.0)  # idle: a batch being settled, or no images
        for n in range(3):
            paced.detect_faces(bucket="b", key=f"k{n}", version_id=None)

    clock.run(main)
    assert inner.started == pytest.approx([0.0, 60.0, 60.5, 61.0])


def test_a_pace_must_allow_some_calls():
    with pytest.raises(ValueError, match="above 0"):
        PacedAnalyzer(RecordingAnalyzer(VirtualClock(), 0.0), calls_per_second=0)


def test_the_function_paces_each_thread_at_the_share_the_stack_sizes_it_for():
    assert DETECT_FACES_PER_SECOND_PER_THREAD == CALLS_PER_SECOND_PER_THREAD


def test_the_deployed_analyzer_is_paced_to_its_threads_share(analyze_app, settings):
    analyzer = analyze_app.aws_clients(replace(settings, analyze_threads=6)).analyzer
    assert isinstance(analyzer, PacedAnalyzer)
    assert analyzer.calls_per_second == 6 * DETECT_FACES_PER_SECOND_PER_THREAD
    assert analyzer.name == "rekognition"
