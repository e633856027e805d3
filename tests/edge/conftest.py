"""Fixtures for the edge agent tests: a real S3 endpoint over HTTP on
127.0.0.1 (moto's server with S3's digest checks, local/moto_server.py), agent configs with short
timers, and noisy JPEGs."""

from __future__ import annotations

import contextlib
import errno
import hashlib
import io
import itertools
import json
import os
import random
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config
from moto import mock_aws
from PIL import Image
from shopper_edge.agent import CaptureAgent
from shopper_edge.clock import CaptureClock
from shopper_edge.config import AgentConfig, load_config
from shopper_edge.deployment import edge_resource_name
from shopper_edge.upload import s3_client

from local.moto_server import MotoServer, free_port

DEVICE_ID = "store-1-cam-a"
#: The camera of the single-camera configs write_config makes (captures directly in the spool).
CAMERA_ID = "entrance"


def wait_until(predicate: Callable[[], Any], timeout: float, interval: float = 0.05, message: str = "") -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {message or predicate}")
        time.sleep(interval)


#: The S3 endpoint the agent talks to: moto's server with S3's digest checks
#: (local/moto_server.py); its ``rejections()`` lists refused bodies.
S3Endpoint = MotoServer


class TcpRelay:
    """127.0.0.1 relay in front of the S3 endpoint; `down()` closes the
    listener and every open connection - to the agent, a network outage."""

    def __init__(self, target_port: int, *, throttle_seconds_per_chunk: float = 0.0) -> None:
        self.target_port = target_port
        # Slows client->server bytes so an upload is reliably "in flight".
        self.throttle = throttle_seconds_per_chunk
        self.bytes_up = 0  # client -> server bytes forwarded so far
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._listener: socket.socket | None = None
        self._conns: list[socket.socket] = []
        self._lock = threading.Lock()

    def up(self) -> None:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(64)
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def down(self) -> None:
        if self._listener is not None:
            with contextlib.suppress(OSError):
                self._listener.shutdown(socket.SHUT_RDWR)
            self._listener.close()
            self._listener = None
        with self._lock:
            for conn in self._conns:
                with contextlib.suppress(OSError):
                    conn.shutdown(socket.SHUT_RDWR)
                conn.close()
            self._conns.clear()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(("127.0.0.1", self.target_port))
            except OSError:
                client.close()
                continue
            with self._lock:
                self._conns += [client, upstream]
            threading.Thread(target=self._pipe, args=(client, upstream, True), daemon=True).start()
            threading.Thread(target=self._pipe, args=(upstream, client, False), daemon=True).start()

    def _pipe(self, src: socket.socket, dst: socket.socket, upstream: bool) -> None:
        try:
            while data := src.recv(16384):
                if upstream:
                    self.bytes_up += len(data)
                    if self.throttle:
                        time.sleep(self.throttle)
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (src, dst):
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[S3Endpoint]:
    with S3Endpoint() as endpoint:
        yield endpoint


_bucket_numbers = itertools.count()


def bucket_client(endpoint_url: str) -> Any:
    return boto3.client(
        "s3",
        endpoint_url=endpoint_url,
        region_name="us-east-1",
        config=Config(s3={"addressing_style": "path"}),
    )


@dataclass
class Bucket:
    name: str
    client: Any

    def objects(self) -> dict[str, bytes]:
        """Every object in the bucket with its bytes (tests may GET/LIST freely)."""
        found: dict[str, bytes] = {}
        for page in self.client.get_paginator("list_objects_v2").paginate(Bucket=self.name):
            for item in page.get("Contents", []):
                found[item["Key"]] = self.client.get_object(Bucket=self.name, Key=item["Key"])["Body"].read()
        return found

    def keys(self) -> list[str]:
        keys: list[str] = []
        for page in self.client.get_paginator("list_objects_v2").paginate(Bucket=self.name):
            keys += [item["Key"] for item in page.get("Contents", [])]
        return keys

    def version_count(self) -> int:
        count = 0
        for page in self.client.get_paginator("list_object_versions").paginate(Bucket=self.name):
            count += len(page.get("Versions", []))
        return count


