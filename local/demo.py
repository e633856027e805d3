"""`make demo`: the whole pipeline on one machine, with the real code.

camera stills ──edge agent──▶ moto S3 (source) ──S3 event──▶ moto SQS
    ──▶ the analyze Lambda handler (local face analyzer instead of Rekognition,
        a local Firehose stand-in writing Parquet in Firehose's layout)
    ──▶ DuckDB runs dashboards/queries/*.sql ──▶ PNG visuals + one HTML report

Everything AWS-shaped is moto's server on 127.0.0.1: the same edge agent,
handler, schema, queries and visuals as production, on embedded defaults
(the ``demo`` deployment of deployments.toml). Nothing leaves the machine.

    python -m local.demo [--images DIR] [--out DIR] [--frames-per-device N]
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import boto3
from botocore.config import Config

from local.lambda_runtime import LambdaContextStub, load_handler
from stacks.config import Deployment, load_config

ROOT = Path(__file__).resolve().parent.parent
SOURCE_BUCKET = "shoppersentiment-demo-source"
ARCHIVE_BUCKET = "shoppersentiment-demo-archive"
CURATED_BUCKET = "shoppersentiment-demo-curated"
QUEUE_NAME = "shoppersentiment-demo-incoming"
IDEMPOTENCY_TABLE = "shoppersentiment-demo-idempotency"
STREAM_NAME = "shoppersentiment-demo-faces"
REGION = "us-east-1"
IMAGE_SUFFIXES = {".jpg", ".jpeg"}
#: The local detector's scores sit lower than Rekognition's (median ~80); its
#: own cut-off is 50, so the deployment's 90 would drop most real faces.
LOCAL_MIN_DETECTION_CONFIDENCE = 50
#: Messages per handler invocation (the deployed event source batches up to 500).
LOCAL_BATCH_SIZE = 100


def say(message: str) -> None:
    print(message, flush=True)


@dataclass
class DemoResult:
    report: Path
    curated_root: Path
    results: dict[str, list[dict[str, Any]]]
    summary: dict[str, Any]
    parquet_files: list[Path] = field(default_factory=list)


# --- moto's server ---------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def moto_server(log_path: Path) -> Iterator[str]:
    """moto's HTTP server on 127.0.0.1 (S3, SQS, DynamoDB) for the run's duration."""
    port = _free_port()
    moto = Path(sys.executable).parent / "moto_server"
    with log_path.open("wb") as log:
        process = subprocess.Popen(  # noqa: S603 - our own venv's moto
            [str(moto), "-H", "127.0.0.1", "-p", str(port)], stdout=log, stderr=subprocess.STDOUT
        )
        url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 30
            while True:
                try:
                    with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                        break
                except OSError:
                    if process.poll() is not None or time.monotonic() > deadline:
                        raise RuntimeError(f"moto_server did not start; see {log_path}") from None
                    time.sleep(0.1)
            yield url
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()


def local_aws_environment(endpoint: str) -> dict[str, str]:
    """Dummy credentials and every SDK client pointed at the local server."""
    return {
        "AWS_ACCESS_KEY_ID": "demo",
        "AWS_SECRET_ACCESS_KEY": "demo",
        "AWS_SESSION_TOKEN": "demo",
        "AWS_DEFAULT_REGION": REGION,
        "AWS_REGION": REGION,
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
        "AWS_EC2_METADATA_DISABLED": "true",
    }


def create_resources(endpoint: str) -> str:
    """The buckets, queue (with S3 → SQS notifications) and table a deployment has; returns the queue URL."""
    kw = {"endpoint_url": endpoint, "region_name": REGION}
    s3 = boto3.client("s3", config=Config(s3={"addressing_style": "path"}), **kw)
    for bucket in (SOURCE_BUCKET, ARCHIVE_BUCKET, CURATED_BUCKET):
        s3.create_bucket(Bucket=bucket)
    s3.put_bucket_versioning(Bucket=SOURCE_BUCKET, VersioningConfiguration={"Status": "Enabled"})
    sqs = boto3.client("sqs", **kw)
    queue_url = sqs.create_queue(QueueName=QUEUE_NAME)["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    s3.put_bucket_notification_configuration(
        Bucket=SOURCE_BUCKET,
        NotificationConfiguration={
            "QueueConfigurations": [
                {
                    "QueueArn": queue_arn,
                    "Events": ["s3:ObjectCreated:*"],
                    "Filter": {"Key": {"FilterRules": [{"Name": "prefix", "Value": "incoming/"}]}},
                }
            ]
        },
    )
    dynamodb = boto3.client("dynamodb", **kw)
    dynamodb.create_table(
        TableName=IDEMPOTENCY_TABLE,
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    return queue_url


# --- images ----------------------------------------------------------------------------------


def stage_images(deployment: Deployment, spool: Path, *, images: Path | None, day: dt.date, frames: int) -> int:
    """Fill each device's capture folder; returns how many stills were staged."""
    registry = deployment.device_registry()
    if images is None:
        from local.scenes import compose_day

        devices = {device_id: entry["zone"] for device_id, entry in registry.items()}
        return len(compose_day(spool, devices, day, frames, seed=7))
    files = sorted(p for p in images.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise SystemExit(f"--images {images}: no .jpg/.jpeg files found")
    device_ids = sorted(registry)
    for index, path in enumerate(files):
        # A sub-folder named after a demo device keeps its images; the rest are
        # dealt round-robin across the demo's cameras.
        device_id = path.parent.name if path.parent.name in registry else device_ids[index % len(device_ids)]
        target = spool / device_id / f"{index:05d}-{path.name}"
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, target)
    return len(files)


