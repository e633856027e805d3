from typing import Any

import pytest
from botocore.exceptions import ClientError
from shopper_analyze.delivery import deliver


class ScriptedFirehose:
    """Answers PutRecordBatch from a script: per call, the set of positions to reject (or an exception)."""

    def __init__(self, script: list[set[int] | Exception]) -> None:
        self.script = script
        self.requests: list[list[bytes]] = []

    def put_record_batch(self, *, DeliveryStreamName: str, Records: list[dict[str, bytes]]) -> dict[str, Any]:
        self.requests.append([r["Data"] for r in Records])
        step = self.script[len(self.requests) - 1] if len(self.requests) <= len(self.script) else set()
        if isinstance(step, Exception):
            raise step
        entries = [
            {"ErrorCode": "ServiceUnavailableException", "ErrorMessage": "Slow down."}
            if i in step
            else {"RecordId": "r"}
            for i in range(len(Records))
        ]
        return {"FailedPutCount": len(step), "RequestResponses": entries}


def run(client: ScriptedFirehose, items, **kwargs):
    delays: list[float] = []
    report = deliver(client, "stream", items, sleep=delays.append, jitter=lambda: 1.0, **kwargs)
    return report, delays


def test_partial_failure_retries_only_the_failed_records_with_growing_delays():
    items = [("m0", b"a\n"), ("m0", b"b\n"), ("m1", b"c\n")]
    client = ScriptedFirehose([{0, 2}, {1}, set()])

    report, delays = run(client, items)

    assert client.requests == [[b"a\n", b"b\n", b"c\n"], [b"a\n", b"c\n"], [b"c\n"]]
    assert (report.delivered, report.calls, report.retried) == (3, 3, 3)
    assert report.undelivered_owners == set()
    assert delays == [0.1, 0.2]


def test_records_failing_every_attempt_name_their_owner_only():
    items = [("m0", b"a\n"), ("m1", b"b\n")]
    client = ScriptedFirehose([{1}, {0}, {0}, {0}])

    report, delays = run(client, items)

    assert report.undelivered_owners == {"m1"}
    assert report.delivered == 1
    assert len(client.requests) == 4 and len(delays) == 3
    assert report.last_error == "ServiceUnavailableException"


def test_call_that_raises_keeps_its_records_for_the_next_attempt():
    error = ClientError({"Error": {"Code": "ServiceUnavailableException", "Message": "x"}}, "PutRecordBatch")
    client = ScriptedFirehose([error, set()])

    report, _ = run(client, [("m0", b"a\n")])

    assert report.undelivered_owners == set() and report.delivered == 1 and report.calls == 2


def test_nothing_to_deliver_makes_no_call():
    client = ScriptedFirehose([])

    report, _ = run(client, [])

    assert client.requests == [] and report.calls == 0


@pytest.mark.parametrize(("faces", "calls"), [(500, 1), (501, 2), (1000, 2), (1001, 3)])
def test_calls_per_faces_follow_the_500_record_limit(faces, calls):
    client = ScriptedFirehose([])

    report, _ = run(client, [(i // 100, b"x" * 1400) for i in range(faces)])

    assert report.calls == calls
