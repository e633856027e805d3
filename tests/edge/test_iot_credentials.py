"""The IoT credentials provider client, against a local HTTPS server that
requires a client certificate (real TLS handshake, certificates made here)."""

from __future__ import annotations

import datetime as dt
import json
import ssl
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from shopper_edge.config import load_config
from shopper_edge.credentials import IotCredentialsError, IotCredentialsFetcher, iot_session, session_from_config
from shopper_edge.state import read_snapshot
from shopper_edge.upload import s3_client

from .conftest import (
    CAMERA_ID,
    DEVICE_ID,
    AgentThread,
    Bucket,
    S3Endpoint,
    capture_name,
    free_port,
    noisy_jpeg,
    wait_until,
)

ROLE_ALIAS = "ShopperSentiment-demo-edge"


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _issue(
    subject: str, issuer_key: Any, issuer: x509.Name | None, *, ca: bool = False, san_ip: str | None = None
) -> tuple[Any, x509.Certificate]:
    import ipaddress

    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(subject))
        .issuer_name(issuer or _name(subject))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if san_ip:
        builder = builder.add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(san_ip))]), False
        )
    cert = builder.sign(issuer_key or key, hashes.SHA256())
    return key, cert


def _write_pair(directory: Path, stem: str, key: Any, cert: x509.Certificate) -> tuple[Path, Path]:
    cert_path, key_path = directory / f"{stem}.pem", directory / f"{stem}.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return cert_path, key_path


