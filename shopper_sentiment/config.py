"""Deployment configuration: a TOML file turned into typed, validated objects.

The file lists deployments by name. Each deployment is one ``PipelineStack``
(a whole region with many stores, or a single store)::

    [deployments.demo]
    region = "any"            # "any" = environment-agnostic; else e.g. "eu-west-1"
    # account = "123456789012"
    retention_days = 30
    rekognition_tps = 5
    # quicksight_principal_arn = "arn:aws:quicksight:us-east-1:123456789012:user/default/analyst"

    [deployments.demo.stores.store-001]
    timezone = "America/Los_Angeles"   # IANA zone: the store's days and hours

    [deployments.demo.stores.store-001.devices]
    pi-store001-entrance = { camera_id = "entrance", zone = "entrance" }   # one camera

    [deployments.demo.stores.store-002.devices.pi-store002.cameras]       # a Pi with two
    entrance = { zone = "entrance" }
    aisle-3 = { zone = "grocery" }

Everything is checked once, here, at the edge of the program; a wrong file
raises ``ConfigError`` naming the file, the deployment and the field.
"""

from __future__ import annotations

import difflib
import functools
import re
import tomllib
import zoneinfo
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from shopper_sentiment.contracts import identifiers
from shopper_sentiment.contracts.analyze_function import (
    ATTRIBUTE_GROUPS,
    DEFAULT_MIN_DETECTION_CONFIDENCE,
    DEFAULT_MIN_SHARPNESS,
)

ANY_REGION = "any"
#: The partitions a deployment may name a region of.
PARTITIONS = ("aws", "aws-cn", "aws-us-gov")

#: CloudFormation's quota of resources in one stack (CDK refuses to synthesize more).
CLOUDFORMATION_RESOURCES_PER_STACK = 500
#: Each device is one ``AWS::IoT::Thing`` in its deployment's stack, beside
#: the 45 resources every pipeline stack has today (tests/stacks/test_config.py
#: synthesizes deployments and counts them): 500 - 45 = 455 devices would
#: fit. 400 leaves room for the stack to grow by some 50 resources
#: without a deployment that synthesizes today failing after an upgrade; the
#: test fails if the stack grows into that margin. A larger fleet is split
#: into several deployments (by store or by region).
MAX_DEVICES_PER_DEPLOYMENT = 400

#: SQS keeps a message at most 14 days (from when it was first sent, also in
#: the dead-letter queue): the incoming queue's retention.
QUEUE_RETENTION_DAYS = 14
#: Defaults of a deployment's lifetimes (docs/privacy.md lists each, with its field).
DEFAULT_ARCHIVE_RETENTION_DAYS = 30
DEFAULT_INCOMING_RETENTION_DAYS = QUEUE_RETENTION_DAYS + 1
DEFAULT_QUARANTINE_RETENTION_DAYS = 30
#: A year plus the same week last year to compare with.
DEFAULT_CURATED_RETENTION_DAYS = 400
DEFAULT_ERROR_RETENTION_DAYS = 30
DEFAULT_QUERY_RESULTS_RETENTION_DAYS = 30


class ConfigError(ValueError):
    """The deployment config is wrong; the message names the field."""


def _matching(pattern: str, what: str) -> Callable[[str], str]:
    compiled = re.compile(pattern)

    def check(value: str) -> str:
        if not compiled.fullmatch(value):
            raise ValueError(f"{what} {value!r} has characters or a length not allowed (must match {pattern})")
        return value

    return check


# The id alphabets are contracts (shopper_sentiment/contracts/identifiers.py says why).
DeploymentName = Annotated[str, AfterValidator(_matching(identifiers.DEPLOYMENT_NAME_PATTERN, "deployment name"))]
StoreId = Annotated[str, AfterValidator(_matching(identifiers.STORE_ID_PATTERN, "store id"))]
DeviceId = Annotated[str, AfterValidator(_matching(identifiers.DEVICE_ID_PATTERN, "device id"))]
Label = Annotated[str, AfterValidator(_matching(identifiers.LABEL_PATTERN, "id"))]


@functools.cache
def _known_regions() -> frozenset[str]:
    """The regions of ``PARTITIONS`` in the region table of the installed aws-cdk-lib."""
    # The table CDK itself synthesizes with, so no new dependency; imported
    # here so that a config of region = "any" alone (the local demo) never
    # starts the CDK's runtime.
    from aws_cdk.region_info import RegionInfo

    return frozenset(region.name for region in RegionInfo.regions if region.partition in PARTITIONS)


