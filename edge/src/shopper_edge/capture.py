"""Pure functions about one capture file: is it ours, is it complete, when was
it taken, what is its object key (what it looks like: thinning.py).

No AWS and no global state here, so every rule is unit-tested directly.
"""

from __future__ import annotations

import base64
import hashlib
import io
import os
import re
import stat
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

from PIL import Image

# motion's picture_filename conversion specifiers give local time to the
# second (%Y%m%d-%H%M%S or %Y%m%d%H%M%S); the default name is
# "%v-%Y%m%d%H%M%S-%q" (event, time, frame). Only the first 14-digit
# timestamp in the name is used; the frame number never counts as time.
_MOTION_TIMESTAMP = re.compile(r"(?<!\d)(\d{4})(\d{2})(\d{2})[-_T]?(\d{2})(\d{2})(\d{2})(?!\d)")

# Editors, rsync and motion-style writers create these before the final name
# exists; an upload of one would be a partial or throwaway file.
TEMPORARY_SUFFIXES = (".tmp", ".part", ".partial", ".swp", "~")

_EXIF_IFD = 0x8769
_TAG_DATETIME = 306
_TAG_DATETIME_ORIGINAL = 36867
_TAG_OFFSET_TIME_ORIGINAL = 36881
_TAG_SUBSEC_TIME_ORIGINAL = 37521

JPEG_SOI = b"\xff\xd8"
JPEG_EOI = b"\xff\xd9"


def is_capture_name(path: Path, extensions: tuple[str, ...]) -> bool:
    """True for a finished capture name; temporary and hidden names are ignored."""
    name = path.name
    if name.startswith((".", "~")) or name.endswith(TEMPORARY_SUFFIXES):
        return False
    return path.suffix.lower().lstrip(".") in extensions


def jpeg_is_complete(data: bytes) -> bool:
    """A JPEG that motion finished writing starts with SOI and ends with EOI.

    A file still being written (or cut short by a crash) almost never ends in
    FF D9; some encoders pad with NULs after EOI, so those are tolerated.
    """
    return data.startswith(JPEG_SOI) and data.rstrip(b"\x00").endswith(JPEG_EOI)


def jpeg_file_looks_complete(path: Path) -> bool:
    """Cheap on-disk check (first and last bytes) before reading the whole file.

    Opened without following a link and without blocking (a FIFO named
    ``*.jpg`` must never freeze the agent); anything but a regular file is
    not complete.
    """
    flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(path, flags)
    except OSError:
        return False
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            return False
        head = os.pread(fd, 2, 0)
        tail = os.pread(fd, 64, max(0, st.st_size - 64))
    except OSError:
        return False
    finally:
        os.close(fd)
    return head == JPEG_SOI and tail.rstrip(b"\x00").endswith(JPEG_EOI)


def _local_zone(name: str) -> timezone | ZoneInfo | None:
    return None if name == "local" else ZoneInfo(name)


def _to_utc(naive: datetime, zone_name: str, mtime_ns: int | None = None) -> datetime:
    """A local wall-clock time in UTC.

    In the hour a daylight-saving change repeats (autumn), one wall-clock time
    is two instants; the file's modification time (an instant, written at
    the same moment) says which one, so the repeated hour is not stamped
    twice. Without it the first (summer time) instant is taken.
    """
    zone = _local_zone(zone_name)
    if zone is None:
        # astimezone() on a naive datetime interprets it in the system zone,
        # which is what motion used when it formatted the name.
        first, second = naive.replace(fold=0).astimezone(UTC), naive.replace(fold=1).astimezone(UTC)
    else:
        first = naive.replace(tzinfo=zone, fold=0).astimezone(UTC)
        second = naive.replace(tzinfo=zone, fold=1).astimezone(UTC)
    if first == second or mtime_ns is None:
        return first
    written = mtime_ns / 1e9
    return min((first, second), key=lambda moment: abs(moment.timestamp() - written))


def time_from_filename(name: str, zone_name: str, mtime_ns: int | None = None) -> datetime | None:
    match = _MOTION_TIMESTAMP.search(name)
    if match is None:
        return None
    try:
        naive = datetime(*(int(g) for g in match.groups()))  # type: ignore[arg-type]
    except ValueError:
        return None
    if not 2000 <= naive.year <= 2100:
        return None
    return _to_utc(naive, zone_name, mtime_ns)


