"""`shopper-edge status`: what is queued, what went wrong, what was dropped.

Reads the spool directory and the state database read-only, so it works
whether or not the agent is running.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from . import capture
from .config import AgentConfig
from .state import read_snapshot


def _iso(at: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(at))


def spool_usage(root: Path, extensions: tuple[str, ...]) -> tuple[int, int]:
    files = total = 0
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = [d for d in dirnames if not d.startswith(".")]
        for name in filenames:
            path = Path(dirpath) / name
            if capture.is_capture_name(path, extensions):
                try:
                    total += path.stat().st_size
                except FileNotFoundError:
                    continue
                files += 1
    return files, total


def status_report(config: AgentConfig) -> dict[str, Any]:
    files, total = spool_usage(config.watch.directory, config.watch.extensions)
    snapshot = read_snapshot(config.spool.state_dir)

    def event(name: str) -> dict[str, Any] | None:
        if name not in snapshot.events:
            return None
        at, detail = snapshot.events[name]
        return {"at": _iso(at), "detail": detail}

    return {
        "device_id": config.device_id,
        "queue_depth": files,
        "bytes_pending": total,
        "spool_limit_files": config.spool.max_files,
        "spool_limit_bytes": config.spool.max_bytes,
        "last_upload": event("last_upload"),
        "last_error": event("last_error"),
        "heartbeat": event("heartbeat"),
        **snapshot.counters,
    }


def format_report(report: dict[str, Any]) -> str:
    def event(value: dict[str, Any] | None) -> str:
        return "never" if value is None else f"{value['at']} {value['detail']}"

    lines = [
        f"device:          {report['device_id']}",
        f"queue depth:     {report['queue_depth']} files (limit {report['spool_limit_files']})",
        f"bytes pending:   {report['bytes_pending']} (limit {report['spool_limit_bytes']})",
        f"last upload:     {event(report['last_upload'])}",
        f"last error:      {event(report['last_error'])}",
        f"uploaded:        {report['uploaded']} ({report['uploaded_bytes']} bytes)",
        f"dropped:         {report['dropped']}",
        f"skipped:         {report['skipped']}",
        f"rejected:        {report['rejected']}",
        f"failed attempts: {report['failed']}",
        f"agent heartbeat: {event(report['heartbeat'])}",
    ]
    return "\n".join(lines)
