"""Edge agent benchmark: the real agent (a subprocess, default config except
thinning off) uploading ~200 KB JPEGs to moto's S3 server on 127.0.0.1.

Every still is decoded whole before it is uploaded (issue 15), so the CPU
figure includes a 1/8-scale decode of each (noise JPEGs: the worst case).
Prints images/s and agent CPU-ms per image for a burst of 1,000 captures,
the agent's peak RSS, and p50/p95 latency from file close (measured by the
writer) to object present (the agent's "uploaded" log line, written after
PutObject returned and the ETag matched), both under the burst and at a
steady 10 captures/s. Every figure printed is also recorded in
.bench/results.json (bench/results.py).

Run from the repo root: .venv/bin/python bench/bench_edge.py
"""

from __future__ import annotations

import io
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

import boto3
from botocore.config import Config
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.results import BenchRun, Figure, Target
from local.moto_server import MotoServer

IMAGES = 1000
PACED_IMAGES = 150
PACED_RATE = 10.0  # captures per second, a busy entrance camera
CONCURRENCY = 2  # the agent's default
CACHE = Path(tempfile.gettempdir()) / "shopper-edge-bench-jpegs-v1"
CLK_TCK = os.sysconf("SC_CLK_TCK")


def corpus() -> list[bytes]:
    """1,000 distinct 640x480 noise JPEGs (~200 KB), generated once and cached."""
    CACHE.mkdir(exist_ok=True)
    images: list[bytes] = []
    for i in range(IMAGES):
        path = CACHE / f"{i:04d}.jpg"
        if not path.exists():
            rng = random.Random(i)
            image = Image.frombytes("RGB", (640, 480), rng.randbytes(640 * 480 * 3))
            out = io.BytesIO()
            image.save(out, "JPEG", quality=80)
            tmp = path.with_suffix(".tmp")
            tmp.write_bytes(out.getvalue())
            tmp.rename(path)
        images.append(path.read_bytes())
    return images


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK  # utime + stime


