"""The capture agent's main loop.

The watch directory *is* the spool: a capture stays exactly where motion wrote
it until S3 confirmed its bytes, and only then is it deleted. That makes a
SIGKILL, a power cut or a network outage harmless - on restart the rescan
finds every file that is still there, and because the object key is derived
from the file's own bytes and capture time, a re-upload lands on the same key.

What the spool may hold besides finished stills, and what happens to it:

* a FIFO, socket or device named ``*.jpg``: never opened (opening a FIFO
  blocks until a writer comes), reported once;
* a symbolic link, or a file reached through a linked folder: never followed
  (it could point anywhere on the Pi), reported once;
* any other regular file (motion's movies, ``.png`` snapshots): not uploaded,
  reported once, and counted toward the spool limits, so it can never fill
  the card unseen; under pressure such files go before captures.

Threads: the main loop owns all state (pending files, SQLite, deletions);
watchdog's observer only posts events to a queue; a small pool of upload
workers only runs PutObject and returns the result.
"""

from __future__ import annotations

import bisect
import contextlib
import errno
import logging
import os
import queue
import random
import stat
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from watchdog.events import FileSystemEvent, FileSystemEventHandler
from watchdog.observers import Observer

from . import capture, thinning
from .clock import CaptureClock, ClockStep
from .config import AgentConfig
from .log import emit
from .state import AgentState, ThinningReference
from .upload import PutResult, put_verified


@dataclass
class _Pending:
    path: Path
    camera: str  # the camera id its folder is mapped to
    size: int
    mtime_ns: int
    order: float  # capture time from the name, else mtime: "oldest first" for drops
    closed_mtime_ns: int | None = None  # mtime when a close/move-in event was seen
    stable_since: float = field(default_factory=time.monotonic)  # monotonic time the size/mtime last changed
    # Set once the still was read and found implausibly dated (clock.py): why, and its time as stamped.
    held: str | None = None
    taken_at: datetime | None = None
    time_source: str = ""
    # Seconds added to the stamped time: the clock steps seen since it was stamped.
    correction: float = 0.0


@dataclass
class _Other:
    """A regular file in the spool that is not a capture: never uploaded, counted toward the limits."""

    path: Path
    size: int
    mtime_ns: int


@dataclass(frozen=True)
class _Job:
    path: Path
    size: int
    mtime_ns: int
    key: str
    digest: capture.CaptureDigest
    camera: str
    reference: ThinningReference | None
    data: bytes = field(repr=False)
    metadata: dict[str, str] = field(default_factory=dict)


class _Unreadable(Exception):
    """The path is not a regular file we may read (a FIFO, a link, ...); ``reason`` says what it is."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _queue_key(entry: _Pending) -> tuple[float, str]:
    return (entry.order, str(entry.path))


def _order_of(path: Path, mtime_ns: int, zone_name: str) -> float:
    taken = capture.time_from_filename(path.name, zone_name, mtime_ns=mtime_ns)
    return taken.timestamp() if taken is not None else mtime_ns / 1e9


def _kind_of(mode: int) -> str | None:
    """None for a regular file, else what it is instead (for the warning)."""
    if stat.S_ISREG(mode):
        return None
    if stat.S_ISLNK(mode):
        return "symbolic link (never followed)"
    if stat.S_ISFIFO(mode):
        return "FIFO (named pipe)"
    if stat.S_ISSOCK(mode):
        return "socket"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "device file"
    if stat.S_ISDIR(mode):
        return "directory"
    return "not a regular file"


def read_regular_file(path: Path) -> tuple[bytes, os.stat_result]:
    """The bytes of a regular file, never following a link and never blocking on a FIFO.

    Returns the data and the file's stat after reading; raises _Unreadable for
    anything but a regular file, FileNotFoundError if it is gone.
    """
    flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(path, flags)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise _Unreadable("symbolic link (never followed)") from exc
        raise
    try:
        before = os.fstat(fd)
        kind = _kind_of(before.st_mode)
        if kind is not None:
            raise _Unreadable(kind)
        chunks: list[bytes] = []
        while chunk := os.read(fd, max(65536, before.st_size + 1)):
            chunks.append(chunk)
        after = os.fstat(fd)
    finally:
        os.close(fd)
    return b"".join(chunks), after


class _EventForwarder(FileSystemEventHandler):
    """Runs on watchdog's thread: forward, never touch agent state."""

    def __init__(self, events: queue.SimpleQueue[tuple[str, str]], wake: threading.Event) -> None:
        self._events = events
        self._wake = wake

    def _post(self, kind: str, path: str | bytes) -> None:
        self._events.put((kind, os.fsdecode(path)))
        self._wake.set()

    def on_closed(self, event: FileSystemEvent) -> None:  # inotify IN_CLOSE_WRITE
        if not event.is_directory:
            self._post("closed", event.src_path)

    def on_created(self, event: FileSystemEvent) -> None:
        self._post("dir" if event.is_directory else "created", event.src_path)

    def on_modified(self, event: FileSystemEvent) -> None:
        # A file growing (a movie, a snapshot being written) changes the spool's size.
        if not event.is_directory:
            self._post("modified", event.src_path)

    def on_moved(self, event: FileSystemEvent) -> None:
        if event.is_directory:
            self._post("dir", event.dest_path)
            return
        self._post("deleted", event.src_path)
        self._post("moved", event.dest_path)  # a rename into place is a finished file

    def on_deleted(self, event: FileSystemEvent) -> None:
        if not event.is_directory:
            self._post("deleted", event.src_path)


