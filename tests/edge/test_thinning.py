"""Frame thinning: an unchanged scene is skipped and counted; a frame in which someone new appears never is."""

from __future__ import annotations

from pathlib import Path

import pytest
from shopper_edge import thinning
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
SIZE = thinning.thumbnail_size(32, 24)
THRESHOLD = 8.0


def _change(after: bytes, before: bytes) -> thinning.Comparison:
    change = thinning.compare(thinning.decode(after, SIZE), thinning.decode(before, SIZE), THRESHOLD)
    assert change is not None
    return change


def test_sensor_noise_and_a_lighting_change_change_no_region() -> None:
    still = scene_jpeg(0, noise_seed=1)
    assert _change(scene_jpeg(0, noise_seed=2), still).changed_cells == 0
    dimmed = _change(scene_jpeg(0, noise_seed=3, gain=0.8), still)
    assert dimmed.changed_cells == 0 and dimmed.gain == pytest.approx(0.8, abs=0.05)


def test_a_small_person_walking_in_changes_a_region() -> None:
    """A 12 x 40 pixel figure: about 0.6% of the frame, a few bits of a whole-frame hash."""
    before = scene_jpeg(0, noise_seed=1, people=((60, 200),))
    after = scene_jpeg(0, noise_seed=2, people=((60, 200), (250, 220)))
    assert _change(after, before).changed_cells >= 1
    assert _change(scene_jpeg(0, noise_seed=3, people=((250, 220),), gain=1.2), scene_jpeg(0)).changed_cells >= 1


def test_thumbnails_of_another_size_are_not_compared() -> None:
    small = thinning.decode(scene_jpeg(0), (32, 24))
    assert thinning.compare(small, thinning.decode(scene_jpeg(0), SIZE), THRESHOLD) is None


def test_a_truncated_or_foreign_file_does_not_decode() -> None:
    data = noisy_jpeg(5)
    with pytest.raises(thinning.UndecodableImage):
        thinning.decode(data[: len(data) // 2], SIZE)
    with pytest.raises(thinning.UndecodableImage):
        thinning.decode(b"not a jpeg", SIZE)


def test_an_unchanged_scene_is_uploaded_again_once_the_window_has_passed() -> None:
    reference = thinning.decode(scene_jpeg(0, noise_seed=1), SIZE)
    again = thinning.decode(scene_jpeg(0, noise_seed=2), SIZE)
    assert thinning.skippable(again, 9.0, reference, 0.0, window_seconds=10, cell_threshold=THRESHOLD)
    assert thinning.skippable(again, 11.0, reference, 0.0, window_seconds=10, cell_threshold=THRESHOLD) is None
    assert thinning.skippable(again, 1.0, None, 0.0, window_seconds=10, cell_threshold=THRESHOLD) is None


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


def test_a_frame_in_which_someone_new_appears_is_never_skipped(
    tmp_path: Path, s3_endpoint: S3Endpoint, bucket: Bucket
) -> None:
    """The issue's case: one shopper stands in the aisle, a second walks in; then both stand still."""
    config = _thinning_agent(tmp_path, s3_endpoint, bucket)
    one, two = ((60, 200),), ((60, 200), (250, 220))
    frames = [
        (capture_name(0), scene_jpeg(0, noise_seed=1, people=one)),  # uploaded: first frame
        (capture_name(1), scene_jpeg(0, noise_seed=2, people=one)),  # skipped: nothing changed
        (capture_name(2), scene_jpeg(0, noise_seed=3, people=two)),  # uploaded: a second shopper walked in
        (capture_name(3), scene_jpeg(0, noise_seed=4, people=two, gain=0.85)),  # skipped: only the light changed
    ]
    with AgentThread(config):
        _write_one_by_one(config.watch.directory, frames)
    assert bucket.objects() == {expected_key(name, data): data for name, data in (frames[0], frames[2])}
    assert read_snapshot(config.spool.state_dir).counters["skipped"] == 2


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
