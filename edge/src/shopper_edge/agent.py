"""The capture agent's main loop.

The watch directory *is* the spool: a capture stays exactly where motion wrote
it until S3 confirmed its bytes, and only then is it deleted. That makes a
SIGKILL, a power cut or a network outage harmless - on restart the rescan
finds every file that is still there, and because the object key is derived
from the file's own bytes and capture time, a re-upload lands on the same key.

Threads: the main loop owns all state (pending files, SQLite, deletions);
watchdog's observer only posts events to a queue; a small pool of upload
workers only runs PutObject and returns the result.
"""

from __future__ import annotations

import bisect
import contextlib
import logging
import os
import queue
import random
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from watchdog.events import FileSystemEvent, FileSystemEventHandler
from watchdog.observers import Observer

from . import capture
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


def _queue_key(entry: _Pending) -> tuple[float, str]:
    return (entry.order, str(entry.path))


def _order_of(path: Path, mtime_ns: int, zone_name: str) -> float:
    taken = capture.time_from_filename(path.name, zone_name)
    return taken.timestamp() if taken is not None else mtime_ns / 1e9


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
    def __init__(self, config: AgentConfig, s3_client: Any) -> None:
        self.config = config
        self._client = s3_client
        self._root = config.watch.directory
        self._pending: dict[Path, _Pending] = {}
        # Oldest capture first; entries of forgotten files are skipped lazily
        # and compacted away, so a completion never costs a re-sort.
        self._queue: list[_Pending] = []
        self._spool_changed = True
        self._inflight: dict[Path, tuple[_Job, Future[PutResult]]] = {}
        self._events: queue.SimpleQueue[tuple[str, str]] = queue.SimpleQueue()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._failures = 0
        self._backoff_until = 0.0
        self._rescan_soon = False
        self._references: dict[str, ThinningReference | None] = {}
        self._unmapped_reported: set[str] = set()
        self._state: AgentState | None = None

    # ---- control -------------------------------------------------------------

    def stop(self) -> None:
        """Ask the loop to finish: no new uploads, in-flight ones complete."""
        self._stop.set()
        self._wake.set()

    def run(self) -> None:
        cfg = self.config
        self._root.mkdir(parents=True, exist_ok=True)
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
                self._enforce_spool_limits()
                self._collect_finished()
                if now >= self._backoff_until and not self._stop.is_set():
                    self._dispatch(executor)
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

    def _track(self, path: Path, *, closed: bool) -> None:
        if not capture.is_capture_name(path, self.config.watch.extensions):
            return
        folder = capture.camera_folder(path, self._root)
        camera = None if folder is None else self.config.camera_of(folder)
        if camera is None:
            self._report_unmapped(path, folder)
            return
        try:
            st = path.stat()
        except FileNotFoundError:
            self._forget(path)
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
            entry.size, entry.mtime_ns = st.st_size, st.st_mtime_ns
        self._spool_changed = True
        if closed:
            entry.closed_mtime_ns = st.st_mtime_ns

    def _forget(self, path: Path) -> None:
        self._pending.pop(path, None)

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
            elif kind == "deleted":
                if path not in self._inflight:
                    self._forget(path)
            else:
                self._track(path, closed=kind in ("closed", "moved"))

    def _rescan(self) -> None:
        self._rescan_soon = False
        seen: set[Path] = set()
        for dirpath, dirnames, filenames in os.walk(self._root):
            dirnames[:] = [d for d in dirnames if not d.startswith(".")]
            for name in filenames:
                path = Path(dirpath) / name
                if capture.is_capture_name(path, self.config.watch.extensions):
                    seen.add(path)
                    if path not in self._pending:
                        self._track(path, closed=False)
        for path in [p for p in self._pending if p not in seen and p not in self._inflight]:
            self._forget(path)

    def _ordered(self) -> list[_Pending]:
        """Pending captures, oldest first (a snapshot: callers may forget entries)."""
        if len(self._queue) > 2 * len(self._pending) + 64:
            self._queue = [e for e in self._queue if self._pending.get(e.path) is e]
        return [e for e in self._queue if self._pending.get(e.path) is e]

    # ---- the bounded spool ------------------------------------------------------

    def _enforce_spool_limits(self) -> None:
        if not self._spool_changed:
            return
        self._spool_changed = False
        limits = self.config.spool
        files = len(self._pending)
        total = sum(p.size for p in self._pending.values())
        if files <= limits.max_files and total <= limits.max_bytes:
            return
        assert self._state is not None
        for entry in list(self._ordered()):
            if files <= limits.max_files and total <= limits.max_bytes:
                break
            if entry.path in self._inflight:
                continue
            reason = "spool_max_files" if files > limits.max_files else "spool_max_bytes"
            try:
                entry.path.unlink()
            except FileNotFoundError:
                pass
            except OSError as exc:
                emit(logging.ERROR, "drop_failed", path=str(entry.path), error=str(exc))
                continue
            files -= 1
            total -= entry.size
            self._forget(entry.path)
            self._state.count("dropped")
            emit(
                logging.WARNING,
                "dropped",
                path=str(entry.path),
                bytes=entry.size,
                reason=reason,
                spool_files=files,
                spool_bytes=total,
            )

    # ---- readiness, preparation, thinning ---------------------------------------

    def _readiness(self, entry: _Pending) -> str:
        """'ready', 'wait', 'gone' or 'reject:<reason>'."""
        cfg = self.config
        try:
            st = entry.path.stat()
        except FileNotFoundError:
            return "gone"
        if (st.st_size, st.st_mtime_ns) != (entry.size, entry.mtime_ns):
            entry.size, entry.mtime_ns = st.st_size, st.st_mtime_ns
            self._spool_changed = True
        age = time.time() - st.st_mtime_ns / 1e9
        closed = entry.closed_mtime_ns == st.st_mtime_ns
        # A close event is proof motion is done; without one (rescan, non-Linux
        # observers) the file must have stopped changing for settle_seconds.
        if not closed and age < cfg.watch.settle_seconds:
            return "wait"
        if st.st_size > cfg.jpeg.max_bytes:
            return "reject:too_large"
        if not capture.jpeg_file_looks_complete(entry.path):
            return "reject:incomplete" if age >= cfg.watch.abandon_seconds else "wait"
        if st.st_size < cfg.jpeg.min_bytes:
            return "reject:too_small"
        return "ready"

    def _reference(self, camera: str) -> ThinningReference | None:
        if camera not in self._references:
            assert self._state is not None
            self._references[camera] = self._state.thinning_reference(camera)
        return self._references[camera]

    def _remove_local(self, entry: _Pending, *, expect: tuple[int, int]) -> bool:
        """Delete a capture only if it is still the exact file we read."""
        try:
            st = entry.path.stat()
            if (st.st_size, st.st_mtime_ns) != expect:
                emit(logging.WARNING, "changed_after_read", path=str(entry.path))
                return False
            entry.path.unlink()
        except FileNotFoundError:
            pass
        self._forget(entry.path)
        return True

    def _prepare(self, entry: _Pending) -> _Job | None:
        """Read, hash and decide; returns a job to upload or None if handled here."""
        cfg = self.config
        assert self._state is not None
        try:
            data = entry.path.read_bytes()
        except FileNotFoundError:
            self._forget(entry.path)
            return None
        stamp = (entry.size, entry.mtime_ns)
        if len(data) != entry.size or not capture.jpeg_is_complete(data):
            return None  # changed under us; the next pass sees the new size
        digest = capture.digest(data)
        taken_at, source = capture.capture_time(entry.path, data, entry.mtime_ns, cfg.watch.filename_timezone)
        camera = entry.camera
        key = capture.object_key(cfg.device_id, camera, taken_at, digest.sha256_hex)
        if self._state.is_confirmed(key):
            # Killed after S3 confirmed but before the delete: no second PUT.
            if self._remove_local(entry, expect=stamp):
                self._state.count("already_confirmed")
                emit(logging.INFO, "already_confirmed", path=str(entry.path), key=key)
            return None
        reference: ThinningReference | None = None
        if cfg.thinning.enabled:
            phash = capture.dhash(data)
            previous = self._reference(camera)
            if phash is not None and previous is not None and previous.key != key:
                gap = abs(taken_at.timestamp() - previous.taken_at)
                distance = capture.hamming(phash, previous.phash)
                if gap <= cfg.thinning.window_seconds and distance <= cfg.thinning.max_distance:
                    if self._remove_local(entry, expect=stamp):
                        self._state.count("skipped")
                        emit(
                            logging.INFO,
                            "skipped",
                            path=str(entry.path),
                            camera=camera,
                            distance=distance,
                            gap_seconds=round(gap, 3),
                            like=previous.key,
                        )
                    return None
            if phash is not None:
                reference = ThinningReference(phash=phash, taken_at=taken_at.timestamp(), key=key)
                self._references[camera] = reference
        return _Job(
            path=entry.path,
            size=entry.size,
            mtime_ns=entry.mtime_ns,
            key=key,
            digest=digest,
            camera=camera,
            reference=reference,
            data=data,
            metadata={
                "capture-time": _iso(taken_at),
                "capture-time-source": source,
                "device-id": cfg.device_id,
                "camera-id": camera,
            },
        )

    # ---- uploading --------------------------------------------------------------

    def _dispatch(self, executor: ThreadPoolExecutor) -> None:
        free = self.config.upload.concurrency - len(self._inflight)
        if free <= 0:
            return
        assert self._state is not None
        for entry in list(self._ordered()):
            if free <= 0 or self._stop.is_set():
                return
            if entry.path in self._inflight or entry.path not in self._pending:
                continue
            verdict = self._readiness(entry)
            if verdict == "wait":
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

    def _reject(self, entry: _Pending, reason: str) -> None:
        # Unusable for Rekognition (over its size limit, or never finished):
        # keeping it would only hold spool space forever.
        assert self._state is not None
        with contextlib.suppress(FileNotFoundError):
            entry.path.unlink()
        self._forget(entry.path)
        self._state.count("rejected")
        emit(logging.WARNING, "rejected", path=str(entry.path), bytes=entry.size, reason=reason)

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
        # restart by the key and the file is deleted without a second PUT.
        self._state.record_confirmed(key=job.key, sha256=job.digest.sha256_hex, size=job.size, etag=result.etag)
        if job.reference is not None:
            self._state.set_thinning_reference(job.camera, job.reference)
        entry = self._pending.get(job.path) or _Pending(job.path, job.camera, job.size, job.mtime_ns, 0.0)
        self._remove_local(entry, expect=(job.size, job.mtime_ns))
        emit(
            logging.INFO,
            "uploaded",
            path=str(job.path),
            key=job.key,
            bytes=job.size,
            close_to_confirmed_ms=round((time.time() - job.mtime_ns / 1e9) * 1000, 1),
        )

    def _on_failure(self, job: _Job, exc: BaseException) -> None:
        assert self._state is not None
        retry = self.config.upload
        self._failures += 1
        delay = backoff_delay(self._failures, retry.retry_base_seconds, retry.retry_max_seconds)
        self._backoff_until = max(self._backoff_until, time.monotonic() + delay)
        error = f"{type(exc).__name__}: {exc}"
        self._state.record_error(f"{job.key}: {error}")
        emit(
            logging.WARNING,
            "upload_failed",
            path=str(job.path),
            key=job.key,
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
