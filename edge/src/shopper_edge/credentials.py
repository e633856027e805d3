"""AWS credentials for the agent.

`iot` mode: the device's X.509 certificate is exchanged for temporary
credentials of the role behind the IngestTier role alias, via the AWS IoT
credentials provider (mutual TLS). No long-lived key ever sits on the Pi.
`default` mode: boto3's standard chain (env vars, profile, instance role...).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import botocore.session
from botocore.credentials import CredentialProvider, CredentialResolver, DeferredRefreshableCredentials

from .config import AgentConfig

CREDENTIAL_METHOD = "iot-credentials-provider"


class IotCredentialsError(RuntimeError):
    """The credentials provider refused or could not be reached."""


@dataclass(frozen=True)
class IotCredentialsFetcher:
    """GET https://<endpoint>/role-aliases/<alias>/credentials with the device cert.

    The thing-name header lets the IoT policy condition
    (iot:Connection.Thing.IsAttached) and the IAM policy variable
    ${credentials-iot:ThingName} scope the device to its own key prefix.
    """

    endpoint: str
    role_alias: str
    thing_name: str
    certificate: Path
    private_key: Path
    ca: Path
    timeout: float = 10.0
    #: Called with the provider's HTTP Date (and a name for it): the agent's trusted time.
    on_date: Callable[[str | None, str], None] | None = field(default=None, compare=False)

    @property
    def url(self) -> str:
        return f"https://{self.endpoint}/role-aliases/{self.role_alias}/credentials"

    def fetch(self) -> dict[str, str]:
        """Return botocore credential metadata; raises IotCredentialsError."""
        # Imported here: requests (with its TLS and charset modules) costs the
        # agent ~4 MiB of a Pi's memory, and only iot mode ever needs it.
        import requests

        try:
            response = requests.get(
                self.url,
                headers={"x-amzn-iot-thingname": self.thing_name},
                cert=(str(self.certificate), str(self.private_key)),
                verify=str(self.ca),
                timeout=self.timeout,
            )
        except (requests.RequestException, OSError) as exc:
            raise IotCredentialsError(
                f"credentials provider {self.endpoint} request failed (network or TLS): {exc}"
            ) from exc
        if self.on_date is not None:
            self.on_date(response.headers.get("Date"), "IoT credentials provider")
        if response.status_code != 200:
            raise IotCredentialsError(
                f"credentials provider {self.endpoint} returned HTTP {response.status_code} "
                f"for role alias {self.role_alias!r} and thing {self.thing_name!r}: {response.text[:300]}"
            )
        try:
            creds: dict[str, Any] = response.json()["credentials"]
            return {
                "access_key": creds["accessKeyId"],
                "secret_key": creds["secretAccessKey"],
                "token": creds["sessionToken"],
                "expiry_time": creds["expiration"],
            }
        except (ValueError, KeyError, TypeError) as exc:
            raise IotCredentialsError(f"credentials provider {self.endpoint} sent an unexpected body") from exc


class IotCredentialProvider(CredentialProvider):
    METHOD = CREDENTIAL_METHOD
    CANONICAL_NAME = "iot-credentials-provider"

    def __init__(self, fetcher: IotCredentialsFetcher) -> None:
        super().__init__()
        self._fetcher = fetcher

    def load(self) -> DeferredRefreshableCredentials:
        # Deferred: nothing is fetched until the first request is signed, so
        # the agent starts (and queues captures) while the network is down.
        # RefreshableCredentials then refreshes 15 min (advisory) / 10 min
        # (mandatory) before `expiration`.
        return DeferredRefreshableCredentials(refresh_using=self._fetcher.fetch, method=self.METHOD)


def iot_session(fetcher: IotCredentialsFetcher, region: str) -> boto3.Session:
    """A boto3 session whose only credential source is the IoT provider.

    Replacing the whole resolver (not inserting before "env") means a stray
    AWS_ACCESS_KEY_ID in the service environment can never be used instead.
    """
    core = botocore.session.get_session()
    core.register_component("credential_provider", CredentialResolver([IotCredentialProvider(fetcher)]))
    return boto3.Session(botocore_session=core, region_name=region)


def fetcher_from_config(
    config: AgentConfig, on_date: Callable[[str | None, str], None] | None = None
) -> IotCredentialsFetcher:
    c = config.credentials
    assert c.endpoint and c.role_alias and c.certificate and c.private_key and c.ca  # enforced by parse_config
    return IotCredentialsFetcher(
        endpoint=c.endpoint,
        role_alias=c.role_alias,
        thing_name=config.device_id,
        certificate=c.certificate,
        private_key=c.private_key,
        ca=c.ca,
        on_date=on_date,
    )


def session_from_config(config: AgentConfig, on_date: Callable[[str | None, str], None] | None = None) -> boto3.Session:
    """The agent's session; ``on_date`` hears the credentials provider's time (iot mode)."""
    if config.credentials.mode == "iot":
        return iot_session(fetcher_from_config(config, on_date), config.s3.region)
    return boto3.Session(region_name=config.s3.region)
