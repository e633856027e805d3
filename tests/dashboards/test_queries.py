"""Every named query, run for real: strict Athena parse → DuckDB → exact answers.

The datasets are small and built by hand so every answer below was worked out
on paper from the rows in ``_IN_WINDOW`` and ``_IMAGES``; nothing here
recomputes an answer with the logic under test. Hours and days are the
stores' wall clocks (store-001 is in Los Angeles, west of UTC; store-002 in
Berlin): each row states its local time and the test writes ``dt`` and
``captured_at_local`` from it. Rows outside the 30-day window use an emotion,
hour, store and age that never occur inside it, so a window that leaks
changes every result. A second bucket holds the same rows plus a later,
different re-analysis of every face and still: every answer must be the same.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
from shopper_sentiment.dashboards.measures import (
    AGE_BANDS,
    ATTENTION_MAX_ABS_PITCH,
    ATTENTION_MAX_ABS_YAW,
    NEGATIVE_EMOTIONS,
    POSITIVE_EMOTIONS,
    age_band_upper_bounds,
)
from sqlglot import exp

from local.athena import connect, parse_athena_sql, run_query, to_duckdb_sql
from shopper_sentiment.contracts.catalogue import CATALOGUE, Visual
from shopper_sentiment.contracts.identifiers import CHECK_CAMERA_ID, CHECK_DEVICE_ID, CHECK_STORE_ID, CHECK_ZONE
from shopper_sentiment.contracts.schema import IMAGES_TABLE_NAME, OUTCOME_QUARANTINED, TABLE_NAME, UNREGISTERED_STORE
from tests.dashboards.curated_rows import face_record, image_record, utc_of, write_rows

QUERIES_DIR = Path(__file__).resolve().parents[2] / "dashboards" / "queries"
QUERY_FILES = sorted(QUERIES_DIR.glob("*.sql"))
TODAY = dt.date(2026, 3, 15)  # window = dt >= 2026-02-14 (today and the 29 days before)

EXPECTED_QUERIES = {
    "age_band_distribution",
    "attention_by_zone_hour",
    "busiest_hours_per_zone",
    "emotion_share",
    "emotions_by_hour",
    "faces_per_day",
    "gender_split",
    "people_present_by_zone_hour",
    "sentiment_index",
    "stills_per_camera_hour",
    "stills_with_people",
    "store_comparison",
}
IMAGES_QUERIES = {"people_present_by_zone_hour", "stills_per_camera_hour", "stills_with_people"}

IN = (30, 20)  # on both limits: turned toward the camera
# (face, store, local day, zone, local hour, image, emotion, (age_low, age_high) | None, gender | None, smile, pose)
_IN_WINDOW = [
    ("F1", "store-001", "2026-03-15", "entrance", 9, "img1", "happy", (25, 31), "Female", True, IN),
    ("F2", "store-001", "2026-03-15", "entrance", 9, "img1", "happy", (14, 18), "Male", True, (-30, -20)),
    ("F3", "store-001", "2026-03-15", "entrance", 9, "img2", "happy", (20, 26), "Female", True, (30.5, 0)),
    ("F4", "store-001", "2026-03-15", "entrance", 9, "img3", "sad", (40, 48), "Male", False, (0, -21)),
    ("F5", "store-001", "2026-03-15", "entrance", 10, "img4", "calm", (30, 36), "Female", False, None),
    ("F6", "store-001", "2026-03-15", "entrance", 10, "img4", "calm", (60, 70), "Male", False, (1.5, -2.5)),
    ("F7", "store-001", "2026-03-15", "checkout", 17, "img5", "angry", (45, 53), "Male", False, (45, 0)),
    ("F8", "store-001", "2026-03-15", "checkout", 17, "img6", "angry", (22, 28), "Female", False, (-10, 25)),
    # the window's first day: included
    ("F9", "store-001", "2026-02-14", "entrance", 9, "img7", "happy", (55, 63), "Female", True, (1.5, -2.5)),
    ("F10", "store-001", "2026-02-14", "checkout", 17, "img8", "surprised", (17, 19), None, False, None),
    ("F11", "store-002", "2026-03-14", "grocery", 10, "img9", "happy", (26, 32), "Female", True, (1.5, -2.5)),
    ("F12", "store-002", "2026-03-14", "grocery", 10, "img9", "happy", (8, 12), "Male", True, (-60, 5)),
    ("F13", "store-002", "2026-03-14", "grocery", 11, "img10", "confused", (35, 43), "Male", False, None),
    ("F14", "store-002", "2026-03-14", "grocery", 9, "img11", "calm", None, "Female", False, (1.5, -2.5)),
    ("F15", "store-002", "2026-03-14", "grocery", 12, "img12", "surprised", (50, 58), "Male", False, (29.9, 19.9)),
]
_OUT_OF_WINDOW = [
    # the day before the window: excluded
    *[
        (f"X{i}", "store-001", "2026-02-13", "entrance", 23, "img13", "fear", (70, 80), "Male", False, IN)
        for i in range(5)
    ],
    *[
        (f"Y{i}", "store-003", "2025-12-01", "lobby", 23, "img14", "disgusted", (70, 80), "Female", True, IN)
        for i in range(4)
    ],
]

_Q = OUTCOME_QUARANTINED
# (image, store, local day, local hour, minute, zone, device, camera, faces kept | None, outcome)
_IMAGES = [
    ("img1", "store-001", "2026-03-15", 9, 5, "entrance", "pi-store-001-entrance", "entrance", 2, "analyzed"),
    ("img2", "store-001", "2026-03-15", 9, 20, "entrance", "pi-store-001-entrance", "entrance", 1, "analyzed"),
    ("empty1", "store-001", "2026-03-15", 9, 40, "entrance", "pi-store-001-entrance", "entrance", 0, "analyzed"),
    ("q1", "store-001", "2026-03-15", 9, 50, "entrance", "pi-store-001-entrance", "entrance", None, _Q),
    ("img7", "store-001", "2026-02-14", 9, 10, "entrance", "pi-store-001-entrance", "entrance", 1, "analyzed"),
    ("img4", "store-001", "2026-03-15", 10, 15, "entrance", "pi-store-001-entrance", "entrance", 2, "analyzed"),
    ("empty2", "store-001", "2026-03-15", 10, 45, "entrance", "pi-store-001-entrance", "entrance", 0, "analyzed"),
    # a second camera on the same zone
    ("door1", "store-001", "2026-03-15", 9, 30, "entrance", "pi-store-001-door", "door", 3, "analyzed"),
    ("img5", "store-001", "2026-03-15", 17, 5, "checkout", "pi-store-001-checkout", "checkout", 1, "analyzed"),
    ("img6", "store-001", "2026-03-15", 17, 35, "checkout", "pi-store-001-checkout", "checkout", 1, "analyzed"),
    ("img8", "store-001", "2026-02-14", 17, 10, "checkout", "pi-store-001-checkout", "checkout", 1, "analyzed"),
    ("img9", "store-002", "2026-03-14", 10, 0, "grocery", "pi-store-002-grocery", "grocery", 2, "analyzed"),
    ("img10", "store-002", "2026-03-14", 11, 0, "grocery", "pi-store-002-grocery", "grocery", 1, "analyzed"),
    ("img11", "store-002", "2026-03-14", 9, 0, "grocery", "pi-store-002-grocery", "grocery", 1, "analyzed"),
    ("img12", "store-002", "2026-03-14", 12, 0, "grocery", "pi-store-002-grocery", "grocery", 1, "analyzed"),
    ("empty3", "store-002", "2026-03-14", 12, 30, "grocery", "pi-store-002-grocery", "grocery", 0, "analyzed"),
    # out of the window
    ("old1", "store-001", "2026-02-13", 23, 0, "entrance", "pi-store-001-entrance", "entrance", 9, "analyzed"),
    ("old2", "store-003", "2025-12-01", 23, 0, "lobby", "pi-store-003-lobby", "lobby", 9, "analyzed"),
]


def _face(row: tuple[Any, ...], **kwargs: Any) -> dict[str, Any]:
    face, store, day, zone, hour, image, emotion, age, gender, smile, pose = row
    local = dt.datetime.fromisoformat(day).replace(hour=hour, minute=7, second=3)
    return face_record(face, store, local, zone, image, emotion, age, gender, smile, pose=pose, **kwargs)


def _image(row: tuple[Any, ...]) -> dict[str, Any]:
    image, store, day, hour, minute, zone, device, camera, kept, outcome = row
    local = dt.datetime.fromisoformat(day).replace(hour=hour, minute=minute)
    return image_record(
        image,
        store,
        local,
        zone,
        device,
        camera,
        kept,
        outcome=outcome,
        reason="invalid-image-format" if kept is None else None,
    )


def _unregistered_still() -> dict[str, Any]:
    # A device in no store: UTC date, no local time, no zone (shopper_sentiment/contracts/schema.py).
    return image_record(
        "stray1",
        UNREGISTERED_STORE,
        None,
        None,
        "pi-stray",
        "cam",
        None,
        outcome=OUTCOME_QUARANTINED,
        reason="unknown-device",
        captured_utc=dt.datetime(2026, 3, 15, 12, tzinfo=dt.UTC),
    )


def face_records() -> list[dict[str, Any]]:
    return [_face(row) for row in _IN_WINDOW + _OUT_OF_WINDOW]


def image_records() -> list[dict[str, Any]]:
    return [_image(row) for row in _IMAGES] + [_unregistered_still()]


def reanalyzed(record: dict[str, Any]) -> dict[str, Any]:
    """The same face or still delivered again a day later, analyzed differently (same record_id / image_id)."""
    copy = {**record, "processed_at": record["processed_at"] + 86_400_000}
    if "record_id" in copy:
        copy.update(dominant_emotion="fear", age_low=70, age_high=80, gender="Male", pose_yaw=90.0, smile=False)
    else:
        copy.update(faces_kept=7, faces_detected=7, outcome="analyzed")
    return copy


def check_face_records() -> list[dict[str, Any]]:
    """Faces of the deployment check's still today (UTC, its store's clock), unlike any face above.

    A new emotion, age, gender split, smile, pose and hour: a query that
    counted them would change its answer.
    """
    local = dt.datetime.combine(TODAY, dt.time(6, 30))
    records = []
    for index, (emotion, gender) in enumerate((("disgusted", "Female"), ("fear", "Male"), ("confused", None))):
        face = face_record(
            f"C{index}", CHECK_STORE_ID, local, CHECK_ZONE, "check1", emotion, (80, 90), gender, True, pose=IN
        )
        records.append(_as_check_device(face))
    return records


def check_image_records() -> list[dict[str, Any]]:
    """The check's still, analyzed with the three faces of ``check_face_records``."""
    local = dt.datetime.combine(TODAY, dt.time(6, 30))
    still = image_record("check1", CHECK_STORE_ID, local, CHECK_ZONE, CHECK_DEVICE_ID, CHECK_CAMERA_ID, 3)
    return [still]


