"""Agent configuration: one TOML file turned into frozen, validated dataclasses.

Validation happens once, at start, and every error names the offending field
(`watch.directory`, `spool.max_bytes`, ...) so an installer reading journald
knows which line of /etc/shopper-edge/agent.toml to fix.
"""

from __future__ import annotations

import re
import tomllib
import zoneinfo
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# The device-id and camera-id alphabets of shopper_sentiment/contracts/identifiers.py
# (DEVICE_ID_PATTERN, LABEL_PATTERN; copied: the agent ships without the
# repository, tests/contracts ties the copies). The device id is the IoT thing
# name and the second segment of every object key, so it must be safe in an S3
# key and in an IAM policy variable (${credentials-iot:ThingName}); the camera
# id is the third segment.
DEVICE_ID_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,127}")
CAMERA_ID_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}")
# A camera's sub-folder of the watch directory: one path segment, never
# hidden (the rescan skips dot-folders, so their captures would never be seen).
CAMERA_FOLDER_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")
#: The folder of a single-camera device's captures: the watch directory itself.
WATCH_ROOT = ""
BUCKET_PATTERN = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")
REGION_PATTERN = re.compile(r"[a-z]{2}(-gov|-iso[a-z]*)?-[a-z]+-\d")
CREDENTIAL_MODES = ("iot", "default")

# Rekognition reads at most 15 MiB from an S3 object; anything larger would
# be uploaded only to fail in the analyze Lambda.
REKOGNITION_S3_MAX_BYTES = 15 * 1024 * 1024
# Room the journal (SQLite) and motion need to keep writing on a full card.
DEFAULT_MIN_FREE_BYTES = 128 * 1024 * 1024


class ConfigError(ValueError):
    """A configuration value is missing or invalid; `field` is its dotted name."""

    def __init__(self, field_name: str, message: str) -> None:
        super().__init__(f"config field '{field_name}': {message}")
        self.field = field_name
        self.reason = message


@dataclass(frozen=True)
class WatchConfig:
    directory: Path
    extensions: tuple[str, ...] = ("jpg", "jpeg")
    settle_seconds: float = 2.0
    rescan_seconds: float = 30.0
    filename_timezone: str = "local"
    abandon_seconds: float = 300.0


@dataclass(frozen=True)
class S3Config:
    bucket: str
    region: str
    endpoint_url: str | None = None
    verify_etag: bool = True
    connect_timeout: float = 5.0
    read_timeout: float = 30.0


@dataclass(frozen=True)
class CredentialsConfig:
    mode: str = "iot"
    endpoint: str | None = None
    role_alias: str | None = None
    certificate: Path | None = None
    private_key: Path | None = None
    ca: Path | None = None


@dataclass(frozen=True)
class UploadConfig:
    concurrency: int = 2
    retry_base_seconds: float = 1.0
    retry_max_seconds: float = 300.0


@dataclass(frozen=True)
class SpoolConfig:
    state_dir: Path
    max_bytes: int = 2 * 1024**3
    max_files: int = 20_000
    #: Free space kept on the watch directory's filesystem (0 = no floor).
    min_free_bytes: int = DEFAULT_MIN_FREE_BYTES


@dataclass(frozen=True)
class ThinningConfig:
    enabled: bool = True
    window_seconds: float = 10.0
    grid_columns: int = 32
    grid_rows: int = 24
    #: Grey levels (0-255) a cell's mean difference must stand out from the frame's median cell by.
    cell_threshold: float = 8.0


@dataclass(frozen=True)
class ClockConfig:
    #: Hold stills whose capture time is implausible (clock.py).
    check: bool = True
    max_ahead_seconds: float = 300.0


@dataclass(frozen=True)
class JpegConfig:
    min_bytes: int = 1024
    max_bytes: int = REKOGNITION_S3_MAX_BYTES