class CaptureAgent:
    def __init__(self, config: AgentConfig, s3_client: Any, *, clock: CaptureClock | None = None) -> None:
        self.config = config
        self._client = s3_client
        self._root = config.watch.directory
        self._root_real = Path(os.path.realpath(self._root))
        self._clock = clock or CaptureClock(max_ahead_seconds=config.clock.max_ahead_seconds)
        # Every S3 answer (a refusal too) says what time it is.
        s3_client.meta.events.register("after-call.s3", self._clock.observe_response)
        self._thumb_size = thinning.thumbnail_size(config.thinning.grid_columns, config.thinning.grid_rows)
        self._pending: dict[Path, _Pending] = {}
        self._others: dict[Path, _Other] = {}
        # Paths reported as not readable (FIFOs, links...): reported once, with
        # their inode so a file that replaces one is looked at afresh.
        self._refused: dict[Path, tuple[int, int]] = {}
        # Folder -> whether it is reached through a link; forgotten at every rescan.
        self._folders_checked: dict[Path, bool] = {}
        # Oldest capture first; entries of forgotten files are skipped lazily
        # and compacted away, so a completion never costs a re-sort.
        self._queue: list[_Pending] = []
        self._spool_changed = True
        self._next_free_check = 0.0
        self._inflight: dict[Path, tuple[_Job, Future[PutResult]]] = {}
        self._probe: Future[Any] | None = None
        self._events: queue.SimpleQueue[tuple[str, str]] = queue.SimpleQueue()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._failures = 0
        self._backoff_until = 0.0
        self._rescan_soon = False
        self._references: dict[str, ThinningReference | None] = {}
        self._unmapped_reported: set[str] = set()
        self._clock_reported: str | None = None
        self._state: AgentState | None = None

    # ---- control -------------------------------------------------------------

    def stop(self) -> None:
        """Ask the loop to finish: no new uploads, in-flight ones complete."""
        self._stop.set()
        self._wake.set()

    def run(self) -> None:
        cfg = self.config
        self._root.mkdir(parents=True, exist_ok=True)
        self._root_real = Path(os.path.realpath(self._root))
        self._state = AgentState(cfg.spool.state_dir)
        observer = Observer()
        observer.schedule(_EventForwarder(self._events, self._wake), str(self._root), recursive=True)
        observer.start()
        executor = ThreadPoolExecutor(max_workers=cfg.upload.concurrency, thread_name_prefix="upload")
        emit(
            logging.INFO,
            "started",
            device_id=cfg.device_id,
            watch=str(self._root),
            bucket=cfg.s3.bucket,
            cameras=cfg.camera_folders(),
        )
        for name, detail in cfg.deprecated.items():
            emit(logging.WARNING, "config_deprecated", field=name, detail=detail)
        try:
            # Rescan after the observer started: a file that lands in between
            # is seen twice, which is harmless; one seen by neither is not.
            self._rescan()
            next_rescan = time.monotonic() + cfg.watch.rescan_seconds
            while not self._stop.is_set():
                # Cleared before the work, so a wake-up during it is not lost.
                self._wake.clear()
                self._drain_events()
                now = time.monotonic()
                if now >= next_rescan or self._rescan_soon:
                    self._rescan()
                    self._state.heartbeat(f"pid={os.getpid()} pending={len(self._pending)}")
                    self._state.prune_confirmed()
                    next_rescan = now + cfg.watch.rescan_seconds
                self._watch_clock()
                self._enforce_spool_limits()
                self._collect_finished()
                if now >= self._backoff_until and not self._stop.is_set():
                    self._dispatch(executor)
                self._state.flush()
                self._wake.wait(self._sleep_time(next_rescan))
        finally:
            # SIGTERM: let the PUTs in flight finish so their files are either
            # confirmed-and-deleted or left for the next start, never half done.
            executor.shutdown(wait=True)
            self._collect_finished()
            observer.stop()
            observer.join(timeout=5)
            self._state.close()
            emit(logging.INFO, "stopped", pending=len(self._pending))

    def _sleep_time(self, next_rescan: float) -> float:
        now = time.monotonic()
        timeout = min(1.0, max(0.0, next_rescan - now))
        waiting = len(self._pending) > len(self._inflight)
        if waiting:
            if now < self._backoff_until:
                timeout = min(timeout, self._backoff_until - now)
            else:
                # Files still settling are re-checked a few times a second.
                timeout = min(timeout, max(0.05, self.config.watch.settle_seconds / 4))
        return max(0.01, timeout)

    # ---- discovering files ----------------------------------------------------

    def _refuse(self, path: Path, st: os.stat_result | None, what: str) -> None:
        """Report once a path the agent will not open or follow; it stays where it is."""
        if st is None:
            with contextlib.suppress(OSError):
                st = os.lstat(path)
        identity = (st.st_dev, st.st_ino) if st is not None else (0, 0)
        if self._refused.get(path) == identity:
            return
        self._refused[path] = identity
        self._forget(path)
        assert self._state is not None
        self._state.count("refused")
        emit(
            logging.WARNING,
            "refused",
            path=str(path),
            kind=what,
            detail="not opened, not uploaded, not deleted: remove it or replace it with a regular file",
        )

    def _linked_folder(self, path: Path) -> bool:
        """True if a folder between the watch directory and the file is a link (never followed)."""
        folder = path.parent
        known = self._folders_checked.get(folder)
        if known is not None:
            return known
        try:
            relative = folder.relative_to(self._root)
        except ValueError:
            return True
        linked = Path(os.path.realpath(folder)) != self._root_real / relative
        self._folders_checked[folder] = linked
        return linked

    def _track(self, path: Path, *, closed: bool) -> None:
        name = path.name
        if name.startswith((".", "~")) or name.endswith(capture.TEMPORARY_SUFFIXES):
            return  # being written under a temporary name, or hidden
        try:
            st = os.lstat(path)
        except FileNotFoundError:
            self._forget(path)
            return
        kind = _kind_of(st.st_mode)
        if kind == "directory":
            self._rescan_soon = True
            return
        if kind is not None:
            self._refuse(path, st, kind)
            return
        if self._linked_folder(path):
            self._refuse(path, st, "file in a linked folder (links are never followed)")
            return
        self._refused.pop(path, None)
        if not capture.is_capture_name(path, self.config.watch.extensions):
            self._track_other(path, st)
            return
        folder = capture.camera_folder(path, self._root)
        camera = None if folder is None else self.config.camera_of(folder)
        if camera is None:
            self._report_unmapped(path, folder)
            return
        entry = self._pending.get(path)
        if entry is None:
            entry = _Pending(
                path=path,
                camera=camera,
                size=st.st_size,
                mtime_ns=st.st_mtime_ns,
                order=_order_of(path, st.st_mtime_ns, self.config.watch.filename_timezone),
            )
            self._pending[path] = entry
            bisect.insort(self._queue, entry, key=_queue_key)
        if (entry.size, entry.mtime_ns) != (st.st_size, st.st_mtime_ns):
            self._restamp(entry, st)
        self._spool_changed = True
        if closed:
            entry.closed_mtime_ns = st.st_mtime_ns

    def _restamp(self, entry: _Pending, st: os.stat_result) -> None:
        """The file changed: what was learnt from its old bytes no longer holds."""
        entry.size, entry.mtime_ns = st.st_size, st.st_mtime_ns
        entry.stable_since = time.monotonic()
        entry.held, entry.taken_at = None, None
        self._spool_changed = True

    def _track_other(self, path: Path, st: os.stat_result) -> None:
        other = self._others.get(path)
        if other is None:
            self._others[path] = _Other(path=path, size=st.st_size, mtime_ns=st.st_mtime_ns)
            emit(
                logging.WARNING,
                "not_a_capture",
                path=str(path),
                bytes=st.st_size,
                extensions=list(self.config.watch.extensions),
                detail="never uploaded; counts toward spool.max_bytes/max_files/min_free_bytes and is deleted "
                "before any capture when the spool is over a limit (turn motion's movie and snapshot output off)",
            )
        else:
            other.size, other.mtime_ns = st.st_size, st.st_mtime_ns
        self._spool_changed = True

    def _forget(self, path: Path) -> None:
        self._pending.pop(path, None)
        if self._others.pop(path, None) is not None:
            self._spool_changed = True

    def _report_unmapped(self, path: Path, folder: str | None) -> None:
        # Uploading would attribute the still to the wrong camera, deleting it
        # would lose it: it stays on disk, and its folder is reported once.
        if folder is None or folder in self._unmapped_reported:
            return
        self._unmapped_reported.add(folder)
        emit(
            logging.WARNING,
            "unmapped_folder",
            folder=str(self._root / folder),
            path=str(path),
            cameras=self.config.camera_folders(),
            detail="captures here belong to no configured camera: kept on disk, not uploaded",
        )

    def _drain_events(self) -> None:
        while True:
            try:
                kind, raw = self._events.get_nowait()
            except queue.Empty:
                return
            path = Path(raw)
            if kind == "dir":
                self._rescan_soon = True  # files may have landed before the new watch existed
                self._folders_checked.clear()
            elif kind == "deleted":
                if path not in self._inflight:
                    self._forget(path)
                    self._refused.pop(path, None)
            elif kind == "modified":
                if path in self._others:
                    self._track(path, closed=False)
            else:
                self._track(path, closed=kind in ("closed", "moved"))

    def _rescan(self) -> None:
        self._rescan_soon = False
        self._folders_checked.clear()
        seen: set[Path] = set()
        for dirpath, dirnames, filenames in os.walk(self._root):
            folder = Path(dirpath)
            kept = []
            for name in dirnames:
                if name.startswith("."):
                    continue
                if os.path.islink(folder / name):
                    # os.walk does not descend into it; say why its stills are not uploaded.
                    self._track(folder / name, closed=False)
                    seen.add(folder / name)
                    continue
                kept.append(name)
            dirnames[:] = kept
            for name in filenames:
                path = folder / name
                seen.add(path)
                if path not in self._pending and path not in self._others and path not in self._refused:
                    self._track(path, closed=False)
        for path in [p for p in self._pending if p not in seen and p not in self._inflight]:
            self._forget(path)
        for path in [p for p in self._others if p not in seen]:
            self._forget(path)
        for path in [p for p in self._refused if p not in seen]:
            del self._refused[path]

    def _ordered(self) -> list[_Pending]:
        """Pending captures, oldest first (a snapshot: callers may forget entries)."""
        if len(self._queue) > 2 * len(self._pending) + 64:
            self._queue = [e for e in self._queue if self._pending.get(e.path) is e]
        return [e for e in self._queue if self._pending.get(e.path) is e]

    # ---- the bounded spool ------------------------------------------------------

    def _free_bytes(self) -> int | None:
        try:
            fs = os.statvfs(self._root)
        except OSError:
            return None
        return fs.f_bavail * fs.f_frsize

    def _enforce_spool_limits(self) -> None:
        limits = self.config.spool
        now = time.monotonic()
        check_free = limits.min_free_bytes > 0 and (self._spool_changed or now >= self._next_free_check)
        if not self._spool_changed and not check_free:
            return
        self._spool_changed = False
        files = len(self._pending) + len(self._others)
        total = sum(p.size for p in self._pending.values()) + sum(o.size for o in self._others.values())
        free = self._free_bytes() if check_free else None
        if check_free:
            self._next_free_check = now + 0.5
        short = 0 if free is None else max(0, limits.min_free_bytes - free)
        if files <= limits.max_files and total <= limits.max_bytes and short <= 0:
            return
        # Files that are not captures go first: the agent would never upload them.
        victims: list[_Pending | _Other] = sorted(self._others.values(), key=lambda o: (o.mtime_ns, str(o.path)))
        victims += self._ordered()
        for victim in victims:
            if files <= limits.max_files and total <= limits.max_bytes and short <= 0:
                break
            if victim.path in self._inflight:
                continue
            if files > limits.max_files:
                reason = "spool_max_files"
            elif total > limits.max_bytes:
                reason = "spool_max_bytes"
            else:
                reason = "min_free_bytes"
            try:
                blocks = os.lstat(victim.path).st_blocks * 512
                victim.path.unlink()
            except FileNotFoundError:
                blocks = 0
            except OSError as exc:
                emit(logging.ERROR, "drop_failed", path=str(victim.path), error=str(exc))
                continue
            files -= 1
            total -= victim.size
            short -= blocks
            self._forget(victim.path)
            assert self._state is not None
            self._state.count("dropped")
            emit(
                logging.WARNING,
                "dropped",
                path=str(victim.path),
                bytes=victim.size,
                reason=reason,
                kind="capture" if isinstance(victim, _Pending) else "not_a_capture",
                spool_files=files,
                spool_bytes=total,
                **({"free_bytes": free, "min_free_bytes": limits.min_free_bytes} if free is not None else {}),
            )

    # ---- the clock ---------------------------------------------------------------

    def _watch_clock(self) -> None:
        if not self.config.clock.check:
            return
        step = self._clock.take_step()
        if step is not None:
            self._on_clock_step(step)
        state = "sane" if self._clock.local_clock_sane() else "wrong"
        if state != self._clock_reported and (self._clock.heard_aws or state == "wrong"):
            reference, source = self._clock.reference()
            emit(
                logging.INFO if state == "sane" else logging.WARNING,
                "clock_sane" if state == "sane" else "clock_wrong",
                local_time=_iso(datetime.fromtimestamp(self._clock.now(), tz=UTC)),
                reference_time=_iso(datetime.fromtimestamp(reference, tz=UTC)),
                reference=source,
                held=sum(1 for e in self._pending.values() if e.held is not None),
            )
            self._clock_reported = state

    def _on_clock_step(self, step: ClockStep) -> None:
        """Stills stamped by the old clock in this boot are re-dated by the step."""
        redated = 0
        for entry in self._pending.values():
            if entry.path in self._inflight:
                continue
            stamped = entry.mtime_ns / 1e9
            if step.boot_started <= stamped <= step.old_now:
                entry.correction += step.seconds
                redated += 1
        emit(
            logging.WARNING,
            "clock_step",
            seconds=round(step.seconds, 3),
            redated=redated,
            detail="stills stamped earlier in this boot are dated by the corrected clock",
        )

    def _time_probe(self, executor: ThreadPoolExecutor) -> bool:
        """Before the first upload, hear the time from AWS; True while it is still unknown."""
        if not self.config.clock.check or self._clock.heard_aws:
            return False
        if self._probe is None:
            # Any S3 answer carries the time, a refusal too: the device role
            # may only PutObject, so HeadBucket usually answers 403, with a Date.
            self._probe = executor.submit(self._client.head_bucket, Bucket=self.config.s3.bucket)
            self._probe.add_done_callback(lambda _f: self._wake.set())
        return True

    def _collect_probe(self) -> None:
        if self._probe is None or not self._probe.done():
            return
        probe, self._probe = self._probe, None
        error = probe.exception()
        if error is not None and not self._clock.heard_aws:
            self._note_failure(f"time from S3 (HeadBucket {self.config.s3.bucket})", error, path=None)

    # ---- readiness, preparation, thinning ---------------------------------------

    def _readiness(self, entry: _Pending) -> str:
        """'ready', 'wait', 'gone' or 'reject:<reason>'."""
        cfg = self.config
        try:
            st = os.lstat(entry.path)
        except FileNotFoundError:
            return "gone"
        if not stat.S_ISREG(st.st_mode):
            self._refuse(entry.path, st, _kind_of(st.st_mode) or "not a regular file")
            return "refused"
        if (st.st_size, st.st_mtime_ns) != (entry.size, entry.mtime_ns):
            self._restamp(entry, st)
        age = max(self._clock.now() - st.st_mtime_ns / 1e9, time.monotonic() - entry.stable_since)
        closed = entry.closed_mtime_ns == st.st_mtime_ns
        # A close event is proof motion is done; without one (rescan, non-Linux
        # observers) the file must have stopped changing for settle_seconds.
        if not closed and age < cfg.watch.settle_seconds:
            return "wait"
        if st.st_size > cfg.jpeg.max_bytes:
            return "reject:too_large"
        if not capture.jpeg_file_looks_complete(entry.path):
            return "reject:incomplete" if age >= cfg.watch.abandon_seconds else "wait"
        # Too small is judged only once the bytes decode (_prepare): the first
        # part of a still motion is still writing may be small and end in FF D9.
        return "ready"

    def _reference(self, camera: str) -> ThinningReference | None:
        if camera not in self._references:
            assert self._state is not None
            self._references[camera] = self._state.thinning_reference(camera)
        return self._references[camera]

    def _remove_local(self, path: Path, *, expect: tuple[int, int]) -> bool:
        """Delete a capture only if it is still the exact file we read."""
        try:
            st = os.lstat(path)
            if (st.st_size, st.st_mtime_ns) != expect or not stat.S_ISREG(st.st_mode):
                emit(logging.WARNING, "changed_after_read", path=str(path))
                return False
            path.unlink()
        except FileNotFoundError:
            pass
        self._forget(path)
        return True

    def _hold(self, entry: _Pending, reason: str, taken_at: datetime, source: str) -> None:
        first = entry.held is None and entry.taken_at is None
        entry.held, entry.taken_at, entry.time_source = reason, taken_at, source
        if not first:
            return
        assert self._state is not None
        self._state.count("held")
        emit(
            logging.WARNING,
            "held",
            path=str(entry.path),
            camera=entry.camera,
            capture_time=_iso(taken_at),
            capture_time_source=source,
            reason=reason,
            detail="kept on disk, not uploaded, until the device clock is right (check NTP: timedatectl)",
        )

    def _still_held(self, entry: _Pending) -> bool:
        """Re-check a held still against the clock as it is now (no read); False once it may go."""
        if entry.held is None or entry.taken_at is None:
            return False
        if not self.config.clock.check:
            entry.held = None
            return False
        reason = self._clock.implausible(entry.taken_at.timestamp() + entry.correction)
        if reason is not None:
            entry.held = reason
            return True
        emit(logging.INFO, "released", path=str(entry.path), correction_seconds=round(entry.correction, 3))
        entry.held = None
        return False

    def _prepare(self, entry: _Pending) -> _Job | None:
        """Read, check, hash and decide; returns a job to upload or None if handled here."""
        cfg = self.config
        assert self._state is not None
        try:
            data, after = read_regular_file(entry.path)
        except FileNotFoundError:
            self._forget(entry.path)
            return None
        except _Unreadable as exc:
            self._refuse(entry.path, None, exc.reason)
            return None
        stamp = (entry.size, entry.mtime_ns)
        # Complete means: the bytes are what the stat said before and after
        # reading (no writer in between), they end in the JPEG end marker, and
        # they decode as one whole image - a first part that happens to end in
        # FF D9 (an EXIF thumbnail's end) does not.
        if (after.st_size, after.st_mtime_ns) != stamp or len(data) != entry.size:
            self._restamp(entry, after)
            return None
        if not capture.jpeg_is_complete(data):
            return None  # the next pass sees the writer's next bytes, or rejects it when abandoned
        try:
            thumb = thinning.decode(data, self._thumb_size)
        except thinning.UndecodableImage as exc:
            self._undecodable(entry, str(exc))
            return None
        if entry.size < cfg.jpeg.min_bytes:
            self._reject(entry, "too_small")
            return None
        taken_at, source = capture.capture_time(entry.path, data, entry.mtime_ns, cfg.watch.filename_timezone)
        if cfg.clock.check:
            corrected = taken_at.timestamp() + entry.correction
            reason = self._clock.implausible(corrected)
            if reason is not None:
                self._hold(entry, reason, taken_at, source)
                return None
        if entry.correction:
            taken_at = datetime.fromtimestamp(taken_at.timestamp() + entry.correction, tz=UTC)
            source = f"{source}+clock_step"
        digest = capture.digest(data)
        camera = entry.camera
        key = capture.object_key(cfg.device_id, camera, taken_at, digest.sha256_hex)
        if self._state.is_confirmed(key):
            # Killed after S3 confirmed but before the delete: no second PUT.
            if self._remove_local(entry.path, expect=stamp):
                self._state.count("already_confirmed")
                emit(logging.INFO, "already_confirmed", path=str(entry.path), key=key)
            return None
        reference: ThinningReference | None = None
        if cfg.thinning.enabled:
            previous = self._reference(camera)
            if previous is not None and previous.key != key:
                gap = abs(taken_at.timestamp() - previous.taken_at)
                change = thinning.skippable(
                    thumb,
                    taken_at.timestamp(),
                    thinning.Thumbnail(previous.width, previous.height, previous.pixels),
                    previous.taken_at,
                    window_seconds=cfg.thinning.window_seconds,
                    cell_threshold=cfg.thinning.cell_threshold,
                )
                if change is not None:
                    if self._remove_local(entry.path, expect=stamp):
                        self._state.count("skipped")
                        emit(
                            logging.INFO,
                            "skipped",
                            path=str(entry.path),
                            camera=camera,
                            largest_change=round(change.largest_change, 1),
                            gap_seconds=round(gap, 3),
                            like=previous.key,
                        )
                    return None
            reference = ThinningReference(
                width=thumb.width, height=thumb.height, pixels=thumb.pixels, taken_at=taken_at.timestamp(), key=key
            )
            self._references[camera] = reference
        metadata = {
            "capture-time": _iso(taken_at),
            "capture-time-source": source,
            "device-id": cfg.device_id,
            "camera-id": camera,
        }
        return _Job(
            path=entry.path,
            size=entry.size,
            mtime_ns=entry.mtime_ns,
            key=key,
            digest=digest,
            camera=camera,
            reference=reference,
            data=data,
            metadata=metadata,
        )

    def _undecodable(self, entry: _Pending, error: str) -> None:
        age = max(self._clock.now() - entry.mtime_ns / 1e9, time.monotonic() - entry.stable_since)
        if age >= self.config.watch.abandon_seconds:
            self._reject(entry, "undecodable", error=error)

    # ---- uploading --------------------------------------------------------------

    def _dispatch(self, executor: ThreadPoolExecutor) -> None:
        self._collect_probe()
        if self._time_probe(executor):
            return
        free = self.config.upload.concurrency - len(self._inflight)
        if free <= 0:
            return
        assert self._state is not None
        for entry in list(self._ordered()):
            if free <= 0 or self._stop.is_set():
                return
            if entry.path in self._inflight or entry.path not in self._pending:
                continue
            if self._still_held(entry):
                continue
            verdict = self._readiness(entry)
            if verdict == "wait" or verdict == "refused":
                continue
            if verdict == "gone":
                self._forget(entry.path)
                continue
            if verdict.startswith("reject:"):
                self._reject(entry, verdict.removeprefix("reject:"))
                continue
            job = self._prepare(entry)
            if job is None:
                continue
            future = executor.submit(
                put_verified,
                self._client,
                bucket=self.config.s3.bucket,
                key=job.key,
                data=job.data,
                digest=job.digest,
                metadata=job.metadata,
                verify_etag=self.config.s3.verify_etag,
            )
            future.add_done_callback(lambda _f: self._wake.set())
            self._inflight[job.path] = (job, future)
            free -= 1

    def _reject(self, entry: _Pending, reason: str, **detail: str) -> None:
        # Unusable for Rekognition (over its size limit, or never finished):
        # keeping it would only hold spool space forever.
        assert self._state is not None
        with contextlib.suppress(FileNotFoundError):
            entry.path.unlink()
        self._forget(entry.path)
        self._state.count("rejected")
        emit(logging.WARNING, "rejected", path=str(entry.path), bytes=entry.size, reason=reason, **detail)

    def _collect_finished(self) -> None:
        assert self._state is not None
        for path, (job, future) in list(self._inflight.items()):
            if not future.done():
                continue
            del self._inflight[path]
            try:
                result = future.result()
            except Exception as exc:  # every failure means "keep the file, back off"
                self._on_failure(job, exc)
            else:
                self._on_success(job, result)

    def _on_success(self, job: _Job, result: PutResult) -> None:
        assert self._state is not None
        self._failures = 0
        self._backoff_until = 0.0
        # Journal first, delete second: a kill in between is recognised on
        # restart by the key and the file is deleted without a second PUT. A
        # journal that cannot be written (full card) keeps the record in
        # memory and never stops the delete: S3 has proved it holds the bytes.
        self._state.record_confirmed(key=job.key, sha256=job.digest.sha256_hex, size=job.size, etag=result.etag)
        if job.reference is not None:
            self._state.set_thinning_reference(job.camera, job.reference)
        self._remove_local(job.path, expect=(job.size, job.mtime_ns))
        emit(
            logging.INFO,
            "uploaded",
            path=str(job.path),
            key=job.key,
            bytes=job.size,
            close_to_confirmed_ms=round((self._clock.now() - job.mtime_ns / 1e9) * 1000, 1),
        )

    def _on_failure(self, job: _Job, exc: BaseException) -> None:
        self._note_failure(job.key, exc, path=job.path)

    def _note_failure(self, what: str, exc: BaseException, *, path: Path | None) -> None:
        assert self._state is not None
        retry = self.config.upload
        self._failures += 1
        delay = backoff_delay(self._failures, retry.retry_base_seconds, retry.retry_max_seconds)
        self._backoff_until = max(self._backoff_until, time.monotonic() + delay)
        error = f"{type(exc).__name__}: {exc}"
        self._state.record_error(f"{what}: {error}")
        emit(
            logging.WARNING,
            "upload_failed",
            **({"path": str(path), "key": what} if path is not None else {"request": what}),
            error=error,
            consecutive_failures=self._failures,
            retry_in_seconds=round(delay, 3),
        )


def backoff_delay(failures: int, base: float, maximum: float, rng: random.Random | None = None) -> float:
    """Pause after `failures` consecutive failures: doubling from `base`, capped at `maximum`.

    "Equal jitter" (a random point in the upper half): stores that lost the
    same uplink do not all come back in lockstep, and a retry never fires
    immediately after a failure.
    """
    ceiling = min(maximum, base * 2 ** min(max(failures, 1) - 1, 30))
    return (rng or random).uniform(ceiling / 2, ceiling)


def _iso(moment: datetime) -> str:
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")