@pytest.fixture
def bucket(s3_endpoint: S3Endpoint) -> Bucket:
    name = f"edge-test-{os.getpid()}-{next(_bucket_numbers)}"
    client = bucket_client(s3_endpoint.url)
    client.create_bucket(Bucket=name)
    # Versioning makes a second PUT of the same key visible as a second version.
    client.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
    return Bucket(name=name, client=client)


def noisy_jpeg(seed: int, size: tuple[int, int] = (160, 120), quality: int = 85) -> bytes:
    """Random-noise JPEG: incompressible, so every seed is a distinct, non-duplicate frame."""
    rng = random.Random(seed)
    image = Image.frombytes("RGB", size, rng.randbytes(size[0] * size[1] * 3))
    out = io.BytesIO()
    image.save(out, "JPEG", quality=quality)
    return out.getvalue()


def scene_jpeg(
    shift: int = 0,
    noise_seed: int = 0,
    size: tuple[int, int] = (320, 240),
    *,
    people: tuple[tuple[int, int], ...] = (),
    gain: float = 1.0,
) -> bytes:
    """A smooth scene (gradient + a block); small `shift`/noise keeps it a near duplicate.

    ``people``: (x, y) of the feet of small standing figures (12 x 40 pixels, a
    shopper a few metres from the camera); ``gain``: the scene's brightness
    (a light dimming, the camera's exposure).
    """
    rng = random.Random(noise_seed)
    image = Image.new("L", size)
    pixels = image.load()
    assert pixels is not None
    for y in range(size[1]):
        for x in range(size[0]):
            base = (x * 255) // size[0]
            if 100 + shift <= x < 180 + shift and 60 <= y < 160:
                base = 255 - base
            for px, py in people:
                if px - 6 <= x < px + 6 and py - 40 <= y < py:
                    base = 40 if base > 128 else 215
            pixels[x, y] = max(0, min(255, round(base * gain) + rng.randint(-3, 3)))
    out = io.BytesIO()
    image.convert("RGB").save(out, "JPEG", quality=90)
    return out.getvalue()


def sha12(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:12]


def write_config(
    tmp_path: Path,
    *,
    endpoint_url: str,
    bucket: str,
    thinning: bool = False,
    extra: str = "",
    spool: str = "",
    upload: str = "",
    cameras: dict[str, str] | None = None,
    root: Path | None = None,
    timezone: str = "UTC",
) -> Path:
    """An agent config with short timers: one camera (CAMERA_ID) unless ``cameras`` maps folders to camera ids.

    The spool and the state live in ``root`` (default ``tmp_path``: a small card for the full-disk tests).
    """
    watch = (root or tmp_path) / "spool"
    state = (root or tmp_path) / "state"
    watch.mkdir(exist_ok=True)
    if cameras is None:
        camera_settings = f'camera_id = "{CAMERA_ID}"'
    else:
        camera_settings = "[cameras]\n" + "\n".join(f'{folder} = "{camera}"' for folder, camera in cameras.items())
    text = f"""
[device]
id = "{DEVICE_ID}"
{camera_settings}

[watch]
directory = "{watch}"
settle_seconds = 0.5
rescan_seconds = 0.5
filename_timezone = "{timezone}"
abandon_seconds = 60

[s3]
bucket = "{bucket}"
region = "us-east-1"
endpoint_url = "{endpoint_url}"
connect_timeout = 1
read_timeout = 5

[credentials]
mode = "default"

[upload]
concurrency = 2
retry_base_seconds = 0.2
retry_max_seconds = 1.0
{upload}

[spool]
state_dir = "{state}"
{spool}

[thinning]
enabled = {"true" if thinning else "false"}
window_seconds = 10

[jpeg]
min_bytes = 100
{extra}
"""
    path = tmp_path / "agent.toml"
    path.write_text(text)
    return path


@pytest.fixture
def small_card(tmp_path: Path) -> Iterator[Path]:
    """A 4 MiB tmpfs: an SD card small enough to fill (skipped where this process may not mount one)."""
    mount = tmp_path / "card"
    mount.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=4m,mode=0755", "tmpfs", str(mount)],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({done.stderr.strip()}); the injected full-disk tests still run")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], capture_output=True, check=False)


