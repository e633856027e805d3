"""Pure rules about one capture: names, completeness, capture time, key."""

from __future__ import annotations

import io
import os
import re
from datetime import UTC, datetime
from pathlib import Path

import pytest
from PIL import Image
from shopper_edge import capture

from .conftest import noisy_jpeg

KEY_PATTERN = re.compile(
    r"incoming/[A-Za-z0-9][A-Za-z0-9_-]{0,127}/[A-Za-z0-9][A-Za-z0-9_-]{0,63}"
    r"/\d{4}/\d{2}/\d{2}/\d{8}T\d{6}\d{3}Z-[0-9a-f]{12}\.jpg"
)


def test_object_key_follows_the_design_contract() -> None:
    taken = datetime(2026, 1, 2, 3, 4, 5, 678_901, tzinfo=UTC)
    key = capture.object_key("store-1_pi", "aisle-3", taken, "ABCDEF0123456789" + "0" * 48)
    assert key == "incoming/store-1_pi/aisle-3/2026/01/02/20260102T030405678Z-abcdef012345.jpg"
    assert KEY_PATTERN.fullmatch(key)


def test_object_key_is_in_utc_whatever_the_input_zone() -> None:
    from zoneinfo import ZoneInfo

    taken = datetime(2026, 7, 1, 0, 30, tzinfo=ZoneInfo("Europe/Berlin"))
    assert capture.object_key("d", "c", taken, "0" * 64).startswith("incoming/d/c/2026/06/30/20260630T223000000Z-")


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("20261125-143005-07.jpg", datetime(2026, 11, 25, 14, 30, 5, tzinfo=UTC)),  # cam%t/%Y%m%d-%H%M%S-%q
        (
            "03-20261125143005-07.jpg",
            datetime(2026, 11, 25, 14, 30, 5, tzinfo=UTC),
        ),  # motion default %v-%Y%m%d%H%M%S-%q
        ("snap_20261125T143005.jpg", datetime(2026, 11, 25, 14, 30, 5, tzinfo=UTC)),
    ],
)
def test_capture_time_is_read_from_motion_file_names(name: str, expected: datetime) -> None:
    assert capture.time_from_filename(name, "UTC") == expected


def test_motion_local_time_in_the_name_is_converted_to_utc() -> None:
    # motion formats names in the Pi's local zone; winter in Berlin is UTC+1.
    assert capture.time_from_filename("20261125-143005-00.jpg", "Europe/Berlin") == datetime(
        2026, 11, 25, 13, 30, 5, tzinfo=UTC
    )


@pytest.mark.parametrize("name", ["image.jpg", "20261325-143005.jpg", "19991125-143005.jpg", "120261125143005.jpg"])
def test_names_without_a_valid_timestamp_give_no_time(name: str) -> None:
    assert capture.time_from_filename(name, "UTC") is None


def _jpeg_with_exif(original: str, subsec: str | None = None, offset: str | None = None) -> bytes:
    image = Image.new("RGB", (16, 16), "gray")
    exif = Image.Exif()
    ifd = exif.get_ifd(0x8769)
    ifd[36867] = original
    if subsec:
        ifd[37521] = subsec
    if offset:
        ifd[36881] = offset
    out = io.BytesIO()
    image.save(out, "JPEG", exif=exif)
    return out.getvalue()


def test_exif_time_with_subseconds_and_offset_is_used_when_the_name_has_none(tmp_path: Path) -> None:
    data = _jpeg_with_exif("2026:11:25 15:30:05", subsec="25", offset="+01:00")
    taken, source = capture.capture_time(tmp_path / "image.jpg", data, 0, "UTC")
    assert (taken, source) == (datetime(2026, 11, 25, 14, 30, 5, 250_000, tzinfo=UTC), "exif")


def test_mtime_is_the_last_resort_for_capture_time(tmp_path: Path) -> None:
    mtime_ns = 1_764_081_005_123_456_789
    taken, source = capture.capture_time(tmp_path / "image.jpg", noisy_jpeg(1), mtime_ns, "UTC")
    assert source == "mtime"
    assert capture.object_key("d", "c", taken, "0" * 64).split("/")[-1].startswith("20251125T143005123Z")


def test_file_name_wins_over_exif(tmp_path: Path) -> None:
    data = _jpeg_with_exif("2020:01:01 00:00:00")
    taken, source = capture.capture_time(tmp_path / "20261125-143005-00.jpg", data, 0, "UTC")
    assert (taken.year, source) == (2026, "filename")


