"""Function settings: environment variables read once at cold start.

The CDK stack sets these; a missing or malformed one is a deployment bug, so
it fails the init phase with a message naming the variable instead of failing
each record later.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

# Same alphabets as shopper_sentiment/config.py (the deployed code cannot import it).
_DEVICE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,127}", re.ASCII)
_LABEL = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}", re.ASCII)
_REGISTRY_FIELDS = ("store_id", "timezone", "cameras")
_CAMERA_FIELDS = ("zone", "attributes", "keep_images")
#: The attribute groups a privacy profile turns on or off
#: (shopper_sentiment/contracts/analyze_function.py ATTRIBUTE_GROUPS).
ATTRIBUTE_GROUPS = ("age", "appearance", "emotions", "gender")

# The environment variables the function reads (the CDK stack sets them).
FIREHOSE_STREAM_NAME = "FIREHOSE_STREAM_NAME"
#: The stream of the images table (one row per settled image).
IMAGES_STREAM_NAME = "IMAGES_STREAM_NAME"
ARCHIVE_BUCKET = "ARCHIVE_BUCKET"
IDEMPOTENCY_TABLE = "IDEMPOTENCY_TABLE"
#: The device registry as a file name, relative to the function's code folder...
DEVICE_REGISTRY_FILE = "DEVICE_REGISTRY_FILE"
#: ... or inline JSON (tests and the local pipeline); exactly one of the two.
DEVICE_REGISTRY = "DEVICE_REGISTRY"
MIN_DETECTION_CONFIDENCE = "MIN_DETECTION_CONFIDENCE"
MIN_SHARPNESS = "MIN_SHARPNESS"
ANALYZE_THREADS = "ANALYZE_THREADS"
#: Read by Powertools' Metrics; required here too (see load_settings).
POWERTOOLS_METRICS_NAMESPACE = "POWERTOOLS_METRICS_NAMESPACE"
#: Every variable load_settings reads (DEVICE_REGISTRY_FILE and DEVICE_REGISTRY are alternatives).
ENVIRONMENT_VARIABLES = (
    POWERTOOLS_METRICS_NAMESPACE,
    FIREHOSE_STREAM_NAME,
    IMAGES_STREAM_NAME,
    ARCHIVE_BUCKET,
    IDEMPOTENCY_TABLE,
    DEVICE_REGISTRY_FILE,
    DEVICE_REGISTRY,
    MIN_DETECTION_CONFIDENCE,
    MIN_SHARPNESS,
    ANALYZE_THREADS,
)

#: The face floors (percent) when MIN_DETECTION_CONFIDENCE and MIN_SHARPNESS are
#: unset; faces below them are dropped and counted.
DEFAULT_MIN_DETECTION_CONFIDENCE = 90.0
DEFAULT_MIN_SHARPNESS = 0.0
DEFAULT_ANALYZE_THREADS = 8
#: The highest ANALYZE_THREADS the function accepts. More threads than this
#: mostly wait on Rekognition's rate limiter and on the client connection
#: pools, and stretch a batch past its share of the quota.
ANALYZE_THREADS_CEILING = 32


class ConfigurationError(RuntimeError):
    """An environment variable of the function is missing or invalid."""


@dataclass(frozen=True)
class CameraInfo:
    """What one camera of a device watches, and its privacy profile."""

    zone: str
    #: The attribute groups collected for this camera's faces (ATTRIBUTE_GROUPS); the others stay null.
    attributes: frozenset[str] = frozenset(ATTRIBUTE_GROUPS)
    #: False: an image is deleted once its records are delivered, not archived.
    keep_images: bool = True


@dataclass(frozen=True)
class DeviceInfo:
    """Where an edge device sits and its cameras: from the device registry of the deployment config."""

    store_id: str
    #: The store's IANA time zone: its records are dated by its wall clock.
    timezone: str
    cameras: Mapping[str, CameraInfo]


@dataclass(frozen=True)
class Settings:
    firehose_stream_name: str
    images_stream_name: str
    archive_bucket: str
    idempotency_table: str
    device_registry: Mapping[str, DeviceInfo]
    min_detection_confidence: float
    min_sharpness: float
    analyze_threads: int


def _required(environ: Mapping[str, str], name: str) -> str:
    value = environ.get(name, "").strip()
    if not value:
        raise ConfigurationError(f"environment variable {name} is missing or empty; the CDK stack must set it")
    return value


def _percentage(environ: Mapping[str, str], name: str, default: float) -> float:
    raw = environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigurationError(f"environment variable {name}={raw!r} is not a number") from None
    if not (math.isfinite(value) and 0 <= value <= 100):
        raise ConfigurationError(f"environment variable {name}={raw!r} must be between 0 and 100")
    return value


def _integer(environ: Mapping[str, str], name: str, default: int, *, low: int, high: int) -> int:
    raw = environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigurationError(f"environment variable {name}={raw!r} is not a whole number") from None
    if not low <= value <= high:
        raise ConfigurationError(f"environment variable {name}={raw!r} must be between {low} and {high}")
    return value


def parse_device_registry(raw: str, *, source: str = DEVICE_REGISTRY) -> dict[str, DeviceInfo]:
    """``{"<device>": {"store_id": ..., "timezone": ..., "cameras": {"<camera>": {"zone": ...}}}}`` → typed.

    Errors name ``source``.
    """
    try:
        data = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise ConfigurationError(f"{source} is not valid JSON: {exc}") from None
    if not isinstance(data, dict) or not data:
        raise ConfigurationError(f"{source} must be a non-empty JSON object of devices")
    return {device_id: _device(device_id, entry, source) for device_id, entry in data.items()}


def _device(device_id: str, entry: object, source: str) -> DeviceInfo:
    if not _DEVICE_ID.fullmatch(device_id):
        raise ConfigurationError(f"{source}: device id {device_id!r} is not a valid device id")
    if not isinstance(entry, dict) or set(entry) != set(_REGISTRY_FIELDS):
        raise ConfigurationError(
            f"{source}: device {device_id!r} must have exactly the keys {', '.join(_REGISTRY_FIELDS)}"
        )
    store_id, time_zone, cameras = entry["store_id"], entry["timezone"], entry["cameras"]
    if not isinstance(store_id, str) or not store_id:
        raise ConfigurationError(f"{source}: device {device_id!r} has an empty or non-string store_id")
    try:
        ZoneInfo(time_zone)
    except (ZoneInfoNotFoundError, ValueError, TypeError):
        raise ConfigurationError(
            f"{source}: device {device_id!r} has timezone {time_zone!r}, which is no IANA time zone"
        ) from None
    if not isinstance(cameras, dict) or not cameras:
        raise ConfigurationError(f"{source}: device {device_id!r} must list at least one camera")
    parsed = {}
    for camera_id, camera in cameras.items():
        where = f"{source}: device {device_id!r} camera {camera_id!r}"
        if not _LABEL.fullmatch(camera_id):
            raise ConfigurationError(f"{where} is not a valid camera id")
        # The stack writes every field; a registry of zones only (tests, the local
        # pipeline) collects everything and keeps images, the config's defaults.
        if not isinstance(camera, dict) or "zone" not in camera or not set(camera) <= set(_CAMERA_FIELDS):
            raise ConfigurationError(f"{where} must have the key zone and may have only {', '.join(_CAMERA_FIELDS)}")
        if not isinstance(camera["zone"], str) or not camera["zone"]:
            raise ConfigurationError(f"{where} has an empty or non-string zone")
        parsed[camera_id] = CameraInfo(
            zone=camera["zone"],
            attributes=_attributes(camera.get("attributes", list(ATTRIBUTE_GROUPS)), where),
            keep_images=_keep_images(camera.get("keep_images", True), where),
        )
    return DeviceInfo(store_id=store_id, timezone=time_zone, cameras=parsed)


def _attributes(value: object, where: str) -> frozenset[str]:
    if not isinstance(value, list) or not all(isinstance(group, str) for group in value):
        raise ConfigurationError(f"{where}: attributes must be a list of names out of {', '.join(ATTRIBUTE_GROUPS)}")
    unknown = sorted(set(value) - set(ATTRIBUTE_GROUPS))
    if unknown:
        raise ConfigurationError(
            f"{where}: attributes {unknown[0]!r} is not an attribute group ({', '.join(ATTRIBUTE_GROUPS)})"
        )
    return frozenset(value)


def _keep_images(value: object, where: str) -> bool:
    if not isinstance(value, bool):
        raise ConfigurationError(f"{where}: keep_images must be true or false, not {value!r}")
    return value


def _device_registry(environ: Mapping[str, str], base_dir: Path) -> dict[str, DeviceInfo]:
    # The stack ships the registry as a file in the asset (DEVICE_REGISTRY_FILE,
    # relative to the function's code): Lambda's environment is capped at 4 KB,
    # which a few dozen devices exceed. Inline JSON (DEVICE_REGISTRY) serves
    # tests and the local pipeline.
    file_name = environ.get(DEVICE_REGISTRY_FILE, "").strip()
    inline = environ.get(DEVICE_REGISTRY, "").strip()
    if file_name and inline:
        raise ConfigurationError(
            f"set only one of the environment variables {DEVICE_REGISTRY_FILE} and {DEVICE_REGISTRY}"
        )
    if inline:
        return parse_device_registry(inline, source=f"environment variable {DEVICE_REGISTRY}")
    if not file_name:
        raise ConfigurationError(
            f"environment variable {DEVICE_REGISTRY_FILE} (or {DEVICE_REGISTRY}) is missing or empty;"
            " the CDK stack must set it"
        )
    path = Path(file_name) if Path(file_name).is_absolute() else base_dir / file_name
    source = f"{DEVICE_REGISTRY_FILE}={file_name} ({path})"
    try:
        raw = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigurationError(f"{source} cannot be read: {exc.strerror}") from None
    return parse_device_registry(raw, source=source)


def load_settings(environ: Mapping[str, str], *, base_dir: Path) -> Settings:
    """Validate the function's environment; raise ConfigurationError naming the bad variable.

    ``base_dir`` is the function's code folder, against which a relative
    DEVICE_REGISTRY_FILE is resolved.
    """
    # Metrics are flushed after the work is done: without a namespace the flush
    # would fail every invocation after delivery and the batch would be retried.
    _required(environ, POWERTOOLS_METRICS_NAMESPACE)
    return Settings(
        firehose_stream_name=_required(environ, FIREHOSE_STREAM_NAME),
        images_stream_name=_required(environ, IMAGES_STREAM_NAME),
        archive_bucket=_required(environ, ARCHIVE_BUCKET),
        idempotency_table=_required(environ, IDEMPOTENCY_TABLE),
        device_registry=_device_registry(environ, base_dir),
        min_detection_confidence=_percentage(environ, MIN_DETECTION_CONFIDENCE, DEFAULT_MIN_DETECTION_CONFIDENCE),
        min_sharpness=_percentage(environ, MIN_SHARPNESS, DEFAULT_MIN_SHARPNESS),
        # Images of one batch analyzed at once; the stack sizes it with the
        # event source's maximum concurrency to the Rekognition budget.
        analyze_threads=_integer(
            environ, ANALYZE_THREADS, DEFAULT_ANALYZE_THREADS, low=1, high=ANALYZE_THREADS_CEILING
        ),
    )
