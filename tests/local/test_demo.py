"""End to end: `make demo` in small, checked on what it leaves behind."""

from __future__ import annotations

import datetime as dt
import re
import shutil
from collections import Counter
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from local.demo import main, run_demo
from local.scenes import OPENING_HOURS, compose_day
from shopper_sentiment.contracts.schema import IMAGES_TABLE_NAME, arrow_schema

# After the edge agent's build date: it holds stills dated earlier as a wrong clock.
DAY = dt.date(2026, 11, 27)
DAYS = 2
ANALYZER = "local-blazeface+fer2013"
FACE_RECORDS = "face records (sightings: one per face per still)"
IMAGE_ROWS = "image rows (one per still analyzed or quarantined)"


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    return run_demo(tmp_path_factory.mktemp("demo") / "out", frames_per_device=2, day=DAY, days=DAYS)


def faces_table(demo, folder: str = "faces"):
    files = sorted((demo.curated_root / folder).rglob("*.parquet"))
    assert files
    return files, [pq.read_table(f) for f in files]


def test_every_capture_is_uploaded_analyzed_and_archived(demo):
    s = demo.summary
    assert s["stills staged"] == 16  # 2 frames x 4 demo cameras x 2 days
    assert s["uploaded by the edge agents"] + s["skipped as near-duplicates (frame thinning)"] == 16
    assert s["archived after analysis"] + s["quarantined"] == s["uploaded by the edge agents"]
    assert s["left in incoming/"] == 0
    assert s["analyzer"] == ANALYZER
    # One row per still that reached the function, whatever became of it.
    assert s[IMAGE_ROWS] == s["archived after analysis"] + s["quarantined"]


def test_parquet_is_written_in_firehose_layout_with_the_schema(demo):
    days = {f"dt={(DAY - dt.timedelta(days=n)).isoformat()}" for n in range(DAYS)}
    for folder, schema, count in (
        ("faces", arrow_schema(), FACE_RECORDS),
        ("images", arrow_schema(table=IMAGES_TABLE_NAME), IMAGE_ROWS),
    ):
        files, tables = faces_table(demo, folder)
        for path, table in zip(files, tables, strict=True):
            relative = path.relative_to(demo.curated_root).parts
            assert relative[0] == folder
            assert relative[1].startswith("store_id=store-")
            assert relative[2] in days
            assert table.schema.equals(schema), path
        assert sum(t.num_rows for t in tables) == demo.summary[count] > 0


def test_each_store_is_dated_by_its_own_clock(demo):
    """Both stores open 08:00-20:00 on their own clocks, 9 hours apart (Los Angeles, Berlin)."""
    opening, closing = (t.hour for t in OPENING_HOURS)
    offsets = {}
    for path in sorted((demo.curated_root / "images").rglob("*.parquet")):
        store = path.parent.parent.name.removeprefix("store_id=")
        day = path.parent.name.removeprefix("dt=")
        for row in pq.read_table(path).to_pylist():
            local = row["captured_at_local"]
            assert opening <= local.hour < closing
            assert local.date().isoformat() == day
            offsets.setdefault(store, set()).add(round((local - row["captured_at"]).total_seconds() / 3600))
    assert offsets == {"store-001": {-8}, "store-002": {1}}  # PST and CET in November


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
    per_day = demo.results["faces_per_day"]
    assert {r["capture_day"] for r in per_day} <= {(DAY - dt.timedelta(days=n)).isoformat() for n in range(DAYS)}
    assert sum(r["faces"] for r in per_day) == sum(emotions.values())
    stills = demo.results["stills_per_camera_hour"]
    assert sum(r["stills"] for r in stills) == demo.summary[IMAGE_ROWS]


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
    assert re.search(r"^  left in incoming/ +0$", out, re.MULTILINE)


def test_closed_store_days_end_as_one_object_each(demo):
    # The stand-in flushes each partition once per 15 minutes of capture time, as Firehose does.
    described = demo.summary["Parquet objects per closed store-day (compaction)"]
    before, after = (float(n) for n in re.findall(r"([\d.]+) (?:before|after)", described))
    assert before > 1.0
    assert after == 1.0
    for folder in ("faces", "images"):
        for day in {p.parent for p in (demo.curated_root / folder).rglob("*.parquet")}:
            assert len(list(day.glob("*.parquet"))) == 1, day
