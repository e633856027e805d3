"""End to end: `make demo` in small, checked on what it leaves behind."""

from __future__ import annotations

import datetime as dt
import shutil
from collections import Counter
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from contracts.schema import arrow_schema
from local.demo import main, run_demo
from local.scenes import compose_day

DAY = dt.date(2026, 11, 20)
ANALYZER = "local-blazeface+fer2013"


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    return run_demo(tmp_path_factory.mktemp("demo") / "out", frames_per_device=3, day=DAY)


def faces_table(demo):
    files = sorted(demo.curated_root.rglob("*.parquet"))
    assert files
    return files, [pq.read_table(f) for f in files]


def test_every_capture_is_uploaded_analyzed_and_archived(demo):
    s = demo.summary
    assert s["stills staged"] == 12  # 3 frames x 4 demo cameras
    assert s["uploaded by the edge agents"] + s["skipped as near-duplicates (frame thinning)"] == 12
    assert s["archived after analysis"] + s["quarantined"] == s["uploaded by the edge agents"]
    assert s["left in incoming/"] == 0
    assert s["analyzer"] == ANALYZER


def test_parquet_is_written_in_firehose_layout_with_the_schema(demo):
    files, tables = faces_table(demo)
    for path, table in zip(files, tables, strict=True):
        relative = path.relative_to(demo.curated_root).parts
        assert relative[0] == "faces"
        assert relative[1].startswith("store_id=store-")
        assert relative[2] == f"dt={DAY.isoformat()}"
        assert table.schema.equals(arrow_schema()), path
    rows = sum(t.num_rows for t in tables)
    assert rows == demo.summary["face records"] > 0


def test_columns_the_local_analyzer_cannot_estimate_are_null(demo):
    _, tables = faces_table(demo)
    for table in tables:
        assert set(table.column("analyzer").to_pylist()) == {ANALYZER}
        assert table.column("age_low").null_count == table.num_rows
        assert table.column("gender").null_count == table.num_rows
        assert table.column("emotion_happy").null_count == 0


def test_query_answers_match_the_parquet_files(demo):
    _, tables = faces_table(demo)
    emotions = Counter(e for t in tables for e in t.column("dominant_emotion").to_pylist())
    share = {row["emotion"]: row["faces"] for row in demo.results["emotion_share"]}
    assert share == dict(emotions)
    assert sum(r["faces"] for r in demo.results["emotions_by_hour"]) == sum(emotions.values())
    per_day = demo.results["visitors_per_day"]
    assert {r["capture_day"] for r in per_day} == {DAY.isoformat()}
    assert sum(r["faces"] for r in per_day) == sum(emotions.values())


def test_report_is_one_self_contained_page_naming_the_analyzer_and_synthetic_images(demo):
    html = demo.report.read_text(encoding="utf-8")
    assert demo.report.name == "report.html"
    assert ANALYZER in html
    assert "synthetic" in html.lower()
    assert 'src="http' not in html and 'href="http' not in html
    assert html.count("data:image/png;base64,") >= 6


def test_demo_runs_over_a_users_own_folder(tmp_path, capsys):
    own = tmp_path / "my-photos"
    frames = compose_day(tmp_path / "made", {"cam": "entrance"}, DAY, 2, seed=3)
    own.mkdir()
    for i, frame in enumerate(frames):
        shutil.copy(frame, own / f"photo {i}.jpg")  # not motion's names: time comes from EXIF
    assert main(["--images", str(own), "--out", str(tmp_path / "out")]) == 0
    out = capsys.readouterr().out
    assert "Report:" in out
    assert Path(out.rsplit("Report:", 1)[1].strip()).exists()
    assert "left in incoming/                             0" in out
