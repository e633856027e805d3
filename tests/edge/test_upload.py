"""The upload path against a real HTTP S3 endpoint (moto's server on 127.0.0.1)."""

from __future__ import annotations

import base64
import hashlib
import time
from pathlib import Path
from typing import Any

from shopper_edge.config import AgentConfig
from shopper_edge.state import read_snapshot

from .conftest import (
    AgentThread,
    Bucket,
    capture_name,
    expected_key,
    json_log_events,
    noisy_jpeg,
    wait_until,
    write_capture,
)


def test_capture_is_uploaded_to_the_contract_key_and_deleted_after_confirmation(
    agent_config: AgentConfig, bucket: Bucket
) -> None:
    data = noisy_jpeg(1)
    spool = agent_config.watch.directory
    with AgentThread(agent_config):
        path = write_capture(spool, capture_name(5, frame=3), data)
        wait_until(lambda: not path.exists(), 10, message="capture to be deleted")
    objects = bucket.objects()
    assert objects == {expected_key(capture_name(5, frame=3), data): data}
    assert next(iter(objects)).startswith("incoming/store-1-cam-a/entrance/2026/11/25/20261125T140005000Z-")
    snapshot = read_snapshot(agent_config.spool.state_dir)
    assert snapshot.counters["uploaded"] == 1
    assert snapshot.counters["uploaded_bytes"] == len(data)


def test_upload_carries_content_md5_and_sha256_checksum_and_capture_metadata(
    agent_config: AgentConfig, bucket: Bucket
) -> None:
    data = noisy_jpeg(2)
    sent: list[dict[str, str]] = []
    with AgentThread(agent_config) as running:
        running.client.meta.events.register(
            "before-send.s3.PutObject",
            lambda request, **_: sent.append({k.lower(): v for k, v in request.headers.items()}),
        )
        path = write_capture(agent_config.watch.directory, capture_name(7), data)
        wait_until(lambda: not path.exists(), 10)
    headers = sent[0]
    assert headers["content-md5"] == base64.b64encode(hashlib.md5(data).digest())
    assert headers["x-amz-checksum-sha256"] == base64.b64encode(hashlib.sha256(data).digest())
    (key,) = bucket.keys()
    head = bucket.client.head_object(Bucket=bucket.name, Key=key)
    assert head["Metadata"]["capture-time"] == "2026-11-25T14:00:07.000Z"
    assert head["Metadata"]["capture-time-source"] == "filename"
    assert head["Metadata"]["camera-id"] == "entrance"


def test_files_present_before_start_are_uploaded_by_the_startup_rescan(
    agent_config: AgentConfig, bucket: Bucket
) -> None:
    spool = agent_config.watch.directory
    payloads = [noisy_jpeg(10 + i) for i in range(4)]
    for i, data in enumerate(payloads):
        write_capture(spool, capture_name(20 + i), data)
    old = time.time() - 60
    for path in spool.rglob("*.jpg"):
        # Written "while the agent was down": no inotify event will ever come.
        import os

        os.utime(path, (old, old))
    with AgentThread(agent_config):
        wait_until(lambda: not list(spool.rglob("*.jpg")), 15, message="spool to drain")
    assert sorted(bucket.objects().values()) == sorted(payloads)


def test_temporary_and_foreign_files_are_never_uploaded(agent_config: AgentConfig, bucket: Bucket) -> None:
    spool = agent_config.watch.directory
    ignored = [
        write_capture(spool, ".20261125-140001-00.jpg", noisy_jpeg(30)),
        write_capture(spool, "20261125-140002-00.jpg.tmp", noisy_jpeg(31)),
        write_capture(spool, "20261125-140003-00.jpg.part", noisy_jpeg(32)),
        write_capture(spool, "motion.log", b"not a capture"),
    ]
    with AgentThread(agent_config):
        real = write_capture(spool, capture_name(4), noisy_jpeg(33))
        wait_until(lambda: not real.exists(), 10)
        time.sleep(1.0)  # two rescans
    assert len(bucket.keys()) == 1
    assert all(path.exists() for path in ignored)


def test_a_file_renamed_into_place_is_uploaded(agent_config: AgentConfig, bucket: Bucket) -> None:
    spool = agent_config.watch.directory
    data = noisy_jpeg(40)
    with AgentThread(agent_config):
        tmp = write_capture(spool, "20261125-140009-00.jpg.tmp", data)
        final = tmp.with_name("20261125-140009-00.jpg")
        tmp.rename(final)
        wait_until(lambda: not final.exists(), 10)
    assert list(bucket.objects().values()) == [data]


def test_same_bytes_and_time_uploaded_twice_land_on_one_key(agent_config: AgentConfig, bucket: Bucket) -> None:
    """A retried upload of the same file (here: the same capture reappearing) is not a new object."""
    data = noisy_jpeg(50)
    spool = agent_config.watch.directory
    with AgentThread(agent_config):
        for _ in range(2):
            path = write_capture(spool, capture_name(11), data)
            wait_until(lambda path=path: not path.exists(), 10)
    assert len(bucket.keys()) == 1
    # The second copy was recognised from the journal: deleted, not PUT again.
    assert bucket.version_count() == 1
    assert read_snapshot(agent_config.spool.state_dir).counters["already_confirmed"] == 1


def test_logs_are_json_lines_naming_the_key(agent_config: AgentConfig, bucket: Bucket, capfd) -> None:
    from shopper_edge.log import configure

    configure("INFO")
    with AgentThread(agent_config):
        path = write_capture(agent_config.watch.directory, capture_name(12), noisy_jpeg(60))
        wait_until(lambda: not path.exists(), 10)
    lines = json_log_events(capfd.readouterr().err)
    uploaded = [entry for entry in lines if entry["event"] == "uploaded"]
    assert uploaded and uploaded[0]["key"] == bucket.keys()[0]
    assert Path(uploaded[0]["path"]).name == "20261125-140012-00.jpg"


def test_files_missed_by_inotify_are_found_by_the_periodic_rescan(
    agent_config: AgentConfig, bucket: Bucket, monkeypatch: Any
) -> None:
    from shopper_edge import agent as agent_module

    # The kernel can drop events (queue overflow); the timer rescan is the safety net.
    monkeypatch.setattr(agent_module._EventForwarder, "_post", lambda self, kind, path: None)
    spool = agent_config.watch.directory
    with AgentThread(agent_config):
        time.sleep(0.2)  # after the start-up rescan
        path = write_capture(spool, capture_name(13), noisy_jpeg(61))
        wait_until(lambda: not path.exists(), 10, message="the timer rescan to pick the file up")
    assert len(bucket.keys()) == 1


def test_retry_backoff_doubles_up_to_the_cap_with_jitter() -> None:
    import random

    from shopper_edge.agent import backoff_delay

    rng = random.Random(7)
    for failures, low, high in ((1, 0.5, 1.0), (2, 1.0, 2.0), (4, 4.0, 8.0), (9, 30.0, 60.0), (500, 30.0, 60.0)):
        draws = [backoff_delay(failures, 1.0, 60.0, rng) for _ in range(50)]
        assert all(low <= d <= high for d in draws), failures
        assert len(set(draws)) > 1  # jittered, not a fixed schedule
