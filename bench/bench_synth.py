"""Synth wall time: the demo config and generated N-store × 4-camera configs.

Runs the pinned CDK CLI exactly as `make synth` does (cdk synth --quiet, the
cdk-nag gate included) and prints seconds per config and the marginal cost
per store, so linear growth (or not) is visible. Every figure printed is also
recorded in .bench/results.json (bench/results.py).
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.results import BenchRun, Figure  # noqa: E402

CDK = ROOT / "node_modules" / ".bin" / "cdk"
RUNS = 2


def generated_config(stores: int, cameras: int = 4) -> str:
    lines = [
        "[deployments.bench]",
        'region = "eu-west-1"',
        "retention_days = 30",
        "rekognition_tps = 50",
    ]
    zones = ["entrance", "checkout", "grocery", "apparel"]
    for s in range(1, stores + 1):
        lines.append(f"[deployments.bench.stores.store-{s:03d}]")
        lines.append('timezone = "Europe/Berlin"')
        lines.append(f"[deployments.bench.stores.store-{s:03d}.devices]")
        for c in range(cameras):
            lines.append(f'pi-{s:03d}-{c} = {{ camera_id = "cam-{c}", zone = "{zones[c % len(zones)]}" }}')
    return "\n".join(lines) + "\n"


def synth_seconds(config: Path, outdir: Path) -> float:
    env = os.environ | {
        "JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION": "1",
        "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20",
    }
    times = []
    for _ in range(RUNS):
        start = time.perf_counter()
        subprocess.run(
            [str(CDK), "synth", "--quiet", "-c", f"config={config}", "-o", str(outdir)],
            cwd=ROOT,
            env=env,
            check=True,
            capture_output=True,
        )
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    if not CDK.exists():
        sys.exit("node_modules/.bin/cdk missing: run `make bench` (it installs the pinned CLI)")
    with BenchRun(__file__, parameters={"runs": RUNS}) as run, tempfile.TemporaryDirectory() as tmp:
        tmpdir = Path(tmp)
        synth_seconds(ROOT / "deployments.toml", tmpdir / "warm-up")  # node, jsii and disk caches
        rows = [("demo (2 stores, 4 devices)", 2, synth_seconds(ROOT / "deployments.toml", tmpdir / "demo"))]
        for stores in (5, 25, 50):
            config = tmpdir / f"{stores}.toml"
            config.write_text(generated_config(stores), encoding="utf-8")
            rows.append((f"{stores} stores x 4 cameras", stores, synth_seconds(config, tmpdir / f"out{stores}")))
        run.show(f"cdk synth wall time (median of {RUNS}, CLI + jsii + cdk-nag):")
        for label, _, seconds in rows:
            run.show(f"  {label:<28} {seconds:6.2f} s", Figure(f"synth: {label}", seconds, "s"))
        (_, s5, t5), (_, s50, t50) = rows[1], rows[3]
        per_store = (t50 - t5) / (s50 - s5)
        run.show(
            f"  marginal cost per store (5 → 50): {per_store * 1000:.0f} ms",
            Figure("marginal cost per store (5 → 50)", per_store * 1000, "ms"),
        )
        predicted_25 = t5 + per_store * (25 - 5)
        # The measured 25-store time is the figure shown (and recorded) above.
        run.show(
            f"  25-store time predicted by a line through 5 and 50: {predicted_25:.2f} s (measured {rows[2][2]:.2f} s)",
            Figure("25-store time predicted by a line through 5 and 50", predicted_25, "s"),
        )


if __name__ == "__main__":
    main()