@dataclass(frozen=True)
class AgentConfig:
    device_id: str
    watch: WatchConfig
    s3: S3Config
    spool: SpoolConfig
    #: Sub-folder of watch.directory -> camera id; WATCH_ROOT ("") for a
    #: single-camera device whose captures sit directly in the directory.
    cameras: Mapping[str, str]
    credentials: CredentialsConfig = field(default_factory=CredentialsConfig)
    upload: UploadConfig = field(default_factory=UploadConfig)
    thinning: ThinningConfig = field(default_factory=ThinningConfig)
    jpeg: JpegConfig = field(default_factory=JpegConfig)
    clock: ClockConfig = field(default_factory=ClockConfig)
    log_level: str = "INFO"
    #: Settings that are accepted but no longer used: field -> what to do instead.
    deprecated: Mapping[str, str] = field(default_factory=dict)

    @property
    def key_prefix(self) -> str:
        return f"incoming/{self.device_id}/"

    def camera_prefix(self, camera_id: str) -> str:
        """Where the stills of one camera land: incoming/<device>/<camera>/."""
        return f"{self.key_prefix}{camera_id}/"

    def camera_folders(self) -> dict[str, str]:
        """Camera id -> its folder relative to watch.directory ("." = the directory itself), for people."""
        return {camera: folder or "." for folder, camera in self.cameras.items()}

    def camera_of(self, folder: str) -> str | None:
        """The camera id of captures in ``folder`` (see capture.camera_folder), None if no camera is mapped."""
        return self.cameras.get(folder)


_SECTIONS: dict[str, set[str]] = {
    "device": {"id", "camera_id"},
    "watch": {"directory", "extensions", "settle_seconds", "rescan_seconds", "filename_timezone", "abandon_seconds"},
    "s3": {"bucket", "region", "endpoint_url", "verify_etag", "connect_timeout", "read_timeout"},
    "credentials": {"mode", "endpoint", "role_alias", "certificate", "private_key", "ca"},
    "upload": {"concurrency", "retry_base_seconds", "retry_max_seconds"},
    "spool": {"state_dir", "max_bytes", "max_files", "min_free_bytes"},
    "thinning": {"enabled", "window_seconds", "grid_columns", "grid_rows", "cell_threshold", "max_distance"},
    "jpeg": {"min_bytes", "max_bytes"},
    "clock": {"check", "max_ahead_seconds"},
    "log": {"level"},
    # Free-form: its keys are folder names, checked by check_camera_folders.
    "cameras": set(),
}


class _Reader:
    """Typed access to one TOML table that remembers the dotted field names."""

    def __init__(self, data: Mapping[str, Any], section: str) -> None:
        self.data = data
        self.section = section

    def name(self, key: str) -> str:
        return f"{self.section}.{key}"

    def _get(self, key: str, default: Any, required: bool) -> Any:
        if key not in self.data:
            if required:
                raise ConfigError(self.name(key), "is required")
            return default
        return self.data[key]

    def string(self, key: str, default: str | None = None, *, required: bool = False) -> str | None:
        value = self._get(key, default, required)
        if value is None:
            return None
        if not isinstance(value, str) or (required and not value.strip()):
            raise ConfigError(self.name(key), f"must be a non-empty string, got {value!r}")
        return value

    def number(self, key: str, default: float, *, minimum: float, integer: bool = False) -> Any:
        value = self._get(key, default, False)
        # bool is an int subclass in Python; `true` is never a valid limit.
        valid_types = (int,) if integer else (int, float)
        if isinstance(value, bool) or not isinstance(value, valid_types):
            kind = "an integer" if integer else "a number"
            raise ConfigError(self.name(key), f"must be {kind}, got {value!r}")
        if value < minimum:
            raise ConfigError(self.name(key), f"must be >= {minimum}, got {value!r}")
        return value

    def boolean(self, key: str, default: bool) -> bool:
        value = self._get(key, default, False)
        if not isinstance(value, bool):
            raise ConfigError(self.name(key), f"must be true or false, got {value!r}")
        return value

    def path(self, key: str, base: Path, default: str | None = None, *, required: bool = False) -> Path | None:
        value = self.string(key, default, required=required)
        if value is None:
            return None
        path = Path(value)
        # Relative paths are relative to the config file, not the working
        # directory: systemd starts the service in /.
        return path if path.is_absolute() else (base / path)


