"""`make demo`: the whole pipeline on one machine, with the real code.

camera stills ──edge agent──▶ moto S3 (source) ──S3 event──▶ moto SQS
    ──▶ the analyze Lambda handler (local face analyzer instead of Rekognition,
        a local Firehose stand-in writing Parquet in Firehose's layout)
    ──▶ DuckDB runs dashboards/queries/*.sql ──▶ PNG visuals + one HTML report

Everything AWS-shaped is moto's server on 127.0.0.1: the same edge agent,
handler, schema, queries and visuals as production, on embedded defaults
(the ``demo`` deployment of deployments.toml: two stores in different time
zones). The synthetic stills cover a week of opening hours on each store's
own clock, so the report's days and hours are the stores' own. Nothing
leaves the machine.

    python -m local.demo [--images DIR] [--out DIR] [--days N] [--frames-per-device N]
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import os
import shutil
import threading
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import boto3

from local.compaction import compact_curated_bucket
from local.event_source import drain_queue
from local.firehose import LocalFirehose
from local.lambda_runtime import load_handler
from local.moto_server import MotoServer, local_aws_environment
from local.resources import LocalResources, create_resources
from shopper_sentiment.config import Deployment, load_config
from shopper_sentiment.contracts.catalogue import CATALOGUE
from shopper_sentiment.contracts.layout import INCOMING_PREFIX, QUARANTINE_PREFIX
from shopper_sentiment.tiers.compaction import DEFAULT_BUFFERING_INTERVAL

ROOT = Path(__file__).resolve().parent.parent
#: The demo deployment's resources on the local server (local.resources).
RESOURCES = LocalResources("shoppersentiment-demo")
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


# --- images ----------------------------------------------------------------------------------


def camera_folders(deployment: Deployment) -> dict[str, tuple[str, str]]:
    """``<device_id>/<camera_id>`` (each camera's capture folder under the spool) → (its zone, its store's zone)."""
    return {
        f"{device_id}/{camera_id}": (camera["zone"], entry["timezone"])
        for device_id, entry in deployment.device_registry().items()
        for camera_id, camera in entry["cameras"].items()
    }


def demo_days(last: dt.date, days: int) -> list[dt.date]:
    """The ``days`` days ending with ``last``, oldest first."""
    if days < 1:
        raise ValueError(f"days must be at least 1, got {days}")
    return [last - dt.timedelta(days=n) for n in range(days - 1, -1, -1)]


def stage_images(deployment: Deployment, spool: Path, *, images: Path | None, days: list[dt.date], frames: int) -> int:
    """Fill each camera's capture folder (``frames`` stills a day, on its store's clock); returns how many."""
    folders = camera_folders(deployment)
    if images is None:
        from local.scenes import compose_day

        zones = {folder: zone for folder, (zone, _) in folders.items()}
        time_zones = {folder: time_zone for folder, (_, time_zone) in folders.items()}
        return sum(len(compose_day(spool, zones, day, frames, seed=7, time_zones=time_zones)) for day in days)
    files = sorted(p for p in images.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise SystemExit(f"--images {images}: no .jpg/.jpeg files found")
    names = sorted(folders)
    by_device = {name.split("/")[0]: name for name in reversed(names)}
    for index, path in enumerate(files):
        # A sub-folder named after a demo device keeps its images (its first
        # camera); the rest are dealt round-robin across the demo's cameras.
        folder = by_device.get(path.parent.name) or names[index % len(names)]
        target = spool / folder / f"{index:05d}-{path.name}"
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, target)
    return len(files)


# --- edge agents -----------------------------------------------------------------------------


def agent_config_text(
    device_id: str, cameras: list[str], watch: Path, state: Path, endpoint: str, time_zone: str
) -> str:
    """One agent per device; each camera's stills in the watch folder's sub-folder named after the camera.

    motion names stills by the Pi's clock, which is set to the store's time zone.
    """
    camera_table = "\n".join(f'"{camera}" = "{camera}"' for camera in cameras)
    return f"""
