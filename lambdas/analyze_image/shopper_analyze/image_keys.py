"""The object key layout written by the edge agent.

``incoming/<device_id>/<camera_id>/<YYYY>/<MM>/<DD>/<YYYYMMDDTHHMMSSmmmZ>-<sha256[:12]>.jpg``

A copy of shopper_sentiment/contracts/layout.py (the function ships without the repository);
tests/contracts fails if the two drift apart.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime

INCOMING_PREFIX = "incoming/"

# re.ASCII: \d must not match other scripts' digits, or a key the edge agent
# never writes would pass.
_KEY = re.compile(
    r"incoming/(?P<device_id>[A-Za-z0-9][A-Za-z0-9_-]{0,127})/(?P<camera_id>[A-Za-z0-9][A-Za-z0-9_-]{0,63})"
    r"/(?P<year>\d{4})/(?P<month>\d{2})/(?P<day>\d{2})"
    r"/(?P<stamp>\d{8}T\d{6})(?P<millis>\d{3})Z-(?P<sha>[0-9a-f]{12})\.jpg",
    re.ASCII,
)


class KeyLayoutError(ValueError):
    """The key is under incoming/ but not in the edge agent's layout."""


@dataclass(frozen=True)
class ImageKey:
    device_id: str
    camera_id: str
    captured_at: datetime  # UTC, millisecond precision
    content_sha: str


def parse_image_key(key: str) -> ImageKey:
    """Device id and capture time from a decoded object key; KeyLayoutError if not in the layout."""
    match = _KEY.fullmatch(key)
    if not match:
        raise KeyLayoutError(
            f"key {key!r} is not incoming/<device>/<camera>/<YYYY>/<MM>/<DD>/<YYYYMMDDTHHMMSSmmmZ>-<sha12>.jpg"
        )
    try:
        captured = datetime.strptime(match["stamp"], "%Y%m%dT%H%M%S").replace(
            microsecond=int(match["millis"]) * 1000, tzinfo=UTC
        )
    except ValueError:
        raise KeyLayoutError(f"key {key!r} has an impossible timestamp") from None
    folders = (match["year"], match["month"], match["day"])
    if folders != (f"{captured.year:04d}", f"{captured.month:02d}", f"{captured.day:02d}"):
        raise KeyLayoutError(f"key {key!r}: date folders disagree with the timestamp")
    return ImageKey(
        device_id=match["device_id"], camera_id=match["camera_id"], captured_at=captured, content_sha=match["sha"]
    )
