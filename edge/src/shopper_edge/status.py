"""`shopper-edge status`: what is queued, what went wrong, what was dropped.

Reads the spool directory and the state database read-only, so it works
whether or not the agent is running.
"""

from __future__ import annotations

import os
import stat
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import capture
from .config import AgentConfig
from .state import read_snapshot


def _iso(at: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(at))


@dataclass
class SpoolUsage:
    """Capture files on disk: queued per camera id, and those in folders no camera is mapped to."""

    queued_files: dict[str, int] = field(default_factory=dict)
    queued_bytes: dict[str, int] = field(default_factory=dict)
    unmapped_files: int = 0
    unmapped_bytes: int = 0
    unmapped_folders: set[str] = field(default_factory=set)
    # Regular files that are not captures (movies, snapshots): never uploaded, counted toward the limits.
    other_files: int = 0
    other_bytes: int = 0
    # FIFOs, sockets, links...: never opened or followed.
    refused_paths: int = 0


def spool_usage(config: AgentConfig) -> SpoolUsage:
    root = config.watch.directory
    cameras = config.cameras.values()
    usage = SpoolUsage(queued_files=dict.fromkeys(cameras, 0), queued_bytes=dict.fromkeys(cameras, 0))
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = [d for d in dirnames if not d.startswith(".")]
        for name in filenames:
            path = Path(dirpath) / name
            if name.startswith((".", "~")) or name.endswith(capture.TEMPORARY_SUFFIXES):
                continue
            try:
                st = path.lstat()  # never follow a link, never open a FIFO
            except FileNotFoundError:
                continue
            if not stat.S_ISREG(st.st_mode):
                usage.refused_paths += 1
                continue
            size = st.st_size
            if not capture.is_capture_name(path, config.watch.extensions):
                usage.other_files += 1
                usage.other_bytes += size
                continue
            folder = capture.camera_folder(path, root) or ""
            camera = config.camera_of(folder)
            if camera is None:
                usage.unmapped_files += 1
                usage.unmapped_bytes += size
                usage.unmapped_folders.add(str(root / folder))
            else:
                usage.queued_files[camera] += 1
                usage.queued_bytes[camera] += size
    return usage


def _free_bytes(directory: Path) -> int | None:
    try:
        fs = os.statvfs(directory)
    except OSError:
        return None
    return fs.f_bavail * fs.f_frsize


def status_report(config: AgentConfig) -> dict[str, Any]:
    usage = spool_usage(config)
    snapshot = read_snapshot(config.spool.state_dir)

    def event(name: str) -> dict[str, Any] | None:
        if name not in snapshot.events:
            return None
        at, detail = snapshot.events[name]
        return {"at": _iso(at), "detail": detail}

    return {
        "device_id": config.device_id,
        "queue_depth": sum(usage.queued_files.values()),
        "bytes_pending": sum(usage.queued_bytes.values()),
        "spool_limit_files": config.spool.max_files,
        "spool_limit_bytes": config.spool.max_bytes,
        "spool_min_free_bytes": config.spool.min_free_bytes,
        "free_bytes": _free_bytes(config.watch.directory),
        # Not captures, never uploaded; they count toward the spool limits.
        "other_files": {"files": usage.other_files, "bytes": usage.other_bytes},
        "refused_paths": usage.refused_paths,
        "cameras": {
            camera: {
                "folder": str(config.watch.directory / folder),
                "prefix": config.camera_prefix(camera),
                "queue_depth": usage.queued_files[camera],
            }
            for folder, camera in config.cameras.items()
        },
        # Never uploaded, never deleted: they wait for an operator.
        "unmapped": {
            "files": usage.unmapped_files,
            "bytes": usage.unmapped_bytes,
            "folders": sorted(usage.unmapped_folders),
        },
        "last_upload": event("last_upload"),
        "last_error": event("last_error"),
        "heartbeat": event("heartbeat"),
        **snapshot.counters,
    }


def format_report(report: dict[str, Any]) -> str:
    def event(value: dict[str, Any] | None) -> str:
        return "never" if value is None else f"{value['at']} {value['detail']}"

    unmapped = report["unmapped"]
    lines = [
        f"device:          {report['device_id']}",
        *(
            f"{'camera ' + camera + ':':<17}{info['queue_depth']} queued in {info['folder']} -> {info['prefix']}"
            for camera, info in report["cameras"].items()
        ),
        f"queue depth:     {report['queue_depth']} files (limit {report['spool_limit_files']})",
        f"bytes pending:   {report['bytes_pending']} (limit {report['spool_limit_bytes']})",
        f"free space:      {report['free_bytes']} bytes (floor {report['spool_min_free_bytes']})",
        f"not captures:    {report['other_files']['files']} files ({report['other_files']['bytes']} bytes), "
        "never uploaded, counted toward the limits",
        f"refused:         {report['refused']} times (FIFOs, links...: never opened), "
        f"{report['refused_paths']} in the spool now",
        f"last upload:     {event(report['last_upload'])}",
        f"last error:      {event(report['last_error'])}",
        f"uploaded:        {report['uploaded']} ({report['uploaded_bytes']} bytes)",
        f"dropped:         {report['dropped']}",
        f"skipped:         {report['skipped']}",
        f"rejected:        {report['rejected']}",
        f"held (clock):    {report['held']} (stills with an implausible capture time, kept until the clock is right)",
        f"unmapped:        {unmapped['files']} files ({unmapped['bytes']} bytes) kept, not uploaded"
        + (f", in {', '.join(unmapped['folders'])} (no camera in the config)" if unmapped["folders"] else ""),
        f"failed attempts: {report['failed']}",
        f"agent heartbeat: {event(report['heartbeat'])}",
    ]
    return "\n".join(lines)
