"""Every named query, run for real: strict Athena parse → DuckDB → exact answers.

The dataset is small and built by hand so every answer below was worked out
on paper from the table in ``_IN_WINDOW``; nothing here recomputes an answer
with the logic under test. Rows outside the 30-day window use an emotion,
hour, store and age that never occur inside it, so a window that leaks
changes every result.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from pathlib import Path
from typing import Any

import pytest
from sqlglot import exp

from contracts.catalogue import CATALOGUE, Visual
from contracts.schema import COLUMN_NAMES, EMOTIONS, PARTITION_KEYS
from dashboards.measures import AGE_BANDS, NEGATIVE_EMOTIONS, POSITIVE_EMOTIONS, age_band_upper_bounds
from local.athena import connect, parse_athena_sql, run_query, to_duckdb_sql
from local.parquet_layout import write_faces

QUERIES_DIR = Path(__file__).resolve().parents[2] / "dashboards" / "queries"
QUERY_FILES = sorted(QUERIES_DIR.glob("*.sql"))
TODAY = dt.date(2026, 3, 15)  # window = dt >= 2026-02-14 (today and the 29 days before)

EXPECTED_QUERIES = {
    "age_band_distribution",
    "busiest_hours_per_zone",
    "emotion_share",
    "emotions_by_hour",
    "gender_split",
    "sentiment_index",
    "store_comparison",
    "visitors_per_day",
}

# (face, store, day, zone, hour, image, emotion, (age_low, age_high) | None, gender | None, smile)
_IN_WINDOW = [
    ("F1", "store-001", "2026-03-15", "entrance", 9, "img1", "happy", (25, 31), "Female", True),
    ("F2", "store-001", "2026-03-15", "entrance", 9, "img1", "happy", (14, 18), "Male", True),
    ("F3", "store-001", "2026-03-15", "entrance", 9, "img2", "happy", (20, 26), "Female", True),
    ("F4", "store-001", "2026-03-15", "entrance", 9, "img3", "sad", (40, 48), "Male", False),
    ("F5", "store-001", "2026-03-15", "entrance", 10, "img4", "calm", (30, 36), "Female", False),
    ("F6", "store-001", "2026-03-15", "entrance", 10, "img4", "calm", (60, 70), "Male", False),
    ("F7", "store-001", "2026-03-15", "checkout", 17, "img5", "angry", (45, 53), "Male", False),
    ("F8", "store-001", "2026-03-15", "checkout", 17, "img6", "angry", (22, 28), "Female", False),
    # the window's first day: included
    ("F9", "store-001", "2026-02-14", "entrance", 9, "img7", "happy", (55, 63), "Female", True),
    ("F10", "store-001", "2026-02-14", "checkout", 17, "img8", "surprised", (17, 19), None, False),
    ("F11", "store-002", "2026-03-14", "grocery", 10, "img9", "happy", (26, 32), "Female", True),
    ("F12", "store-002", "2026-03-14", "grocery", 10, "img9", "happy", (8, 12), "Male", True),
    ("F13", "store-002", "2026-03-14", "grocery", 11, "img10", "confused", (35, 43), "Male", False),
    ("F14", "store-002", "2026-03-14", "grocery", 9, "img11", "calm", None, "Female", False),
    ("F15", "store-002", "2026-03-14", "grocery", 12, "img12", "surprised", (50, 58), "Male", False),
]
_OUT_OF_WINDOW = [
    # the day before the window: excluded
    *[(f"X{i}", "store-001", "2026-02-13", "entrance", 23, "img13", "fear", (70, 80), "Male", False) for i in range(5)],
    *[
        (f"Y{i}", "store-003", "2025-12-01", "lobby", 23, "img14", "disgusted", (70, 80), "Female", True)
        for i in range(4)
    ],
]


def face_record(
    face: str,
    store: str,
    day: str,
    zone: str,
    hour: int,
    image: str,
    emotion: str,
    age: tuple[int, int] | None,
    gender: str | None,
    smile: bool,
) -> dict[str, Any]:
    """A complete record as the analyzer writes it (every schema column set)."""
    captured = dt.datetime.fromisoformat(day).replace(hour=hour, minute=7, second=3, tzinfo=dt.UTC)
    millis = int(captured.timestamp() * 1000)
    key = f"incoming/pi-{store}-{zone}/{day.replace('-', '/')}/{captured:%Y%m%dT%H%M%S}000Z-{image}.jpg"
    record: dict[str, Any] = {
        "record_id": hashlib.sha256(f"{key}#{face}".encode()).hexdigest()[:32],
        "image_key": key,
        "device_id": f"pi-{store}-{zone}",
        "camera_id": zone,
        "zone": zone,
        "captured_at": millis,
        "processed_at": millis + 2_500,
        "face_index": 0,
        "faces_in_image": 1,
        "age_low": age[0] if age else None,
        "age_high": age[1] if age else None,
        "gender": gender,
        "gender_confidence": 99.5 if gender else None,
        "dominant_emotion": emotion,
        "dominant_emotion_confidence": 91.25,
        **{f"emotion_{e}": (91.25 if e == emotion else 1.25) for e in EMOTIONS},
        "smile": smile,
        "eyeglasses": False,
        "sunglasses": False,
        "beard": False,
        "mustache": False,
        "eyes_open": True,
        "mouth_open": False,
        "face_occluded": False,
        "detection_confidence": 99.9,
        "bbox_left": 0.25,
        "bbox_top": 0.25,
        "bbox_width": 0.125,
        "bbox_height": 0.25,
        "pose_yaw": 1.5,
        "pose_pitch": -2.5,
        "pose_roll": 0.5,
        "quality_brightness": 80.0,
        "quality_sharpness": 70.0,
        "analyzer": "rekognition",
        "store_id": store,
        "dt": day,
    }
    assert set(record) == set(COLUMN_NAMES) | {k.name for k in PARTITION_KEYS}
    return record


@pytest.fixture(scope="module")
def bucket(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("curated")
    write_faces(root, [face_record(*row) for row in _IN_WINDOW + _OUT_OF_WINDOW])
    return root


def run(bucket: Path, name: str) -> list[tuple[Any, ...]]:
    path = QUERIES_DIR / f"{name}.sql"
    return run_query(bucket, path.read_text(encoding="utf-8"), today=TODAY, source=path.name).rows


# --- the files themselves -------------------------------------------------------------------


def test_every_question_of_the_issue_has_a_query_file() -> None:
    assert {p.stem for p in QUERY_FILES} == EXPECTED_QUERIES


# --- the catalogue names these files ----------------------------------------------------------


def test_the_catalogue_lists_exactly_the_query_files() -> None:
    assert sorted(query.sql_file for query in CATALOGUE.queries) == [p.name for p in QUERY_FILES]


@pytest.mark.parametrize("visual", CATALOGUE.visuals, ids=lambda v: v.id)
def test_every_visual_draws_a_query_that_has_its_file(visual: Visual) -> None:
    assert (QUERIES_DIR / CATALOGUE.query(visual.query).sql_file).is_file()


@pytest.mark.parametrize("path", QUERY_FILES, ids=lambda p: p.stem)
def test_query_opens_with_a_comment_saying_what_it_answers(path: Path) -> None:
    first = path.read_text(encoding="utf-8").splitlines()[0]
    assert first.startswith("-- ")
    description = first.removeprefix("--").strip()
    # The first line becomes the NamedQuery Description (at most 1024 chars).
    assert 20 <= len(description) <= 1024
    assert description.endswith("?"), "the opening line states the question the query answers"


@pytest.mark.parametrize("path", QUERY_FILES, ids=lambda p: p.stem)
def test_query_parses_strictly_as_athena_sql_and_transpiles_to_duckdb(path: Path) -> None:
    duck = to_duckdb_sql(path.read_text(encoding="utf-8"), source=path.name)
    assert "faces" in duck


def _reads_of_faces(tree: exp.Expression) -> list[exp.Table]:
    return [t for t in tree.find_all(exp.Table) if t.name == "faces"]


def _dt_predicates(select: exp.Select) -> list[exp.Expression]:
    """Top-level conjuncts of the WHERE of ``select`` that bound dt by a non-column value.

    Only AND-ed conjuncts count: ``dt >= x OR zone = 'a'`` lets every
    partition through, and a predicate inside a subquery prunes that
    subquery's read, not this one.
    """
    where = select.args.get("where")
    if where is None:
        return []
    found = []
    for node in where.this.flatten() if isinstance(where.this, exp.And) else [where.this]:
        if not isinstance(node, exp.GTE | exp.GT | exp.LT | exp.LTE | exp.EQ | exp.Between | exp.In):
            continue
        others = [v for k, v in node.args.items() if k != "this" and isinstance(v, exp.Expression)]
        others += [v for v in node.args.get("expressions") or []]
        if (
            isinstance(node.this, exp.Column)
            and node.this.name == "dt"
            and not node.find(exp.Subquery, exp.Select)
            and not any(c.name != "dt" for o in others for c in o.find_all(exp.Column))
        ):
            found.append(node)
    return found


def unpruned_reads_of_faces(sql: str) -> list[str]:
    """Every SELECT that reads ``faces`` without a dt predicate in its own WHERE."""
    tree = parse_athena_sql(sql)
    problems = []
    for table in _reads_of_faces(tree):
        select = table.find_ancestor(exp.Select)
        if select is None or not _dt_predicates(select):
            problems.append(select.sql("trino") if select else table.sql("trino"))
    return problems


@pytest.mark.parametrize("path", QUERY_FILES, ids=lambda p: p.stem)
def test_query_constrains_the_dt_partition_wherever_it_reads_faces(path: Path) -> None:
    sql = path.read_text(encoding="utf-8")
    assert _reads_of_faces(parse_athena_sql(sql)), "the query reads the faces table"
    assert unpruned_reads_of_faces(sql) == []


def test_dt_check_catches_a_query_that_would_scan_every_partition() -> None:
    assert unpruned_reads_of_faces("SELECT count(*) FROM faces WHERE zone = 'a'") != []
    assert unpruned_reads_of_faces("SELECT count(*) FROM faces WHERE dt = zone") != []
    assert unpruned_reads_of_faces("SELECT count(*) FROM faces WHERE dt >= '2026-01-01' OR zone = 'a'") != []
    assert unpruned_reads_of_faces("SELECT count(*) FROM faces WHERE zone = 'a' AND dt >= '2026-01-01'") == []
    # a window on an inner read does not excuse an outer, unfiltered one
    leaky = "SELECT * FROM faces WHERE zone IN (SELECT zone FROM faces WHERE dt >= '2026-01-01')"
    assert len(unpruned_reads_of_faces(leaky)) == 1


# --- the measures are defined once --------------------------------------------------------------


def _in_lists(sql: str) -> set[tuple[str, ...]]:
    tree = parse_athena_sql(sql)
    return {
        tuple(v.name for v in node.expressions)
        for node in tree.find_all(exp.In)
        if isinstance(node.this, exp.Column) and node.this.name == "dominant_emotion"
    }


@pytest.mark.parametrize("name", ["sentiment_index", "store_comparison"])
def test_sentiment_split_in_sql_is_the_one_in_measures(name: str) -> None:
    assert _in_lists((QUERIES_DIR / f"{name}.sql").read_text()) == {POSITIVE_EMOTIONS, NEGATIVE_EMOTIONS}


def test_age_bands_in_sql_are_the_ones_in_measures() -> None:
    tree = parse_athena_sql((QUERIES_DIR / "age_band_distribution.sql").read_text())
    case = next(tree.find_all(exp.Case))
    bounds = tuple(int(cond.this.expression.name) for cond in case.args["ifs"] if isinstance(cond.this, exp.LT))
    labels = tuple(cond.args["true"].name for cond in case.args["ifs"] if isinstance(cond.this, exp.LT))
    assert bounds == age_band_upper_bounds()
    assert (*labels, case.args["default"].name) == tuple(label for label, _ in AGE_BANDS)


# --- exact answers ------------------------------------------------------------------------------


def test_emotions_by_hour_counts_each_emotion_in_each_utc_hour(bucket: Path) -> None:
    assert run(bucket, "emotions_by_hour") == [
        (9, "calm", 1),
        (9, "happy", 4),
        (9, "sad", 1),
        (10, "calm", 2),
        (10, "happy", 2),
        (11, "confused", 1),
        (12, "surprised", 1),
        (17, "angry", 2),
        (17, "surprised", 1),
    ]


def test_emotion_share_gives_each_emotions_percentage_of_all_faces(bucket: Path) -> None:
    assert run(bucket, "emotion_share") == [
        ("happy", 6, 40.0),
        ("calm", 3, 20.0),
        ("angry", 2, 13.33),
        ("surprised", 2, 13.33),
        ("confused", 1, 6.67),
        ("sad", 1, 6.67),
    ]


def test_visitors_per_day_counts_faces_and_images_per_store_day(bucket: Path) -> None:
    assert run(bucket, "visitors_per_day") == [
        ("2026-02-14", "store-001", 2, 2),
        ("2026-03-14", "store-002", 5, 4),
        ("2026-03-15", "store-001", 8, 6),
    ]


def test_age_bands_use_the_range_midpoint_and_count_missing_ages_as_unknown(bucket: Path) -> None:
    # Boundaries on purpose: midpoint 18 (F10) is 18-24, 25 (F8) is 25-34, 65 (F6) is 65+.
    assert [(band, faces, float(pct)) for band, faces, pct in run(bucket, "age_band_distribution")] == [
        ("0-17", 2, 13.33),
        ("18-24", 2, 13.33),
        ("25-34", 4, 26.67),
        ("35-44", 2, 13.33),
        ("45-54", 2, 13.33),
        ("55-64", 1, 6.67),
        ("65+", 1, 6.67),
        ("unknown", 1, 6.67),
    ]


def test_gender_split_counts_missing_predictions_as_unknown(bucket: Path) -> None:
    assert run(bucket, "gender_split") == [
        ("Female", 7, 46.67),
        ("Male", 7, 46.67),
        ("unknown", 1, 6.67),
    ]


def test_sentiment_index_is_positive_share_of_emotional_faces_per_store_zone_day(bucket: Path) -> None:
    rows = [(d, s, z, p, n, None if i is None else float(i)) for d, s, z, p, n, i in run(bucket, "sentiment_index")]
    assert rows == [
        ("2026-02-14", "store-001", "checkout", 0, 0, None),  # only a surprised (neutral) face
        ("2026-02-14", "store-001", "entrance", 1, 0, 100.0),
        ("2026-03-14", "store-002", "grocery", 3, 1, 75.0),
        ("2026-03-15", "store-001", "checkout", 0, 2, 0.0),
        ("2026-03-15", "store-001", "entrance", 5, 1, 83.3),
    ]


def test_busiest_hours_lists_top_three_per_zone_ties_to_the_earlier_hour(bucket: Path) -> None:
    assert run(bucket, "busiest_hours_per_zone") == [
        ("store-001", "checkout", 17, 3, 1),
        ("store-001", "entrance", 9, 5, 1),
        ("store-001", "entrance", 10, 2, 2),
        ("store-002", "grocery", 10, 2, 1),
        ("store-002", "grocery", 9, 1, 2),
        ("store-002", "grocery", 11, 1, 3),  # hour 12 has 1 face too: cut by the tie rule
    ]


def test_store_comparison_summarises_each_store(bucket: Path) -> None:
    rows = [
        tuple(float(v) if isinstance(v, int | float) else v for v in row) for row in run(bucket, "store_comparison")
    ]
    assert rows == [
        # faces, days, faces/day, zones, smiling %, avg age (of range midpoints), sentiment index
        ("store-001", 10, 2, 5.0, 2, 40.0, 36.0, 66.7),
        ("store-002", 5, 1, 5.0, 1, 40.0, 33.0, 75.0),  # F14 has no age: averaged over 4
    ]


@pytest.mark.parametrize("path", QUERY_FILES, ids=lambda p: p.stem)
def test_query_returns_no_rows_on_an_empty_bucket(path: Path, tmp_path: Path) -> None:
    assert run_query(tmp_path, path.read_text(encoding="utf-8"), today=TODAY).rows == []


def test_window_follows_the_real_current_date_unpinned(tmp_path: Path) -> None:
    """Without pinning, current_date (UTC) drives the window: today-29 is in, today-30 is out."""
    for _attempt in range(2):  # a run that straddles UTC midnight retries once
        today = dt.datetime.now(dt.UTC).date()
        days = [today - dt.timedelta(days=n) for n in (0, 29, 30)]
        root = tmp_path / today.isoformat()
        write_faces(
            root,
            [
                face_record(
                    f"F{i}", "store-001", d.isoformat(), "entrance", 9, f"img{i}", "happy", (20, 30), "Male", True
                )
                for i, d in enumerate(days)
            ],
        )
        con = connect(root)
        rows = run_query(con, (QUERIES_DIR / "visitors_per_day.sql").read_text()).rows
        if dt.datetime.now(dt.UTC).date() == today:
            break
    assert [r[0] for r in rows] == [days[1].isoformat(), days[0].isoformat()]
