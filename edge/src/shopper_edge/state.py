"""Crash-safe bookkeeping in SQLite (WAL mode).

The capture files themselves are the queue: a file in the watch directory is
pending until S3 confirmed it. SQLite only holds what must survive a restart
besides the files:

* `confirmed` - keys S3 confirmed; a file killed between "confirmed" and
  "deleted" is recognised on restart and deleted without a second PUT;
* `counters` / `events` - what `shopper-edge status` prints;
* `thinning` - the last uploaded frame per camera, so thinning resumes
  correctly after a restart.

WAL lets `status` read while the agent writes. synchronous=NORMAL keeps SD
card writes low; after a power cut the worst case is a re-upload of the same
bytes to the same key, which is idempotent.
"""

from __future__ import annotations

import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path

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
CREATE TABLE IF NOT EXISTS thinning (
    camera TEXT PRIMARY KEY,
    phash INTEGER NOT NULL,
    taken_at REAL NOT NULL,
    key TEXT NOT NULL
);
"""

COUNTER_NAMES = ("uploaded", "uploaded_bytes", "dropped", "skipped", "rejected", "failed", "already_confirmed")

# How long a confirmed key is remembered: long enough to cover any restart,
# short enough that the table stays small on a device uploading for years.
CONFIRMED_RETENTION_SECONDS = 7 * 24 * 3600


@dataclass(frozen=True)
class ThinningReference:
    phash: int
    taken_at: float
    key: str


def database_path(state_dir: Path) -> Path:
    return state_dir / "agent.sqlite3"


class AgentState:
    """Read/write state used by the running agent (one thread: the main loop)."""

    def __init__(self, state_dir: Path) -> None:
        state_dir.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(database_path(state_dir), isolation_level=None, timeout=30)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(_SCHEMA)

    def close(self) -> None:
        self._db.close()

    def is_confirmed(self, key: str) -> bool:
        return self._db.execute("SELECT 1 FROM confirmed WHERE key = ?", (key,)).fetchone() is not None

    def record_confirmed(self, *, key: str, sha256: str, size: int, etag: str | None, now: float | None = None) -> None:
        now = time.time() if now is None else now
        with self._db:
            self._db.execute("BEGIN")
            self._db.execute(
                "INSERT OR REPLACE INTO confirmed (key, sha256, size, etag, confirmed_at) VALUES (?, ?, ?, ?, ?)",
                (key, sha256, size, etag, now),
            )
            self._bump("uploaded", 1)
            self._bump("uploaded_bytes", size)
            self._event("last_upload", key, now)

    def prune_confirmed(self, now: float | None = None) -> None:
        now = time.time() if now is None else now
        self._db.execute("DELETE FROM confirmed WHERE confirmed_at < ?", (now - CONFIRMED_RETENTION_SECONDS,))

    def _bump(self, name: str, amount: int) -> None:
        self._db.execute(
            "INSERT INTO counters (name, value) VALUES (?, ?) ON CONFLICT(name) DO UPDATE SET value = value + ?",
            (name, amount, amount),
        )

    def _event(self, name: str, detail: str, now: float | None = None) -> None:
        self._db.execute(
            "INSERT OR REPLACE INTO events (name, at, detail) VALUES (?, ?, ?)",
            (name, time.time() if now is None else now, detail),
        )

    def count(self, name: str, amount: int = 1) -> None:
        self._bump(name, amount)

    def record_error(self, detail: str) -> None:
        with self._db:
            self._db.execute("BEGIN")
            self._bump("failed", 1)
            self._event("last_error", detail)

    def heartbeat(self, detail: str) -> None:
        self._event("heartbeat", detail)

    def thinning_reference(self, camera: str) -> ThinningReference | None:
        row = self._db.execute("SELECT phash, taken_at, key FROM thinning WHERE camera = ?", (camera,)).fetchone()
        if row is None:
            return None
        # SQLite integers are signed 64-bit; the hash is stored offset into range.
        return ThinningReference(phash=row[0] + 2**63, taken_at=row[1], key=row[2])

    def set_thinning_reference(self, camera: str, ref: ThinningReference) -> None:
        self._db.execute(
            "INSERT OR REPLACE INTO thinning (camera, phash, taken_at, key) VALUES (?, ?, ?, ?)",
            (camera, ref.phash - 2**63, ref.taken_at, ref.key),
        )


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
