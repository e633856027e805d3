"""Fault tests: outages, kills, corruption, a full disk, slow writers.

Each one runs the real agent against the real HTTP endpoint and then checks
what is in S3 and what is left on disk.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from shopper_edge.config import load_config
from shopper_edge.state import read_snapshot

from .conftest import (
    AgentThread,
    Bucket,
    S3Endpoint,
    TcpRelay,
    capture_name,
    expected_key,
    json_log_events,
    noisy_jpeg,
    wait_until,
    write_capture,
    write_config,
)

pytestmark = pytest.mark.slow


@pytest.fixture
def relay(s3_endpoint: S3Endpoint) -> Iterator[TcpRelay]:
    relay = TcpRelay(s3_endpoint.port)
    yield relay
    relay.down()


def test_outage_keeps_files_until_stored_then_uploads_each_exactly_once(
    tmp_path: Path, relay: TcpRelay, bucket: Bucket
) -> None:
    config = load_config(write_config(tmp_path, endpoint_url=relay.url, bucket=bucket.name))
    spool = config.watch.directory
    captures = {capture_name(i): noisy_jpeg(100 + i) for i in range(12)}
    with AgentThread(config):
        # Endpoint down from the start: every attempt fails.
        for name, data in list(captures.items())[:6]:
            write_capture(spool, name, data)
        wait_until(lambda: read_snapshot(config.spool.state_dir).counters["failed"] >= 2, 10)
        # New captures keep queueing during the outage.
        for name, data in list(captures.items())[6:]:
            write_capture(spool, name, data)
        time.sleep(2.0)
        assert bucket.keys() == []
        assert all((spool / name).exists() for name in captures), "a file was deleted before it was stored"
        failed_during_outage = read_snapshot(config.spool.state_dir).counters["failed"]
        # Exponential backoff (0.2 s doubling to 1 s): a handful of attempts in ~3 s, not a hot loop.
        assert 2 <= failed_during_outage <= 15
        relay.up()
        wait_until(lambda: not list(spool.glob("*.jpg")), 20, message="spool to drain after the outage")
    stored = bucket.objects()
    assert stored == {expected_key(name, data): data for name, data in captures.items()}
    assert bucket.version_count() == len(captures), "some capture was stored more than once"
    snapshot = read_snapshot(config.spool.state_dir)
    assert snapshot.counters["uploaded"] == len(captures)
    assert "last_error" in snapshot.events


def _corrupt_first_puts(client: Any, count: int, *, strip_digests: bool) -> list[str]:
    """Flip one body byte after the digests were computed (a bad NIC, a bad proxy)."""
    corrupted: list[str] = []

    def corrupt(request: Any, **_: Any) -> None:
        if len(corrupted) >= count:
            return
        body = request.body.read() if hasattr(request.body, "read") else request.body
        flipped = bytearray(body)
        flipped[len(flipped) // 2] ^= 0xFF
        request.body = bytes(flipped)
        if strip_digests:
            for header in ("Content-MD5", "x-amz-checksum-sha256"):
                del request.headers[header]
        corrupted.append(request.url)

    client.meta.events.register("before-send.s3.PutObject", corrupt)
    return corrupted


def test_corrupted_body_is_rejected_by_s3_and_the_retry_stores_the_right_bytes(
    agent_config: Any, bucket: Bucket, s3_endpoint: S3Endpoint
) -> None:
    data = noisy_jpeg(200)
    name = capture_name(30)
    rejected_before = len(s3_endpoint.rejections())
    with AgentThread(agent_config) as running:
        corrupted = _corrupt_first_puts(running.client, 1, strip_digests=False)
        path = write_capture(agent_config.watch.directory, name, data)
        wait_until(lambda: not path.exists(), 15)
    assert len(corrupted) == 1
    rejections = s3_endpoint.rejections()[rejected_before:]
    assert rejections == [f"/{bucket.name}/{expected_key(name, data)}"], "S3 did not reject the corrupt body"
    assert bucket.objects() == {expected_key(name, data): data}
    snapshot = read_snapshot(agent_config.spool.state_dir)
    assert snapshot.counters["failed"] == 1
    assert "BadDigest" in snapshot.events["last_error"][1]


def test_stored_bytes_that_do_not_match_are_not_confirmed_and_the_file_is_kept_for_retry(
    agent_config: Any, bucket: Bucket
) -> None:
    """Without digest headers S3 would store a corrupt body; the ETag check catches it."""
    data = noisy_jpeg(201)
    name = capture_name(31)
    key = expected_key(name, data)
    with AgentThread(agent_config) as running:
        corrupted = _corrupt_first_puts(running.client, 1, strip_digests=True)
        path = write_capture(agent_config.watch.directory, name, data)
        wait_until(lambda: not path.exists(), 15)
    assert len(corrupted) == 1
    versions = bucket.client.list_object_versions(Bucket=bucket.name)["Versions"]
    bodies = {
        v["IsLatest"]: bucket.client.get_object(Bucket=bucket.name, Key=key, VersionId=v["VersionId"])["Body"].read()
        for v in versions
    }
    # The corrupt body was stored first, was not accepted as confirmation, and
    # the retry wrote the right bytes over it on the same key.
    assert len(versions) == 2
    assert bodies[False] != data and bodies[True] == data
    assert bucket.objects() == {key: data}
    assert "ETag" in read_snapshot(agent_config.spool.state_dir).events["last_error"][1]


def test_spool_over_file_limit_drops_oldest_first_and_reports_each_drop(
    tmp_path: Path, relay: TcpRelay, bucket: Bucket, capfd: Any
) -> None:
    from shopper_edge.log import configure

    configure("INFO")
    config = load_config(write_config(tmp_path, endpoint_url=relay.url, bucket=bucket.name, spool="max_files = 5"))
    spool = config.watch.directory
    captures = {capture_name(40 + i): noisy_jpeg(300 + i) for i in range(8)}
    names = list(captures)
    with AgentThread(config):
        for name in reversed(names):  # arrival order must not matter, capture time does
            write_capture(spool, name, captures[name])
        wait_until(lambda: read_snapshot(config.spool.state_dir).counters["dropped"] == 3, 10)
        assert sorted(p.name for p in spool.glob("*.jpg")) == names[3:]
        relay.up()
        wait_until(lambda: not list(spool.glob("*.jpg")), 20)
    assert set(bucket.objects()) == {expected_key(n, captures[n]) for n in names[3:]}
    logged = json_log_events(capfd.readouterr().err)
    drops = [entry for entry in logged if entry["event"] == "dropped"]
    assert sorted(Path(d["path"]).name for d in drops) == names[:3]
    assert {d["reason"] for d in drops} == {"spool_max_files"}
    assert read_snapshot(config.spool.state_dir).counters["dropped"] == 3


def test_spool_over_byte_limit_drops_oldest_until_under_the_limit(
    tmp_path: Path, relay: TcpRelay, bucket: Bucket
) -> None:
    captures = {capture_name(50 + i): noisy_jpeg(400 + i) for i in range(6)}
    sizes = [len(d) for d in captures.values()]
    limit = sum(sizes[-3:])  # room for exactly the three newest
    config = load_config(
        write_config(tmp_path, endpoint_url=relay.url, bucket=bucket.name, spool=f"max_bytes = {limit}")
    )
    spool = config.watch.directory
    with AgentThread(config):
        for name, data in captures.items():
            write_capture(spool, name, data)
        wait_until(lambda: read_snapshot(config.spool.state_dir).counters["dropped"] == 3, 10)
        time.sleep(0.6)
        assert sorted(p.name for p in spool.glob("*.jpg")) == list(captures)[3:]
    assert read_snapshot(config.spool.state_dir).counters["dropped"] == 3


def test_slowly_written_file_is_not_uploaded_half_written(agent_config: Any, bucket: Bucket) -> None:
    data = noisy_jpeg(500, size=(320, 240))
    path = agent_config.watch.directory / capture_name(55)
    with AgentThread(agent_config):
        with path.open("wb") as fh:
            fh.write(data[: len(data) // 2])
            fh.flush()
            # Longer than settle_seconds and two rescans: the file looks idle but has no JPEG end marker.
            time.sleep(1.5)
            assert bucket.keys() == [], "a half-written file was uploaded"
            fh.write(data[len(data) // 2 :])
        wait_until(lambda: not path.exists(), 10)
    assert bucket.objects() == {expected_key(capture_name(55), data): data}


def test_file_that_never_completes_is_rejected_after_abandon_time(
    tmp_path: Path, bucket: Bucket, s3_endpoint: S3Endpoint
) -> None:
    config = load_config(write_config(tmp_path, endpoint_url=s3_endpoint.url, bucket=bucket.name))
    truncated = noisy_jpeg(600)[:-500]
    path = write_capture(config.watch.directory, capture_name(56), truncated)
    old = time.time() - 120  # older than abandon_seconds (60)
    os.utime(path, (old, old))
    with AgentThread(config):
        wait_until(lambda: not path.exists(), 10)
    assert bucket.keys() == []
    assert read_snapshot(config.spool.state_dir).counters["rejected"] == 1


def _start_agent_process(config_path: Path, log: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "shopper_edge", "run", "--config", str(config_path)],
        stdout=subprocess.DEVNULL,
        stderr=log.open("ab"),
    )


def _started_count(log: Path) -> int:
    """How many runs of the agent have logged their start (their signal handlers are in place)."""
    if not log.exists():
        return 0
    return sum(1 for entry in json_log_events(log.read_text()) if entry.get("event") == "started")


def test_sigkill_mid_run_then_restart_loses_nothing_and_duplicates_nothing(
    tmp_path: Path, bucket: Bucket, s3_endpoint: S3Endpoint
) -> None:
    config_path = write_config(tmp_path, endpoint_url=s3_endpoint.url, bucket=bucket.name, upload="")
    config = load_config(config_path)
    spool = config.watch.directory
    captures = {
        capture_name(i, frame=f): noisy_jpeg(1000 + i * 10 + f, size=(400, 300)) for i in range(30) for f in range(2)
    }
    log = tmp_path / "agent.log"
    kills = 0
    writer_done = threading.Event()

    def write_all() -> None:
        for name, data in captures.items():
            write_capture(spool, name, data)
            time.sleep(0.01)
        writer_done.set()

    threading.Thread(target=write_all, daemon=True).start()
    for threshold in (5, 20, 40):
        agent = _start_agent_process(config_path, log)
        try:
            wait_until(lambda threshold=threshold: len(bucket.keys()) >= threshold, 30, interval=0.02)
        finally:
            agent.send_signal(signal.SIGKILL)
            agent.wait(10)
        kills += 1
    writer_done.wait(30)
    started_before = _started_count(log)
    agent = _start_agent_process(config_path, log)
    try:
        # SIGTERM is handled once the agent has started; the earlier runs may
        # already have drained the spool, so wait for the start, not only the drain.
        wait_until(lambda: _started_count(log) > started_before, 30, message="agent to start")
        wait_until(lambda: not list(spool.glob("*.jpg")), 60, message="spool to drain after restarts")
    finally:
        agent.send_signal(signal.SIGTERM)
        assert agent.wait(20) == 0
    stored = bucket.objects()
    assert stored == {expected_key(name, data): data for name, data in captures.items()}
    # At most the PUTs in flight at each kill are repeated (same key, same bytes).
    assert bucket.version_count() <= len(captures) + kills * config.upload.concurrency


def test_sigterm_finishes_the_upload_in_flight_and_exits_cleanly(
    tmp_path: Path, bucket: Bucket, s3_endpoint: S3Endpoint
) -> None:
    relay = TcpRelay(s3_endpoint.port, throttle_seconds_per_chunk=0.1)
    relay.up()
    try:
        config_path = write_config(tmp_path, endpoint_url=relay.url, bucket=bucket.name, upload="")
        config = load_config(config_path)
        data = noisy_jpeg(
            700, size=(640, 480)
        )  # ~230 KB: >= 14 chunks of 16 KiB through the slow relay, >= 1.4 s in flight
        name = capture_name(57)
        log = tmp_path / "agent.log"
        agent = _start_agent_process(config_path, log)
        try:
            wait_until(lambda: read_snapshot(config.spool.state_dir).events.get("heartbeat"), 15)
            write_capture(config.watch.directory, name, data)
            # The PUT has started (bytes reached the relay) but cannot have finished.
            wait_until(lambda: relay.bytes_up > 0, 15, interval=0.01)
            assert bucket.keys() == []
            agent.send_signal(signal.SIGTERM)
            assert agent.wait(30) == 0
        finally:
            if agent.poll() is None:
                agent.kill()
    finally:
        relay.down()
    assert bucket.objects() == {expected_key(name, data): data}
    assert not (config.watch.directory / name).exists()
    events = [entry["event"] for entry in json_log_events(log.read_text())]
    # The PUT was in flight when SIGTERM arrived and completed before exit.
    assert events[events.index("stopping") :] == ["stopping", "uploaded", "stopped"]
