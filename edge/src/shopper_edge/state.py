"""Crash-safe bookkeeping in SQLite (WAL mode).

The capture files themselves are the queue: a file in the watch directory is
pending until S3 confirmed it. SQLite only holds what must survive a restart
besides the files:

* `confirmed` - keys S3 confirmed; a file killed between "confirmed" and
  "deleted" is recognised on restart and deleted without a second PUT;
* `counters` / `events` - what `shopper-edge status` prints;
* `thinning_regions` - the last uploaded frame per camera (a small grey
  thumbnail), so thinning resumes correctly after a restart.

WAL lets `status` read while the agent writes. synchronous=NORMAL keeps SD
card writes low; after a power cut the worst case is a re-upload of the same
bytes to the same key, which is idempotent.

The journal never stops the agent: on a full card (or any other write error)
every change is kept in memory, the agent goes on uploading and deleting, and
the changes are written as soon as SQLite can write again. While it cannot,
a restart may upload a confirmed file a second time - to the same key, with
the same bytes - which is the cost of not crash-looping.
"""

from __future__ import annotations

import logging
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path

from .log import emit

_SCHEMA = """
CREATE TABLE IF NOT EXISTS confirmed (
    key TEXT PRIMARY KEY,
    sha256 TEXT NOT NULL,
    size INTEGER NOT NULL,
    etag TEXT,
    confirmed_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS confirmed_at_idx ON confirmed (confirmed_at);
CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS events (name TEXT PRIMARY KEY, at REAL NOT NULL, detail TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS thinning_regions (
    camera TEXT PRIMARY KEY,
    width INTEGER NOT NULL,
    height INTEGER NOT NULL,
    pixels BLOB NOT NULL,
    taken_at REAL NOT NULL,
    key TEXT NOT NULL
);
"""

COUNTER_NAMES = (
    "uploaded",
    "uploaded_bytes",
    "dropped",
    "skipped",
    "rejected",
    "failed",
    "already_confirmed",
    "refused",
    "held",
)

# How long a confirmed key is remembered: long enough to cover any restart,
# short enough that the table stays small on a device uploading for years.
CONFIRMED_RETENTION_SECONDS = 7 * 24 * 3600

# A write that failed is retried at most this often (each attempt on a full
# card costs a few syscalls, not a crash).
_RETRY_SECONDS = 1.0


@dataclass(frozen=True)
class ThinningReference:
    """The last uploaded frame of a camera: a grey thumbnail (row-major bytes) and when it was taken."""

    width: int
    height: int
    pixels: bytes
    taken_at: float
    key: str


def database_path(state_dir: Path) -> Path:
    return state_dir / "agent.sqlite3"


