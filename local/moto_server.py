"""moto's AWS server on 127.0.0.1, with the S3 integrity checks moto leaves out.

One local AWS endpoint for the demo, the tests and the benchmarks: S3, SQS,
DynamoDB, Firehose and the rest of moto, over real HTTP, so code under test
(the edge agent, the handler's clients) signs, sends and parses requests as it
would against AWS.

moto 5.2.5 stores a PutObject body without checking it against Content-MD5 or
x-amz-checksum-sha256 (see the TODO in moto/s3/responses.py ``_get_checksum``),
so on its own it cannot show that a corrupted upload is rejected. The
``IntegrityChecks`` middleware does what S3 does — 400 BadDigest when the body
does not match its digest headers — and counts the rejections at
``GET /_local/rejections``. Everything else is moto, unchanged.

    python local/moto_server.py PORT     # serve until killed
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable, Iterable
from pathlib import Path
from types import TracebackType
from typing import Any

REJECTIONS_PATH = "/_local/rejections"
_ERROR = """<?xml version="1.0" encoding="UTF-8"?>
<Error><Code>{code}</Code><Message>{message}</Message><RequestId>local</RequestId></Error>"""


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def local_aws_environment(endpoint: str | None, region: str = "us-east-1") -> dict[str, str]:
    """Dummy credentials, a region and every SDK client pointed at ``endpoint`` (if any); no profile is read."""
    environment = {
        "AWS_ACCESS_KEY_ID": "local",
        "AWS_SECRET_ACCESS_KEY": "local",
        "AWS_SESSION_TOKEN": "local",
        "AWS_DEFAULT_REGION": region,
        "AWS_REGION": region,
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
        "AWS_EC2_METADATA_DISABLED": "true",
    }
    if endpoint:
        environment["AWS_ENDPOINT_URL"] = endpoint
    return environment


def _listening(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


class IntegrityChecks:
    """WSGI middleware: S3's Content-MD5 and SHA-256 checks on PUT bodies, in front of moto."""

    def __init__(self, app: Callable[..., Iterable[bytes]]) -> None:
        self.app = app
        self.rejections: list[str] = []
        self.lock = threading.Lock()

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if path == REJECTIONS_PATH:
            with self.lock:
                body = json.dumps(self.rejections).encode()
            start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
            return [body]
        md5_header = environ.get("HTTP_CONTENT_MD5")
        sha_header = environ.get("HTTP_X_AMZ_CHECKSUM_SHA256")
        chunked = "aws-chunked" in environ.get("HTTP_CONTENT_ENCODING", "")
        if environ["REQUEST_METHOD"] == "PUT" and (md5_header or sha_header) and not chunked:
            length = int(environ.get("CONTENT_LENGTH") or 0)
            body = environ["wsgi.input"].read(length) if length else b""
            environ["wsgi.input"] = io.BytesIO(body)
            code = None
            md5 = base64.b64encode(hashlib.md5(body, usedforsecurity=False).digest()).decode()
            if md5_header and md5 != md5_header:
                code, message = "BadDigest", "The Content-MD5 you specified did not match what we received."
            elif sha_header and base64.b64encode(hashlib.sha256(body).digest()).decode() != sha_header:
                code, message = "BadDigest", "The SHA256 you specified did not match the calculated checksum."
            if code is not None:
                with self.lock:
                    self.rejections.append(path)
                error = _ERROR.format(code=code, message=message).encode()
                start_response(
                    "400 Bad Request", [("Content-Type", "application/xml"), ("Content-Length", str(len(error)))]
                )
                return [error]
        return self.app(environ, start_response)


class MotoServer:
    """moto (with the integrity checks) in a child process on 127.0.0.1; start, stop, start again.

    moto keeps no state across a restart: a test that needs an outage with
    the data kept puts a relay in front instead of stopping the server.
    """

    def __init__(self, port: int | None = None, *, log_path: Path | None = None, start_timeout: float = 30) -> None:
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = log_path
        self.start_timeout = start_timeout
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> MotoServer:
        # Another server on the port would answer the readiness check below and
        # pass for this one, while this one's process dies on the taken port.
        if _listening(self.port):
            raise RuntimeError(f"127.0.0.1:{self.port} is already in use; moto's server did not start there")
        output = self.log_path.open("ab") if self.log_path else subprocess.DEVNULL
        try:
            self.process = subprocess.Popen(  # noqa: S603 - this file, with the running interpreter
                [sys.executable, str(Path(__file__).resolve()), str(self.port)],
                stdout=output,
                stderr=subprocess.STDOUT,
            )
        finally:
            if self.log_path:
                output.close()  # type: ignore[union-attr]
        deadline = time.monotonic() + self.start_timeout
        while not self._answers():
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                where = f"; see {self.log_path}" if self.log_path else ""
                raise RuntimeError(f"moto's server did not start on 127.0.0.1:{self.port}{where}")
            time.sleep(0.05)
        return self

    def stop(self) -> None:
        if self.process is None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)
        self.process = None

    def rejections(self) -> list[str]:
        """Paths of the PUTs refused because their body did not match its digest."""
        with urllib.request.urlopen(f"{self.url}{REJECTIONS_PATH}", timeout=5) as response:  # noqa: S310 - loopback
            return list(json.load(response))

    def _answers(self) -> bool:
        try:
            self.rejections()
        except OSError:
            return False
        return True

    def __enter__(self) -> MotoServer:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.stop()


def serve(port: int) -> None:
    """Serve moto with the integrity checks on 127.0.0.1:``port`` until killed."""
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
    from werkzeug.serving import run_simple

    app = DomainDispatcherApplication(create_backend_app)
    run_simple("127.0.0.1", port, IntegrityChecks(app), threaded=True, request_handler=MotoRequestHandler)


if __name__ == "__main__":
    serve(int(sys.argv[1]))