def _section(raw: Mapping[str, Any], section: str) -> Mapping[str, Any]:
    value = raw.get(section, {})
    if not isinstance(value, Mapping):
        raise ConfigError(section, "must be a table ([section])")
    return value


def _table(raw: Mapping[str, Any], section: str) -> _Reader:
    value = _section(raw, section)
    unknown = sorted(set(value) - _SECTIONS[section])
    if unknown:
        allowed = ", ".join(sorted(_SECTIONS[section]))
        raise ConfigError(f"{section}.{unknown[0]}", f"unknown field (allowed: {allowed})")
    return _Reader(value, section)


def check_camera_id(field_name: str, camera_id: object) -> str:
    """A camera id as the object key needs it; ConfigError naming ``field_name`` otherwise."""
    if not isinstance(camera_id, str) or not CAMERA_ID_PATTERN.fullmatch(camera_id):
        raise ConfigError(
            field_name, f"camera id {camera_id!r} must match {CAMERA_ID_PATTERN.pattern} (a camera of the device)"
        )
    return camera_id


def check_camera_folders(folders: Mapping[str, object]) -> dict[str, str]:
    """Validate a folder -> camera id mapping (the [cameras] table); ConfigError names ``cameras.<folder>``."""
    if not folders:
        raise ConfigError("cameras", 'must map at least one folder to a camera id (cam1 = "entrance")')
    cameras: dict[str, str] = {}
    for folder, camera_id in folders.items():
        field_name = f"cameras.{folder}"
        if not CAMERA_FOLDER_PATTERN.fullmatch(folder):
            raise ConfigError(
                field_name,
                f"{folder!r} is not a sub-folder name of watch.directory (one path segment matching "
                f"{CAMERA_FOLDER_PATTERN.pattern}, as motion's picture_filename cam%t/... creates)",
            )
        camera = check_camera_id(field_name, camera_id)
        # Thinning compares a still with the previous one of the same camera;
        # two folders feeding one camera id would be compared with each other.
        twin = next((f for f, c in cameras.items() if c == camera), None)
        if twin is not None:
            raise ConfigError(field_name, f"camera id {camera!r} is already the camera of folder {twin!r}")
        cameras[folder] = camera
    return cameras


def check_cameras(cameras: Mapping[str, object]) -> dict[str, str]:
    """A folder -> camera id mapping as AgentConfig.cameras holds it (one camera at WATCH_ROOT, or folders)."""
    if WATCH_ROOT not in cameras:
        return check_camera_folders(cameras)
    if len(cameras) > 1:
        raise ConfigError(
            "device.camera_id",
            "a device whose captures sit directly in watch.directory has one camera; "
            "give several cameras one sub-folder each",
        )
    return {WATCH_ROOT: check_camera_id("device.camera_id", cameras[WATCH_ROOT])}


def _cameras(raw: Mapping[str, Any], device: _Reader) -> dict[str, str]:
    """Which camera each capture belongs to: device.camera_id (one camera) or [cameras] (several)."""
    single = device.data.get("camera_id")
    table = _section(raw, "cameras") if "cameras" in raw else None
    if single is not None and table is not None:
        raise ConfigError(
            "device.camera_id",
            "set either device.camera_id (one camera, captures directly in watch.directory) "
            "or a [cameras] table (one sub-folder per camera), not both",
        )
    if table is not None:
        return check_camera_folders(table)
    if single is None:
        raise ConfigError(
            "device.camera_id",
            "is required: the camera id of this device's captures (or a [cameras] table mapping "
            "each camera's sub-folder of watch.directory to its camera id)",
        )
    return {WATCH_ROOT: check_camera_id("device.camera_id", single)}


