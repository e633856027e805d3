"""The function's settings: its environment and the ``compaction.json`` shipped in its asset.

Read once at cold start; a missing or malformed value fails the init phase
naming the variable or the file's field.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from shopper_compact.partitions import ClosingRule
from shopper_compact.rewrite import TableSpec

CURATED_BUCKET = "CURATED_BUCKET"
COMPACTION_CONFIG_FILE = "COMPACTION_CONFIG_FILE"
CLOSE_DELAY_SECONDS = "CLOSE_DELAY_SECONDS"
MAX_OBJECT_BYTES = "MAX_OBJECT_BYTES"
TIME_RESERVE_SECONDS = "TIME_RESERVE_SECONDS"
#: The file's name in the asset (the stack writes it beside app.py).
CONFIG_FILE_NAME = "compaction.json"
DEFAULT_TIME_RESERVE_SECONDS = 60


class SettingsError(ValueError):
    """A variable or a field of compaction.json is missing or malformed."""


@dataclass(frozen=True)
class Settings:
    bucket: str
    tables: tuple[TableSpec, ...]
    closing: ClosingRule
    max_object_bytes: int
    #: Stop starting partitions when the invocation has this little time left.
    time_reserve_seconds: int


def _positive_int(environ: Mapping[str, str], name: str, default: int | None = None) -> int:
    raw = environ.get(name)
    if raw is None:
        if default is None:
            raise SettingsError(f"{name} is not set")
        return default
    try:
        value = int(raw)
    except ValueError:
        raise SettingsError(f"{name}={raw!r} is not an integer") from None
    if value < 0:
        raise SettingsError(f"{name}={raw!r} must not be negative")
    return value


def parse_config(
    document: Mapping[str, object], *, close_delay: dt.timedelta
) -> tuple[tuple[TableSpec, ...], ClosingRule]:
    """Tables and closing rule from the shipped JSON (``compaction_config``, shopper_sentiment.tiers.compaction)."""
    try:
        tables = tuple(
            TableSpec(
                name=t["name"],
                prefix=t["prefix"],
                id_column=t["id_column"],
                order_column=t["order_column"],
                sort_columns=tuple(t["sort_columns"]),
                columns=tuple((c["name"], c["type"]) for c in t["columns"]),
            )
            for t in document["tables"]  # type: ignore[union-attr]
        )
        zones = dict(document["store_time_zones"])  # type: ignore[call-overload]
        utc_stores = frozenset(document["utc_stores"])  # type: ignore[call-overload]
    except (KeyError, TypeError) as exc:
        raise SettingsError(f"{CONFIG_FILE_NAME}: missing or malformed field {exc}") from None
    for store_id, zone in zones.items():
        try:
            ZoneInfo(zone)
        except (ZoneInfoNotFoundError, ValueError):
            raise SettingsError(f"{CONFIG_FILE_NAME}: store {store_id!r} has an unknown time zone {zone!r}") from None
    if not tables:
        raise SettingsError(f"{CONFIG_FILE_NAME}: no tables")
    return tables, ClosingRule(store_time_zones=zones, utc_stores=utc_stores, close_delay=close_delay)


def load_settings(environ: Mapping[str, str] | None = None, *, base: Path | None = None) -> Settings:
    environ = os.environ if environ is None else environ
    bucket = environ.get(CURATED_BUCKET)
    if not bucket:
        raise SettingsError(f"{CURATED_BUCKET} is not set")
    path = Path(environ.get(COMPACTION_CONFIG_FILE, CONFIG_FILE_NAME))
    if not path.is_absolute():
        path = (base or Path(__file__).resolve().parent.parent) / path
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise SettingsError(f"{COMPACTION_CONFIG_FILE}: cannot read {path} ({exc})") from None
    close_delay = dt.timedelta(seconds=_positive_int(environ, CLOSE_DELAY_SECONDS))
    tables, closing = parse_config(document, close_delay=close_delay)
    max_bytes = _positive_int(environ, MAX_OBJECT_BYTES)
    if max_bytes < 1024 * 1024:
        raise SettingsError(f"{MAX_OBJECT_BYTES}={max_bytes} is under 1 MiB")
    reserve = _positive_int(environ, TIME_RESERVE_SECONDS, DEFAULT_TIME_RESERVE_SECONDS)
    return Settings(bucket, tables, closing, max_bytes, reserve)