def test_a_truncated_jpeg_is_not_complete(tmp_path: Path) -> None:
    data = noisy_jpeg(3)
    assert capture.jpeg_is_complete(data)
    assert capture.jpeg_is_complete(data + b"\x00\x00")
    assert not capture.jpeg_is_complete(data[: len(data) // 2])
    assert not capture.jpeg_is_complete(b"")
    path = tmp_path / "a.jpg"
    path.write_bytes(data[:-1])
    assert not capture.jpeg_file_looks_complete(path)
    path.write_bytes(data)
    assert capture.jpeg_file_looks_complete(path)


@pytest.mark.parametrize(
    ("name", "is_capture"),
    [
        ("20261125-143005-00.jpg", True),
        ("x.JPEG", True),
        (".20261125-143005-00.jpg", False),
        ("20261125-143005-00.jpg.tmp", False),
        ("20261125-143005-00.jpg~", False),
        ("20261125-143005-00.avi", False),
        ("lastsnap.jpg.part", False),
    ],
)
def test_only_finished_capture_names_are_candidates(name: str, is_capture: bool) -> None:
    assert capture.is_capture_name(Path(name), ("jpg", "jpeg")) is is_capture


def test_digest_gives_hex_and_base64_forms_of_md5_and_sha256() -> None:
    digest = capture.digest(b"abc")
    assert digest.sha256_hex.startswith("ba7816bf")
    assert digest.sha256_b64 == "ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0="
    assert digest.md5_hex == "900150983cd24fb0d6963f7d28e17f72"
    assert digest.md5_b64 == "kAFQmDzST7DWlj99KOF/cg=="


def test_camera_folder_is_the_first_sub_folder_under_the_watch_root(tmp_path: Path) -> None:
    assert capture.camera_folder(tmp_path / "cam1" / "a.jpg", tmp_path) == "cam1"
    assert capture.camera_folder(tmp_path / "cam1" / "20261125" / "a.jpg", tmp_path) == "cam1"
    assert capture.camera_folder(tmp_path / "a.jpg", tmp_path) == ""
    assert capture.camera_folder(tmp_path.parent / "a.jpg", tmp_path) is None


def test_the_repeated_autumn_hour_is_told_apart_by_the_file_modification_time() -> None:
    # Berlin falls back on 2026-10-25: 02:30 local is 00:30Z (summer time) and again 01:30Z.
    first_pass = int(datetime(2026, 10, 25, 0, 30, 7, tzinfo=UTC).timestamp() * 1e9)
    second_pass = int(datetime(2026, 10, 25, 1, 30, 7, tzinfo=UTC).timestamp() * 1e9)
    name = "20261025-023005-00.jpg"
    assert capture.time_from_filename(name, "Europe/Berlin", mtime_ns=first_pass) == datetime(
        2026, 10, 25, 0, 30, 5, tzinfo=UTC
    )
    assert capture.time_from_filename(name, "Europe/Berlin", mtime_ns=second_pass) == datetime(
        2026, 10, 25, 1, 30, 5, tzinfo=UTC
    )
    # An hour that is not repeated does not depend on the mtime at all.
    assert capture.time_from_filename("20261025-043005-00.jpg", "Europe/Berlin", mtime_ns=0) == datetime(
        2026, 10, 25, 3, 30, 5, tzinfo=UTC
    )


def test_the_exif_offset_settles_the_repeated_hour_whatever_the_mtime(tmp_path: Path) -> None:
    data = _jpeg_with_exif("2026:10:25 02:30:05", offset="+01:00")  # the second pass (winter time)
    first_pass = int(datetime(2026, 10, 25, 0, 30, 7, tzinfo=UTC).timestamp() * 1e9)
    taken, source = capture.capture_time(tmp_path / "image.jpg", data, first_pass, "Europe/Berlin")
    assert (taken, source) == (datetime(2026, 10, 25, 1, 30, 5, tzinfo=UTC), "exif")


def test_a_fifo_named_like_a_capture_never_looks_complete_and_does_not_block(tmp_path: Path) -> None:
    fifo = tmp_path / "20261125-143005-00.jpg"
    os.mkfifo(fifo)
    assert capture.jpeg_file_looks_complete(fifo) is False
