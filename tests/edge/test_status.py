"""`shopper-edge status`: queue depth, bytes pending, last upload/error, dropped and skipped."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from shopper_edge.cli import main
from shopper_edge.config import load_config
from shopper_edge.state import AgentState

from .conftest import (
    AgentThread,
    Bucket,
    S3Endpoint,
    capture_name,
    noisy_jpeg,
    scene_jpeg,
    wait_until,
    write_capture,
    write_config,
)


def test_status_reports_queue_bytes_last_upload_and_counts(
    tmp_path: Path, s3_endpoint: S3Endpoint, bucket: Bucket, capsys: Any
) -> None:
    config_path = write_config(tmp_path, endpoint_url=s3_endpoint.url, bucket=bucket.name, thinning=True)
    config = load_config(config_path)
    spool = config.watch.directory
    with AgentThread(config):
        for second, seed in ((0, 1), (1, 2)):  # the second frame is a near duplicate: skipped
            path = write_capture(spool, capture_name(second), scene_jpeg(0, noise_seed=seed))
            wait_until(lambda path=path: not path.exists(), 10)
    state = AgentState(config.spool.state_dir)
    state.count("dropped", 2)
    state.record_error("incoming/x.jpg: EndpointConnectionError: could not connect")
    state.close()
    queued = [noisy_jpeg(70), noisy_jpeg(71)]
    for i, data in enumerate(queued):
        write_capture(spool, capture_name(10 + i), data)
    write_capture(spool, "20261125-140012-00.jpg.tmp", b"partial")  # not a capture: not counted

    assert main(["status", "--config", str(config_path), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["queue_depth"] == 2
    assert report["bytes_pending"] == sum(len(d) for d in queued)
    assert report["last_upload"]["detail"] == bucket.keys()[0]
    assert "EndpointConnectionError" in report["last_error"]["detail"]
    assert (report["uploaded"], report["skipped"], report["dropped"], report["failed"]) == (1, 1, 2, 1)

    assert main(["status", "--config", str(config_path)]) == 0
    text = capsys.readouterr().out
    assert "queue depth:     2 files" in text
    assert "dropped:         2" in text
    assert "skipped:         1" in text


def test_status_works_before_the_agent_ever_ran(tmp_path: Path, capsys: Any) -> None:
    config_path = write_config(tmp_path, endpoint_url="http://127.0.0.1:9", bucket="never-used")
    assert main(["status", "--config", str(config_path)]) == 0
    out = capsys.readouterr().out
    assert "last upload:     never" in out
    assert "queue depth:     0 files" in out