[device]
id = "{device_id}"
[cameras]
{camera_table}
[watch]
directory = "{watch}"
settle_seconds = 0.2
rescan_seconds = 0.5
filename_timezone = "{time_zone}"
[s3]
bucket = "{RESOURCES.source_bucket}"
region = "{RESOURCES.region}"
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
    for device_id, entry in sorted(deployment.device_registry().items()):
        cameras = sorted(entry["cameras"])
        for camera in cameras:
            (spool / device_id / camera).mkdir(parents=True, exist_ok=True)
        path = state / f"{device_id}.toml"
        text = agent_config_text(device_id, cameras, spool / device_id, state / device_id, endpoint, entry["timezone"])
        path.write_text(text, "utf-8")
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


# --- queries and report ---------------------------------------------------------------------


def run_queries(curated_root: Path, today: dt.date) -> dict[str, list[dict[str, Any]]]:
    """Every named query of the catalogue, in DuckDB over the curated copy: name → rows."""
    from shopper_sentiment.dashboards.render import QUERIES_DIR

    from local.athena import run_query_file

    results = {}
    for query in CATALOGUE.queries:
        result = run_query_file(curated_root, QUERIES_DIR / query.sql_file, today=today)
        results[query.name] = [dict(zip(result.columns, row, strict=True)) for row in result.rows]
    return results


def count_keys(s3: Any, bucket: str, prefix: str = "") -> int:
    paginator = s3.get_paginator("list_objects_v2")
    return sum(page.get("KeyCount", 0) for page in paginator.paginate(Bucket=bucket, Prefix=prefix))