@dataclass
class FakeCredentialsProvider:
    """What the IoT credentials endpoint does: mTLS, thing-name header, role alias path."""

    port: int
    ca: Path
    device_cert: Path
    device_key: Path
    stranger_cert: Path
    stranger_key: Path
    lifetime: dt.timedelta = dt.timedelta(hours=1)
    issued: list[str] = field(default_factory=list)
    seen_thing_names: list[str] = field(default_factory=list)
    server: ThreadingHTTPServer | None = None

    @property
    def endpoint(self) -> str:
        return f"127.0.0.1:{self.port}"

    def fetcher(
        self, *, cert: Path | None = None, key: Path | None = None, alias: str = ROLE_ALIAS
    ) -> IotCredentialsFetcher:
        return IotCredentialsFetcher(
            endpoint=self.endpoint,
            role_alias=alias,
            thing_name=DEVICE_ID,
            certificate=cert or self.device_cert,
            private_key=key or self.device_key,
            ca=self.ca,
            timeout=5,
        )

    def start(self, server_cert: Path, server_key: Path) -> None:
        provider = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                thing = self.headers.get("x-amzn-iot-thingname", "")
                provider.seen_thing_names.append(thing)
                if self.path != f"/role-aliases/{ROLE_ALIAS}/credentials":
                    self._reply(404, {"message": "Role alias does not exist"})
                    return
                if thing != DEVICE_ID:
                    self._reply(403, {"message": "Access Denied"})
                    return
                number = len(provider.issued) + 1
                access_key = f"ASIAEDGETEST{number:08d}"
                provider.issued.append(access_key)
                expiration = dt.datetime.now(dt.UTC) + provider.lifetime
                self._reply(
                    200,
                    {
                        "credentials": {
                            "accessKeyId": access_key,
                            "secretAccessKey": f"secret-{number}",
                            "sessionToken": f"token-{number}",
                            "expiration": expiration.strftime("%Y-%m-%dT%H:%M:%SZ"),
                        }
                    },
                )

            def _reply(self, status: int, body: dict[str, Any]) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(server_cert, server_key)
        context.load_verify_locations(self.ca)
        context.verify_mode = ssl.CERT_REQUIRED  # no client certificate, no handshake
        server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        server.socket = context.wrap_socket(server.socket, server_side=True)
        self.server = server
        threading.Thread(target=server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.server = None


@pytest.fixture
def pki(tmp_path: Path) -> dict[str, Path]:
    ca_key, ca_cert = _issue("edge-test-ca", None, None, ca=True)
    other_ca_key, other_ca_cert = _issue("someone-else-ca", None, None, ca=True)
    paths: dict[str, Path] = {}
    paths["ca"], _ = _write_pair(tmp_path, "ca", ca_key, ca_cert)
    server_key, server_cert = _issue("127.0.0.1", ca_key, ca_cert.subject, san_ip="127.0.0.1")
    paths["server_cert"], paths["server_key"] = _write_pair(tmp_path, "server", server_key, server_cert)
    device_key, device_cert = _issue(DEVICE_ID, ca_key, ca_cert.subject)
    paths["device_cert"], paths["device_key"] = _write_pair(tmp_path, "device", device_key, device_cert)
    stranger_key, stranger_cert = _issue("stranger", other_ca_key, other_ca_cert.subject)
    paths["stranger_cert"], paths["stranger_key"] = _write_pair(tmp_path, "stranger", stranger_key, stranger_cert)
    return paths


@pytest.fixture
def provider(pki: dict[str, Path]) -> Iterator[FakeCredentialsProvider]:
    fake = FakeCredentialsProvider(
        port=free_port(),
        ca=pki["ca"],
        device_cert=pki["device_cert"],
        device_key=pki["device_key"],
        stranger_cert=pki["stranger_cert"],
        stranger_key=pki["stranger_key"],
    )
    fake.start(pki["server_cert"], pki["server_key"])
    yield fake
    fake.stop()


def test_device_certificate_is_exchanged_for_temporary_credentials(provider: FakeCredentialsProvider) -> None:
    metadata = provider.fetcher().fetch()
    assert metadata["access_key"] == "ASIAEDGETEST00000001"
    assert metadata["token"] == "token-1"
    assert metadata["expiry_time"].endswith("Z")
    assert provider.seen_thing_names == [DEVICE_ID]


def test_a_certificate_the_provider_does_not_trust_gets_no_credentials(provider: FakeCredentialsProvider) -> None:
    fetcher = provider.fetcher(cert=provider.stranger_cert, key=provider.stranger_key)
    with pytest.raises(IotCredentialsError, match="request failed"):
        fetcher.fetch()
    assert provider.issued == []


def test_an_unknown_role_alias_is_reported_with_status_and_alias(provider: FakeCredentialsProvider) -> None:
    with pytest.raises(IotCredentialsError, match=r"HTTP 404 for role alias 'ShopperSentiment-typo-edge'"):
        provider.fetcher(alias="ShopperSentiment-typo-edge").fetch()


def test_credentials_are_refreshed_before_they_expire(provider: FakeCredentialsProvider) -> None:
    # Five minutes left is inside botocore's 10-minute mandatory refresh window.
    provider.lifetime = dt.timedelta(minutes=5)
    credentials = iot_session(provider.fetcher(), "us-east-1").get_credentials()
    assert provider.issued == []  # deferred: nothing fetched until first use
    first = credentials.get_frozen_credentials()
    provider.lifetime = dt.timedelta(hours=1)
    second = credentials.get_frozen_credentials()
    third = credentials.get_frozen_credentials()
    assert (first.access_key, second.access_key) == ("ASIAEDGETEST00000001", "ASIAEDGETEST00000002")
    assert third.access_key == second.access_key  # fresh for an hour: no more calls
    assert len(provider.issued) == 2


def test_agent_in_iot_mode_signs_uploads_with_provider_credentials_and_survives_provider_outage(
    tmp_path: Path, provider: FakeCredentialsProvider, s3_endpoint: S3Endpoint, bucket: Bucket
) -> None:
    spool, state = tmp_path / "spool", tmp_path / "state"
    config_path = tmp_path / "agent.toml"
    config_path.write_text(
        f"""
[device]
id = "{DEVICE_ID}"
camera_id = "{CAMERA_ID}"
[watch]
directory = "{spool}"
settle_seconds = 0.5
rescan_seconds = 0.5
filename_timezone = "UTC"
[s3]
bucket = "{bucket.name}"
region = "us-east-1"
endpoint_url = "{s3_endpoint.url}"
[credentials]
mode = "iot"
endpoint = "{provider.endpoint}"
role_alias = "{ROLE_ALIAS}"
certificate = "{provider.device_cert}"
private_key = "{provider.device_key}"
ca = "{provider.ca}"
[upload]
retry_base_seconds = 0.2
retry_max_seconds = 0.5
[spool]
state_dir = "{state}"
[thinning]
enabled = false
"""
    )
    config = load_config(config_path)
    provider.stop()  # the agent must start and queue while it cannot get credentials
    client = s3_client(session_from_config(config), config)
    authorizations: list[tuple[str, str]] = []
    client.meta.events.register(
        "before-send.s3.PutObject",
        lambda request, **_: authorizations.append(
            (request.headers["Authorization"].decode(), request.headers["X-Amz-Security-Token"].decode())
        ),
    )
    with AgentThread(config, client):
        path = spool / capture_name(1)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(noisy_jpeg(1))
        wait_until(lambda: read_snapshot(state).counters["failed"] >= 1, 10)
        assert path.exists()
        assert "IotCredentialsError" in read_snapshot(state).events["last_error"][1]
        provider.start(provider.device_cert.parent / "server.pem", provider.device_cert.parent / "server.key")
        wait_until(lambda: not path.exists(), 15)
    (key,) = bucket.keys()
    assert key.startswith(f"incoming/{DEVICE_ID}/{CAMERA_ID}/")
    # Signed with the provider's temporary credentials, never the env's dummy keys.
    assert authorizations and "Credential=ASIAEDGETEST00000001/" in authorizations[-1][0]
    assert authorizations[-1][1] == "token-1"
