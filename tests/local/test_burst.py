"""A small burst through the real handler at the smallest sizing: nothing lost, nothing dead-lettered.

The figures for 10,000 images at 5, 20 and 50 requests/s come from
``bench/bench_burst.py`` (``make bench``); this is the same simulation, small
enough for the suite: 300 images at a budget of 5 DetectFaces calls/s, in
simulated time, with the sizing the stack deploys for that budget.
"""

from __future__ import annotations

import pytest

from local.sqs_simulation import Scenario, SimulationReport, deployed_sizing, simulate

IMAGES = 300
BUDGET = 5


@pytest.fixture(scope="module")
def report() -> SimulationReport:
    return simulate(Scenario(name="suite-burst", rekognition_tps=BUDGET, images=IMAGES, sizing=deployed_sizing(BUDGET)))


def test_no_image_of_a_burst_is_lost_or_dead_lettered(report):
    assert report.lost == 0
    assert report.dead_lettered == 0
    assert report.duplicate_records == 0


def test_every_image_of_the_burst_is_analyzed_within_the_budget(report):
    assert report.detect_faces_accepted == IMAGES
    # The stand-in refuses what is above the budget: never more than it allows.
    assert report.budget_share <= 1.0
    assert report.drain_seconds >= IMAGES / BUDGET


def test_no_invocation_of_the_burst_runs_past_the_function_timeout(report):
    assert report.invocations
    assert report.timed_out == 0
    assert report.function_errors == 0
    assert report.max_timeout_share < 1.0