def run_demo(
    out: Path,
    *,
    images: Path | None = None,
    frames_per_device: int = 8,
    day: dt.date | None = None,
    days: int = 7,
    config_path: Path = ROOT / "deployments.toml",
) -> DemoResult:
    """``days`` days of stills ending with ``day``, ``frames_per_device`` a camera a day.

    ``day`` defaults to yesterday (UTC): every store's yesterday has closed,
    so no still is dated in the future on any store's clock.
    """
    started = time.perf_counter()
    day = day or dt.datetime.now(dt.UTC).date() - dt.timedelta(days=1)
    week = demo_days(day, days)
    (deployment,) = [d for d in load_config(config_path).deployments if d.name == "demo"]
    if out.exists():
        shutil.rmtree(out)
    spool, state, curated_root, logs = out / "spool", out / "state", out / "curated", out / "logs"
    for folder in (spool, state, curated_root, logs):
        folder.mkdir(parents=True)

    cameras = sum(len(entry["cameras"]) for entry in deployment.device_registry().values())
    zones = ", ".join(f"{store_id} ({store.timezone})" for store_id, store in sorted(deployment.stores.items()))
    say(
        f"[1/6] {'copying your images' if images else f'composing {days} days of synthetic store frames'} for "
        f"{cameras} cameras in {zones}"
    )
    staged = stage_images(deployment, spool, images=images, days=week, frames=frames_per_device)
    say(f"      {staged} stills staged in {spool}")

    say("[2/6] starting moto's S3/SQS/DynamoDB server on 127.0.0.1")
    with MotoServer(log_path=logs / "moto_server.log") as server:
        saved_env = dict(os.environ)
        try:
            os.environ.update(local_aws_environment(server.url, RESOURCES.region))
            session = boto3.Session()
            queue_url = create_resources(session, RESOURCES, queue=True)

            say("[3/6] edge agents uploading captures (checksummed PutObject, delete after confirmation)")
            edge = run_edge_agents(deployment, spool, state, server.url, logs / "edge.log")

            say("[4/6] analyze Lambda handler on the S3 events (local face analyzer in place of Rekognition)")
            from local.analyzer import LocalFaceAnalyzer

            environment = RESOURCES.function_environment(
                deployment.device_registry(),
                min_detection_confidence=LOCAL_MIN_DETECTION_CONFIDENCE,
                min_sharpness=deployment.min_sharpness,
            )
            # The handler logs (Powertools JSON, EMF metrics) to stdout, as in
            # Lambda; here they go to logs/lambda.log for the whole run.
            with (logs / "lambda.log").open("a", encoding="utf-8") as log, contextlib.redirect_stdout(log):
                os.environ.update(environment)
                app = load_handler()
                clients = app.aws_clients(app.SETTINGS)
                firehose = LocalFirehose.for_function(RESOURCES.stream_name, RESOURCES.images_stream_name)
                analyzer = LocalFaceAnalyzer(s3_client=clients.s3)
                handler = app.create_handler(app.SETTINGS, replace(clients, firehose=firehose, analyzer=analyzer))
                drained = drain_queue(handler, session.client("sqs"), queue_url, batch_size=LOCAL_BATCH_SIZE)

            say(
                f"      {len(firehose.records)} face records and {len(firehose.image_rows)} image rows in "
                f"{firehose.calls} PutRecordBatch calls; writing Parquet in Firehose's layout"
            )
            # One object per store-day and 15-minute flush, as the deployed streams leave them.
            parquet_files = firehose.write_parquet(
                curated_root, flush_seconds=int(DEFAULT_BUFFERING_INTERVAL.to_seconds())
            )
            s3 = session.client("s3")
            for path in parquet_files:
                s3.upload_file(str(path), RESOURCES.curated_bucket, path.relative_to(curated_root).as_posix())
            # The hourly compaction job's work on the closed store-days; the local copy follows the bucket.
            compaction = compact_curated_bucket(s3, RESOURCES.curated_bucket, deployment, curated_root)
            parquet_files = sorted(curated_root.rglob("*.parquet"))
            quarantined = count_keys(s3, RESOURCES.archive_bucket, QUARANTINE_PREFIX)
            archived = count_keys(s3, RESOURCES.archive_bucket) - quarantined
            left_incoming = count_keys(s3, RESOURCES.source_bucket, INCOMING_PREFIX)
        finally:
            os.environ.clear()
            os.environ.update(saved_env)

    say("[5/6] DuckDB running dashboards/queries/*.sql (Athena SQL, transpiled)")
    results = run_queries(curated_root, day)

    say("[6/6] drawing the dashboard visuals and the report")
    from shopper_sentiment.dashboards.render import write_report

    summary = {
        "images": "synthetic store frames composed from scikit-image sample photos" if images is None else str(images),
        "stills staged": staged,
        "uploaded by the edge agents": edge.get("uploaded", 0),
        "skipped as near-duplicates (frame thinning)": edge.get("skipped", 0),
        "archived after analysis": archived,
        "quarantined": quarantined,
        "left in incoming/": left_incoming,
        "days simulated (each store's own clock)": len(week) if images is None else "your images",
        "image rows (one per still analyzed or quarantined)": len(firehose.image_rows),
        "face records (sightings: one per face per still)": len(firehose.records),
        "PutRecordBatch calls": firehose.calls,
        "Parquet objects per closed store-day (compaction)": compaction.describe(),
        "handler invocations": drained.invocations,
        "analyzer": analyzer.name,
        "seconds": round(time.perf_counter() - started, 1),
    }
    report = write_report(
        out / "report",
        results,
        analyzer.name,
        images is None,
        summary,
        not_collected=deployment.attributes_not_collected(),
    )
    return DemoResult(report, curated_root, results, summary, parquet_files)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m local.demo", description=__doc__.split("\n\n")[0])
    parser.add_argument("--images", type=Path, help="a folder of your own JPEG stills (default: synthetic frames)")
    parser.add_argument("--out", type=Path, default=ROOT / ".demo", help="work folder (default: .demo/)")
    parser.add_argument(
        "--frames-per-device", type=int, default=8, help="synthetic stills per camera per day (default 8)"
    )
    parser.add_argument("--days", type=int, default=7, help="days of synthetic stills, ending yesterday (default 7)")
    args = parser.parse_args(argv)
    if args.images is not None and not args.images.is_dir():
        parser.error(f"--images {args.images}: not a folder")
    if args.days < 1:
        parser.error(f"--days {args.days}: give at least 1")
    result = run_demo(args.out.resolve(), images=args.images, frames_per_device=args.frames_per_device, days=args.days)
    say("")
    width = max(map(len, result.summary))
    for name, value in result.summary.items():
        say(f"  {name:<{width}} {value}")
    say(f"\nReport: {result.report}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
