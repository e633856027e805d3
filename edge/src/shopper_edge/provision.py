"""`shopper-edge provision`: give one device its identity.

Run by an operator (with AWS admin credentials, on a laptop) after IngestTier
is deployed: it creates the device certificate, attaches it to the thing and
to the deployment's IoT policy, and writes the bundle that goes to
/etc/shopper-edge on the Pi. The private key is written once, 0600, and is
never sent anywhere.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .config import DEVICE_ID_PATTERN, WATCH_ROOT, ConfigError, check_cameras, load_config
from .decommission import retire_quietly
from .deployment import EdgeTarget
from .deployment import edge_resource_name as edge_resource_name  # tests/contracts ties the copy here

CERT_FILE = "device.cert.pem"
KEY_FILE = "device.private.key"
CA_FILE = "AmazonRootCA1.pem"
CONFIG_FILE = "agent.toml"
AMAZON_ROOT_CA_URL = "https://www.amazontrust.com/repository/AmazonRootCA1.pem"


_BARE_TOML_KEY = re.compile(r"[A-Za-z0-9_-]+")


class ProvisionError(RuntimeError):
    pass


def cameras_from_options(options: Sequence[str]) -> dict[str, str]:
    """``--camera ID`` (one camera, captures directly in the watch directory) or ``--camera FOLDER=ID`` per camera.

    Raises ValueError with a message that names the option.
    """
    if not options:
        raise ValueError("--camera is required: --camera ID, or --camera FOLDER=ID once per camera")
    if len(options) == 1 and "=" not in options[0]:
        cameras = {WATCH_ROOT: options[0]}
    else:
        cameras = {}
        for option in options:
            folder, separator, camera_id = option.partition("=")
            if not separator or not folder:
                raise ValueError(f"--camera {option}: a device with several cameras needs FOLDER=ID for each")
            if folder in cameras:
                raise ValueError(f"--camera {option}: folder {folder!r} is given twice")
            cameras[folder] = camera_id
    try:
        return check_cameras(cameras)
    except ConfigError as exc:
        raise ValueError(f"--camera: {exc.reason}") from exc


@dataclass(frozen=True)
class ProvisionResult:
    certificate_arn: str
    certificate_id: str
    credentials_endpoint: str
    bundle_dir: Path


def _write_private(path: Path, text: str) -> None:
    # O_EXCL: never overwrite an existing device key; 0600 from the first byte
    # (chmod after write would leave a window where the key is world-readable).
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as fh:
        fh.write(text)


def _camera_toml(cameras: Mapping[str, str]) -> tuple[str, str]:
    """(lines for [device], a [cameras] table) in the form agent.example.toml documents."""
    if WATCH_ROOT in cameras:
        return f'camera_id = "{cameras[WATCH_ROOT]}"\n', ""
    rows = "".join(
        f'{folder if _BARE_TOML_KEY.fullmatch(folder) else json.dumps(folder)} = "{camera_id}"\n'
        for folder, camera_id in cameras.items()
    )
    return (
        "",
        f"""
[cameras]
# motion's sub-folder of watch.directory = the camera id its stills are uploaded under.
{rows}""",
    )


def agent_toml(
    *,
    thing_name: str,
    cameras: Mapping[str, str],
    bucket: str,
    region: str,
    endpoint: str,
    role_alias: str,
    watch_dir: str,
    state_dir: str,
) -> str:
    device_lines, camera_table = _camera_toml(cameras)
    return f"""# Written by `shopper-edge provision` for thing {thing_name}.
# Relative paths are relative to this file. See agent.example.toml for every option.

[device]
id = "{thing_name}"
{device_lines}{camera_table}
[watch]
directory = "{watch_dir}"

[s3]
bucket = "{bucket}"
region = "{region}"

[credentials]
mode = "iot"
endpoint = "{endpoint}"
role_alias = "{role_alias}"
certificate = "{CERT_FILE}"
private_key = "{KEY_FILE}"
# Not part of the bundle: install.sh downloads it from {AMAZON_ROOT_CA_URL}
ca = "{CA_FILE}"

[spool]
state_dir = "{state_dir}"
"""


def provision_device(
    iot: Any,
    *,
    thing_name: str,
    target: EdgeTarget,
    cameras: Mapping[str, str],
    region: str,
    out_dir: Path,
    watch_dir: str = "/var/lib/shopper-edge/spool",
    state_dir: str = "/var/lib/shopper-edge/state",
) -> ProvisionResult:
    """Create the device certificate, attach it to the thing and the IoT policy, write the bundle.

    ``cameras`` maps a sub-folder of the watch directory to a camera id, or
    config.WATCH_ROOT to the only camera (cameras_from_options builds it).
    """
    if not DEVICE_ID_PATTERN.fullmatch(thing_name):
        raise ProvisionError(f"thing name {thing_name!r} must match {DEVICE_ID_PATTERN.pattern}")
    try:
        cameras = check_cameras(cameras)
    except ConfigError as exc:
        raise ProvisionError(f"cameras: {exc.reason}") from exc
    policy = target.policy
    out_dir.mkdir(parents=True, exist_ok=True)
    if (out_dir / KEY_FILE).exists():
        raise ProvisionError(f"{out_dir / KEY_FILE} already exists; refusing to replace a device key")

    # Check what IngestTier should have created before minting a certificate,
    # so a typo does not leave an orphan certificate behind.
    try:
        iot.describe_thing(thingName=thing_name)
    except iot.exceptions.ResourceNotFoundException as exc:
        raise ProvisionError(
            f"IoT thing {thing_name!r} not found in {region}: add the device to the deployment and deploy IngestTier"
        ) from exc
    try:
        iot.get_policy(policyName=policy)
    except iot.exceptions.ResourceNotFoundException as exc:
        raise ProvisionError(
            f"IoT policy {policy!r} not found: is stack {target.stack!r} deployed in {region}?"
        ) from exc
    endpoint = iot.describe_endpoint(endpointType="iot:CredentialProvider")["endpointAddress"]

    created = iot.create_keys_and_certificate(setAsActive=True)
    cert_arn, cert_id = created["certificateArn"], created["certificateId"]
    try:
        iot.attach_thing_principal(thingName=thing_name, principal=cert_arn)
        iot.attach_policy(policyName=policy, target=cert_arn)
        (out_dir / CERT_FILE).write_text(created["certificatePem"], encoding="ascii")
        _write_private(out_dir / KEY_FILE, created["keyPair"]["PrivateKey"])
        config_path = out_dir / CONFIG_FILE
        config_path.write_text(
            agent_toml(
                thing_name=thing_name,
                cameras=cameras,
                bucket=target.bucket,
                region=region,
                endpoint=endpoint,
                role_alias=target.role_alias,
                watch_dir=watch_dir,
                state_dir=state_dir,
            ),
            encoding="utf-8",
        )
        load_config(config_path)  # the bundle must be one the agent accepts
    except Exception:
        retire_quietly(iot, thing_name=thing_name, policies=[policy], cert_arn=cert_arn)
        for leftover in (CERT_FILE, KEY_FILE, CONFIG_FILE):
            (out_dir / leftover).unlink(missing_ok=True)
        raise
    return ProvisionResult(
        certificate_arn=cert_arn, certificate_id=cert_id, credentials_endpoint=endpoint, bundle_dir=out_dir
    )
