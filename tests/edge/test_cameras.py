"""Which camera a still belongs to: its folder in the spool, mapped by the config, and the key's camera segment."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from shopper_edge.cli import main
from shopper_edge.config import load_config
from shopper_edge.log import configure
from shopper_edge.state import read_snapshot

from .conftest import (
    AgentThread,
    Bucket,
    S3Endpoint,
    capture_name,
    expected_key,
    json_log_events,
    noisy_jpeg,
    wait_until,
    write_capture,
    write_config,
)

CAMERAS = {"cam1": "entrance", "cam2": "aisle-3"}


def test_a_multi_camera_spool_uploads_each_cameras_stills_under_its_camera_segment(
    tmp_path: Path, s3_endpoint: S3Endpoint, bucket: Bucket
) -> None:
    config = load_config(write_config(tmp_path, endpoint_url=s3_endpoint.url, bucket=bucket.name, cameras=CAMERAS))
    spool = config.watch.directory
    # Both cameras save a still in the same second: only the camera segment tells them apart.
    captures = {
        capture_name(i, camera=folder): noisy_jpeg(800 + 10 * i + n)
        for i in range(3)
        for n, folder in enumerate(CAMERAS)
    }
    with AgentThread(config):
        for name, data in captures.items():
            write_capture(spool, name, data)
        wait_until(lambda: not list(spool.rglob("*.jpg")), 15, message="both cameras' folders to drain")
    assert bucket.objects() == {
        expected_key(name, data, CAMERAS[name.split("/")[0]]): data for name, data in captures.items()
    }
    key = expected_key(capture_name(0, camera="cam2"), captures[capture_name(0, camera="cam2")], "aisle-3")
    assert bucket.client.head_object(Bucket=bucket.name, Key=key)["Metadata"]["camera-id"] == "aisle-3"
    assert all(folder.is_dir() for folder in (spool / "cam1", spool / "cam2")), "camera folders are motion's"


def test_stills_in_deeper_folders_belong_to_the_camera_folder_they_are_in(
    tmp_path: Path, s3_endpoint: S3Endpoint, bucket: Bucket
) -> None:
    config = load_config(write_config(tmp_path, endpoint_url=s3_endpoint.url, bucket=bucket.name, cameras=CAMERAS))
    data = noisy_jpeg(850)
    name = "cam2/20261125/" + capture_name(9)  # picture_filename cam%t/%Y%m%d/%Y%m%d-%H%M%S-%q
    with AgentThread(config):
        path = write_capture(config.watch.directory, name, data)
        wait_until(lambda: not path.exists(), 10)
    assert bucket.objects() == {expected_key(name, data, "aisle-3"): data}


def test_a_single_camera_config_uploads_stills_written_directly_in_the_watch_directory(
    agent_config: Any, bucket: Bucket
) -> None:
    data = noisy_jpeg(860)
    with AgentThread(agent_config):
        path = write_capture(agent_config.watch.directory, capture_name(10), data)
        wait_until(lambda: not path.exists(), 10)
    (key,) = bucket.objects()
    assert key == expected_key(capture_name(10), data, "entrance")
    assert key.startswith("incoming/store-1-cam-a/entrance/2026/11/25/")


def _unmapped_events(capfd: Any) -> list[dict[str, Any]]:
    return [e for e in json_log_events(capfd.readouterr().err) if e["event"] == "unmapped_folder"]


def test_stills_in_an_unmapped_folder_are_left_on_disk_and_reported_once(
    tmp_path: Path, s3_endpoint: S3Endpoint, bucket: Bucket, capfd: Any
) -> None:
    configure("INFO")
    config = load_config(write_config(tmp_path, endpoint_url=s3_endpoint.url, bucket=bucket.name, cameras=CAMERAS))
    spool = config.watch.directory
    # A third camera added to motion but not to the config, and a still at the top of the spool.
    before = write_capture(spool, capture_name(20, camera="cam3"), noisy_jpeg(870))
    top = write_capture(spool, capture_name(21), noisy_jpeg(871))
    with AgentThread(config):
        later = [write_capture(spool, capture_name(22 + i, camera="cam3"), noisy_jpeg(872 + i)) for i in range(3)]
        mapped = write_capture(spool, capture_name(30, camera="cam1"), noisy_jpeg(880))
        wait_until(lambda: not mapped.exists(), 10)
        time.sleep(1.2)  # two more rescans see the unmapped stills again
    (key,) = bucket.keys()
    assert key.startswith("incoming/store-1-cam-a/entrance/")
    assert all(path.exists() for path in (before, top, *later)), "an unmapped still was deleted"
    events = _unmapped_events(capfd)
    assert sorted(e["folder"] for e in events) == sorted([str(spool / "cam3"), str(spool)])
    assert all(e["cameras"] == {"entrance": "cam1", "aisle-3": "cam2"} for e in events)
    assert read_snapshot(config.spool.state_dir).counters["uploaded"] == 1


def test_a_sub_folder_of_a_single_camera_device_is_not_its_camera(
    agent_config: Any, bucket: Bucket, capfd: Any
) -> None:
    configure("INFO")
    spool = agent_config.watch.directory
    with AgentThread(agent_config):
        stray = write_capture(spool, capture_name(40, camera="cam1"), noisy_jpeg(890))
        real = write_capture(spool, capture_name(41), noisy_jpeg(891))
        wait_until(lambda: not real.exists(), 10)
        wait_until(lambda: _unmapped_events(capfd), 5, message="the unmapped folder to be reported")
    assert stray.exists()
    assert len(bucket.keys()) == 1


def test_status_counts_unmapped_stills_apart_from_the_queue(
    tmp_path: Path, s3_endpoint: S3Endpoint, bucket: Bucket, capsys: Any
) -> None:
    config_path = write_config(tmp_path, endpoint_url=s3_endpoint.url, bucket=bucket.name, cameras=CAMERAS)
    spool = load_config(config_path).watch.directory
    queued = write_capture(spool, capture_name(50, camera="cam2"), noisy_jpeg(900))
    unmapped = [write_capture(spool, capture_name(51 + i, camera="cam3"), noisy_jpeg(901 + i)) for i in range(2)]

    assert main(["status", "--config", str(config_path), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert (report["queue_depth"], report["bytes_pending"]) == (1, queued.stat().st_size)
    assert report["cameras"]["aisle-3"] == {
        "folder": str(spool / "cam2"),
        "prefix": "incoming/store-1-cam-a/aisle-3/",
        "queue_depth": 1,
    }
    assert report["cameras"]["entrance"]["queue_depth"] == 0
    assert report["unmapped"] == {
        "files": 2,
        "bytes": sum(p.stat().st_size for p in unmapped),
        "folders": [str(spool / "cam3")],
    }
    assert main(["status", "--config", str(config_path)]) == 0
    text = capsys.readouterr().out
    assert f"camera aisle-3:  1 queued in {spool / 'cam2'} -> incoming/store-1-cam-a/aisle-3/" in text
    unmapped_bytes = report["unmapped"]["bytes"]
    assert f"unmapped:        2 files ({unmapped_bytes} bytes) kept, not uploaded, in {spool / 'cam3'}" in text