class AgentState:
    """Read/write state used by the running agent (one thread: the main loop).

    Writes are collected in memory and written in one transaction; if SQLite
    cannot write (a full card: "database or disk is full", an I/O error), they
    stay in memory, a ``journal_write_failed`` event is logged once, and the
    next write tries again. Reads see the unwritten changes too.
    """

    def __init__(self, state_dir: Path) -> None:
        self._dir = state_dir
        self._db: sqlite3.Connection | None = None
        self._counts: dict[str, int] = {}
        self._confirmed: dict[str, tuple[str, int, str | None, float]] = {}
        self._events: dict[str, tuple[float, str]] = {}
        self._references: dict[str, ThinningReference] = {}
        self._failing: str | None = None
        self._next_try = 0.0
        self._open()

    # ---- connection -----------------------------------------------------------------

    def _open(self) -> bool:
        if self._db is not None:
            return True
        db: sqlite3.Connection | None = None
        try:
            self._dir.mkdir(parents=True, exist_ok=True)
            db = sqlite3.connect(database_path(self._dir), isolation_level=None, timeout=30)
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
            db.executescript(_SCHEMA)
        except (sqlite3.Error, OSError) as exc:
            if db is not None:
                db.close()
            self._failed(exc)
            return False
        self._db = db
        return True

    def _failed(self, exc: BaseException) -> None:
        error = f"{type(exc).__name__}: {exc}"
        if self._failing is None:
            emit(
                logging.ERROR,
                "journal_write_failed",
                path=str(database_path(self._dir)),
                error=error,
                detail="state kept in memory; uploads and deletes go on; written again once SQLite can write",
            )
        self._failing = error
        self._next_try = time.monotonic() + _RETRY_SECONDS

    @property
    def failing(self) -> str | None:
        """The last write error while the journal cannot be written, None when it is up to date."""
        return self._failing

    def close(self) -> None:
        self.flush(force=True)
        if self._db is not None:
            self._db.close()
            self._db = None

    def flush(self, *, force: bool = False) -> bool:
        """Write what is kept in memory; False (and kept) if SQLite cannot write yet."""
        if not (self._counts or self._confirmed or self._events or self._references):
            return True
        if self._failing is not None and not force and time.monotonic() < self._next_try:
            return False
        if not self._open():
            return False
        db = self._db
        assert db is not None
        try:
            with db:
                db.execute("BEGIN")
                for key, (sha256, size, etag, at) in self._confirmed.items():
                    db.execute(
                        "INSERT OR REPLACE INTO confirmed (key, sha256, size, etag, confirmed_at) "
                        "VALUES (?, ?, ?, ?, ?)",
                        (key, sha256, size, etag, at),
                    )
                for name, amount in self._counts.items():
                    db.execute(
                        "INSERT INTO counters (name, value) VALUES (?, ?) "
                        "ON CONFLICT(name) DO UPDATE SET value = value + ?",
                        (name, amount, amount),
                    )
                for name, (at, detail) in self._events.items():
                    db.execute("INSERT OR REPLACE INTO events (name, at, detail) VALUES (?, ?, ?)", (name, at, detail))
                for camera, ref in self._references.items():
                    db.execute(
                        "INSERT OR REPLACE INTO thinning_regions (camera, width, height, pixels, taken_at, key) "
                        "VALUES (?, ?, ?, ?, ?, ?)",
                        (camera, ref.width, ref.height, ref.pixels, ref.taken_at, ref.key),
                    )
        except (sqlite3.Error, OSError) as exc:
            self._failed(exc)
            return False
        self._counts.clear()
        self._confirmed.clear()
        self._events.clear()
        self._references.clear()
        if self._failing is not None:
            emit(logging.INFO, "journal_recovered", path=str(database_path(self._dir)), error=self._failing)
            self._failing = None
        return True

    # ---- reads ----------------------------------------------------------------------

    def _query(self, sql: str, args: tuple[object, ...]) -> tuple[object, ...] | None:
        if not self._open():
            return None
        assert self._db is not None
        try:
            return self._db.execute(sql, args).fetchone()
        except sqlite3.Error as exc:
            self._failed(exc)
            return None

    def is_confirmed(self, key: str) -> bool:
        if key in self._confirmed:
            return True
        return self._query("SELECT 1 FROM confirmed WHERE key = ?", (key,)) is not None

    def thinning_reference(self, camera: str) -> ThinningReference | None:
        if camera in self._references:
            return self._references[camera]
        row = self._query(
            "SELECT width, height, pixels, taken_at, key FROM thinning_regions WHERE camera = ?", (camera,)
        )
        if row is None:
            return None
        width, height, pixels, taken_at, key = row
        return ThinningReference(
            width=int(width),  # type: ignore[call-overload]
            height=int(height),  # type: ignore[call-overload]
            pixels=bytes(pixels),  # type: ignore[call-overload]
            taken_at=float(taken_at),  # type: ignore[arg-type]
            key=str(key),
        )

    # ---- writes ---------------------------------------------------------------------

    def record_confirmed(self, *, key: str, sha256: str, size: int, etag: str | None, now: float | None = None) -> None:
        now = time.time() if now is None else now
        self._confirmed[key] = (sha256, size, etag, now)
        self._add("uploaded", 1)
        self._add("uploaded_bytes", size)
        self._events["last_upload"] = (now, key)
        self.flush()

    def prune_confirmed(self, now: float | None = None) -> None:
        now = time.time() if now is None else now
        if self._failing is not None or not self._open():
            return
        assert self._db is not None
        try:
            self._db.execute("DELETE FROM confirmed WHERE confirmed_at < ?", (now - CONFIRMED_RETENTION_SECONDS,))
        except sqlite3.Error as exc:
            self._failed(exc)

    def _add(self, name: str, amount: int) -> None:
        self._counts[name] = self._counts.get(name, 0) + amount

    def count(self, name: str, amount: int = 1) -> None:
        self._add(name, amount)
        self.flush()

    def record_event(self, name: str, detail: str, now: float | None = None) -> None:
        self._events[name] = (time.time() if now is None else now, detail)
        self.flush()

    def record_error(self, detail: str) -> None:
        self._add("failed", 1)
        self.record_event("last_error", detail)

    def heartbeat(self, detail: str) -> None:
        self.record_event("heartbeat", detail)

    def set_thinning_reference(self, camera: str, ref: ThinningReference) -> None:
        self._references[camera] = ref
        self.flush()


@dataclass(frozen=True)
class StateSnapshot:
    counters: dict[str, int]
    events: dict[str, tuple[float, str]]


def read_snapshot(state_dir: Path) -> StateSnapshot:
    """Read-only view for `status`; works while the agent is running."""
    path = database_path(state_dir)
    if not path.exists():
        return StateSnapshot(counters=dict.fromkeys(COUNTER_NAMES, 0), events={})
    counters = dict.fromkeys(COUNTER_NAMES, 0)
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5)
    try:
        counters.update(dict(db.execute("SELECT name, value FROM counters").fetchall()))
        events = {name: (at, detail) for name, at, detail in db.execute("SELECT name, at, detail FROM events")}
    except sqlite3.OperationalError as exc:
        # The agent created the file but not yet the tables (first second of its life).
        if "no such table" not in str(exc):
            raise
        events = {}
    finally:
        db.close()
    return StateSnapshot(counters=counters, events=events)