def fill(directory: Path, names: Iterator[str], make: Callable[[int], bytes]) -> list[tuple[str, bytes]]:
    """Write captures like motion until the card is full; returns the ones written whole (a last partial one stays)."""
    written: list[tuple[str, bytes]] = []
    for index, name in enumerate(names):
        data = make(index)
        try:
            write_capture(directory, name, data)
        except OSError as exc:
            if exc.errno != errno.ENOSPC:
                raise
            return written
        written.append((name, data))
    raise AssertionError("the card never filled up")


def free_bytes(path: Path) -> int:
    fs = os.statvfs(path)
    return fs.f_bavail * fs.f_frsize


class AgentThread:
    """The real agent in a thread of the test process (SIGKILL tests use a subprocess)."""

    def __init__(self, config: AgentConfig, client: Any | None = None, clock: CaptureClock | None = None) -> None:
        self.config = config
        self.client = client or s3_client(boto3.Session(region_name="us-east-1"), config)
        self.agent = CaptureAgent(config, self.client, clock=clock)
        self.thread = threading.Thread(target=self.agent.run, daemon=True)
        self.error: BaseException | None = None

    def __enter__(self) -> AgentThread:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.agent.stop()
        self.thread.join(30)
        assert not self.thread.is_alive(), "agent did not stop within 30 s"


@pytest.fixture
def agent_config(tmp_path: Path, s3_endpoint: S3Endpoint, bucket: Bucket) -> AgentConfig:
    return load_config(write_config(tmp_path, endpoint_url=s3_endpoint.url, bucket=bucket.name))


def capture_name(second: int, frame: int = 0, camera: str | None = None) -> str:
    """motion-style name: picture_filename %Y%m%d-%H%M%S-%q, or cam%t/%Y%m%d-%H%M%S-%q with ``camera`` (the folder)."""
    base = f"20261125-14{second // 60:02d}{second % 60:02d}-{frame:02d}.jpg"
    return f"{camera}/{base}" if camera else base


def expected_key(name: str, data: bytes, camera_id: str = CAMERA_ID) -> str:
    """The contract key of a capture_name() written on 2026-11-25 (UTC file names)."""
    stamp = name.split("/")[-1]
    date, clock = stamp[:8], stamp[9:15]
    return f"incoming/{DEVICE_ID}/{camera_id}/{date[:4]}/{date[4:6]}/{date[6:8]}/{date}T{clock}000Z-{sha12(data)}.jpg"


def json_log_events(text: str) -> list[dict[str, Any]]:
    """The agent's JSON log lines in captured stderr."""
    return [json.loads(line) for line in text.splitlines() if line.startswith("{")]


def write_capture(directory: Path, name: str, data: bytes) -> Path:
    """Write like motion does: open, write, close in place."""
    path = directory / name
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as fh:
        fh.write(data)
    return path


# --- the control plane (provision, decommission): moto in-process ----------------------------------

REGION = "eu-west-1"
THING = "store-1-entrance"
DEPLOYMENT = "demo"
POLICY = edge_resource_name(DEPLOYMENT)


@pytest.fixture
def iot() -> Iterator[Any]:
    """moto's IoT with what IngestTier deploys for THING: the thing and the deployment's IoT policy."""
    with mock_aws():
        client = boto3.client("iot", region_name=REGION)
        client.create_thing(thingName=THING)
        client.create_policy(
            policyName=POLICY,
            policyDocument=json.dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": [{"Effect": "Allow", "Action": "iot:AssumeRoleWithCertificate", "Resource": "*"}],
                }
            ),
        )
        yield client


class ClientWithFaults:
    """A boto3 client with some operations replaced by stand-ins (a fault injected), the rest passed through."""

    def __init__(self, inner: Any, **replaced: Callable[..., Any]) -> None:
        self._inner = inner
        self._replaced = replaced

    def __getattr__(self, name: str) -> Any:
        return self._replaced.get(name) or getattr(self._inner, name)


def client_error(client: Any, code: str, message: str, operation: str) -> Exception:
    """The exception botocore raises for a service error ``code`` (its modeled class where there is one)."""
    return client.exceptions.from_code(code)({"Error": {"Code": code, "Message": message}}, operation)