def _known_region(value: str) -> str:
    if value == ANY_REGION or value in _known_regions():
        return value
    guess = difflib.get_close_matches(value, sorted(_known_regions()), n=1)
    hint = f" (did you mean {guess[0]!r}?)" if guess else ""
    raise ValueError(
        f"region {value!r} is not a region of the {', '.join(PARTITIONS[:-1])} or {PARTITIONS[-1]} partition{hint};"
        " a region launched after the installed aws-cdk-lib needs a newer aws-cdk-lib"
    )


Region = Annotated[
    str,
    AfterValidator(_matching(r"any|[a-z]{2}(-gov|-iso[a-z]*)?-[a-z]+-\d", "region")),
    AfterValidator(_known_region),
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
#: IAM's role name alphabet and length (a name, not an ARN or a path).
IamRoleName = Annotated[str, AfterValidator(_matching(r"[\w+=,.@-]{1,64}", "IAM role name"))]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


def _first_case_clash(named: Iterable[tuple[str, str]]) -> tuple[tuple[str, str], tuple[str, str]] | None:
    """The first two ``(id, owner)`` whose ids are equal when case is ignored."""
    seen: dict[str, tuple[str, str]] = {}
    for id_, owner in named:
        key = id_.lower()
        if key in seen:
            return seen[key], (id_, owner)
        seen[key] = (id_, owner)
    return None


def _refuse_ids_differing_only_in_case(what: str, ids: Iterable[str], why: str) -> None:
    clash = _first_case_clash((id_, "") for id_ in ids)
    if clash:
        (a, _), (b, _) = clash
        raise ValueError(f"{what} {a!r} and {b!r} differ only in case; {why}: rename one")


def _device_clash(first: tuple[str, str], second: tuple[str, str], owner: str, why_once: str) -> str:
    """Two ``(device id, owner)`` of the same device id, or of ids that differ only in case."""
    (a, owner_a), (b, owner_b) = first, second
    if a == b:
        return f"device id {a!r} is listed in {owner}s {owner_a!r} and {owner_b!r}; {why_once}"
    # The id is the device's IoT thing name and S3 prefix: two that differ only
    # in case are one device to whoever provisions the Pi or reads the reports.
    return (
        f"device ids {a!r} ({owner} {owner_a!r}) and {b!r} ({owner} {owner_b!r}) differ only in case;"
        " a device id (its IoT thing name) must differ from the others in more than case: rename one"
    )


class PrivacyOverride(_Strict):
    """Some fields of a privacy profile, overriding the deployment's (for a store) or the store's (for a camera).

    A field left out keeps what the level above says.
    """

    emotions: bool | None = None
    age: bool | None = None
    gender: bool | None = None
    appearance: bool | None = None
    keep_images: bool | None = None


class PrivacyProfile(_Strict):
    """Which face attributes are collected, and whether images are kept once their records are delivered.

    ``emotions``, ``age``, ``gender``, ``appearance``: the attribute groups of
    shopper_sentiment/contracts/analyze_function.py ATTRIBUTE_GROUPS; one that is off is never
    requested from Rekognition and its columns stay null. ``keep_images =
    false`` deletes an image as soon as its records are delivered instead of
    archiving it (an image whose delivery fails stays in incoming/ for the retry).
    Turn ``emotions`` off for every camera that sees employees at work.
    """

    emotions: bool = True
    age: bool = True
    gender: bool = True
    appearance: bool = True
    keep_images: bool = True

    def overridden(self, override: PrivacyOverride | None) -> PrivacyProfile:
        if override is None:
            return self
        return self.model_copy(update=override.model_dump(exclude_none=True))

    @property
    def attributes(self) -> tuple[str, ...]:
        """The attribute groups collected, in ATTRIBUTE_GROUPS order."""
        return tuple(group for group in ATTRIBUTE_GROUPS if getattr(self, group))


class Camera(_Strict):
    """What one camera of a device watches, and how its privacy profile differs from its store's."""

    zone: Label
    privacy: PrivacyOverride | None = None


class Device(_Strict):
    """One edge device (IoT thing) and its cameras, each watching a zone of the store.

    A device with one camera may be written ``{ camera_id = "...", zone = "..." }``.
    """

    cameras: dict[Label, Camera] = Field(min_length=1)

    @model_validator(mode="before")
    @classmethod
    def _one_camera_short_form(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        short = {"camera_id", "zone"} & data.keys()
        if "privacy" in data and not short:
            raise ValueError("privacy belongs to a camera: give it in the camera's table, not the device's")
        if short and "cameras" in data:
            raise ValueError("give either a cameras table or camera_id and zone (the one-camera short form), not both")
        if not short:
            if "cameras" not in data:
                raise ValueError("no cameras: give a cameras table, or camera_id and zone for a single camera")
            return data
        if short != {"camera_id", "zone"}:
            (missing,) = {"camera_id", "zone"} - short
            raise ValueError(f"the one-camera short form needs both camera_id and zone (missing {missing!r})")
        camera_id = data["camera_id"]
        if not isinstance(camera_id, str):
            raise ValueError(f"camera_id must be a string (got {camera_id!r})")
        camera = {"zone": data["zone"], **({"privacy": data["privacy"]} if "privacy" in data else {})}
        rest = {key: value for key, value in data.items() if key not in (*short, "privacy")}
        return {**rest, "cameras": {camera_id: camera}}

    @field_validator("cameras")
    @classmethod
    def _camera_ids_differ_in_more_than_case(cls, cameras: dict[str, Camera]) -> dict[str, Camera]:
        _refuse_ids_differing_only_in_case(
            "camera ids", cameras, "they would be told apart by case alone in image keys and reports"
        )
        return cameras


def _known_time_zone(value: str) -> str:
    """An IANA zone name the standard library knows (``Europe/Berlin``), not an abbreviation or offset."""
    try:
        zoneinfo.ZoneInfo(value)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        guess = difflib.get_close_matches(value, sorted(_time_zones()), n=1)
        hint = f" (did you mean {guess[0]!r}?)" if guess else ""
        raise ValueError(
            f"time zone {value!r} is not an IANA time zone name such as 'Europe/Berlin' or 'America/Los_Angeles'" + hint
        ) from None
    return value


@functools.cache
def _time_zones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


TimeZoneName = Annotated[str, AfterValidator(_known_time_zone)]


#: The days ``opening_hours`` names, in ``datetime.weekday()`` order; ``daily`` stands for every day not named.
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_HOURS = re.compile(r"(?P<open>[01]\d|2[0-3]):(?P<open_min>[0-5]\d)-(?P<close>[01]\d|2[0-4]):(?P<close_min>[0-5]\d)")


def _opening_hours(value: dict[str, str]) -> dict[str, str]:
    """``{"daily" | "mon".."sun": "HH:MM-HH:MM" | "closed"}``, store-local, closing after opening on the same day."""
    for day, hours in value.items():
        if day != "daily" and day not in WEEKDAYS:
            raise ValueError(f"{day!r} is not 'daily' or one of {', '.join(WEEKDAYS)}")
        if hours == "closed":
            continue
        match = _HOURS.fullmatch(hours)
        if match is None:
            raise ValueError(f"{day}: {hours!r} is not 'HH:MM-HH:MM' (store-local, 24 h) or 'closed'")
        opens = int(match["open"]) * 60 + int(match["open_min"])
        closes = int(match["close"]) * 60 + int(match["close_min"])
        if closes <= opens or closes > 24 * 60:
            raise ValueError(
                f"{day}: {hours!r} closes before it opens; a store open past midnight gives the"
                " hours up to 24:00 (its night after midnight is not watched)"
            )
    return value


OpeningHours = Annotated[dict[str, str], AfterValidator(_opening_hours)]

#: Defaults of the alarm thresholds (docs/operations.md, one runbook entry per alarm).
#: A motion-triggered camera in an open store catches someone within the hour even on a
#: quiet day; two hours without a single still while the store is open is a device, its
#: network or its credentials, not an empty shop. Shorter pages on a quiet afternoon.
DEFAULT_SILENT_STORE_HOURS = 2
#: Quarantine comes from a config that lags the fleet (an unregistered device or camera)
#: or a broken camera; in a healthy hour it is ~0 %. 5 % of an hour's images is one
#: camera of twenty sending only what can never be analyzed.
DEFAULT_QUARANTINE_PERCENT = 5.0
#: Each environment paces DetectFaces to its share of the budget, so Rekognition seldom
#: refuses a call; throttling that eats a tenth of the budget for 15 minutes means the
#: account's quota is below the budget or shared with another workload.
DEFAULT_DETECT_FACES_THROTTLED_PERCENT = 10.0
#: A message is received within minutes unless the function is not draining the queue;
#: at a quarter of the queue's retention three quarters are left to fix and drain it
#: before SQS drops messages (their images stay in incoming/, unanalyzed).
DEFAULT_QUEUE_AGE_PERCENT = 25.0
#: Firehose flushes every 15 minutes and dynamic partitioning may take 1.5 times that;
#: records older than twice the interval are stuck (AWS advises alarming above the buffer).
DEFAULT_FIREHOSE_FRESHNESS_MINUTES = 30
#: Firehose's buffering interval (shopper_sentiment/tiers/process.py): a freshness threshold at or
#: under it always alarms.
FIREHOSE_BUFFERING_MINUTES = 15
_EMAIL = r"[^@\s]+@[^@\s]+\.[^@\s]+"
_SNS_TOPIC_ARN = r"arn:aws[a-z-]*:sns:[a-z0-9-]+:\d{12}:[A-Za-z0-9_-]{1,256}"


class Alarms(_Strict):
    """Who the deployment's alarms notify, and their thresholds (docs/operations.md).

    Every alarm notifies one SNS topic. With ``email`` the stack creates the
    topic and subscribes the address (AWS mails a confirmation link first);
    with ``topic_arn`` it notifies an existing topic (an on-call pager, a chat
    integration) whose subscriptions are managed where it was created; with
    neither it creates the topic without a subscription (subscribe to it
    later: the stack's ``AlarmTopicArn`` output). Both at once are
    refused: the address would be subscribed to a topic this stack does not own.
    """

    email: Annotated[str, AfterValidator(_matching(_EMAIL, "e-mail address"))] | None = None
    topic_arn: Annotated[str, AfterValidator(_matching(_SNS_TOPIC_ARN, "SNS topic ARN"))] | None = None
    silent_store_hours: int = Field(default=DEFAULT_SILENT_STORE_HOURS, ge=1, le=23)
    quarantine_percent: float = Field(default=DEFAULT_QUARANTINE_PERCENT, gt=0, le=100)
    detect_faces_throttled_percent: float = Field(default=DEFAULT_DETECT_FACES_THROTTLED_PERCENT, gt=0, le=100)
    queue_age_percent: float = Field(default=DEFAULT_QUEUE_AGE_PERCENT, gt=0, lt=100)
    firehose_freshness_minutes: int = Field(
        default=DEFAULT_FIREHOSE_FRESHNESS_MINUTES, gt=FIREHOSE_BUFFERING_MINUTES, le=24 * 60
    )

    @field_validator("topic_arn")
    @classmethod
    def _email_or_topic(cls, topic_arn: str | None, info: ValidationInfo) -> str | None:
        if topic_arn is not None and info.data.get("email"):
            raise ValueError(
                "give email (the stack creates a topic and subscribes it) or topic_arn (an existing topic, its"
                " subscriptions managed where it was made), not both: the stack would subscribe the address to"
                " a topic it does not own"
            )
        return topic_arn


class Store(_Strict):
    """One store: its IANA time zone (its days and hours in every figure) and its devices."""

    timezone: TimeZoneName
    # Store ids cannot differ only in case: their alphabet is lower-case.
    devices: dict[DeviceId, Device] = Field(min_length=1)
    #: Overrides of the deployment's privacy profile for every camera of this store.
    privacy: PrivacyOverride | None = None
    #: Store-local opening hours per day (``daily`` for the days not named), e.g.
    #: ``{ daily = "08:00-20:00", sun = "closed" }``: inside them a store that sends no
    #: still for ``alarms.silent_store_hours`` raises an alarm. Without them it is not watched.
    opening_hours: OpeningHours | None = None

    @field_validator("devices")
    @classmethod
    def _no_reserved_device(cls, devices: dict[str, Device]) -> dict[str, Device]:
        for device_id in devices:
            if device_id.lower() == identifiers.CHECK_DEVICE_ID.lower():
                raise ValueError(
                    f"device id {device_id!r} is reserved for the deployment check (shopper-sentiment check"
                    " uploads its sample still as this device, and its rows are left out of every dashboard):"
                    " give the real device another id"
                )
        return devices

    def hours_on(self, weekday: int) -> str | None:
        """The opening hours (``"HH:MM-HH:MM"``) on ``weekday`` (0 = Monday), or None when closed or not given."""
        if self.opening_hours is None:
            return None
        hours = self.opening_hours.get(WEEKDAYS[weekday], self.opening_hours.get("daily", "closed"))
        return None if hours == "closed" else hours


class Deployment(_Strict):
    """One pipeline: ``ShopperSentiment-<name>`` in one region (or any)."""

    name: DeploymentName
    region: Region
    account: Account | None = None
    stores: dict[StoreId, Store] = Field(min_length=1)
    #: Analyzed images in the archive bucket.
    retention_days: int = Field(default=DEFAULT_ARCHIVE_RETENTION_DAYS, ge=1, le=3650)
    rekognition_tps: int = Field(ge=1, le=1000)
    quicksight_principal_arn: QuickSightPrincipal | None = None
    #: The role QuickSight reads Athena and S3 with; the stack grants it what the
    #: dashboard needs. Set it when the subscription uses a custom role.
    quicksight_service_role: IamRoleName | None = None
    #: SPICE (daily refresh, no Athena cost per view) or DIRECT_QUERY.
    quicksight_import_mode: Literal["SPICE", "DIRECT_QUERY"] = "SPICE"
    #: Faces under these floors are dropped by the analyzer (and counted).
    min_detection_confidence: float = Field(default=DEFAULT_MIN_DETECTION_CONFIDENCE, ge=0, le=100)
    min_sharpness: float = Field(default=DEFAULT_MIN_SHARPNESS, ge=0, le=100)
    #: The days of ``dt`` partitions the QuickSight dataset reads (each refresh or direct query).
    dashboard_lookback_days: int = Field(default=90, ge=1, le=3650)
    #: Athena stops a query that would scan more than this.
    athena_bytes_scanned_cutoff_mb: int = Field(default=10_240, ge=10)
    #: What is collected per camera unless a store or camera overrides it (docs/privacy.md).
    privacy: PrivacyProfile = PrivacyProfile()
    #: Lifetimes (docs/privacy.md). ``retention_days`` above is the archive's (analyzed images).
    #: Images still in incoming/ (never analyzed): they must outlive every message naming
    #: them (the queue's 14 days), or a redriven message would find its image gone.
    incoming_retention_days: int = Field(default=DEFAULT_INCOMING_RETENTION_DAYS, ge=QUEUE_RETENTION_DAYS + 1, le=3650)
    #: Images that can never be analyzed, kept under quarantine/ for an operator to inspect.
    quarantine_retention_days: int = Field(default=DEFAULT_QUARANTINE_RETENTION_DAYS, ge=1, le=3650)
    #: Face and image rows (Parquet under faces/ and images/ of the curated bucket).
    curated_retention_days: int = Field(default=DEFAULT_CURATED_RETENTION_DAYS, ge=1, le=3650)
    #: Records Firehose could not convert (under errors/ of the curated bucket): they hold face attributes too.
    error_retention_days: int = Field(default=DEFAULT_ERROR_RETENTION_DAYS, ge=1, le=3650)
    #: Athena query results (they may hold rows of the faces table).
    query_results_retention_days: int = Field(default=DEFAULT_QUERY_RESULTS_RETENTION_DAYS, ge=1, le=3650)
    #: Who the alarms notify and their thresholds (docs/operations.md).
    alarms: Alarms = Alarms()

    @field_validator("curated_retention_days")
    @classmethod
    def _rows_outlive_the_dashboard_window(cls, days: int, info: ValidationInfo) -> int:
        lookback = info.data.get("dashboard_lookback_days")
        if isinstance(lookback, int) and days < lookback:
            raise ValueError(
                f"curated_retention_days ({days}) is shorter than dashboard_lookback_days ({lookback}): the"
                " dashboard would read days whose rows are gone; raise it or shorten the lookback"
            )
        return days

    @field_validator("account")
    @classmethod
    def _account_needs_a_region(cls, account: str | None, info: ValidationInfo) -> str | None:
        if account is not None and info.data.get("region") == ANY_REGION:
            raise ValueError(
                f'account {account!r} is given with region = "any", which deploys wherever the credentials'
                " point and ignores the account; name the region, or drop the account"
            )
        return account

    @field_validator("quicksight_service_role")
    @classmethod
    def _service_role_needs_a_principal(cls, role: str | None, info: ValidationInfo) -> str | None:
        if role is not None and not info.data.get("quicksight_principal_arn"):
            raise ValueError(
                f"quicksight_service_role {role!r} is given without quicksight_principal_arn: with no dashboard"
                " there is nothing to grant it; add the principal, or drop the role"
            )
        return role

    @property
    def quicksight_service_role_name(self) -> str:
        return self.quicksight_service_role or identifiers.QUICKSIGHT_SERVICE_ROLE_NAME

    @field_validator("stores")
    @classmethod
    def _devices_fit_in_one_stack(cls, stores: dict[str, Store]) -> dict[str, Store]:
        count = sum(len(store.devices) for store in stores.values())
        if count > MAX_DEVICES_PER_DEPLOYMENT:
            raise ValueError(
                f"{count} devices are more than one stack can hold (at most {MAX_DEVICES_PER_DEPLOYMENT}: each"
                f" device is an IoT thing in the stack, and CloudFormation allows"
                f" {CLOUDFORMATION_RESOURCES_PER_STACK} resources per stack); split the deployment: move some"
                " stores to another [deployments.<name>]"
            )
        return stores

    @model_validator(mode="after")
    def _device_ids_unique_across_stores(self) -> Deployment:
        clash = _first_case_clash(
            (device_id, store_id) for store_id, store in self.stores.items() for device_id in store.devices
        )
        if clash:
            raise ValueError(_device_clash(*clash, "store", "a device belongs to exactly one store"))
        return self

    @property
    def stack_name(self) -> str:
        return identifiers.stack_name(self.name)

    @property
    def is_environment_agnostic(self) -> bool:
        return self.region == ANY_REGION

    def camera_privacy(self, store_id: str, device_id: str, camera_id: str) -> PrivacyProfile:
        """The deployment's profile with the store's overrides, then the camera's."""
        store = self.stores[store_id]
        camera = store.devices[device_id].cameras[camera_id]
        return self.privacy.overridden(store.privacy).overridden(camera.privacy)

    def attributes_not_collected(self) -> tuple[str, ...]:
        """The attribute groups no camera of the deployment collects (the dashboards say so)."""
        collected = {
            group
            for store_id, store in self.stores.items()
            for device_id, device in store.devices.items()
            for camera_id in device.cameras
            for group in self.camera_privacy(store_id, device_id, camera_id).attributes
        }
        return tuple(group for group in ATTRIBUTE_GROUPS if group not in collected)

    def device_registry(self) -> dict[str, dict[str, Any]]:
        """What the analyzer needs per image, keyed by device id (sorted by store, device, camera)::

        {"<device_id>": {"store_id": "<store>", "timezone": "<IANA zone>",
                         "cameras": {"<camera_id>": {"zone": "<zone>", "attributes": [...], "keep_images": true}}}}
        """
        registry: dict[str, dict[str, Any]] = {}
        for store_id, store in sorted(self.stores.items()):
            for device_id, device in sorted(store.devices.items()):
                cameras = {}
                for camera_id, camera in sorted(device.cameras.items()):
                    profile = self.camera_privacy(store_id, device_id, camera_id)
                    cameras[camera_id] = {
                        "zone": camera.zone,
                        "attributes": list(profile.attributes),
                        "keep_images": profile.keep_images,
                    }
                registry[device_id] = {"store_id": store_id, "timezone": store.timezone, "cameras": cameras}
        return registry


class PipelineConfig(_Strict):
    """Every deployment of a config file (``load_config``); names differ in more than case."""

    deployments: tuple[Deployment, ...]

    @model_validator(mode="after")
    def _deployment_names_differ_in_more_than_case(self) -> PipelineConfig:
        _refuse_ids_differing_only_in_case(
            "deployment names",
            (d.name for d in self.deployments),
            "the Glue database and dashboard ids made from a name are lower-case, so the two would collide",
        )
        return self

    @model_validator(mode="after")
    def _device_ids_unique_across_deployments(self) -> PipelineConfig:
        clash = _first_case_clash(
            (device_id, d.name) for d in self.deployments for store in d.stores.values() for device_id in store.devices
        )
        if clash:
            # IoT thing names are unique per account and region: a device id
            # reused by two deployments would make them fight over one thing.
            raise ValueError(_device_clash(*clash, "deployment", "two deployments would fight over one IoT thing"))
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
