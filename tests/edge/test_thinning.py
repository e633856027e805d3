"""Frame thinning: near-duplicate frames of one camera within the window are skipped and counted."""

from __future__ import annotations

from pathlib import Path

from shopper_edge.capture import dhash, hamming
from shopper_edge.config import load_config
from shopper_edge.state import read_snapshot

from .conftest import (
    AgentThread,
    Bucket,
    S3Endpoint,
    capture_name,
    expected_key,
    noisy_jpeg,
    scene_jpeg,
    wait_until,
    write_capture,
    write_config,
)

TWO_CAMERAS = {"cam1": "entrance", "cam2": "checkout"}


def test_perceptual_hash_is_close_for_near_duplicates_and_far_for_other_scenes() -> None:
    still = dhash(scene_jpeg(0, noise_seed=1))
    assert still is not None
    assert hamming(still, dhash(scene_jpeg(0, noise_seed=2)) or 0) <= 2
    assert hamming(still, dhash(scene_jpeg(120, noise_seed=3)) or 0) > 6
    assert dhash(b"not a jpeg") is None


def _thinning_agent(tmp_path: Path, s3_endpoint: S3Endpoint, bucket: Bucket, cameras: dict[str, str] | None = None):
    return load_config(
        write_config(tmp_path, endpoint_url=s3_endpoint.url, bucket=bucket.name, thinning=True, cameras=cameras)
    )


def _write_one_by_one(spool: Path, frames: list[tuple[str, bytes]]) -> None:
    for name, data in frames:
        path = write_capture(spool, name, data)
        wait_until(lambda path=path: not path.exists(), 10)


def test_near_duplicate_within_window_is_skipped_and_counted(
    tmp_path: Path, s3_endpoint: S3Endpoint, bucket: Bucket
) -> None:
    config = _thinning_agent(tmp_path, s3_endpoint, bucket, TWO_CAMERAS)
    spool = config.watch.directory
    frames = [
        (capture_name(0, camera="cam1"), scene_jpeg(0, noise_seed=1)),  # uploaded: first frame
        (capture_name(2, camera="cam1"), scene_jpeg(0, noise_seed=2)),  # skipped: same scene 2 s later
        (capture_name(4, camera="cam1"), scene_jpeg(120, noise_seed=3)),  # uploaded: someone moved
        (capture_name(30, camera="cam1"), scene_jpeg(120, noise_seed=4)),  # uploaded: same scene, 26 s later
        (capture_name(2, camera="cam2"), scene_jpeg(0, noise_seed=5)),  # uploaded: other camera
    ]
    with AgentThread(config):
        _write_one_by_one(spool, frames)
    stored = set(bucket.objects().values())
    assert stored == {frames[i][1] for i in (0, 2, 3, 4)}
    assert read_snapshot(config.spool.state_dir).counters["skipped"] == 1


def test_thinning_compares_a_still_only_with_the_previous_still_of_the_same_camera(
    tmp_path: Path, s3_endpoint: S3Endpoint, bucket: Bucket
) -> None:
    config = _thinning_agent(tmp_path, s3_endpoint, bucket, TWO_CAMERAS)
    frames = [
        (capture_name(0, camera="cam1"), scene_jpeg(0, noise_seed=1)),  # uploaded: entrance's first still
        (capture_name(1, camera="cam2"), scene_jpeg(0, noise_seed=2)),  # uploaded: the same scene, but checkout's
        (capture_name(2, camera="cam2"), scene_jpeg(120, noise_seed=3)),  # uploaded: checkout's scene changed
        (capture_name(3, camera="cam1"), scene_jpeg(0, noise_seed=4)),  # skipped: like entrance's last (not checkout's)
        (capture_name(4, camera="cam2"), scene_jpeg(120, noise_seed=5)),  # skipped: like checkout's last
    ]
    with AgentThread(config):
        _write_one_by_one(config.watch.directory, frames)
    assert bucket.objects() == {
        expected_key(frames[0][0], frames[0][1], "entrance"): frames[0][1],
        expected_key(frames[1][0], frames[1][1], "checkout"): frames[1][1],
        expected_key(frames[2][0], frames[2][1], "checkout"): frames[2][1],
    }
    assert read_snapshot(config.spool.state_dir).counters["skipped"] == 2


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
        _write_one_by_one(spool, [(capture_name(second), scene_jpeg(0, noise_seed=second)) for second in range(3)])
    assert len(bucket.keys()) == 3
    assert noisy_jpeg(0)  # helper sanity: distinct from scenes
