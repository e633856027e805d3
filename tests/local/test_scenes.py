"""Synthetic store-camera stills: deterministic, named like motion's, timed, and with detectable faces."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from PIL import Image
from shopper_edge.capture import time_from_exif, time_from_filename

from local.scenes import OPENING_HOURS, compose_day, compose_day_frames, motion_file_name
from tests.local.conftest import DAY, DEVICES, FRAMES_PER_DEVICE

MOTION_NAME = re.compile(r"^(\d{8}-\d{6})-(\d{2})\.jpg$")


def test_same_seed_writes_the_same_files_byte_for_byte(tmp_path):
    devices = {"pi-a": "entrance", "pi-b": "checkout"}
    first = compose_day(tmp_path / "one", devices, DAY, 3, seed=11)
    second = compose_day(tmp_path / "two", devices, DAY, 3, seed=11)

    assert [p.relative_to(tmp_path / "one") for p in first] == [p.relative_to(tmp_path / "two") for p in second]
    assert [p.read_bytes() for p in first] == [p.read_bytes() for p in second]


def test_another_seed_gives_another_day(tmp_path):
    devices = {"pi-a": "entrance"}
    first = compose_day(tmp_path / "one", devices, DAY, 3, seed=1)
    second = compose_day(tmp_path / "two", devices, DAY, 3, seed=2)

    assert [p.read_bytes() for p in first] != [p.read_bytes() for p in second]


def test_frames_are_named_like_motion_in_one_folder_per_device(composed_day):
    by_device: dict[str, list[str]] = {}
    for frame in composed_day:
        assert frame.path.parent.name == frame.device_id
        assert MOTION_NAME.match(frame.path.name), frame.path.name
        by_device.setdefault(frame.device_id, []).append(frame.path.name)

    assert {d: len(names) for d, names in by_device.items()} == dict.fromkeys(DEVICES, FRAMES_PER_DEVICE)
    assert all(len(set(names)) == len(names) for names in by_device.values())
    assert not list(composed_day[0].path.parent.parent.rglob("*.part"))


def test_frame_number_within_a_second_is_two_digits():
    moment = datetime(2026, 11, 25, 9, 30, 12, tzinfo=UTC)

    assert motion_file_name(moment, 1) == "20261125-093012-01.jpg"
    assert motion_file_name(moment, 2) == "20261125-093012-02.jpg"


def test_capture_times_fall_in_opening_hours_of_the_day(composed_day):
    opening, closing = (datetime.combine(DAY, t, tzinfo=UTC) for t in OPENING_HOURS)

    assert all(opening <= f.captured_at < closing for f in composed_day)
    assert len({f.captured_at.hour for f in composed_day}) >= 4  # spread over the day, not one burst


def test_edge_agent_reads_the_capture_time_from_name_and_exif(composed_day):
    for frame in composed_day:
        data = frame.path.read_bytes()

        assert time_from_filename(frame.path.name, "UTC") == frame.captured_at
        assert time_from_exif(data, "Europe/Paris") == frame.captured_at  # EXIF carries its +00:00 offset


def test_exif_date_time_original_is_written(composed_day):
    with Image.open(composed_day[0].path) as image:
        original = image.getexif().get_ifd(0x8769)[36867]

    assert original == composed_day[0].captured_at.strftime("%Y:%m:%d %H:%M:%S")


def test_frames_are_720p_jpegs(composed_day):
    with Image.open(composed_day[0].path) as image:
        assert (image.format, image.size, image.mode) == ("JPEG", (1280, 720), "RGB")


def test_some_frames_show_people_and_some_show_no_one(composed_day):
    people = [len(f.people) for f in composed_day]

    assert 0 in people
    assert sum(1 for n in people if n > 0) >= len(people) // 2
    assert any(n > 1 for n in people)


def test_most_drawn_faces_are_detected_by_the_local_analyzer(analyzer, composed_day):
    drawn = found = extra = 0
    for frame in composed_day:
        details = analyzer.analyze_image(frame.path.read_bytes())["FaceDetails"]
        centers = [
            (
                (d["BoundingBox"]["Left"] + d["BoundingBox"]["Width"] / 2) * 1280,
                (d["BoundingBox"]["Top"] + d["BoundingBox"]["Height"] / 2) * 720,
            )
            for d in details
        ]
        hits = sum(
            any(x0 <= x <= x1 and y0 <= y <= y1 for x, y in centers)
            for (x0, y0, x1, y1) in (p.face_box for p in frame.people)
        )
        drawn += len(frame.people)
        found += hits
        extra += max(0, len(details) - hits)

    assert drawn >= 10
    assert found >= 0.85 * drawn
    assert extra <= 0.1 * drawn


def test_faces_come_from_several_real_photographs(composed_day):
    photos = {p.photo for f in composed_day for p in f.people}

    assert len(photos) >= 5


@pytest.mark.parametrize(
    ("devices", "frames", "message"),
    [({}, 1, "devices is empty"), ({"pi-a": "entrance"}, -1, "frames_per_device")],
)
def test_bad_arguments_are_refused(tmp_path, devices, frames, message):
    with pytest.raises(ValueError, match=message):
        compose_day(tmp_path, devices, DAY, frames)


@pytest.mark.parametrize(("time_zone", "offset"), [("America/Los_Angeles", "-08:00"), ("Europe/Berlin", "+01:00")])
def test_a_store_outside_utc_is_open_on_its_own_clock_and_names_stills_by_it(tmp_path, time_zone, offset):
    frames = compose_day_frames(tmp_path, {"pi-a": "entrance"}, DAY, 6, seed=5, time_zones={"pi-a": time_zone})

    zone = ZoneInfo(time_zone)
    opening, closing = (datetime.combine(DAY, t, tzinfo=zone) for t in OPENING_HOURS)
    for frame in frames:
        assert opening <= frame.captured_at < closing
        # motion on a Pi set to the store's zone: the name is the wall clock, the agent told the zone reads it back.
        assert time_from_filename(frame.path.name, time_zone) == frame.captured_at
        assert time_from_exif(frame.path.read_bytes(), "UTC") == frame.captured_at
        with Image.open(frame.path) as image:
            assert image.getexif().get_ifd(0x8769)[36881] == offset
