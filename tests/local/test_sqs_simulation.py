"""The simulated queue and event source keep the SQS and Lambda semantics a burst depends on."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from local.sqs_simulation import EventSourceMapping, SimulatedQueue, Sizing, deployed_sizing
from local.virtual_time import VirtualClock
from shopper_sentiment.tiers.process import parallelism_for

SIZING = Sizing(
    max_concurrency=2,
    analyze_threads=1,
    batch_size=10,
    batching_window=5.0,
    function_timeout=60.0,
    visibility_timeout=100.0,
    max_receive_count=3,
    cold_start=0.0,
)


def run_mapping(
    clock: VirtualClock,
    sizing: Sizing,
    handle: Callable[[dict[str, Any], Any], dict[str, Any]],
    *,
    send: Callable[[SimulatedQueue], None],
) -> tuple[SimulatedQueue, EventSourceMapping]:
    queue = SimulatedQueue(
        clock, visibility_timeout=sizing.visibility_timeout, max_receive_count=sizing.max_receive_count
    )
    mapping = EventSourceMapping(clock, queue, sizing, lambda _: handle)

    def main() -> None:
        send(queue)
        mapping.run()

    clock.run(main)
    return queue, mapping


def test_a_partial_batch_waits_for_the_batching_window_and_a_full_one_goes_at_once():
    clock = VirtualClock()
    invoked: list[tuple[float, int]] = []

    def handle(event: dict[str, Any], context: Any) -> dict[str, Any]:
        invoked.append((clock.now(), len(event["Records"])))
        return {"batchItemFailures": []}

    def send(queue: SimulatedQueue) -> None:
        for n in range(13):
            queue.send(f"image {n}")

    queue, _ = run_mapping(clock, SIZING, handle, send=send)
    assert invoked == [(0.0, 10), (5.0, 3)]
    assert len(queue) == 0 and not queue.dead_letters


def test_a_failed_message_comes_back_after_the_visibility_timeout_and_is_dead_lettered_after_its_receives():
    clock = VirtualClock()
    seen: list[tuple[float, str, str]] = []

    def handle(event: dict[str, Any], context: Any) -> dict[str, Any]:
        for record in event["Records"]:
            seen.append((clock.now(), record["body"], record["attributes"]["ApproximateReceiveCount"]))
        return {
            "batchItemFailures": [{"itemIdentifier": r["messageId"]} for r in event["Records"] if "bad" in r["body"]]
        }

    def send(queue: SimulatedQueue) -> None:
        queue.send("good")
        queue.send("bad")

    queue, mapping = run_mapping(clock, SIZING, handle, send=send)
    assert seen == [
        (5.0, "good", "1"),
        (5.0, "bad", "1"),
        (105.0, "bad", "2"),
        (205.0, "bad", "3"),
    ]
    ((dead, dead_at),) = queue.dead_letters
    assert (dead.body, dead.receive_count, dead_at) == ("bad", 3, 300.0)
    assert sum(i.failed for i in mapping.invocations) == 3
    assert queue.receive_counts == {"message-000001": 1, "message-000002": 3}


def test_no_more_invocations_run_at_once_than_the_maximum_concurrency():
    clock = VirtualClock()
    running = {"now": 0, "most": 0}

    def handle(event: dict[str, Any], context: Any) -> dict[str, Any]:
        running["now"] += 1
        running["most"] = max(running["most"], running["now"])
        clock.sleep(10.0)
        running["now"] -= 1
        return {"batchItemFailures": []}

    def send(queue: SimulatedQueue) -> None:
        for n in range(60):
            queue.send(f"image {n}")

    _, mapping = run_mapping(clock, SIZING, handle, send=send)
    assert running["most"] == 2
    assert len(mapping.invocations) == 6
    assert clock.now() == pytest.approx(30.0)  # six batches of ten, two at a time, ten seconds each
    assert {i.environment for i in mapping.invocations} == {"environment-1", "environment-2"}


def test_an_invocation_past_the_function_timeout_hands_back_its_whole_batch():
    clock = VirtualClock()
    attempts: list[float] = []

    def handle(event: dict[str, Any], context: Any) -> dict[str, Any]:
        attempts.append(clock.now())
        clock.sleep(61.0 if len(attempts) == 1 else 1.0)
        return {"batchItemFailures": []}

    queue, mapping = run_mapping(clock, SIZING, handle, send=lambda queue: queue.send("slow"))
    first, second = mapping.invocations
    assert first.timed_out and first.failed == 1
    assert not second.timed_out and second.failed == 0
    assert attempts == [5.0, 105.0]
    assert len(queue) == 0


def test_a_handler_error_hands_back_every_message_of_its_batch():
    clock = VirtualClock()
    calls: list[int] = []

    def handle(event: dict[str, Any], context: Any) -> dict[str, Any]:
        calls.append(len(event["Records"]))
        if len(calls) == 1:
            raise RuntimeError("init failed")
        return {"batchItemFailures": []}

    _, mapping = run_mapping(clock, SIZING, handle, send=lambda queue: [queue.send("a"), queue.send("b")])
    assert calls == [2, 2]
    assert mapping.invocations[0].error == "RuntimeError('init failed')"
    assert mapping.invocations[0].failed == 2


def test_a_receipt_handle_from_an_earlier_receive_no_longer_deletes():
    clock = VirtualClock()
    queue = SimulatedQueue(clock, visibility_timeout=0.0, max_receive_count=5)
    queue.send("image")
    (first,) = queue.receive(10)
    old_handle = first.receipt_handle
    (again,) = queue.receive(10)
    assert not queue.delete(old_handle)
    assert queue.delete(again.receipt_handle)
    assert len(queue) == 0


def test_the_deployed_sizing_is_read_from_the_stack():
    sizing = deployed_sizing(5)
    assert (sizing.max_concurrency, sizing.analyze_threads) == parallelism_for(5)
    assert sizing.visibility_timeout >= 6 * sizing.function_timeout
    assert sizing.max_receive_count == 5
    assert sizing.batch_size == 500