def parse_config(raw: Mapping[str, Any], *, base_dir: Path) -> AgentConfig:
    """Validate a parsed TOML document; raises ConfigError naming the field."""
    unknown = sorted(set(raw) - set(_SECTIONS))
    if unknown:
        raise ConfigError(unknown[0], f"unknown section (allowed: {', '.join(sorted(_SECTIONS))})")

    device = _table(raw, "device")
    device_id = device.string("id", required=True)
    assert device_id is not None
    if not DEVICE_ID_PATTERN.fullmatch(device_id):
        raise ConfigError("device.id", f"{device_id!r} must match {DEVICE_ID_PATTERN.pattern} (the IoT thing name)")
    cameras = _cameras(raw, device)

    w = _table(raw, "watch")
    directory = w.path("directory", base_dir, required=True)
    assert directory is not None
    extensions = w._get("extensions", ["jpg", "jpeg"], False)
    if not isinstance(extensions, list) or not extensions or not all(isinstance(e, str) and e for e in extensions):
        raise ConfigError("watch.extensions", f"must be a non-empty list of strings, got {extensions!r}")
    tz_name = w.string("filename_timezone", "local")
    assert tz_name is not None
    if tz_name != "local":
        try:
            zoneinfo.ZoneInfo(tz_name)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError) as exc:
            raise ConfigError(
                "watch.filename_timezone", f"unknown time zone {tz_name!r} (use 'local' or an IANA name)"
            ) from exc
    watch = WatchConfig(
        directory=directory,
        extensions=tuple(e.lower().lstrip(".") for e in extensions),
        settle_seconds=w.number("settle_seconds", 2.0, minimum=0.0),
        rescan_seconds=w.number("rescan_seconds", 30.0, minimum=0.05),
        filename_timezone=tz_name,
        abandon_seconds=w.number("abandon_seconds", 300.0, minimum=1.0),
    )

    s = _table(raw, "s3")
    bucket = s.string("bucket", required=True)
    assert bucket is not None
    if not BUCKET_PATTERN.fullmatch(bucket):
        raise ConfigError("s3.bucket", f"{bucket!r} is not a valid S3 bucket name")
    region = s.string("region", required=True)
    assert region is not None
    if not REGION_PATTERN.fullmatch(region):
        raise ConfigError("s3.region", f"{region!r} is not an AWS region name like 'eu-west-1'")
    endpoint_url = s.string("endpoint_url")
    if endpoint_url is not None and not endpoint_url.startswith(("http://", "https://")):
        raise ConfigError("s3.endpoint_url", f"must start with http:// or https://, got {endpoint_url!r}")
    s3 = S3Config(
        bucket=bucket,
        region=region,
        endpoint_url=endpoint_url or None,
        verify_etag=s.boolean("verify_etag", True),
        connect_timeout=s.number("connect_timeout", 5.0, minimum=0.1),
        read_timeout=s.number("read_timeout", 30.0, minimum=0.1),
    )

    c = _table(raw, "credentials")
    mode = c.string("mode", "iot")
    if mode not in CREDENTIAL_MODES:
        raise ConfigError("credentials.mode", f"must be one of {', '.join(CREDENTIAL_MODES)}, got {mode!r}")
    credentials = CredentialsConfig(
        mode=mode,
        endpoint=c.string("endpoint"),
        role_alias=c.string("role_alias"),
        certificate=c.path("certificate", base_dir),
        private_key=c.path("private_key", base_dir),
        ca=c.path("ca", base_dir),
    )
    if mode == "iot":
        for key in ("endpoint", "role_alias", "certificate", "private_key", "ca"):
            if getattr(credentials, key) is None:
                raise ConfigError(f"credentials.{key}", "is required when credentials.mode = 'iot'")
        assert credentials.endpoint is not None
        if "://" in credentials.endpoint or "/" in credentials.endpoint:
            raise ConfigError(
                "credentials.endpoint",
                "must be a host name (aws iot describe-endpoint --endpoint-type iot:CredentialProvider)",
            )

    u = _table(raw, "upload")
    upload = UploadConfig(
        concurrency=u.number("concurrency", 2, minimum=1, integer=True),
        retry_base_seconds=u.number("retry_base_seconds", 1.0, minimum=0.01),
        retry_max_seconds=u.number("retry_max_seconds", 300.0, minimum=0.01),
    )
    if upload.retry_max_seconds < upload.retry_base_seconds:
        raise ConfigError("upload.retry_max_seconds", "must be >= upload.retry_base_seconds")

    sp = _table(raw, "spool")
    state_dir = sp.path("state_dir", base_dir, required=True)
    assert state_dir is not None
    spool = SpoolConfig(
        state_dir=state_dir,
        max_bytes=sp.number("max_bytes", 2 * 1024**3, minimum=1, integer=True),
        max_files=sp.number("max_files", 20_000, minimum=1, integer=True),
        min_free_bytes=sp.number("min_free_bytes", DEFAULT_MIN_FREE_BYTES, minimum=0, integer=True),
    )
    if state_dir.resolve() == directory.resolve() or directory.resolve() in state_dir.resolve().parents:
        raise ConfigError("spool.state_dir", "must be outside watch.directory (the state database is not a capture)")

    t = _table(raw, "thinning")
    thinning = ThinningConfig(
        enabled=t.boolean("enabled", True),
        window_seconds=t.number("window_seconds", 10.0, minimum=0.0),
        grid_columns=t.number("grid_columns", 32, minimum=1, integer=True),
        grid_rows=t.number("grid_rows", 24, minimum=1, integer=True),
        cell_threshold=t.number("cell_threshold", 8.0, minimum=0.0),
    )
    for key in ("grid_columns", "grid_rows"):
        if getattr(thinning, key) > 64:
            raise ConfigError(f"thinning.{key}", "must be <= 64 (cells of a thumbnail decoded at 1/8 scale)")
    if thinning.cell_threshold > 255:
        raise ConfigError("thinning.cell_threshold", "must be <= 255 (grey levels)")
    deprecated: dict[str, str] = {}
    if "max_distance" in t.data:
        t.number("max_distance", 6, minimum=0, integer=True)
        # Configs written for the dHash thinning keep working; the value is unused.
        deprecated["thinning.max_distance"] = (
            "ignored: thinning now compares a grid of regions (thinning.cell_threshold); remove the line"
        )

    ck = _table(raw, "clock")
    clock = ClockConfig(
        # A shop device (iot credentials) has only its own clock to stamp stills
        # with; a development machine ("default") may replay old photos on purpose.
        check=ck.boolean("check", mode == "iot"),
        max_ahead_seconds=ck.number("max_ahead_seconds", 300.0, minimum=5.0),
    )

    j = _table(raw, "jpeg")
    jpeg = JpegConfig(
        min_bytes=j.number("min_bytes", 1024, minimum=1, integer=True),
        max_bytes=j.number("max_bytes", REKOGNITION_S3_MAX_BYTES, minimum=1, integer=True),
    )
    if jpeg.max_bytes < jpeg.min_bytes:
        raise ConfigError("jpeg.max_bytes", "must be >= jpeg.min_bytes")
    if jpeg.max_bytes > REKOGNITION_S3_MAX_BYTES:
        raise ConfigError("jpeg.max_bytes", f"must be <= {REKOGNITION_S3_MAX_BYTES} (Rekognition's S3 object limit)")

    lg = _table(raw, "log")
    level = (lg.string("level", "INFO") or "INFO").upper()
    if level not in ("DEBUG", "INFO", "WARNING", "ERROR"):
        raise ConfigError("log.level", f"must be DEBUG, INFO, WARNING or ERROR, got {level!r}")

    return AgentConfig(
        device_id=device_id,
        watch=watch,
        s3=s3,
        spool=spool,
        cameras=cameras,
        credentials=credentials,
        upload=upload,
        thinning=thinning,
        jpeg=jpeg,
        clock=clock,
        log_level=level,
        deprecated=deprecated,
    )


def load_config(path: Path) -> AgentConfig:
    """Read and validate the agent's TOML file."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError("<file>", f"cannot read {path}: {exc.strerror or exc}") from exc
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError("<file>", f"{path} is not valid TOML: {exc}") from exc
    return parse_config(raw, base_dir=path.resolve().parent)
