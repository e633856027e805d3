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
import hashlib
import io
import json
import os
import socket
import statistics
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

# The repository root must be on sys.path first.
from bench.results import BenchRun, Figure, Target  # noqa: E402
from local.events import s3_notification, s3_record, sqs_event  # noqa: E402
from local.lambda_runtime import LAMBDA_DIR, LambdaContextStub, load_handler  # noqa: E402
from local.moto_server import MotoServer, free_port, local_aws_environment  # noqa: E402
from local.rekognition import detect_faces_response  # noqa: E402
from local.resources import LocalResources, create_resources  # noqa: E402
from shopper_sentiment.contracts.layout import image_key  # noqa: E402

FACE_COUNTS = (1, 10, 50)
BATCH = 500  # SQS batch size of the event source mapping (shopper_sentiment/tiers/process.py)
#: Issue 3: at most 3 PutRecordBatch calls per 1,000 faces.
MAX_CALLS_PER_1000_FACES = 3
IMPORT_RUNS = 7
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + bytes(range(256)) * 200 + b"\xff\xd9"
REGISTRY = {
    f"bench-{n}": {"store_id": "store-001", "timezone": "Europe/Berlin", "cameras": {"cam": {"zone": "entrance"}}}
    for n in FACE_COUNTS
}
RESOURCES = LocalResources("bench")
CAPTURED_AT = datetime(2026, 3, 14, 9, 26, 53, 412000, tzinfo=UTC)


# --- local AWS -----------------------------------------------------------------------------------


class _DetectFaces(BaseHTTPRequestHandler):
    """DetectFaces over HTTP: ``incoming/bench-<n>/...`` gets n faces."""

    def do_POST(self) -> None:
        request = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        device = request["Image"]["S3Object"]["Name"].split("/")[1]
        body = json.dumps(detect_faces_response(int(device.removeprefix("bench-")))).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/x-amz-json-1.1")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


def serve_rekognition(port: int) -> None:
    ThreadingHTTPServer(("127.0.0.1", port), _DetectFaces).serve_forever()


def wait_for(port: int) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return
        time.sleep(0.1)
    raise RuntimeError(f"nothing listening on 127.0.0.1:{port}")


def function_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    return {
        **local_aws_environment(None, RESOURCES.region),
        **RESOURCES.function_environment(REGISTRY, min_sharpness=0, POWERTOOLS_LOG_LEVEL="WARNING"),
        **(extra or {}),
    }


def bench_key(faces: int, content: bytes) -> str:
    return image_key(f"bench-{faces}", "cam", CAPTURED_AT, hashlib.sha256(content).hexdigest())


def event_for(*keys: str) -> dict:
    return sqs_event(*(s3_notification(s3_record(key, bucket=RESOURCES.source_bucket)) for key in keys))


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
    context = LambdaContextStub(remaining_ms=300_000)  # the function timeout
    figures = {}
    for faces in FACE_COUNTS:
        keys = [bench_key(faces, f"{faces}-{i}".encode()) for i in range(BATCH)]
        with ThreadPoolExecutor(max_workers=16) as uploads:
            list(uploads.map(lambda key: s3.put_object(Bucket=RESOURCES.source_bucket, Key=key, Body=JPEG), keys))
        event = event_for(*keys)
        # One warm-up invocation (not counted): the first call of each client pays lazy loading.
        warm = bench_key(faces, b"warm-up")
        s3.put_object(Bucket=RESOURCES.source_bucket, Key=warm, Body=JPEG)
        with contextlib.redirect_stdout(io.StringIO()):
            handler(event_for(warm), context)
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
sys.path.insert(0, {str(LAMBDA_DIR)!r})
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
            cwd=LAMBDA_DIR,
        )
        runs.append(float(out.stdout.strip().splitlines()[-1]))
    return statistics.median(runs)


def main() -> None:
    if len(sys.argv) == 3 and sys.argv[1] == "--serve-rekognition":
        serve_rekognition(int(sys.argv[2]))
        return

    boto3_s = import_seconds(_IMPORT_BOTO3)
    handler_s = import_seconds(_IMPORT_HANDLER)

    rekognition_port = free_port()
    rekognition = subprocess.Popen(
        [sys.executable, __file__, "--serve-rekognition", str(rekognition_port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        with MotoServer() as moto:
            wait_for(rekognition_port)
            os.environ.update(
                function_env(
                    {
                        "AWS_ENDPOINT_URL": moto.url,
                        "AWS_ENDPOINT_URL_REKOGNITION": f"http://127.0.0.1:{rekognition_port}",
                    }
                )
            )
            import boto3

            session = boto3.Session(region_name=RESOURCES.region)
            # Unversioned, so every message names the one version it uploaded.
            create_resources(session, RESOURCES, delivery_stream=True, versioned_source=False)
            with contextlib.redirect_stdout(io.StringIO()):
                app = load_handler()
                settings = app.SETTINGS
                clients = app.aws_clients(settings)
                # The handler's own cost: without the pace each environment keeps to its
                # share of the Rekognition budget (bench_burst measures the budget).
                clients = replace(clients, analyzer=clients.analyzer.unpaced)
                handler = app.create_handler(settings, clients)
            figures = handler_figures(handler, clients.firehose, session.client("s3"))
    finally:
        rekognition.terminate()
        rekognition.wait(timeout=10)

    threads = settings.analyze_threads
    calls_target = Target.at_most(MAX_CALLS_PER_1000_FACES, "issue 3")
    parameters = {"batch": BATCH, "threads": threads, "face_counts": list(FACE_COUNTS), "import_runs": IMPORT_RUNS}
    with BenchRun(__file__, parameters=parameters) as run:
        run.show(
            "analyze handler (S3/DynamoDB/Firehose: moto server; Rekognition: local HTTP;"
            f" one invocation of {BATCH} messages per row, {threads} analysis threads)"
        )
        for faces, (cpu_ms, wall_ms, calls) in figures.items():
            run.show(
                f"  {faces:>2} face(s)/image: CPU {cpu_ms:6.1f} ms/image (wall {wall_ms:6.1f} ms), "
                f"Firehose calls per 1,000 faces: {calls:4.1f} (at most {MAX_CALLS_PER_1000_FACES})",
                Figure(f"CPU per image, {faces} face(s)/image", cpu_ms, "ms"),
                Figure(f"wall time per image, {faces} face(s)/image", wall_ms, "ms"),
                Figure(f"Firehose calls per 1,000 faces, {faces} face(s)/image", calls, "calls", calls_target),
            )
        run.show(f"  cold start import (median of {IMPORT_RUNS} fresh processes):")
        run.show(f"    import boto3:            {boto3_s * 1000:6.0f} ms", Figure("import boto3", boto3_s * 1000, "ms"))
        run.show(
            f"    handler module (app.py): {handler_s * 1000:6.0f} ms  (+{(handler_s - boto3_s) * 1000:.0f} ms)",
            Figure("import handler module (app.py)", handler_s * 1000, "ms"),
            Figure("handler import over boto3", (handler_s - boto3_s) * 1000, "ms"),
        )
    over = [faces for faces, (_, _, calls) in figures.items() if calls > MAX_CALLS_PER_1000_FACES]
    if over:
        sys.exit(f"Firehose calls per 1,000 faces above {MAX_CALLS_PER_1000_FACES} for {over} face(s) per image")


if __name__ == "__main__":
    main()
