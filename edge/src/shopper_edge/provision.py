"""`shopper-edge provision`: give one device its identity.

Run by an operator (with AWS admin credentials, on a laptop) after IngestTier
is deployed: it creates the device certificate, attaches it to the thing and
to the deployment's IoT policy, and writes the bundle that goes to
/etc/shopper-edge on the Pi. The private key is written once, 0600, and is
never sent anywhere.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .config import DEVICE_ID_PATTERN, load_config

CERT_FILE = "device.cert.pem"
KEY_FILE = "device.private.key"
CA_FILE = "AmazonRootCA1.pem"
CONFIG_FILE = "agent.toml"
AMAZON_ROOT_CA_URL = "https://www.amazontrust.com/repository/AmazonRootCA1.pem"


class ProvisionError(RuntimeError):
    pass


def edge_resource_name(deployment: str) -> str:
    """Role alias and IoT policy name IngestTier creates for a deployment.

    A copy of contracts/identifiers.py's naming (tests/contracts ties the two).
    """
    return f"ShopperSentiment-{deployment}-edge"


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


def agent_toml(
    *,
    thing_name: str,
    bucket: str,
    region: str,
    endpoint: str,
    role_alias: str,
    watch_dir: str,
    state_dir: str,
) -> str:
    return f"""# Written by `shopper-edge provision` for thing {thing_name}.
# Relative paths are relative to this file. See agent.example.toml for every option.

[device]
id = "{thing_name}"

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
    deployment: str,
    bucket: str,
    region: str,
    out_dir: Path,
    watch_dir: str = "/var/lib/shopper-edge/spool",
    state_dir: str = "/var/lib/shopper-edge/state",
) -> ProvisionResult:
    if not DEVICE_ID_PATTERN.fullmatch(thing_name):
        raise ProvisionError(f"thing name {thing_name!r} must match {DEVICE_ID_PATTERN.pattern}")
    name = edge_resource_name(deployment)
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
        iot.get_policy(policyName=name)
    except iot.exceptions.ResourceNotFoundException as exc:
        raise ProvisionError(
            f"IoT policy {name!r} not found: is deployment {deployment!r} deployed in {region}?"
        ) from exc
    endpoint = iot.describe_endpoint(endpointType="iot:CredentialProvider")["endpointAddress"]

    created = iot.create_keys_and_certificate(setAsActive=True)
    cert_arn, cert_id = created["certificateArn"], created["certificateId"]
    try:
        iot.attach_thing_principal(thingName=thing_name, principal=cert_arn)
        iot.attach_policy(policyName=name, target=cert_arn)
        (out_dir / CERT_FILE).write_text(created["certificatePem"], encoding="ascii")
        _write_private(out_dir / KEY_FILE, created["keyPair"]["PrivateKey"])
        config_path = out_dir / CONFIG_FILE
        config_path.write_text(
            agent_toml(
                thing_name=thing_name,
                bucket=bucket,
                region=region,
                endpoint=endpoint,
                role_alias=name,
                watch_dir=watch_dir,
                state_dir=state_dir,
            ),
            encoding="utf-8",
        )
        load_config(config_path)  # the bundle must be one the agent accepts
    except Exception:
        _revoke(iot, thing_name=thing_name, policy=name, cert_arn=cert_arn, cert_id=cert_id)
        for leftover in (CERT_FILE, KEY_FILE, CONFIG_FILE):
            (out_dir / leftover).unlink(missing_ok=True)
        raise
    return ProvisionResult(
        certificate_arn=cert_arn, certificate_id=cert_id, credentials_endpoint=endpoint, bundle_dir=out_dir
    )


def _revoke(iot: Any, *, thing_name: str, policy: str, cert_arn: str, cert_id: str) -> None:
    """Best-effort undo of a half-provisioned certificate (each step may not have happened)."""
    for call in (
        lambda: iot.detach_policy(policyName=policy, target=cert_arn),
        lambda: iot.detach_thing_principal(thingName=thing_name, principal=cert_arn),
        lambda: iot.update_certificate(certificateId=cert_id, newStatus="INACTIVE"),
        lambda: iot.delete_certificate(certificateId=cert_id),
    ):
        try:
            call()
        except Exception:  # noqa: S112 - cleanup continues past steps that never happened
            continue