# --- edge agents -----------------------------------------------------------------------------


def agent_config_text(device_id: str, watch: Path, state: Path, endpoint: str) -> str:
    return f"""
[device]
id = "{device_id}"
[watch]
directory = "{watch}"
settle_seconds = 0.2
rescan_seconds = 0.5
filename_timezone = "UTC"
[s3]
bucket = "{SOURCE_BUCKET}"
region = "{REGION}"
endpoint_url = "{endpoint}"
[credentials]
mode = "default"
[upload]
retry_base_seconds = 0.2
retry_max_seconds = 2.0
[spool]
state_dir = "{state}"
[log]
level = "WARNING"
"""


def run_edge_agents(deployment: Deployment, spool: Path, state: Path, endpoint: str, log_path: Path) -> dict[str, int]:
    """One real edge agent per device, until every capture folder is empty; returns summed counters."""
    from shopper_edge.agent import CaptureAgent
    from shopper_edge.config import load_config as load_agent_config
    from shopper_edge.log import configure
    from shopper_edge.status import status_report
    from shopper_edge.upload import s3_client

    agents, configs, threads = [], [], []
    for device_id in sorted(deployment.device_registry()):
        (spool / device_id).mkdir(parents=True, exist_ok=True)
        path = state / f"{device_id}.toml"
        path.write_text(agent_config_text(device_id, spool / device_id, state / device_id, endpoint), "utf-8")
        config = load_agent_config(path)
        configs.append(config)
        agents.append(CaptureAgent(config, s3_client(boto3.Session(), config)))
    total = sum(1 for p in spool.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)
    with log_path.open("a", encoding="utf-8") as log, contextlib.redirect_stderr(log):
        configure("WARNING")
        for agent in agents:
            thread = threading.Thread(target=agent.run, daemon=True)
            thread.start()
            threads.append(thread)
        last = -1
        while True:
            left = sum(1 for p in spool.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)
            if left != last:
                say(f"      edge agents: {total - left}/{total} captures handled")
                last = left
            if left == 0:
                break
            time.sleep(0.3)
        for agent in agents:
            agent.stop()
        for thread in threads:
            thread.join(timeout=30)
    counters: dict[str, int] = {}
    for config in configs:
        for name, value in status_report(config).items():
            if isinstance(value, int) and name not in ("queue_depth", "bytes_pending") and "limit" not in name:
                counters[name] = counters.get(name, 0) + value
    return counters


# --- the handler ------------------------------------------------------------------------------


class LocalFirehose:
    """Stands in for Firehose: accepts PutRecordBatch, keeps the records for Parquet conversion."""

    def __init__(self) -> None:
        self.records: list[dict[str, Any]] = []
        self.calls = 0

    def put_record_batch(self, *, DeliveryStreamName: str, Records: list[Mapping[str, bytes]]) -> dict[str, Any]:
        if DeliveryStreamName != STREAM_NAME:
            raise ValueError(f"unknown delivery stream {DeliveryStreamName!r}")
        self.calls += 1
        for record in Records:
            # One JSON object (and a newline) per record, as the Hive JSON SerDe reads them.
            self.records.extend(json.loads(line) for line in record["Data"].decode("utf-8").splitlines() if line)
        return {
            "FailedPutCount": 0,
            "Encrypted": False,
            "RequestResponses": [{"RecordId": f"local-{self.calls}-{i}"} for i in range(len(Records))],
        }