def peak_rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def uploaded_times(log: Path) -> dict[str, float]:
    """Capture file name -> wall time the agent confirmed it (from its JSON log)."""
    done: dict[str, float] = {}
    for line in log.read_text().splitlines():
        if not line.startswith("{"):
            continue
        entry = json.loads(line)
        if entry.get("event") == "uploaded":
            stamp = datetime.strptime(entry["ts"], "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=None)
            done[Path(entry["path"]).name] = (stamp - datetime(1970, 1, 1)).total_seconds()
    return done


def wait_logged(log: Path, names: dict[str, float], timeout: float = 30) -> dict[str, float]:
    """The upload times, once every one of ``names`` is logged (the line follows the delete)."""
    deadline = time.monotonic() + timeout
    while True:
        done = uploaded_times(log)
        if all(name in done for name in names) or time.monotonic() > deadline:
            return done
        time.sleep(0.05)


def percentile(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1]


def write_capture(spool: Path, name: str, data: bytes) -> float:
    with (spool / name).open("wb") as fh:
        fh.write(data)
    return time.time()


def wait_empty(spool: Path, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while any(spool.glob("*.jpg")):
        if time.monotonic() > deadline:
            raise SystemExit(f"bench: spool not empty after {timeout}s")
        time.sleep(0.02)


def main() -> None:
    parameters = {
        "images": IMAGES,
        "paced_images": PACED_IMAGES,
        "paced_rate_per_s": PACED_RATE,
        "concurrency": CONCURRENCY,
    }
    with BenchRun(__file__, parameters=parameters) as run:
        measure(run)


def measure(run: BenchRun) -> None:
    t0 = time.perf_counter()
    images = corpus()
    sizes = [len(d) for d in images]
    mean_kib, loaded = statistics.mean(sizes) / 1024, time.perf_counter() - t0
    run.show(
        f"corpus: {len(images)} JPEGs 640x480, mean {mean_kib:.0f} KiB "
        f"({loaded:.1f}s to load/generate, cached in {CACHE})",
        Figure("corpus: mean JPEG size", mean_kib, "KiB"),
        Figure("corpus: load/generate time", loaded, "s"),
    )

    work = Path(tempfile.mkdtemp(prefix="shopper-edge-bench-"))
    env = {
        **os.environ,
        "AWS_ACCESS_KEY_ID": "bench",
        "AWS_SECRET_ACCESS_KEY": "bench",
        "AWS_DEFAULT_REGION": "us-east-1",
    }
    moto = MotoServer().start()
    endpoint = moto.url
    agent: subprocess.Popen[bytes] | None = None
    try:
        s3 = boto3.client(
            "s3",
            endpoint_url=endpoint,
            region_name="us-east-1",
            aws_access_key_id="bench",
            aws_secret_access_key="bench",  # local moto server: dummy
            config=Config(s3={"addressing_style": "path"}),
        )
        s3.create_bucket(Bucket="bench-source")

        spool, state = work / "spool", work / "state"
        spool.mkdir()
        config = work / "agent.toml"
        config.write_text(
            f"""
[device]
id = "bench-device"
camera_id = "bench-camera"
[watch]
directory = "{spool}"
filename_timezone = "UTC"
[s3]
bucket = "bench-source"
region = "us-east-1"
endpoint_url = "{endpoint}"
[credentials]
mode = "default"
[upload]
concurrency = {CONCURRENCY}
[spool]
state_dir = "{state}"
[thinning]
enabled = false
"""
        )
        log = work / "agent.log"
        agent = subprocess.Popen(
            [sys.executable, "-m", "shopper_edge", "run", "--config", str(config)],
            stdout=subprocess.DEVNULL,
            stderr=log.open("wb"),
            env=env,
        )
        while '"started"' not in log.read_text():
            if agent.poll() is not None:
                raise SystemExit(f"bench: the agent exited ({agent.returncode}): {log.read_text().strip()}")
            time.sleep(0.05)
        time.sleep(0.5)

        # Burst: 1,000 captures as fast as the disk takes them.
        closed: dict[str, float] = {}
        cpu_before = cpu_seconds(agent.pid)
        start = time.time()
        for i, data in enumerate(images):
            name = f"20261125-{10 + i // 3600:02d}{(i // 60) % 60:02d}{i % 60:02d}-00.jpg"
            closed[name] = write_capture(spool, name, data)
        wait_empty(spool, 600)
        cpu_burst = cpu_seconds(agent.pid) - cpu_before
        done = wait_logged(log, closed)
        end = max(done[n] for n in closed)
        burst_latency = [(done[n] - closed[n]) * 1000 for n in closed]
        objects = sum(
            len(page.get("Contents", []))
            for page in s3.get_paginator("list_objects_v2").paginate(Bucket="bench-source")
        )
        assert objects == IMAGES, f"expected {IMAGES} objects, found {objects}"

        # Steady rate: latency without a queue in front of the file.
        paced: dict[str, float] = {}
        next_at = time.monotonic()
        for i in range(PACED_IMAGES):
            name = f"20261126-10{i // 60:02d}{i % 60:02d}-00.jpg"
            paced[name] = write_capture(spool, name, images[i])
            next_at += 1 / PACED_RATE
            time.sleep(max(0.0, next_at - time.monotonic()))
        wait_empty(spool, 120)
        done = wait_logged(log, paced)
        paced_latency = [(done[n] - paced[n]) * 1000 for n in paced]
        rss = peak_rss_mib(agent.pid)

        elapsed = end - start
        rate, throughput, cpu_ms = IMAGES / elapsed, sum(sizes) / elapsed / 1e6, cpu_burst * 1000 / IMAGES
        burst_p50, burst_p95 = percentile(burst_latency, 50), percentile(burst_latency, 95)
        paced_p50, paced_p95 = percentile(paced_latency, 50), percentile(paced_latency, 95)
        run.show(f"agent: concurrency={CONCURRENCY}, thinning off, moto_server on 127.0.0.1, {os.cpu_count()} CPUs")
        run.show(
            f"burst of {IMAGES}: {rate:.1f} images/s ({elapsed:.1f}s, "
            f"{throughput:.1f} MB/s), agent CPU {cpu_ms:.1f} ms/image",
            Figure("burst: upload rate", rate, "images/s"),
            Figure("burst: duration", elapsed, "s"),
            Figure("burst: throughput", throughput, "MB/s"),
            Figure("burst: agent CPU per image", cpu_ms, "ms"),
        )
        run.show(
            f"burst latency close->object present: p50 {burst_p50:.0f} ms, "
            f"p95 {burst_p95:.0f} ms (queueing behind the burst)",
            Figure("burst: latency close->object present p50", burst_p50, "ms"),
            Figure("burst: latency close->object present p95", burst_p95, "ms"),
        )
        run.show(
            f"steady {PACED_RATE:.0f}/s latency close->object present: p50 {paced_p50:.0f} ms, p95 {paced_p95:.0f} ms",
            Figure("steady: latency close->object present p50", paced_p50, "ms"),
            Figure("steady: latency close->object present p95", paced_p95, "ms"),
        )
        run.show(
            f"agent peak RSS: {rss:.1f} MiB",
            Figure("agent peak RSS", rss, "MiB", Target.at_most(60, "issue 15")),
        )
    finally:
        if agent is not None:
            agent.terminate()
            agent.wait(30)
        moto.stop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
