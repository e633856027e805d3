"""Deployment configuration: a TOML file turned into typed, validated objects.

The file lists deployments by name. Each deployment is one ``PipelineStack``
(a whole region with many stores, or a single store)::

    [deployments.demo]
    region = "any"            # "any" = environment-agnostic; else e.g. "eu-west-1"
    # account = "123456789012"
    retention_days = 30
    rekognition_tps = 5
    # quicksight_principal_arn = "arn:aws:quicksight:us-east-1:123456789012:user/default/analyst"

    [deployments.demo.stores.store-001.devices]
    pi-store001-entrance = { camera_id = "entrance", zone = "entrance" }

Everything is checked once, here, at the edge of the program; a wrong file
raises ``ConfigError`` naming the file, the deployment and the field.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    model_validator,
)

from contracts import identifiers
from contracts.analyze_function import DEFAULT_MIN_DETECTION_CONFIDENCE, DEFAULT_MIN_SHARPNESS

ANY_REGION = "any"


class ConfigError(ValueError):
    """The deployment config is wrong; the message names the field."""


def _matching(pattern: str, what: str) -> Callable[[str], str]:
    compiled = re.compile(pattern)

    def check(value: str) -> str:
        if not compiled.fullmatch(value):
            raise ValueError(f"{what} {value!r} has characters or a length not allowed (must match {pattern})")
        return value

    return check


# The id alphabets are contracts (contracts/identifiers.py says why).
DeploymentName = Annotated[str, AfterValidator(_matching(identifiers.DEPLOYMENT_NAME_PATTERN, "deployment name"))]
StoreId = Annotated[str, AfterValidator(_matching(identifiers.STORE_ID_PATTERN, "store id"))]
DeviceId = Annotated[str, AfterValidator(_matching(identifiers.DEVICE_ID_PATTERN, "device id"))]
Label = Annotated[str, AfterValidator(_matching(identifiers.LABEL_PATTERN, "id"))]
Region = Annotated[
    str,
    AfterValidator(_matching(r"any|[a-z]{2}(-gov|-iso[a-z]*)?-[a-z]+-\d", "region")),
]
Account = Annotated[str, AfterValidator(_matching(r"\d{12}", "account"))]
QuickSightPrincipal = Annotated[
    str,
    AfterValidator(
        _matching(
            r"arn:aws[a-z-]*:quicksight:[a-z0-9-]+:\d{12}:(user|group)/[A-Za-z0-9._-]+/[^\s]+",
            "QuickSight principal ARN",
        )
    ),
]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


class Device(_Strict):
    """Where one edge device (IoT thing) points: its camera and store zone."""

    camera_id: Label
    zone: Label


class Store(_Strict):
    devices: dict[DeviceId, Device] = Field(min_length=1)


class Deployment(_Strict):
    """One pipeline: ``ShopperSentiment-<name>`` in one region (or any)."""

    name: DeploymentName
    region: Region
    account: Account | None = None
    stores: dict[StoreId, Store] = Field(min_length=1)
    retention_days: int = Field(ge=1, le=3650)
    rekognition_tps: int = Field(ge=1, le=1000)
    quicksight_principal_arn: QuickSightPrincipal | None = None
    #: SPICE (daily refresh, no Athena cost per view) or DIRECT_QUERY.
    quicksight_import_mode: Literal["SPICE", "DIRECT_QUERY"] = "SPICE"
    #: Faces under these floors are dropped by the analyzer (and counted).
    min_detection_confidence: float = Field(default=DEFAULT_MIN_DETECTION_CONFIDENCE, ge=0, le=100)
    min_sharpness: float = Field(default=DEFAULT_MIN_SHARPNESS, ge=0, le=100)
    #: Athena stops a query that would scan more than this.
    athena_bytes_scanned_cutoff_mb: int = Field(default=10_240, ge=10)

    @model_validator(mode="after")
    def _device_ids_unique_across_stores(self) -> Deployment:
        owner: dict[str, str] = {}
        for store_id, store in self.stores.items():
            for device_id in store.devices:
                if device_id in owner:
                    raise ValueError(
                        f"device id {device_id!r} is listed in stores {owner[device_id]!r} and {store_id!r};"
                        " a device belongs to exactly one store"
                    )
                owner[device_id] = store_id
        return self

    @property
    def stack_name(self) -> str:
        return identifiers.stack_name(self.name)

    @property
    def is_environment_agnostic(self) -> bool:
        return self.region == ANY_REGION

    def device_registry(self) -> dict[str, dict[str, str]]:
        """device_id → {store_id, camera_id, zone}: what the analyzer needs per image."""
        return {
            device_id: {"store_id": store_id, "camera_id": d.camera_id, "zone": d.zone}
            for store_id, store in sorted(self.stores.items())
            for device_id, d in sorted(store.devices.items())
        }


class PipelineConfig(_Strict):
    deployments: tuple[Deployment, ...]

    @model_validator(mode="after")
    def _device_ids_unique_across_deployments(self) -> PipelineConfig:
        # IoT thing names are unique per account and region: a device id
        # reused by two deployments would make them fight over one thing.
        seen: dict[str, str] = {}
        for d in self.deployments:
            for device_id in d.device_registry():
                if device_id in seen:
                    raise ValueError(
                        f"device id {device_id!r} is listed in deployments {seen[device_id]!r} and {d.name!r}"
                    )
                seen[device_id] = d.name
        return self


def _describe(error: dict[str, Any], deployment_names: list[str]) -> str:
    loc = list(error["loc"])
    where = "config"
    if loc[:1] == ["deployments"] and len(loc) >= 2 and isinstance(loc[1], int):
        index = loc[1]
        name = deployment_names[index] if index < len(deployment_names) else f"#{index}"
        where = f"deployment {name!r}"
        loc = loc[2:]
    if loc[-1:] == ["[key]"]:  # the key itself is bad: name the mapping it is in
        loc = loc[:-2]
    field = ".".join(str(p) for p in loc)
    kind = error["type"]
    if kind == "extra_forbidden":
        return f"{where}: unknown key {field!r}"
    if kind == "missing":
        return f"{where}: missing required field {field!r}"
    message = str(error["msg"]).removeprefix("Value error, ")
    if kind in ("greater_than_equal", "less_than_equal", "too_short"):
        message = f"{message} (got {error.get('input')!r})"
    return f"{where}: field {field!r}: {message}" if field else f"{where}: {message}"


def parse_config(data: dict[str, Any], *, source: str = "config") -> PipelineConfig:
    """Validate a parsed config mapping; raise ConfigError naming every bad field."""
    raw = data.get("deployments")
    unknown = sorted(set(data) - {"deployments"})
    if unknown:
        raise ConfigError(f"{source}: unknown top-level key {unknown[0]!r} (only [deployments.<name>] tables)")
    if not isinstance(raw, dict) or not raw:
        raise ConfigError(f"{source}: no deployments; add a [deployments.<name>] table")
    names = list(raw)
    deployments = []
    for name, body in raw.items():
        if not isinstance(body, dict):
            raise ConfigError(f"{source}: deployment {name!r} must be a table")
        deployments.append({"name": name, **body})
    try:
        return PipelineConfig.model_validate({"deployments": tuple(deployments)})
    except ValidationError as exc:
        problems = [_describe(e, names) for e in exc.errors(include_url=False)]
        raise ConfigError(f"{source}: " + "; ".join(problems)) from None


def load_config(path: str | Path) -> PipelineConfig:
    """Read and validate the TOML config at ``path``."""
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{path}: config file not found (set it with -c config=PATH)") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    return parse_config(data, source=str(path))