def sqs_event(messages: list[dict[str, Any]], queue_arn: str) -> dict[str, Any]:
    """The event Lambda's SQS poller builds from received messages."""
    return {
        "Records": [
            {
                "messageId": m["MessageId"],
                "receiptHandle": m["ReceiptHandle"],
                "body": m["Body"],
                "attributes": {
                    "ApproximateReceiveCount": "1",
                    "SentTimestamp": str(int(time.time() * 1000)),
                    "SenderId": "local",
                    "ApproximateFirstReceiveTimestamp": str(int(time.time() * 1000)),
                },
                "messageAttributes": {},
                "md5OfBody": m["MD5OfBody"],
                "eventSource": "aws:sqs",
                "eventSourceARN": queue_arn,
                "awsRegion": REGION,
            }
            for m in messages
        ]
    }


def run_handler(app: ModuleType, endpoint: str, queue_url: str) -> dict[str, int]:
    """Poll the queue like Lambda's event source and invoke the handler until it is drained."""
    sqs = boto3.client("sqs", endpoint_url=endpoint, region_name=REGION)
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    invocations = failures = messages_done = 0
    empty_polls = 0
    while empty_polls < 2:
        # Like the event source's batching window: gather up to a batch, then invoke.
        messages: list[dict[str, Any]] = []
        while len(messages) < LOCAL_BATCH_SIZE:
            received = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=1)
            if not received.get("Messages"):
                break
            messages += received["Messages"]
        if not messages:
            empty_polls += 1
            continue
        empty_polls = 0
        response = app.handler(sqs_event(messages, queue_arn), LambdaContextStub(300_000, ticking=True))
        invocations += 1
        failed = {item["itemIdentifier"] for item in response.get("batchItemFailures", [])}
        failures += len(failed)
        for message in messages:
            if message["MessageId"] not in failed:
                sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
                messages_done += 1
        # stdout is the handler's log here; progress goes to the terminal's stderr.
        progress = f"      handler invocation {invocations}: {len(messages)} messages, {len(failed)} failed"
        print(progress, file=sys.stderr)
    return {"invocations": invocations, "messages": messages_done, "message_failures": failures}


# --- queries and report ---------------------------------------------------------------------


def run_queries(curated_root: Path, today: dt.date) -> dict[str, list[dict[str, Any]]]:
    from local.athena import run_query_file

    results = {}
    for path in sorted((ROOT / "dashboards" / "queries").glob("*.sql")):
        result = run_query_file(curated_root, path, today=today)
        results[path.stem] = [dict(zip(result.columns, row, strict=True)) for row in result.rows]
    return results


def count_keys(s3: Any, bucket: str, prefix: str = "") -> int:
    paginator = s3.get_paginator("list_objects_v2")
    return sum(page.get("KeyCount", 0) for page in paginator.paginate(Bucket=bucket, Prefix=prefix))


