"""A real HTTP S3 endpoint for the edge tests: moto's server app plus S3's
integrity checks.

moto 5.2.5 stores a PutObject body without checking it against Content-MD5 or
x-amz-checksum-sha256 (see the TODO in moto/s3/responses.py `_get_checksum`),
so on its own it cannot show that a corrupted upload is rejected. This WSGI
middleware does what S3 does - 400 BadDigest / InvalidRequest when the body
does not match the digest headers - and counts the rejections at
GET /_edge_test/rejections. Everything else is moto, unchanged.

Run: python tests/edge/s3_endpoint.py PORT
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import sys
import threading
from collections.abc import Callable, Iterable
from typing import Any

from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
from werkzeug.serving import run_simple

_ERROR = """<?xml version="1.0" encoding="UTF-8"?>
<Error><Code>{code}</Code><Message>{message}</Message><RequestId>edge-test</RequestId></Error>"""


class IntegrityChecks:
    def __init__(self, app: Callable[..., Iterable[bytes]]) -> None:
        self.app = app
        self.rejections: list[str] = []
        self.lock = threading.Lock()

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if path == "/_edge_test/rejections":
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
            if md5_header and base64.b64encode(hashlib.md5(body).digest()).decode() != md5_header:
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


def main() -> None:
    port = int(sys.argv[1])
    app = DomainDispatcherApplication(create_backend_app)
    run_simple("127.0.0.1", port, IntegrityChecks(app), threaded=True, request_handler=MotoRequestHandler)


if __name__ == "__main__":
    main()