def time_from_exif(data: bytes, zone_name: str, mtime_ns: int | None = None) -> datetime | None:
    try:
        with Image.open(io.BytesIO(data)) as image:
            exif = image.getexif()
    except Exception:  # any unreadable EXIF just means "no EXIF time"
        return None
    ifd = exif.get_ifd(_EXIF_IFD)
    raw = ifd.get(_TAG_DATETIME_ORIGINAL) or exif.get(_TAG_DATETIME)
    if not isinstance(raw, str):
        return None
    try:
        naive = datetime.strptime(raw.strip("\x00 "), "%Y:%m:%d %H:%M:%S")
    except ValueError:
        return None
    subsec = str(ifd.get(_TAG_SUBSEC_TIME_ORIGINAL) or "").strip("\x00 ")
    if subsec.isdigit():
        naive = naive.replace(microsecond=int(subsec[:6].ljust(6, "0")))
    offset = str(ifd.get(_TAG_OFFSET_TIME_ORIGINAL) or "").strip("\x00 ")
    match = re.fullmatch(r"([+-])(\d{2}):(\d{2})", offset)
    if match:
        sign = 1 if match.group(1) == "+" else -1
        tz = timezone(sign * timedelta(hours=int(match.group(2)), minutes=int(match.group(3))))
        return naive.replace(tzinfo=tz).astimezone(UTC)  # the file's own offset: never ambiguous
    return _to_utc(naive, zone_name, mtime_ns)


def capture_time(path: Path, data: bytes, mtime_ns: int, zone_name: str) -> tuple[datetime, str]:
    """Capture time in UTC and where it came from: filename, EXIF, else mtime.

    The name comes first because motion writes it from the frame's own
    timestamp and it survives copies that reset mtime; the mtime still
    settles which instant a local time in the repeated autumn hour means.
    """
    from_name = time_from_filename(path.name, zone_name, mtime_ns)
    if from_name is not None:
        return from_name, "filename"
    from_exif = time_from_exif(data, zone_name, mtime_ns)
    if from_exif is not None:
        return from_exif, "exif"
    return datetime.fromtimestamp(mtime_ns / 1e9, tz=UTC), "mtime"


def object_key(device_id: str, camera_id: str, taken_at: datetime, sha256_hex: str) -> str:
    """incoming/<device>/<camera>/<YYYY>/<MM>/<DD>/<YYYYMMDDTHHMMSSmmmZ>-<sha256[:12]>.jpg (UTC).

    A copy of shopper_sentiment/contracts/layout.py's ``image_key`` (the agent ships without the
    repository); tests/contracts fails if the two drift apart.
    """
    utc = taken_at.astimezone(UTC)
    stamp = f"{utc:%Y%m%dT%H%M%S}{utc.microsecond // 1000:03d}Z"
    digest = sha256_hex[:12].lower()
    return f"incoming/{device_id}/{camera_id}/{utc:%Y/%m/%d}/{stamp}-{digest}.jpg"


@dataclass(frozen=True)
class CaptureDigest:
    """Everything the uploader needs about one file's bytes."""

    sha256_hex: str
    sha256_b64: str
    md5_hex: str
    md5_b64: str


def digest(data: bytes) -> CaptureDigest:
    sha = hashlib.sha256(data).digest()
    md5 = hashlib.md5(data, usedforsecurity=False).digest()  # Content-MD5 integrity check, not security
    return CaptureDigest(
        sha256_hex=sha.hex(),
        sha256_b64=base64.b64encode(sha).decode("ascii"),
        md5_hex=md5.hex(),
        md5_b64=base64.b64encode(md5).decode("ascii"),
    )


def camera_folder(path: Path, root: Path) -> str | None:
    """The sub-folder of the watch root a capture belongs to ("" = the root itself), None outside the root.

    motion writes one folder per camera (picture_filename cam%t/...); deeper
    folders (cam%t/%Y%m%d/...) still belong to the camera folder they are in.
    """
    try:
        relative = path.parent.relative_to(root)
    except ValueError:
        return None
    return relative.parts[0] if relative.parts else ""