def run_demo(
    out: Path,
    *,
    images: Path | None = None,
    frames_per_device: int = 24,
    day: dt.date | None = None,
    config_path: Path = ROOT / "deployments.toml",
) -> DemoResult:
    started = time.perf_counter()
    day = day or dt.datetime.now(dt.UTC).date()
    (deployment,) = [d for d in load_config(config_path).deployments if d.name == "demo"]
    if out.exists():
        shutil.rmtree(out)
    spool, state, curated_root, logs = out / "spool", out / "state", out / "curated", out / "logs"
    for folder in (spool, state, curated_root, logs):
        folder.mkdir(parents=True)

    say(
        f"[1/6] {'copying your images' if images else 'composing synthetic store frames'} for "
        f"{len(deployment.device_registry())} cameras in {len(deployment.stores)} stores"
    )
    staged = stage_images(deployment, spool, images=images, day=day, frames=frames_per_device)
    say(f"      {staged} stills staged in {spool}")

    say("[2/6] starting moto's S3/SQS/DynamoDB server on 127.0.0.1")
    with moto_server(logs / "moto_server.log") as endpoint:
        saved_env = dict(os.environ)
        try:
            os.environ.update(local_aws_environment(endpoint))
            queue_url = create_resources(endpoint)

            say("[3/6] edge agents uploading captures (checksummed PutObject, delete after confirmation)")
            edge = run_edge_agents(deployment, spool, state, endpoint, logs / "edge.log")

            say("[4/6] analyze Lambda handler on the S3 events (local face analyzer in place of Rekognition)")
            from dataclasses import replace
            from types import SimpleNamespace

            from local.analyzer import LocalFaceAnalyzer

            environment = {
                "FIREHOSE_STREAM_NAME": STREAM_NAME,
                "ARCHIVE_BUCKET": ARCHIVE_BUCKET,
                "IDEMPOTENCY_TABLE": IDEMPOTENCY_TABLE,
                "DEVICE_REGISTRY": json.dumps(deployment.device_registry()),
                "MIN_DETECTION_CONFIDENCE": str(LOCAL_MIN_DETECTION_CONFIDENCE),
                "MIN_SHARPNESS": str(deployment.min_sharpness),
                "POWERTOOLS_SERVICE_NAME": "shopper-sentiment-analyze",
                "POWERTOOLS_METRICS_NAMESPACE": "ShopperSentiment",
                "POWERTOOLS_LOG_LEVEL": "INFO",
            }
            # The handler logs (Powertools JSON, EMF metrics) to stdout, as in
            # Lambda; here they go to logs/lambda.log for the whole run.
            with (logs / "lambda.log").open("a", encoding="utf-8") as log, contextlib.redirect_stdout(log):
                os.environ.update(environment)
                app = load_handler()
                clients = app.aws_clients(app.SETTINGS)
                firehose = LocalFirehose()
                analyzer = LocalFaceAnalyzer(s3_client=clients.s3)
                handler = app.create_handler(app.SETTINGS, replace(clients, firehose=firehose, analyzer=analyzer))
                lambda_stats = run_handler(SimpleNamespace(handler=handler), endpoint, queue_url)

            say(
                f"      {len(firehose.records)} face records in {firehose.calls} PutRecordBatch calls; "
                "writing Parquet in Firehose's layout"
            )
            from local.parquet_layout import write_faces

            parquet_files = write_faces(curated_root, firehose.records) if firehose.records else []
            s3 = boto3.client("s3", endpoint_url=endpoint, region_name=REGION)
            for path in parquet_files:
                s3.upload_file(str(path), CURATED_BUCKET, path.relative_to(curated_root).as_posix())
            archived = count_keys(s3, ARCHIVE_BUCKET) - count_keys(s3, ARCHIVE_BUCKET, "quarantine/")
            quarantined = count_keys(s3, ARCHIVE_BUCKET, "quarantine/")
            left_incoming = count_keys(s3, SOURCE_BUCKET, "incoming/")
        finally:
            os.environ.clear()
            os.environ.update(saved_env)

    say("[5/6] DuckDB running dashboards/queries/*.sql (Athena SQL, transpiled)")
    results = run_queries(curated_root, day)

    say("[6/6] drawing the dashboard visuals and the report")
    from dashboards.render import write_report

    summary = {
        "images": "synthetic store frames composed from scikit-image sample photos" if images is None else str(images),
        "stills staged": staged,
        "uploaded by the edge agents": edge.get("uploaded", 0),
        "skipped as near-duplicates (frame thinning)": edge.get("skipped", 0),
        "archived after analysis": archived,
        "quarantined": quarantined,
        "left in incoming/": left_incoming,
        "face records": len(firehose.records),
        "PutRecordBatch calls": firehose.calls,
        "handler invocations": lambda_stats["invocations"],
        "analyzer": analyzer.name,
        "seconds": round(time.perf_counter() - started, 1),
    }
    report = write_report(out / "report", results, analyzer.name, images is None, summary)
    return DemoResult(report, curated_root, results, summary, parquet_files)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m local.demo", description=__doc__.split("\n\n")[0])
    parser.add_argument("--images", type=Path, help="a folder of your own JPEG stills (default: synthetic frames)")
    parser.add_argument("--out", type=Path, default=ROOT / ".demo", help="work folder (default: .demo/)")
    parser.add_argument("--frames-per-device", type=int, default=24, help="synthetic stills per camera (default 24)")
    args = parser.parse_args(argv)
    if args.images is not None and not args.images.is_dir():
        parser.error(f"--images {args.images}: not a folder")
    result = run_demo(args.out.resolve(), images=args.images, frames_per_device=args.frames_per_device)
    say("")
    for name, value in result.summary.items():
        say(f"  {name:<45} {value}")
    say(f"\nReport: {result.report}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
