"""Frame thinning: near-duplicate frames of one camera within the window are skipped and counted."""

from __future__ import annotations

from pathlib import Path

from shopper_edge.capture import dhash, hamming
from shopper_edge.config import load_config
from shopper_edge.state import read_snapshot

from .conftest import AgentThread, Bucket, S3Endpoint, capture_name, noisy_jpeg, scene_jpeg, wait_until, write_capture


def test_perceptual_hash_is_close_for_near_duplicates_and_far_for_other_scenes() -> None:
    still = dhash(scene_jpeg(0, noise_seed=1))
    assert still is not None
    assert hamming(still, dhash(scene_jpeg(0, noise_seed=2)) or 0) <= 2
    assert hamming(still, dhash(scene_jpeg(120, noise_seed=3)) or 0) > 6
    assert dhash(b"not a jpeg") is None


def _thinning_agent(tmp_path: Path, s3_endpoint: S3Endpoint, bucket: Bucket):
    from .conftest import write_config

    return load_config(write_config(tmp_path, endpoint_url=s3_endpoint.url, bucket=bucket.name, thinning=True))


def test_near_duplicate_within_window_is_skipped_and_counted(
    tmp_path: Path, s3_endpoint: S3Endpoint, bucket: Bucket
) -> None:
    config = _thinning_agent(tmp_path, s3_endpoint, bucket)
    spool = config.watch.directory
    frames = [
        (capture_name(0, camera="cam1"), scene_jpeg(0, noise_seed=1)),  # uploaded: first frame
        (capture_name(2, camera="cam1"), scene_jpeg(0, noise_seed=2)),  # skipped: same scene 2 s later
        (capture_name(4, camera="cam1"), scene_jpeg(120, noise_seed=3)),  # uploaded: someone moved
        (capture_name(30, camera="cam1"), scene_jpeg(120, noise_seed=4)),  # uploaded: same scene, 26 s later
        (capture_name(2, camera="cam2"), scene_jpeg(0, noise_seed=5)),  # uploaded: other camera
    ]
    with AgentThread(config):
        for name, data in frames:
            path = write_capture(spool, name, data)
            wait_until(lambda path=path: not path.exists(), 10)
    stored = set(bucket.objects().values())
    assert stored == {frames[i][1] for i in (0, 2, 3, 4)}
    assert read_snapshot(config.spool.state_dir).counters["skipped"] == 1


def test_thinning_reference_survives_a_restart(tmp_path: Path, s3_endpoint: S3Endpoint, bucket: Bucket) -> None:
    config = _thinning_agent(tmp_path, s3_endpoint, bucket)
    spool = config.watch.directory
    with AgentThread(config):
        first = write_capture(spool, capture_name(0), scene_jpeg(0, noise_seed=1))
        wait_until(lambda: not first.exists(), 10)
    with AgentThread(config):
        again = write_capture(spool, capture_name(1), scene_jpeg(0, noise_seed=2))
        wait_until(lambda: not again.exists(), 10)
    assert len(bucket.keys()) == 1
    assert read_snapshot(config.spool.state_dir).counters["skipped"] == 1


def test_thinning_disabled_uploads_every_frame(
    agent_config,
    bucket: Bucket,
) -> None:
    assert agent_config.thinning.enabled is False
    spool = agent_config.watch.directory
    with AgentThread(agent_config):
        for second in range(3):
            path = write_capture(spool, capture_name(second), scene_jpeg(0, noise_seed=second))
            wait_until(lambda path=path: not path.exists(), 10)
    assert len(bucket.keys()) == 3
    assert noisy_jpeg(0)  # helper sanity: distinct from scenes
