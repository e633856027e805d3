"""Analyze Lambda: handler CPU per image, Firehose calls per 1,000 faces, cold-start import time.

Each figure comes from one invocation with a full batch (500 messages, one
image each) analyzed on the function's default number of threads; the run
fails if Firehose calls per 1,000 faces exceed the issue's limit of 3.

AWS is answered locally over HTTP, in other processes, so the handler's own
CPU time (botocore signing and parsing included, as in Lambda) is measured
alone: S3, SQS-less events, DynamoDB (idempotency) and Firehose by a moto
server; Rekognition DetectFaces by a small server in this file that returns
realistic responses with the number of faces the device id asks for.

Run from the repository root: .venv/bin/python bench/bench_analyze.py
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import socket
import statistics
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.lambdas import local_aws  # noqa: E402 - needs the repository root on sys.path

FACE_COUNTS = (1, 10, 50)
BATCH = 500  # SQS batch size of the event source mapping (stacks/process.py)
#: Issue 3: at most 3 PutRecordBatch calls per 1,000 faces.
MAX_CALLS_PER_1000_FACES = 3
IMPORT_RUNS = 7
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + bytes(range(256)) * 200 + b"\xff\xd9"
REGISTRY = {f"bench-{n}": {"store_id": "store-001", "camera_id": f"cam-{n}", "zone": "entrance"} for n in FACE_COUNTS}


# --- local AWS -----------------------------------------------------------------------------------


class _DetectFaces(BaseHTTPRequestHandler):
    """DetectFaces over HTTP: ``incoming/bench-<n>/...`` gets n faces."""

    def do_POST(self) -> None:
        request = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        device = request["Image"]["S3Object"]["Name"].split("/")[1]
        body = json.dumps(local_aws.faces_response(int(device.removeprefix("bench-")))).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/x-amz-json-1.1")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


def serve_rekognition(port: int) -> None:
    ThreadingHTTPServer(("127.0.0.1", port), _DetectFaces).serve_forever()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(port: int) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return
        time.sleep(0.1)
    raise RuntimeError(f"nothing listening on 127.0.0.1:{port}")


def function_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    env = {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": local_aws.REGION,
        "AWS_REGION": local_aws.REGION,
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
        "AWS_EC2_METADATA_DISABLED": "true",
        **local_aws.function_environment(
            DEVICE_REGISTRY=json.dumps(REGISTRY), MIN_SHARPNESS="0", POWERTOOLS_LOG_LEVEL="WARNING"
        ),
    }
    env.update(extra or {})
    return env


# --- measurements --------------------------------------------------------------------------------


def handler_figures(handler, firehose, s3) -> dict[int, tuple[float, float, float]]:
    """faces per image → (CPU ms per image, wall ms per image, Firehose calls per 1,000 faces).

    One invocation per face count with a full batch of BATCH messages, one
    image each: the event source's batch size, so the figures are what one
    deployed invocation does.
    """
    calls = {"n": 0}
    firehose.meta.events.register(
        "before-call.firehose.PutRecordBatch", lambda **_: calls.__setitem__("n", calls["n"] + 1)
    )
    context = local_aws.FakeLambdaContext(remaining_ms=300_000)  # the function timeout
    figures = {}
    for faces in FACE_COUNTS:
        keys = [local_aws.image_key(device_id=f"bench-{faces}", content=f"{faces}-{i}".encode()) for i in range(BATCH)]
        with ThreadPoolExecutor(max_workers=16) as uploads:
            list(uploads.map(lambda key: s3.put_object(Bucket=local_aws.SOURCE_BUCKET, Key=key, Body=JPEG), keys))
        event = local_aws.sqs_event(*(local_aws.s3_notification(local_aws.s3_record(k)) for k in keys))
        # One warm-up invocation (not counted): the first call of each client pays lazy loading.
        warm = local_aws.image_key(device_id=f"bench-{faces}", content=b"warm-up")
        s3.put_object(Bucket=local_aws.SOURCE_BUCKET, Key=warm, Body=JPEG)
        with contextlib.redirect_stdout(io.StringIO()):
            handler(local_aws.sqs_event(local_aws.s3_notification(local_aws.s3_record(warm))), context)
        calls["n"] = 0
        cpu, wall = time.process_time(), time.perf_counter()
        with contextlib.redirect_stdout(io.StringIO()):
            response = handler(event, context)
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
        assert response == {"batchItemFailures": []}, response
        figures[faces] = (cpu * 1000 / BATCH, wall * 1000 / BATCH, calls["n"] * 1000 / (faces * BATCH))
    return figures


_IMPORT_BOTO3 = "import time; t = time.perf_counter(); import boto3; print(time.perf_counter() - t)"
# As the Lambda runtime does it: the asset folder is the working directory and on sys.path.
_IMPORT_HANDLER = f"""
import sys, time
sys.path.insert(0, {str(local_aws.LAMBDA_DIR)!r})
t = time.perf_counter()
import app
print(time.perf_counter() - t)
"""


def import_seconds(code: str) -> float:
    runs = []
    for _ in range(IMPORT_RUNS):
        out = subprocess.run(
            [sys.executable, "-c", code],
            env=function_env(),
            capture_output=True,
            text=True,
            check=True,
            cwd=local_aws.LAMBDA_DIR,
        )
        runs.append(float(out.stdout.strip().splitlines()[-1]))
    return statistics.median(runs)


def main() -> None:
    if len(sys.argv) == 3 and sys.argv[1] == "--serve-rekognition":
        serve_rekognition(int(sys.argv[2]))
        return

    boto3_s = import_seconds(_IMPORT_BOTO3)
    handler_s = import_seconds(_IMPORT_HANDLER)

    moto_port, rekognition_port = free_port(), free_port()
    servers = [
        subprocess.Popen(
            [str(Path(sys.executable).parent / "moto_server"), "-H", "127.0.0.1", "-p", str(moto_port)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        ),
        subprocess.Popen(
            [sys.executable, __file__, "--serve-rekognition", str(rekognition_port)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        ),
    ]
    try:
        wait_for(moto_port)
        wait_for(rekognition_port)
        os.environ.update(
            function_env(
                {
                    "AWS_ENDPOINT_URL": f"http://127.0.0.1:{moto_port}",
                    "AWS_ENDPOINT_URL_REKOGNITION": f"http://127.0.0.1:{rekognition_port}",
                }
            )
        )
        import boto3

        session = boto3.Session(region_name=local_aws.REGION)
        local_aws.create_resources(session)
        with contextlib.redirect_stdout(io.StringIO()):
            app = local_aws.load_handler_module()
            settings = app.SETTINGS
            clients = app.aws_clients(settings)
            handler = app.create_handler(settings, clients)
        figures = handler_figures(handler, clients.firehose, session.client("s3"))
    finally:
        for server in servers:
            server.terminate()
            server.wait(timeout=10)

    threads = settings.analyze_threads
    print(
        "analyze handler (S3/DynamoDB/Firehose: moto server; Rekognition: local HTTP;"
        f" one invocation of {BATCH} messages per row, {threads} analysis threads)"
    )
    for faces, (cpu_ms, wall_ms, calls) in figures.items():
        print(
            f"  {faces:>2} face(s)/image: CPU {cpu_ms:6.1f} ms/image (wall {wall_ms:6.1f} ms), "
            f"Firehose calls per 1,000 faces: {calls:4.1f} (at most {MAX_CALLS_PER_1000_FACES})"
        )
    print(f"  cold start import (median of {IMPORT_RUNS} fresh processes):")
    print(f"    import boto3:            {boto3_s * 1000:6.0f} ms")
    print(f"    handler module (app.py): {handler_s * 1000:6.0f} ms  (+{(handler_s - boto3_s) * 1000:.0f} ms)")
    over = [faces for faces, (_, _, calls) in figures.items() if calls > MAX_CALLS_PER_1000_FACES]
    if over:
        sys.exit(f"Firehose calls per 1,000 faces above {MAX_CALLS_PER_1000_FACES} for {over} face(s) per image")


if __name__ == "__main__":
    main()