def _as_check_device(face: dict[str, Any]) -> dict[str, Any]:
    key = face["image_key"].replace(
        f"pi-{CHECK_STORE_ID}-{CHECK_ZONE}/{CHECK_ZONE}/", f"{CHECK_DEVICE_ID}/{CHECK_CAMERA_ID}/"
    )
    return {**face, "device_id": CHECK_DEVICE_ID, "camera_id": CHECK_CAMERA_ID, "image_key": key}


@pytest.fixture(scope="module")
def bucket(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("curated")
    write_rows(root, TABLE_NAME, face_records())
    write_rows(root, IMAGES_TABLE_NAME, image_records())
    return root


@pytest.fixture(scope="module")
def bucket_with_duplicates(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The same rows, and each face and still once more in a second object of its partition, re-analyzed later."""
    root = tmp_path_factory.mktemp("curated-duplicates")
    write_rows(root, TABLE_NAME, face_records())
    write_rows(root, IMAGES_TABLE_NAME, image_records())
    write_rows(root, TABLE_NAME, [reanalyzed(r) for r in face_records()], object_name="part-00001.parquet")
    write_rows(root, IMAGES_TABLE_NAME, [reanalyzed(r) for r in image_records()], object_name="part-00001.parquet")
    return root


@pytest.fixture(scope="module")
def bucket_with_check_rows(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The same rows, and a deployment check's still and faces in its own store's partitions."""
    root = tmp_path_factory.mktemp("curated-check")
    write_rows(root, TABLE_NAME, face_records() + check_face_records())
    write_rows(root, IMAGES_TABLE_NAME, image_records() + check_image_records())
    return root


def run(bucket: Path, name: str, today: dt.date = TODAY) -> list[tuple[Any, ...]]:
    path = QUERIES_DIR / f"{name}.sql"
    return run_query(bucket, path.read_text(encoding="utf-8"), today=today, source=path.name).rows


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
    table = IMAGES_TABLE_NAME if path.stem in IMAGES_QUERIES else TABLE_NAME
    assert f"FROM {table}" in duck


CURATED_TABLES = (TABLE_NAME, IMAGES_TABLE_NAME)


def _reads_of_tables(tree: exp.Expression) -> list[exp.Table]:
    return [t for t in tree.find_all(exp.Table) if t.name in CURATED_TABLES]


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
    """Every SELECT that reads ``faces`` or ``images`` without a dt predicate in its own WHERE."""
    tree = parse_athena_sql(sql)
    problems = []
    for table in _reads_of_tables(tree):
        select = table.find_ancestor(exp.Select)
        if select is None or not _dt_predicates(select):
            problems.append(select.sql("trino") if select else table.sql("trino"))
    return problems


@pytest.mark.parametrize("path", QUERY_FILES, ids=lambda p: p.stem)
def test_query_constrains_the_dt_partition_wherever_it_reads_a_curated_table(path: Path) -> None:
    sql = path.read_text(encoding="utf-8")
    assert _reads_of_tables(parse_athena_sql(sql)), "the query reads the faces or images table"
    assert unpruned_reads_of_faces(sql) == []


def test_dt_check_catches_a_query_that_would_scan_every_partition() -> None:
    assert unpruned_reads_of_faces("SELECT count(*) FROM faces WHERE zone = 'a'") != []
    assert unpruned_reads_of_faces("SELECT count(*) FROM faces WHERE dt = zone") != []
    assert unpruned_reads_of_faces("SELECT count(*) FROM faces WHERE dt >= '2026-01-01' OR zone = 'a'") != []
    assert unpruned_reads_of_faces("SELECT count(*) FROM faces WHERE zone = 'a' AND dt >= '2026-01-01'") == []
    # a window on an inner read does not excuse an outer, unfiltered one
    leaky = "SELECT * FROM faces WHERE zone IN (SELECT zone FROM faces WHERE dt >= '2026-01-01')"
    assert len(unpruned_reads_of_faces(leaky)) == 1
    assert unpruned_reads_of_faces("SELECT count(*) FROM images WHERE outcome = 'analyzed'") != []
    assert unpruned_reads_of_faces("SELECT count(*) FROM images WHERE dt >= '2026-01-01'") == []


def _reads_without_dedupe(sql: str) -> list[str]:
    """Every read of a curated table whose SELECT does not number the copies of its id."""
    keys = {TABLE_NAME: "record_id", IMAGES_TABLE_NAME: "image_id"}
    problems = []
    for table in _reads_of_tables(parse_athena_sql(sql)):
        select = table.find_ancestor(exp.Select)
        numbered = [
            window
            for window in (select.find_all(exp.Window) if select else [])
            if isinstance(window.this, exp.RowNumber)
            and [c.name for c in window.args.get("partition_by") or []] == [keys[table.name]]
        ]
        if not numbered:
            problems.append(table.name)
    return problems


@pytest.mark.parametrize("path", QUERY_FILES, ids=lambda p: p.stem)
def test_query_numbers_the_copies_of_each_id_wherever_it_reads_a_curated_table(path: Path) -> None:
    # The behaviour is proved on data below; this names the query that forgot it.
    assert _reads_without_dedupe(path.read_text(encoding="utf-8")) == []
    assert _reads_without_dedupe("SELECT count(*) FROM faces WHERE dt >= '2026-01-01'") == ["faces"]


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


def test_attention_limits_in_sql_are_the_ones_in_measures() -> None:
    tree = parse_athena_sql((QUERIES_DIR / "attention_by_zone_hour.sql").read_text())
    limits = {
        (node.this.this.name, int(node.expression.name))
        for node in tree.find_all(exp.LTE)
        if isinstance(node.this, exp.Abs)
    }
    assert limits == {("pose_yaw", ATTENTION_MAX_ABS_YAW), ("pose_pitch", ATTENTION_MAX_ABS_PITCH)}


def _stores_left_out(sql: str) -> set[str]:
    return {
        node.expression.name
        for node in parse_athena_sql(sql).find_all(exp.NEQ)
        if isinstance(node.this, exp.Column) and node.this.name == "store_id"
    }


def test_the_store_of_unregistered_devices_in_sql_is_the_schemas() -> None:
    sql = (QUERIES_DIR / "stills_per_camera_hour.sql").read_text()
    assert _stores_left_out(sql) == {UNREGISTERED_STORE, CHECK_STORE_ID}


@pytest.mark.parametrize("path", QUERY_FILES, ids=lambda p: p.stem)
def test_the_check_store_left_out_in_sql_is_the_contracts(path: Path) -> None:
    assert CHECK_STORE_ID in _stores_left_out(path.read_text(encoding="utf-8"))


def test_age_bands_in_sql_are_the_ones_in_measures() -> None:
    tree = parse_athena_sql((QUERIES_DIR / "age_band_distribution.sql").read_text())
    case = next(tree.find_all(exp.Case))
    bounds = tuple(int(cond.this.expression.name) for cond in case.args["ifs"] if isinstance(cond.this, exp.LT))
    labels = tuple(cond.args["true"].name for cond in case.args["ifs"] if isinstance(cond.this, exp.LT))
    assert bounds == age_band_upper_bounds()
    assert (*labels, case.args["default"].name) == tuple(label for label, _ in AGE_BANDS)


# --- exact answers ------------------------------------------------------------------------------


def test_emotions_by_hour_counts_each_emotion_in_each_store_local_hour(bucket: Path) -> None:
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


def test_faces_per_day_counts_sightings_and_stills_with_faces_per_store_local_day(bucket: Path) -> None:
    assert run(bucket, "faces_per_day") == [
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
        write_rows(
            root,
            TABLE_NAME,
            [
                _face(
                    (f"F{i}", "store-001", d.isoformat(), "entrance", 9, f"img{i}", "happy", (20, 30), "Male", True, IN)
                )
                for i, d in enumerate(days)
            ],
        )
        con = connect(root)
        rows = run_query(con, (QUERIES_DIR / "faces_per_day.sql").read_text()).rows
        if dt.datetime.now(dt.UTC).date() == today:
            break
    assert [r[0] for r in rows] == [days[1].isoformat(), days[0].isoformat()]


# --- attention and the images table ---------------------------------------------------------------


def test_attention_is_the_share_of_posed_faces_within_both_limits_per_zone_and_local_hour(bucket: Path) -> None:
    # Limits are inclusive: (30, 20) and (-30, -20) are in, (30.5, 0) and (0, -21) out; no pose is left out.
    assert run(bucket, "attention_by_zone_hour") == [
        # store, zone, hour, faces, with a pose, toward the camera, %
        ("store-001", "checkout", 17, 3, 2, 0, 0.0),
        ("store-001", "entrance", 9, 5, 5, 3, 60.0),
        ("store-001", "entrance", 10, 2, 1, 1, 100.0),
        ("store-002", "grocery", 9, 1, 1, 1, 100.0),
        ("store-002", "grocery", 10, 2, 2, 1, 50.0),
        ("store-002", "grocery", 11, 1, 0, 0, None),  # no pose estimate at all
        ("store-002", "grocery", 12, 1, 1, 1, 100.0),
    ]


def test_people_present_averages_faces_per_analyzed_still_with_its_peak(bucket: Path) -> None:
    # Empty stills count as 0, the quarantined one not at all; two cameras of one zone are averaged together.
    assert [(*r[:5], float(r[5]), r[6]) for r in run(bucket, "people_present_by_zone_hour")] == [
        # store, zone, hour, cameras, stills, people present, peak
        ("store-001", "checkout", 17, 1, 3, 1.0, 1),
        ("store-001", "entrance", 9, 2, 5, 1.4, 3),  # 2 + 1 + 0 + 1 + 3 over 5 stills
        ("store-001", "entrance", 10, 1, 2, 1.0, 2),
        ("store-002", "grocery", 9, 1, 1, 1.0, 1),
        ("store-002", "grocery", 10, 1, 1, 2.0, 2),
        ("store-002", "grocery", 11, 1, 1, 1.0, 1),
        ("store-002", "grocery", 12, 1, 2, 0.5, 1),
    ]


def test_stills_with_people_is_the_share_of_analyzed_stills_with_a_face(bucket: Path) -> None:
    assert run(bucket, "stills_with_people") == [
        ("store-001", "checkout", 17, 3, 3, 100.0),
        ("store-001", "entrance", 9, 5, 4, 80.0),
        ("store-001", "entrance", 10, 2, 1, 50.0),
        ("store-002", "grocery", 9, 1, 1, 100.0),
        ("store-002", "grocery", 10, 1, 1, 100.0),
        ("store-002", "grocery", 11, 1, 1, 100.0),
        ("store-002", "grocery", 12, 2, 1, 50.0),
    ]


def test_stills_per_camera_counts_every_still_by_local_day_and_hour_and_leaves_gaps(bucket: Path) -> None:
    # The unregistered device's still is left out; hours without stills have no row (the gap).
    assert run(bucket, "stills_per_camera_hour") == [
        # store, zone, device, camera, day, hour, stills, analyzed, quarantined
        ("store-001", "checkout", "pi-store-001-checkout", "checkout", "2026-02-14", 17, 1, 1, 0),
        ("store-001", "checkout", "pi-store-001-checkout", "checkout", "2026-03-15", 17, 2, 2, 0),
        ("store-001", "entrance", "pi-store-001-door", "door", "2026-03-15", 9, 1, 1, 0),
        ("store-001", "entrance", "pi-store-001-entrance", "entrance", "2026-02-14", 9, 1, 1, 0),
        ("store-001", "entrance", "pi-store-001-entrance", "entrance", "2026-03-15", 9, 4, 3, 1),
        ("store-001", "entrance", "pi-store-001-entrance", "entrance", "2026-03-15", 10, 2, 2, 0),
        ("store-002", "grocery", "pi-store-002-grocery", "grocery", "2026-03-14", 9, 1, 1, 0),
        ("store-002", "grocery", "pi-store-002-grocery", "grocery", "2026-03-14", 10, 1, 1, 0),
        ("store-002", "grocery", "pi-store-002-grocery", "grocery", "2026-03-14", 11, 1, 1, 0),
        ("store-002", "grocery", "pi-store-002-grocery", "grocery", "2026-03-14", 12, 2, 2, 0),
    ]


# --- no double counts ---------------------------------------------------------------------------


def test_the_duplicated_bucket_really_holds_every_row_twice(bucket: Path, bucket_with_duplicates: Path) -> None:
    for table in CURATED_TABLES:
        sql = f"SELECT count(*) FROM {table} WHERE dt >= '2000-01-01'"
        (once,) = run_query(bucket, sql).rows
        (twice,) = run_query(bucket_with_duplicates, sql).rows
        assert twice[0] == 2 * once[0] > 0


@pytest.mark.parametrize("path", QUERY_FILES, ids=lambda p: p.stem)
def test_a_redelivered_or_reanalyzed_face_or_still_changes_no_answer(
    path: Path, bucket: Path, bucket_with_duplicates: Path
) -> None:
    # The copies are analyzed later and differently (emotion, age, pose, faces kept): the first analysis counts.
    once = run(bucket, path.stem)
    assert once, "the query answers something on the sample data"
    assert run(bucket_with_duplicates, path.stem) == once


# --- store-local time, west of UTC and across daylight saving ------------------------------------


LA_TODAY = dt.date(2026, 11, 24)  # window = dt >= 2026-10-26
# (UTC instant, the Los Angeles wall clock it is): written out, not computed, and checked against zoneinfo.
_LA_CAPTURES = [
    # west of UTC: the UTC date is the next day
    (dt.datetime(2026, 11, 24, 3, 0, tzinfo=dt.UTC), dt.datetime(2026, 11, 23, 19, 0), 0),
    # 2026-11-01: clocks go back at 02:00 PDT, so 01:30 happens twice (PDT = UTC-7, then PST = UTC-8)
    (dt.datetime(2026, 11, 1, 8, 30, tzinfo=dt.UTC), dt.datetime(2026, 11, 1, 1, 30), 0),
    (dt.datetime(2026, 11, 1, 9, 30, tzinfo=dt.UTC), dt.datetime(2026, 11, 1, 1, 30), 1),
    # the evenings either side of the change: 23:30 is UTC-7 on Oct 31, UTC-8 on Nov 1
    (dt.datetime(2026, 11, 1, 6, 30, tzinfo=dt.UTC), dt.datetime(2026, 10, 31, 23, 30), 0),
    (dt.datetime(2026, 11, 2, 7, 30, tzinfo=dt.UTC), dt.datetime(2026, 11, 1, 23, 30), 0),
]


@pytest.fixture(scope="module")
def la_bucket(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("curated-la")
    faces, images = [], []
    for index, (utc, local, fold) in enumerate(_LA_CAPTURES):
        assert utc_of("store-la", local, fold=fold) == utc
        image = f"la{index}"
        faces.append(
            face_record(f"L{index}", "store-la", local, "entrance", image, "happy", (30, 40), "Male", True, fold=fold)
        )
        images.append(image_record(image, "store-la", local, "entrance", "pi-la", "entrance", 1, fold=fold))
    write_rows(root, TABLE_NAME, faces)
    write_rows(root, IMAGES_TABLE_NAME, images)
    return root


def test_a_capture_at_3_utc_in_los_angeles_is_the_evening_before(la_bucket: Path) -> None:
    rows = run(la_bucket, "faces_per_day", LA_TODAY)
    assert ("2026-11-23", "store-la", 1, 1) in rows
    assert not [r for r in rows if r[0] == "2026-11-24"]
    assert (19, "happy", 1) in run(la_bucket, "emotions_by_hour", LA_TODAY)


def test_hours_and_days_follow_the_store_clock_across_the_end_of_daylight_saving(la_bucket: Path) -> None:
    assert run(la_bucket, "faces_per_day", LA_TODAY) == [
        ("2026-10-31", "store-la", 1, 1),
        ("2026-11-01", "store-la", 3, 3),  # both 01:30s and the 23:30 of the 25-hour day
        ("2026-11-23", "store-la", 1, 1),
    ]
    assert run(la_bucket, "emotions_by_hour", LA_TODAY) == [(1, "happy", 2), (19, "happy", 1), (23, "happy", 2)]
    assert [r[:6] for r in run(la_bucket, "stills_per_camera_hour", LA_TODAY)] == [
        ("store-la", "entrance", "pi-la", "entrance", "2026-10-31", 23),
        ("store-la", "entrance", "pi-la", "entrance", "2026-11-01", 1),
        ("store-la", "entrance", "pi-la", "entrance", "2026-11-01", 23),
        ("store-la", "entrance", "pi-la", "entrance", "2026-11-23", 19),
    ]
    assert [(r[2], r[4]) for r in run(la_bucket, "people_present_by_zone_hour", LA_TODAY)] == [(1, 2), (19, 1), (23, 2)]


def test_queries_of_the_images_table_answer_nothing_on_a_bucket_without_it(tmp_path: Path) -> None:
    # A bucket from before the images table: faces only.
    write_rows(tmp_path, TABLE_NAME, face_records())
    assert run(tmp_path, "faces_per_day")
    for name in sorted(IMAGES_QUERIES):
        assert run(tmp_path, name) == []


# --- the deployment check's rows never count -------------------------------------------------------


def test_the_check_bucket_really_holds_the_check_devices_rows_in_the_window(bucket_with_check_rows: Path) -> None:
    for table, rows in ((TABLE_NAME, 3), (IMAGES_TABLE_NAME, 1)):
        sql = (
            f"SELECT count(*) FROM {table} WHERE dt >= '2026-02-14'"
            f" AND store_id = '{CHECK_STORE_ID}' AND device_id = '{CHECK_DEVICE_ID}'"
        )
        assert run_query(bucket_with_check_rows, sql).rows == [(rows,)]


@pytest.mark.parametrize("path", QUERY_FILES, ids=lambda p: p.stem)
def test_the_deployment_checks_rows_change_no_answer(path: Path, bucket: Path, bucket_with_check_rows: Path) -> None:
    assert run(bucket_with_check_rows, path.stem) == run(bucket, path.stem)


@pytest.mark.parametrize("path", QUERY_FILES, ids=lambda p: p.stem)
def test_without_its_exclusion_the_query_would_count_the_check_rows(path: Path, bucket_with_check_rows: Path) -> None:
    # Proves the rows above are ones each query would see: the exclusion is what keeps them out.
    sql = path.read_text(encoding="utf-8")
    exclusion = f"AND store_id <> '{CHECK_STORE_ID}'"
    assert exclusion in sql
    leaky = sql.replace(exclusion, "")
    with_check = run_query(bucket_with_check_rows, leaky, today=TODAY, source=path.name).rows
    assert with_check != run(bucket_with_check_rows, path.stem)
