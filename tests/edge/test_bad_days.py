"""A real Pi's bad days (issue 15): a full card, odd files in the spool, a
half-written still that looks finished, a wrong clock, files that are not
captures.

Each runs the real agent against moto's S3 server on 127.0.0.1 and then
checks what is in S3, what is left on disk and what the agent logged.
"""

from __future__ import annotations

import io
import itertools
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from PIL import Image
from shopper_edge import state as state_module
from shopper_edge.clock import CaptureClock
from shopper_edge.config import load_config
from shopper_edge.log import configure
from shopper_edge.state import read_snapshot
from shopper_edge.status import status_report

from .conftest import (
    CAMERA_ID,
    DEVICE_ID,
    AgentThread,
    Bucket,
    S3Endpoint,
    TcpRelay,
    capture_name,
    expected_key,
    fill,
    free_bytes,
    json_log_events,
    noisy_jpeg,
    sha12,
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


def _events(capfd: Any, name: str) -> list[dict[str, Any]]:
    return [entry for entry in json_log_events(capfd.readouterr().err) if entry["event"] == name]


def _names() -> Iterator[str]:
    return (capture_name(second) for second in itertools.count())


# ---- 1. a full SD card -------------------------------------------------------------------------


def test_full_card_uploads_verifies_and_deletes_to_make_room_while_the_journal_cannot_be_written(
    tmp_path: Path, small_card: Path, relay: TcpRelay, bucket: Bucket, capfd: Any
) -> None:
    configure("INFO")
    config = load_config(
        write_config(tmp_path, endpoint_url=relay.url, bucket=bucket.name, root=small_card, spool="min_free_bytes = 0")
    )
    spool = config.watch.directory
    with AgentThread(config) as running:
        # The uplink is down; motion fills the card until a write fails.
        captures = fill(spool, _names(), lambda i: noisy_jpeg(2000 + i, size=(200, 150)))
        wait_until(lambda: "journal_write_failed" in capfd.readouterr().err, 15, message="a failed journal write")
        assert free_bytes(small_card) < 64 * 1024
        assert running.thread.is_alive()
    # A restart on the full card: the agent starts, and uploads once the uplink is back.
    with AgentThread(config) as running:
        relay.up()
        wait_until(
            lambda: all(not (spool / name).exists() for name, _ in captures), 30, message="the card to be emptied"
        )
        assert running.thread.is_alive()
        wait_until(lambda: read_snapshot(config.spool.state_dir).counters["uploaded"] >= len(captures), 10)
    stored = bucket.objects()
    assert {expected_key(name, data): data for name, data in captures}.items() <= stored.items()
    # Every still once, each on its own content key: no second PUT of any of them.
    assert bucket.version_count() == len(stored) == len(captures)
    assert read_snapshot(config.spool.state_dir).counters["uploaded"] == len(captures)


class _FullDisk:
    """sqlite3.connect as on a full card: every write says "database or disk is full" while ``full``."""

    _WRITES = ("INSERT", "UPDATE", "DELETE", "BEGIN", "CREATE", "PRAGMA JOURNAL_MODE")

    def __init__(self) -> None:
        self.full = True
        self.refused = 0
        self._connect = sqlite3.connect

    def connect(self, *args: Any, **kwargs: Any) -> Any:
        return _FullDiskConnection(self, self._connect(*args, **kwargs))

    def check(self, sql: str) -> None:
        if self.full and sql.lstrip().upper().startswith(self._WRITES):
            self.refused += 1
            raise sqlite3.OperationalError("database or disk is full")


class _FullDiskConnection:
    def __init__(self, disk: _FullDisk, inner: sqlite3.Connection) -> None:
        self._disk = disk
        self._inner = inner

    def execute(self, sql: str, *args: Any) -> Any:
        self._disk.check(sql)
        return self._inner.execute(sql, *args)

    def executescript(self, sql: str) -> Any:
        self._disk.check(sql)
        return self._inner.executescript(sql)

    def __enter__(self) -> Any:
        return self._inner.__enter__()

    def __exit__(self, *exc: Any) -> Any:
        return self._inner.__exit__(*exc)

    def close(self) -> None:
        self._inner.close()


def test_a_journal_that_cannot_be_written_never_stops_a_verified_delete_nor_causes_a_second_put(
    tmp_path: Path, s3_endpoint: S3Endpoint, bucket: Bucket, capfd: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """ENOSPC injected at every write the agent makes (its only writes are the SQLite journal's)."""
    configure("INFO")
    config = load_config(write_config(tmp_path, endpoint_url=s3_endpoint.url, bucket=bucket.name))
    spool = config.watch.directory
    disk = _FullDisk()
    monkeypatch.setattr(state_module.sqlite3, "connect", disk.connect)
    captures = {capture_name(i): noisy_jpeg(2100 + i) for i in range(6)}
    with AgentThread(config) as running:  # the journal cannot even be created
        for name, data in captures.items():
            write_capture(spool, name, data)
        wait_until(lambda: not list(spool.glob("*.jpg")), 20, message="uploaded stills to be deleted")
        assert running.thread.is_alive()
        logged = capfd.readouterr().err
        assert disk.refused > 0
        disk.full = False  # room again: what was kept in memory is written
        wait_until(lambda: read_snapshot(config.spool.state_dir).counters["uploaded"] == len(captures), 10)
    failures = [e for e in json_log_events(logged) if e["event"] == "journal_write_failed"]
    assert len(failures) == 1 and "disk is full" in failures[0]["error"]
    assert [e["event"] for e in json_log_events(logged)].count("uploaded") == len(captures)
    assert bucket.objects() == {expected_key(name, data): data for name, data in captures.items()}
    assert bucket.version_count() == len(captures)


def test_a_free_space_floor_is_kept_by_dropping_the_oldest_captures_with_a_count(
    tmp_path: Path, small_card: Path, relay: TcpRelay, bucket: Bucket, capfd: Any
) -> None:
    configure("INFO")
    floor = 1024 * 1024
    config = load_config(
        write_config(
            tmp_path, endpoint_url=relay.url, bucket=bucket.name, root=small_card, spool=f"min_free_bytes = {floor}"
        )
    )
    spool = config.watch.directory
    captures = [(capture_name(i), noisy_jpeg(2200 + i, size=(320, 240))) for i in range(90)]  # more than the card
    written: list[str] = []
    with AgentThread(config):
        for name, data in captures:  # an outage: nothing leaves the card
            try:
                write_capture(spool, name, data)
            except OSError:
                pytest.fail("the card filled up although the agent keeps a free-space floor")
            written.append(name)
            time.sleep(0.05)

        def settled() -> bool:
            # The floor restored, and every capture either on the card or counted as dropped: the
            # counter is saved after the file goes, so reading it a moment early would miss one.
            on_card = len(list(spool.glob("*.jpg")))
            counted = read_snapshot(config.spool.state_dir).counters["dropped"]
            return free_bytes(small_card) >= floor and on_card + counted == len(captures)

        wait_until(settled, 10, message="the floor to be restored and every drop counted")
        kept = sorted(p.name for p in spool.glob("*.jpg"))
        dropped = read_snapshot(config.spool.state_dir).counters["dropped"]
        assert dropped > 0 and len(kept) + dropped == len(captures)
        assert kept == [name for name, _ in captures][dropped:], "not the oldest captures were dropped"
        relay.up()
        wait_until(lambda: not list(spool.glob("*.jpg")), 20)
    # Once the uplink is back nothing more is dropped: every capture is either uploaded or counted.
    dropped = read_snapshot(config.spool.state_dir).counters["dropped"]
    drops = _events(capfd, "dropped")
    assert len(drops) == dropped and {d["reason"] for d in drops} == {"min_free_bytes"}
    assert len(bucket.keys()) == len(captures) - dropped


# ---- 2, 3. FIFOs and links -----------------------------------------------------------------------


def _agent_process(config_path: Path, log: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "shopper_edge", "run", "--config", str(config_path)],
        stdout=subprocess.DEVNULL,
        stderr=log.open("ab"),
    )


def test_a_fifo_named_like_a_capture_is_skipped_once_without_being_opened(
    tmp_path: Path, s3_endpoint: S3Endpoint, bucket: Bucket
) -> None:
    config_path = write_config(tmp_path, endpoint_url=s3_endpoint.url, bucket=bucket.name)
    config = load_config(config_path)
    spool = config.watch.directory
    fifo = spool / capture_name(0)
    os.mkfifo(fifo)
    data = noisy_jpeg(2300)
    log = tmp_path / "agent.log"
    for run in range(2):  # frozen "again after each restart" is what the issue saw
        agent = _agent_process(config_path, log)
        try:
            name = capture_name(1 + run)
            path = write_capture(spool, name, data if run == 0 else noisy_jpeg(2301))
            wait_until(lambda path=path: not path.exists(), 15, message="the regular capture to be uploaded")
            time.sleep(1.5)  # three rescans
            agent.send_signal(signal.SIGTERM)
            assert agent.wait(15) == 0, "the agent did not stop on SIGTERM"
        finally:
            if agent.poll() is None:
                agent.kill()
    assert fifo.exists()
    refused = [e for e in json_log_events(log.read_text()) if e["event"] == "refused"]
    assert [(e["path"], e["kind"]) for e in refused] == [(str(fifo), "FIFO (named pipe)")] * 2  # once per run
    assert len(bucket.keys()) == 2
    assert status_report(config)["refused_paths"] == 1


def test_links_are_never_followed_out_of_the_spool(
    tmp_path: Path, s3_endpoint: S3Endpoint, bucket: Bucket, capfd: Any
) -> None:
    configure("INFO")
    config = load_config(
        write_config(
            tmp_path, endpoint_url=s3_endpoint.url, bucket=bucket.name, cameras={"cam1": "entrance", "cam2": "checkout"}
        )
    )
    spool = config.watch.directory
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    secret = outside / capture_name(5)
    secret.write_bytes(noisy_jpeg(2400))
    (spool / "cam1").mkdir()
    (spool / "cam1" / capture_name(6)).symlink_to(secret)  # a link to a JPEG outside the spool
    (spool / "cam2").symlink_to(outside, target_is_directory=True)  # a camera folder that is a link
    genuine = noisy_jpeg(2401)
    with AgentThread(config):
        path = write_capture(spool / "cam1", capture_name(7), genuine)
        wait_until(lambda: not path.exists(), 10)
        time.sleep(1.5)  # three rescans
    assert bucket.objects() == {expected_key(capture_name(7), genuine): genuine}
    assert secret.read_bytes() == noisy_jpeg(2400), "the file outside the spool was touched"
    assert (spool / "cam1" / capture_name(6)).is_symlink() and (spool / "cam2").is_symlink()
    refused = _events(capfd, "refused")
    assert sorted(e["path"] for e in refused) == sorted([str(spool / "cam1" / capture_name(6)), str(spool / "cam2")])
    assert all("link" in e["kind"] for e in refused)


# ---- 4. a still uploaded only when complete ------------------------------------------------------


def _jpeg_whose_first_part_ends_in_the_end_marker(seed: int) -> tuple[bytes, int]:
    """A still with a comment segment that ends in FF D9 (as an EXIF thumbnail does), and where it ends."""
    image = Image.frombytes("RGB", (320, 240), random.Random(seed).randbytes(320 * 240 * 3))
    out = io.BytesIO()
    image.save(out, "JPEG", quality=85, comment=b"thumbnail\xff\xd9")
    data = out.getvalue()
    cut = data.index(b"thumbnail\xff\xd9") + len(b"thumbnail\xff\xd9")
    return data, cut


def test_a_first_part_that_ends_in_the_jpeg_end_marker_is_not_uploaded_and_the_whole_still_is(
    agent_config: Any, bucket: Bucket
) -> None:
    data, cut = _jpeg_whose_first_part_ends_in_the_end_marker(2500)
    assert data[:cut].endswith(b"\xff\xd9")
    path = agent_config.watch.directory / capture_name(20)
    with AgentThread(agent_config):
        with path.open("wb") as fh:
            fh.write(data[:cut])
            fh.flush()
            time.sleep(1.5)  # longer than settle_seconds and two rescans
            assert bucket.keys() == [], "a fragment was uploaded"
            assert path.exists(), "the still was deleted while motion was writing it"
            fh.write(data[cut:])
        wait_until(lambda: not path.exists(), 10)
    assert bucket.objects() == {expected_key(capture_name(20), data): data}


# ---- 5. a wrong clock ----------------------------------------------------------------------------


class _WrongClock:
    """The Pi's wall clock: ``offset`` seconds away from the truth until someone sets it."""

    def __init__(self, offset: float) -> None:
        self.offset = offset

    def __call__(self) -> float:
        return time.time() + self.offset


def _clock_config(tmp_path: Path, s3_endpoint: S3Endpoint, bucket: Bucket) -> Any:
    return load_config(
        write_config(tmp_path, endpoint_url=s3_endpoint.url, bucket=bucket.name, extra="[clock]\ncheck = true")
    )


def _stamped(spool: Path, name: str, data: bytes, at: float) -> Path:
    """A still written by motion under a wrong clock: its mtime (and its name, if it has one) say ``at``."""
    path = write_capture(spool, name, data)
    os.utime(path, (at, at))
    return path


def test_a_still_dated_before_the_build_date_is_held_with_an_event_and_a_counter(
    tmp_path: Path, s3_endpoint: S3Endpoint, bucket: Bucket, capfd: Any
) -> None:
    configure("INFO")
    config = _clock_config(tmp_path, s3_endpoint, bucket)
    spool = config.watch.directory
    wrong = _stamped(spool, "snapshot-0001.jpg", noisy_jpeg(2600), 12.0)  # 1970-01-01T00:00:12Z, no time in the name
    right = noisy_jpeg(2601)
    with AgentThread(config):
        path = write_capture(spool, capture_name(30), right)
        wait_until(lambda: not path.exists(), 10)
        wait_until(lambda: read_snapshot(config.spool.state_dir).counters["held"] == 1, 10)
        time.sleep(1.0)
    assert wrong.exists()
    assert bucket.objects() == {expected_key(capture_name(30), right): right}
    (held,) = _events(capfd, "held")
    assert held["path"] == str(wrong) and "build date" in held["reason"]
    assert held["capture_time"] == "1970-01-01T00:00:12.000Z"
    assert status_report(config)["held"] == 1


def test_stills_stamped_by_a_clock_that_runs_ahead_of_aws_are_held(
    tmp_path: Path, s3_endpoint: S3Endpoint, bucket: Bucket, capfd: Any
) -> None:
    configure("INFO")
    config = _clock_config(tmp_path, s3_endpoint, bucket)
    ahead = _WrongClock(3 * 86400.0)
    spool = config.watch.directory
    stamp = datetime.fromtimestamp(ahead(), tz=UTC)
    name = f"{stamp:%Y%m%d-%H%M%S}-00.jpg"  # motion names the still by the wrong clock
    path = _stamped(spool, name, noisy_jpeg(2700), ahead())
    clock = CaptureClock(max_ahead_seconds=config.clock.max_ahead_seconds, wall=ahead)
    with AgentThread(config, clock=clock):
        wait_until(lambda: read_snapshot(config.spool.state_dir).counters["held"] == 1, 10)
        time.sleep(1.0)
    assert path.exists() and bucket.keys() == []
    logged = json_log_events(capfd.readouterr().err)
    (held,) = [e for e in logged if e["event"] == "held"]
    assert "S3 time" in held["reason"]
    assert [e["reference"] for e in logged if e["event"] == "clock_wrong"] == ["S3 time"]


def test_when_the_clock_is_set_held_stills_are_uploaded_with_their_true_time(
    tmp_path: Path, s3_endpoint: S3Endpoint, bucket: Bucket, capfd: Any
) -> None:
    """A Pi without network time boots in 1970; NTP later steps its clock to the right time."""
    configure("INFO")
    config = _clock_config(tmp_path, s3_endpoint, bucket)
    booted_in_1970 = _WrongClock(-(time.time() - 1000.0))
    clock = CaptureClock(max_ahead_seconds=config.clock.max_ahead_seconds, wall=booted_in_1970)
    spool = config.watch.directory
    data = noisy_jpeg(2800)
    with AgentThread(config, clock=clock):
        taken = booted_in_1970()
        truth = time.time()
        path = _stamped(spool, "snapshot-0002.jpg", data, taken)
        wait_until(lambda: read_snapshot(config.spool.state_dir).counters["held"] == 1, 10)
        assert bucket.keys() == []
        booted_in_1970.offset = 0.0  # NTP steps the clock
        wait_until(lambda: not path.exists(), 10, message="the held still to be uploaded")
    (key,) = bucket.keys()
    stamp = datetime.strptime(key.split("/")[-1].split("-")[0], "%Y%m%dT%H%M%S%fZ").replace(tzinfo=UTC)
    assert abs(stamp.timestamp() - truth) < 1.0, f"{key} is not dated when the still was taken"
    assert key.startswith(f"incoming/{DEVICE_ID}/{CAMERA_ID}/{stamp:%Y/%m/%d}/") and key.endswith(f"{sha12(data)}.jpg")
    logged = json_log_events(capfd.readouterr().err)
    (step,) = [e for e in logged if e["event"] == "clock_step"]
    assert step["redated"] == 1 and step["seconds"] > 50 * 365 * 86400
    assert "released" in [e["event"] for e in logged]


def test_the_repeated_autumn_hour_is_not_stamped_twice(tmp_path: Path, s3_endpoint: S3Endpoint, bucket: Bucket) -> None:
    """New York falls back on 2026-11-01: 01:30:05 local happens at 05:30:05Z and again at 06:30:05Z."""
    config = load_config(
        write_config(tmp_path, endpoint_url=s3_endpoint.url, bucket=bucket.name, timezone="America/New_York")
    )
    spool = config.watch.directory
    first, second = noisy_jpeg(2900), noisy_jpeg(2901)
    with AgentThread(config):
        for name, data, at in (
            ("20261101-013005-00.jpg", first, datetime(2026, 11, 1, 5, 30, 5, tzinfo=UTC)),
            ("20261101-013005-01.jpg", second, datetime(2026, 11, 1, 6, 30, 5, tzinfo=UTC)),
        ):
            path = _stamped(spool, name, data, at.timestamp())
            wait_until(lambda path=path: not path.exists(), 10)
    prefix = f"incoming/{DEVICE_ID}/{CAMERA_ID}/2026/11/01/"
    assert bucket.objects() == {
        f"{prefix}20261101T053005000Z-{sha12(first)}.jpg": first,
        f"{prefix}20261101T063005000Z-{sha12(second)}.jpg": second,
    }


# ---- 6. files that are not captures --------------------------------------------------------------


def test_files_that_are_not_captures_count_toward_the_spool_limit_are_reported_once_and_go_first(
    tmp_path: Path, relay: TcpRelay, bucket: Bucket, capfd: Any
) -> None:
    configure("INFO")
    captures = {capture_name(40 + i): noisy_jpeg(3000 + i) for i in range(3)}
    movie = os.urandom(300_000)
    snapshot = noisy_jpeg(3010)[:5000]
    limit = sum(map(len, captures.values())) + len(snapshot) + len(movie) // 2
    config = load_config(
        write_config(tmp_path, endpoint_url=relay.url, bucket=bucket.name, spool=f"max_bytes = {limit}")
    )
    spool = config.watch.directory
    with AgentThread(config):
        (spool / "lastsnap.png").write_bytes(snapshot)
        for name, data in captures.items():
            write_capture(spool, name, data)
        wait_until(lambda: status_report(config)["other_files"]["files"] == 1, 10)  # the snapshot
        time.sleep(0.6)
        assert len(list(spool.glob("*.jpg"))) == 3 and (spool / "lastsnap.png").exists()  # under the limit
        (spool / "01-20261125140000.mkv").write_bytes(movie)  # motion's movie: over the limit
        wait_until(lambda: not (spool / "01-20261125140000.mkv").exists(), 10, message="the movie to be dropped")
        time.sleep(1.0)  # two rescans: reported once, not again
        assert len(list(spool.glob("*.jpg"))) == 3, "a capture was dropped for a file that is not one"
        relay.up()
        wait_until(lambda: not list(spool.glob("*.jpg")), 20)
    assert not (spool / "lastsnap.png").exists()
    assert bucket.objects() == {expected_key(name, data): data for name, data in captures.items()}
    logged = json_log_events(capfd.readouterr().err)
    reported = sorted(Path(e["path"]).name for e in logged if e["event"] == "not_a_capture")
    assert reported == ["01-20261125140000.mkv", "lastsnap.png"]
    # Oldest first among the files that are not captures; no capture had to go.
    drops = [(Path(e["path"]).name, e["kind"], e["reason"]) for e in logged if e["event"] == "dropped"]
    assert drops == [
        ("lastsnap.png", "not_a_capture", "spool_max_bytes"),
        ("01-20261125140000.mkv", "not_a_capture", "spool_max_bytes"),
    ]


def test_a_wrong_clock_check_never_runs_without_being_asked_on_a_development_machine(
    tmp_path: Path, s3_endpoint: S3Endpoint, bucket: Bucket
) -> None:
    """credentials.mode = "default" replays old photos (the local demo): dated as their files say."""
    config = load_config(write_config(tmp_path, endpoint_url=s3_endpoint.url, bucket=bucket.name))
    assert config.clock.check is False
    old = datetime(2019, 6, 1, 12, tzinfo=UTC)
    data = noisy_jpeg(3100)
    with AgentThread(config):
        path = _stamped(config.watch.directory, "holiday.jpg", data, old.timestamp())
        wait_until(lambda: not path.exists(), 10)
    (key,) = bucket.keys()
    assert "/2019/06/01/20190601T120000000Z-" in key
