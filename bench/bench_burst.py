"""A burst of 10,000 stills at the Rekognition budget: does the sizing use the budget, and lose nothing?

A store reopens after a weekend outage and its cameras' backlog arrives at
once. ``local.sqs_simulation`` runs the real analyze handler, with the
sizing the stack derives from ``rekognition_tps`` (``parallelism_for``, the
event source, the queue's visibility timeout and redrive, the function
timeout), on moto and a DetectFaces stand-in that enforces the budget as a
token bucket, in simulated time. Scenarios: 10,000 images at once at budgets
of 5, 20 and 50 requests/s, and a steady trickle below the budget.

Figures per scenario (targets from issue 16): the share of the budget
DetectFaces used while the backlog lasted (≥ 95 %), images dead-lettered
(0) and lost (must be 0), DetectFaces calls per image with retries (≤ 1.05),
time to drain against images/budget, and the largest share of the function
timeout an invocation used. The scenarios run in parallel processes, one per
CPU; the simulated half hour of the slowest takes a few minutes of wall time
(moto's CPU per call is what it costs). Exits non-zero if an image was lost.
"""

from __future__ import annotations

import multiprocessing
import os
import sys
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.results import BenchRun, Figure, Target  # noqa: E402
from local.rekognition_budget import ACCEPTED_LATENCY_SECONDS, THROTTLED_LATENCY_SECONDS  # noqa: E402
from local.sqs_simulation import (  # noqa: E402
    SERVICE_LATENCY_SECONDS,
    Scenario,
    SimulationReport,
    deployed_sizing,
    simulate,
)

BURST = 10_000
BUDGETS = (5, 20, 50)
#: The trickle: a store's cameras at 40 % of the smallest budget for 15 minutes.
TRICKLE_BUDGET = 5
TRICKLE_RATE = 2.0
TRICKLE_IMAGES = 1_800
ISSUE = "issue 16"


def scenarios() -> list[Scenario]:
    bursts = [
        Scenario(
            name=f"burst of {BURST:,} at {tps} rps", rekognition_tps=tps, images=BURST, sizing=deployed_sizing(tps)
        )
        for tps in BUDGETS
    ]
    trickle = Scenario(
        name=f"trickle of {TRICKLE_RATE:g} images/s at {TRICKLE_BUDGET} rps",
        rekognition_tps=TRICKLE_BUDGET,
        images=TRICKLE_IMAGES,
        sizing=deployed_sizing(TRICKLE_BUDGET),
        arrival_rate=TRICKLE_RATE,
    )
    return [*bursts, trickle]


def _milliseconds(span: tuple[float, float]) -> str:
    return f"{span[0] * 1000:.0f}-{span[1] * 1000:.0f} ms"


def show(run: BenchRun, report: SimulationReport) -> None:
    scenario, sizing = report.scenario, report.scenario.sizing
    label = scenario.name
    run.show(
        f"  {label}: {sizing.max_concurrency} concurrent invocations x {sizing.analyze_threads} threads, "
        f"batches of {sizing.batch_size} within {sizing.batching_window:g} s "
        f"(simulated {report.drain_seconds:,.0f} s in {report.wall_seconds:,.0f} s of wall time)"
    )
    burst = scenario.arrival_rate is None
    run.show(
        f"    DetectFaces rate / budget while the backlog lasts: {report.budget_share * 100:5.1f} %"
        + ("" if burst else " (the trickle asks for less than the budget)"),
        Figure(
            f"{label}: DetectFaces rate / budget while the backlog lasts",
            report.budget_share * 100,
            "%",
            Target.at_least(95, ISSUE) if burst else None,
        ),
    )
    run.show(
        f"    images dead-lettered: {report.dead_lettered}   lost: {report.lost}   "
        f"duplicate face records: {report.duplicate_records}",
        Figure(f"{label}: images dead-lettered", report.dead_lettered, "images", Target.at_most(0, ISSUE)),
        Figure(f"{label}: images lost", report.lost, "images", Target.at_most(0, ISSUE)),
        Figure(f"{label}: duplicate face records", report.duplicate_records, "records"),
    )
    refusals = ", ".join(f"{count} {code}" for code, count in sorted(report.refusals.items())) or "none refused"
    run.show(
        f"    DetectFaces calls per image (retries included): {report.calls_per_image:.3f} ({refusals})",
        Figure(f"{label}: DetectFaces calls per image", report.calls_per_image, "calls", Target.at_most(1.05, ISSUE)),
    )
    run.show(
        f"    time to drain: {report.drain_seconds:,.0f} s, ideal {scenario.ideal_drain_seconds:,.0f} s "
        f"({'images / budget' if burst else 'the arrivals'}): x{report.drain_over_ideal:.2f}",
        Figure(f"{label}: time to drain", report.drain_seconds, "s"),
        Figure(f"{label}: time to drain / ideal", report.drain_over_ideal, "x"),
    )
    run.show(
        f"    largest share of the function timeout an invocation used: {report.max_timeout_share * 100:.0f} % "
        f"of {sizing.function_timeout:g} s ({len(report.invocations)} invocations, {report.timed_out} timed out)",
        Figure(f"{label}: largest share of the function timeout", report.max_timeout_share * 100, "%"),
    )
    run.show(
        f"    messages handed back to SQS: {report.messages_handed_back}, most receives of one message: "
        f"{report.max_receive_count} (dead-lettered after {sizing.max_receive_count}); "
        f"upload to archive p50 {report.latency_p50:,.0f} s, p95 {report.latency_p95:,.0f} s",
        Figure(f"{label}: messages handed back to SQS", report.messages_handed_back, "messages"),
        Figure(f"{label}: upload to archive p95", report.latency_p95, "s"),
    )


def main() -> None:
    planned = scenarios()
    parameters = {
        "scenarios": [s.name for s in planned],
        "detect_faces_latency": _milliseconds(ACCEPTED_LATENCY_SECONDS),
        "throttled_latency": _milliseconds(THROTTLED_LATENCY_SECONDS),
        "budget_burst_seconds": planned[0].burst_seconds,
        "service_latency": {service: _milliseconds(span) for service, span in SERVICE_LATENCY_SECONDS.items()},
        "seed": planned[0].seed,
    }
    with BenchRun(__file__, parameters=parameters) as run:
        run.show(
            f"burst simulation (real handler on moto, DetectFaces stand-in: token bucket at the budget with "
            f"{planned[0].burst_seconds:g} s of burst, {_milliseconds(ACCEPTED_LATENCY_SECONDS)} per accepted call; "
            "simulated time)"
        )
        # One process per scenario: each simulation is one CPU's work (moto), and they share nothing.
        context = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(max_workers=min(len(planned), os.cpu_count() or 1), mp_context=context) as pool:
            reports = list(pool.map(simulate, planned))
        for report in reports:
            show(run, report)
    lost = {r.scenario.name: r.lost for r in reports if r.lost}
    if lost:
        sys.exit(f"images lost: {lost}")


if __name__ == "__main__":
    main()
