"""Bytes each named query reads: Parquet as Firehose writes it vs. JSON lines.

Generates a month (October 2026) of face records for 10 stores in four time
zones, at least 1M faces, and the images table's rows of the same stills
(one per still, with stills without faces and a few quarantined ones), and
writes both tables three ways under a temp dir, partitioned the same way
(``faces/store_id=<s>/dt=<d>/``, ``images/store_id=<s>/dt=<d>/``, ``dt`` the
store-local date):

* Parquet/SNAPPY, schema ``shopper_sentiment.contracts.schema.arrow_schema()``, one object per
  partition per Firehose buffer interval (900 s, the maximum: at this
  traffic the interval, not the 64 MiB size, flushes the buffer), which is
  how Firehose with dynamic partitioning delivers;
* the same Parquet compacted by the compaction function's own rewrite
  (``lambdas/compact``, ``shopper_compact.rewrite``): one object per
  store-day, one row per id, sorted by capture time;
* JSON lines, the handler's records (what the original solution stored),
  compact, uncompressed.

For each query in ``dashboards/queries`` (run as of 2026-10-31, so its
30-day window selects 30 of the 31 days), the bytes Athena would read from
the table it reads (``faces`` or ``images``):

* Parquet: the compressed size of the column chunks of the columns the query
  references, in the partitions its ``dt`` predicate selects; "+footers"
  adds the selected objects' footers (a few KiB per object);
* of which dedupe: the chunks of the id column (``record_id``, ``image_id``)
  and ``processed_at``, which every query now reads to keep one row per id
  (the queries before that read neither unless they needed them);
* JSON: the whole size of the selected partitions' objects: a JSON SerDe
  cannot skip columns.

It also runs each query on DuckDB over the Parquet copy, as a check that it
works at this size. Every figure printed is also recorded in
``.bench/results.json`` (``bench/results.py``). Usage:
``python bench/bench_queries.py [--keep DIR]``.
"""

from __future__ import annotations

import argparse
import array
import datetime as dt
import hashlib
import random
import shutil
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from zoneinfo import ZoneInfo

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from sqlglot import exp

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from shopper_sentiment.dashboards.quicksight.dataset import DEDUPE_KEYS  # noqa: E402
from shopper_sentiment.dashboards.render import QUERIES_DIR  # noqa: E402

from bench.results import BenchRun, Figure, Target  # noqa: E402
from local.athena import TABLE_FOLDERS, connect, parse_athena_sql, pin_current_date, run_query  # noqa: E402
from local.parquet_layout import partition_dir, write_partition  # noqa: E402
from shopper_sentiment.contracts.catalogue import CATALOGUE  # noqa: E402
from shopper_sentiment.contracts.schema import (  # noqa: E402
    COLUMN_NAMES,
    EMOTIONS,
    IMAGES_TABLE_NAME,
    OUTCOME_ANALYZED,
    OUTCOME_QUARANTINED,
    PARTITION_KEYS,
    TABLE_NAME,
    TABLES,
    arrow_schema,
)
from shopper_sentiment.tiers.compaction import DEFAULT_MAX_OBJECT_SIZE, HANDLER_DIR, compaction_config  # noqa: E402

sys.path.append(str(HANDLER_DIR))
from shopper_compact.partitions import COMPACTED_PREFIX, StoredObject, compaction_run_id  # noqa: E402
from shopper_compact.rewrite import (  # noqa: E402
    first_analysis_per_id,
    parquet_parts,
    read_object,
    sorted_for_reading,
)
from shopper_compact.settings import parse_config  # noqa: E402

MONTH_START = dt.date(2026, 10, 1)
DAYS = 31
AS_OF = MONTH_START + dt.timedelta(days=DAYS - 1)
STORES = 10
MIN_FACES = 1_000_000
BUFFER_SECONDS = 900
PARTITION_NAMES = {k.name for k in PARTITION_KEYS}
ZONES = ("entrance", "checkout", "grocery", "electronics", "apparel")
# Rekognition-like emotion mix of shoppers: mostly calm, then happy.
EMOTION_WEIGHTS = {
    "calm": 40,
    "happy": 25,
    "surprised": 8,
    "confused": 8,
    "sad": 7,
    "angry": 5,
    "disgusted": 3,
    "fear": 4,
}
# Share of a store-day's faces in each opening hour (08-21 local time), peaks at noon and after work.
HOUR_WEIGHTS = {8: 3, 9: 5, 10: 7, 11: 9, 12: 11, 13: 10, 14: 8, 15: 8, 16: 9, 17: 11, 18: 10, 19: 6, 20: 3}
#: The stores' time zones, in turn (October 2026 has the European DST change on the 25th).
TIME_ZONES = ("Europe/Berlin", "Europe/London", "America/New_York", "America/Los_Angeles")
#: Stills per still-with-faces that have nobody in them (motion without a face), and quarantined ones.
EMPTY_STILLS_PER_STILL_WITH_FACES = 0.6
QUARANTINED_SHARE = 0.01
IMAGE_COLUMN_NAMES = tuple(c.name for c in TABLES[IMAGES_TABLE_NAME])
#: Columns whose values are (nearly) unique per row: ids, keys, instants, measured doubles.
HIGH_ENTROPY_COLUMNS = {
    c.name
    for columns in TABLES.values()
    for c in columns
    if c.type in ("timestamp", "double") or c.name in ("record_id", "image_id", "image_key")
}


def _f32(values: list[float]) -> list[float]:
    # Rekognition's numbers are float32 values printed as doubles
    # (99.99996185302734): same digits, same sizes, as the real records.
    return array.array("f", values).tolist()


def store_day_tables(rng: random.Random, store: int, day: dt.date, faces: int) -> tuple[pa.Table, pa.Table]:
    """One store-local day of face records and of image rows, sorted by capture time, in their Parquet schemas."""
    zone_info = ZoneInfo(TIME_ZONES[store % len(TIME_ZONES)])
    zones = ZONES[: 2 + store % 4]
    hours = rng.choices(list(HOUR_WEIGHTS), weights=list(HOUR_WEIGHTS.values()), k=faces)
    emotions = rng.choices(list(EMOTION_WEIGHTS), weights=list(EMOTION_WEIGHTS.values()), k=faces)
    base = dt.datetime.combine(day, dt.time(), tzinfo=zone_info)
    cols: dict[str, list] = {name: [] for name in COLUMN_NAMES}
    images: dict[str, list] = {name: [] for name in IMAGE_COLUMN_NAMES}

    def local_millis(utc_millis: int) -> int:
        local = dt.datetime.fromtimestamp(utc_millis / 1000, dt.UTC).astimezone(zone_info)
        return int(local.replace(tzinfo=dt.UTC).timestamp() * 1000)

    def add_image(key: str, device: str, zone: str, captured: int, kept: int | None) -> None:
        images["image_id"].append(hashlib.blake2b(key.encode(), digest_size=16).hexdigest())
        images["image_key"].append(key)
        images["device_id"].append(device)
        images["camera_id"].append(zone)
        images["zone"].append(zone)
        images["captured_at"].append(captured)
        images["captured_at_local"].append(local_millis(captured))
        images["processed_at"].append(captured + rng.randrange(1_500, 30_000))
        images["outcome"].append(OUTCOME_ANALYZED if kept is not None else OUTCOME_QUARANTINED)
        images["quarantine_reason"].append(None if kept is not None else "invalid-image-format")
        images["faces_detected"].append(kept)
        images["faces_kept"].append(kept)
        images["analyzer"].append("rekognition" if kept is not None else None)

    # Local opening hours: timedelta arithmetic on an aware datetime is wall-clock arithmetic.
    moments = sorted(
        (int((base + dt.timedelta(hours=h)).timestamp() * 1000) + rng.randrange(3_600_000), e)
        for h, e in zip(hours, emotions, strict=True)
    )
    index_in_image = 0
    image_key = ""
    faces_in_image = 1
    for captured, emotion in moments:
        if index_in_image == 0:
            zone = rng.choice(zones)
            device = f"pi-s{store:03d}-{zone}"
            faces_in_image = rng.choices((1, 2, 3), weights=(80, 15, 5))[0]
            stamp = dt.datetime.fromtimestamp(captured / 1000, dt.UTC)
            digest = hashlib.blake2b(f"{device}{captured}".encode(), digest_size=6).hexdigest()
            image_key = f"incoming/{device}/{stamp:%Y/%m/%d}/{stamp:%Y%m%dT%H%M%S}{captured % 1000:03d}Z-{digest}.jpg"
            image_captured = captured
            add_image(image_key, device, zone, captured, faces_in_image)
            image_id = images["image_id"][-1]
            while rng.random() < EMPTY_STILLS_PER_STILL_WITH_FACES / (1 + EMPTY_STILLS_PER_STILL_WITH_FACES):
                empty_at = captured + rng.randrange(1, 60_000)
                empty_key = f"{image_key[:-4]}-{empty_at}.jpg"
                add_image(empty_key, device, zone, empty_at, None if rng.random() < QUARANTINED_SHARE else 0)
        cols["record_id"].append(hashlib.blake2b(f"{image_key}#{index_in_image}".encode(), digest_size=16).hexdigest())
        cols["image_key"].append(image_key)
        cols["device_id"].append(device)
        cols["camera_id"].append(zone)
        cols["zone"].append(zone)
        cols["captured_at"].append(image_captured)
        cols["captured_at_local"].append(local_millis(image_captured))
        cols["image_id"].append(image_id)
        cols["processed_at"].append(image_captured + rng.randrange(1_500, 30_000))
        cols["face_index"].append(index_in_image)
        cols["faces_in_image"].append(faces_in_image)
        low = rng.randrange(12, 70)
        cols["age_low"].append(low)
        cols["age_high"].append(low + rng.randrange(3, 12))
        cols["gender"].append(rng.choice(("Male", "Female")))
        cols["gender_confidence"].append(rng.uniform(80, 99.99))
        cols["dominant_emotion"].append(emotion)
        top = rng.uniform(45, 99.9)
        cols["dominant_emotion_confidence"].append(top)
        rest = [rng.random() for _ in range(len(EMOTIONS) - 1)]
        scale = (100 - top) / sum(rest)
        others = iter(rest)
        for e in EMOTIONS:
            cols[f"emotion_{e}"].append(top if e == emotion else next(others) * scale)
        cols["smile"].append(emotion == "happy" or rng.random() < 0.05)
        for flag, p in (
            ("eyeglasses", 0.3),
            ("sunglasses", 0.03),
            ("beard", 0.15),
            ("mustache", 0.1),
            ("eyes_open", 0.9),
            ("mouth_open", 0.2),
            ("face_occluded", 0.05),
        ):
            cols[flag].append(rng.random() < p)
        cols["detection_confidence"].append(rng.uniform(90, 99.9999))
        for name, low_, high_ in (
            ("bbox_left", 0, 0.8),
            ("bbox_top", 0, 0.8),
            ("bbox_width", 0.05, 0.2),
            ("bbox_height", 0.08, 0.3),
            ("pose_yaw", -45, 45),
            ("pose_pitch", -30, 30),
            ("pose_roll", -20, 20),
            ("quality_brightness", 30, 95),
            ("quality_sharpness", 20, 95),
        ):
            cols[name].append(rng.uniform(low_, high_))
        cols["analyzer"].append("rekognition")
        index_in_image = (index_in_image + 1) % faces_in_image

    def table_of(columns: dict[str, list], table: str) -> pa.Table:
        schema = arrow_schema(table=table)
        arrays = []
        for field in schema:
            values = columns[field.name]
            if pa.types.is_floating(field.type):
                values = _f32(values)
            arrays.append(pa.array(values, type=field.type))
        return pa.Table.from_arrays(arrays, schema=schema).sort_by("captured_at")

    return table_of(cols, TABLE_NAME), table_of(images, IMAGES_TABLE_NAME)


def _write_table(
    con: duckdb.DuckDBPyConnection,
    roots: tuple[Path, Path],
    table_name: str,
    store_id: str,
    day: dt.date,
    data: pa.Table,
    first_object: int,
) -> int:
    """One store-day of a table as Firehose delivers it and as JSON lines; returns objects written."""
    parquet_root, json_root = roots
    objects = 0
    # One object per buffer interval: what Firehose delivers per partition.
    window = pc.divide(pc.cast(data["captured_at"], pa.int64()), BUFFER_SECONDS * 1000).to_pylist()
    start = 0
    for end in range(1, len(window) + 1):
        if end == len(window) or window[end] != window[start]:
            stamp = dt.datetime.fromtimestamp(window[start] * BUFFER_SECONDS, dt.UTC)
            write_partition(
                parquet_root,
                store_id,
                day.isoformat(),
                data.slice(start, end - start),
                object_name=f"{table_name}-stream-1-{stamp:%Y-%m-%d-%H-%M-%S}-{first_object + objects:08d}.parquet",
                table_name=table_name,
            )
            objects += 1
            start = end
    folder = partition_dir(json_root, store_id, day.isoformat(), table=table_name)
    folder.mkdir(parents=True, exist_ok=True)
    con.register("part", data)
    timestamps = ("captured_at", "captured_at_local", "processed_at")
    select = ", ".join(f"epoch_ms(CAST({c} AS TIMESTAMP)) AS {c}" if c in timestamps else c for c in data.column_names)
    con.execute(
        f"COPY (SELECT {select}, '{store_id}' AS store_id, '{day.isoformat()}' AS dt FROM part) "
        f"TO '{folder / f'{table_name}-stream-1.json'}' (FORMAT JSON)"
    )
    con.unregister("part")
    return objects


def write_dataset(parquet_root: Path, json_root: Path, seed: int = 20261031) -> tuple[int, int, int]:
    """Write the month as Firehose delivers it and as JSON; return (faces, stills, Parquet objects)."""
    rng = random.Random(seed)
    con = duckdb.connect()
    faces_total = stills_total = objects = 0
    per_store_day = -(-MIN_FACES // (STORES * DAYS))  # ceil: the month has at least MIN_FACES
    roots = (parquet_root, json_root)
    for store in range(1, STORES + 1):
        store_id = f"store-{store:03d}"
        for offset in range(DAYS):
            day = MONTH_START + dt.timedelta(days=offset)
            # Busier stores and weekends, never below the average.
            faces = per_store_day + 40 * store + (600 if day.weekday() >= 5 else 0)
            face_rows, image_rows = store_day_tables(rng, store, day, faces)
            faces_total += faces
            stills_total += image_rows.num_rows
            for table_name, data in ((TABLE_NAME, face_rows), (IMAGES_TABLE_NAME, image_rows)):
                objects += _write_table(con, roots, table_name, store_id, day, data, objects)
    return faces_total, stills_total, objects


def compact_layout(parquet_root: Path, compacted_root: Path) -> int:
    """Every store-day of ``parquet_root`` rewritten by the compaction function's own code; returns objects written.

    The same read, one-row-per-id, sort and write as ``lambdas/compact``
    (``shopper_compact.rewrite``), on files instead of S3 objects, with the
    deployed size limit and the tables and ids the stack ships.
    """
    tables, _ = parse_config(compaction_config({}), close_delay=dt.timedelta(0))
    max_bytes = int(DEFAULT_MAX_OBJECT_SIZE.to_bytes())
    written = 0
    for spec in tables:
        for folder in sorted((parquet_root / spec.prefix).glob("store_id=*/dt=*")):
            inputs = sorted(p for p in folder.iterdir() if p.is_file())
            rows = [read_object(p.read_bytes(), spec, source=str(p)) for p in inputs]
            kept = sorted_for_reading(first_analysis_per_id(rows, spec), spec)
            run = compaction_run_id(StoredObject(p.name, p.stat().st_size, "") for p in inputs)
            out = compacted_root / folder.relative_to(parquet_root)
            out.mkdir(parents=True, exist_ok=True)
            for part, body in enumerate(parquet_parts(kept, max_object_bytes=max_bytes)):
                (out / f"{COMPACTED_PREFIX}{run}-{part:05d}.parquet").write_bytes(body)
                written += 1
    return written


def read_table(sql: str) -> str:
    """The one curated table a named query reads."""
    (table,) = {t.name for t in parse_athena_sql(sql).find_all(exp.Table)} & set(TABLES)
    return table


def referenced_columns(sql: str, table: str = TABLE_NAME) -> set[str]:
    """Data columns (not partition keys) of ``table`` a query reads."""
    return {c.name for c in parse_athena_sql(sql).find_all(exp.Column)} & {c.name for c in TABLES[table]}


def selected_partitions(sql: str, partitions: list[tuple[str, str]]) -> set[tuple[str, str]]:
    """The partitions Athena keeps: evaluate the WHERE conjuncts that only touch partition keys."""
    tree = pin_current_date(parse_athena_sql(sql), AS_OF)
    kept: set[tuple[str, str]] = set()
    con = duckdb.connect()
    con.execute("CREATE TABLE partitions (store_id VARCHAR, dt VARCHAR)")
    con.executemany("INSERT INTO partitions VALUES (?, ?)", partitions)
    for table in tree.find_all(exp.Table):
        if table.name not in TABLES:
            continue
        select = table.find_ancestor(exp.Select)
        where = select.args.get("where") if select else None
        conjuncts = []
        if where is not None:
            parts = where.this.flatten() if isinstance(where.this, exp.And) else [where.this]
            conjuncts = [
                p for p in parts if {c.name for c in p.find_all(exp.Column)} <= PARTITION_NAMES and p.find(exp.Column)
            ]
        query = exp.select("store_id", "dt").from_("partitions")
        for conjunct in conjuncts:
            query = query.where(conjunct.copy())
        kept |= set(con.execute(query.sql("duckdb")).fetchall())
    return kept


def parquet_column_bytes(root: Path, table: str = TABLE_NAME) -> dict[tuple[str, str], dict[str, int]]:
    """(store_id, dt) → column → compressed bytes of its column chunks, over every object.

    The key ``""`` holds the rest of the objects' bytes (footers, magic):
    Athena reads those too, so they are reported beside the column chunks.
    """
    sizes: dict[tuple[str, str], dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for path in (root / TABLE_FOLDERS[table]).glob("store_id=*/dt=*/*"):
        key = (path.parent.parent.name.split("=", 1)[1], path.parent.name.split("=", 1)[1])
        meta = pq.ParquetFile(path).metadata
        chunks = 0
        for rg in range(meta.num_row_groups):
            group = meta.row_group(rg)
            for ci in range(group.num_columns):
                chunk = group.column(ci)
                sizes[key][chunk.path_in_schema] += chunk.total_compressed_size
                chunks += chunk.total_compressed_size
        sizes[key][""] += path.stat().st_size - chunks
    return sizes


def json_bytes(root: Path, table: str = TABLE_NAME) -> dict[tuple[str, str], int]:
    sizes: dict[tuple[str, str], int] = defaultdict(int)
    for path in (root / TABLE_FOLDERS[table]).glob("store_id=*/dt=*/*"):
        sizes[(path.parent.parent.name.split("=", 1)[1], path.parent.name.split("=", 1)[1])] += path.stat().st_size
    return sizes


def _mib(n: int) -> str:
    return f"{n / 2**20:,.1f} MiB"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keep", type=Path, help="write the data here and keep it (default: a temp dir, removed)")
    args = parser.parse_args()
    work = args.keep or Path(tempfile.mkdtemp(prefix="bench-queries-"))
    parameters = {
        "stores": STORES,
        "month_start": MONTH_START.isoformat(),
        "days": DAYS,
        "as_of": AS_OF.isoformat(),
        "min_faces": MIN_FACES,
        "buffer_seconds": BUFFER_SECONDS,
        "time_zones": list(TIME_ZONES),
        "empty_stills_per_still_with_faces": EMPTY_STILLS_PER_STILL_WITH_FACES,
        "quarantined_share": QUARANTINED_SHARE,
    }
    try:
        with BenchRun(__file__, parameters=parameters) as run:
            measure(run, work, removed=not args.keep)
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)


def measure(run: BenchRun, work: Path, *, removed: bool) -> None:
    """Generate the data set under ``work``, then show and record each query's figures."""
    started = time.perf_counter()
    total, stills, objects = write_dataset(work / "parquet", work / "json")
    generated = time.perf_counter() - started
    t0 = time.perf_counter()
    compacted_objects = compact_layout(work / "parquet", work / "compacted")
    compaction_seconds = time.perf_counter() - t0
    column_sizes = {t: parquet_column_bytes(work / "parquet", t) for t in TABLES}
    compacted_sizes = {t: parquet_column_bytes(work / "compacted", t) for t in TABLES}
    json_sizes = {t: json_bytes(work / "json", t) for t in TABLES}
    partitions = sorted(json_sizes[TABLE_NAME])
    run.show(
        f"{total:,} faces in {stills:,} stills, {STORES} stores in {len(TIME_ZONES)} time zones, "
        f"{MONTH_START} .. {AS_OF} ({len(partitions)} partitions per table, {objects:,} Parquet objects, "
        f"one per partition per {BUFFER_SECONDS} s buffer); generated in {generated:.0f} s",
        Figure("faces", total, "faces"),
        Figure("stills", stills, "stills"),
        Figure("partitions", len(partitions), "partitions"),
        Figure("Parquet objects", objects, "objects"),
        Figure("data generation", generated, "s"),
    )
    store_days = len(partitions) * len(TABLES)
    run.show(
        f"objects per store-day: {objects / store_days:.1f} as Firehose delivers them, "
        f"{compacted_objects / store_days:.1f} after compaction (lambdas/compact's rewrite, "
        f"{compaction_seconds:.0f} s for the month on this machine)",
        Figure("objects per store-day before compaction", objects / store_days, "objects"),
        Figure("objects per store-day after compaction", compacted_objects / store_days, "objects"),
        Figure("compaction of the month (rewrite only, no S3)", compaction_seconds, "s"),
    )
    for table in TABLES:
        chunks = sum(v for c in column_sizes[table].values() for k, v in c.items() if k)
        footers = sum(c[""] for c in column_sizes[table].values())
        whole_json = sum(json_sizes[table].values())
        run.show(
            f"whole month of {table}: Parquet column chunks {_mib(chunks)} (+ footers {_mib(footers)}), "
            f"JSON lines {_mib(whole_json)}",
            Figure(f"whole month: {table} Parquet column chunks", chunks / 2**20, "MiB"),
            Figure(f"whole month: {table} Parquet footers", footers / 2**20, "MiB"),
            Figure(f"whole month: {table} JSON lines", whole_json / 2**20, "MiB"),
        )
    run.show(f"queries run as of {AS_OF} (window dt >= {AS_OF - dt.timedelta(days=29)})")
    run.show(
        "ratio = JSON bytes / Parquet bytes. Parquet read = column chunks only; dedupe = the part of it that is"
        " the id column and processed_at,\nread to keep one row per record_id / image_id; +footers adds the"
        " selected objects' footers; compacted = column chunks + footers of the compacted layout (one object per"
        " store-day);\nbeyond dedupe = compacted without the id and processed_at chunks: the target (>= 400x,"
        " issue 14) applies to it for month-wide\nqueries whose other columns are all low-entropy (no ids, keys,"
        " timestamps or measured doubles)\n"
    )
    header = (
        f"{'query':<28} {'table':<6} {'parts':>5} {'cols':>4} {'Parquet read':>13} {'dedupe':>10}"
        f" {'JSON read':>13} {'ratio':>6} {'+footers':>10} {'ratio':>6} {'compacted':>10} {'ratio':>6}"
        f" {'beyond dedupe':>13} {'ratio':>6} {'DuckDB':>7}"
    )
    run.show(header)
    run.show("-" * len(header))
    con = connect(work / "parquet")
    compacted_con = connect(work / "compacted")
    # A month-wide query reads every store's partitions of the 30-day window.
    window = sum(1 for _, day in partitions if day >= (AS_OF - dt.timedelta(days=29)).isoformat())
    for path in (QUERIES_DIR / query.sql_file for query in CATALOGUE.queries):
        sql = path.read_text(encoding="utf-8")
        table = read_table(sql)
        sizes, compacted_of, json_of = column_sizes[table], compacted_sizes[table], json_sizes[table]
        columns = referenced_columns(sql, table)
        kept = selected_partitions(sql, partitions)
        parquet = sum(sizes[p].get(c, 0) for p in kept for c in columns)
        dedupe = sum(sizes[p].get(c, 0) for p in kept for c in (DEDUPE_KEYS[table], "processed_at") if c in columns)
        footers = sum(sizes[p][""] for p in kept)
        compacted = sum(compacted_of[p].get(c, 0) for p in kept for c in [*columns, ""])
        dedupe_columns = {DEDUPE_KEYS[table], "processed_at"}
        beyond = compacted - sum(compacted_of[p].get(c, 0) for p in kept for c in dedupe_columns & columns)
        qualifies = len(kept) >= window and not (columns - dedupe_columns) & HIGH_ENTROPY_COLUMNS
        target = Target.at_least(400, "issue 14") if qualifies else None
        json_read = sum(json_of[p] for p in kept)
        t0 = time.perf_counter()
        answer = run_query(con, sql, today=AS_OF, source=path.name)
        elapsed = time.perf_counter() - t0
        if sorted(run_query(compacted_con, sql, today=AS_OF, source=path.name).rows, key=repr) != sorted(
            answer.rows, key=repr
        ):
            raise SystemExit(f"{path.name}: the compacted layout gives other answers than Firehose's")
        query = path.stem
        run.show(
            f"{query:<28} {table:<6} {len(kept):>5} {len(columns):>4} {_mib(parquet):>13} {_mib(dedupe):>10}"
            f" {_mib(json_read):>13} {json_read / parquet:>5.0f}x {_mib(parquet + footers):>10}"
            f" {json_read / (parquet + footers):>5.0f}x {_mib(compacted):>10} {json_read / compacted:>5.0f}x"
            f" {_mib(beyond):>13} {json_read / beyond:>5.0f}x{'*' if qualifies else ' '} {elapsed:>5.1f}s",
            Figure(f"{query}: partitions read", len(kept), "partitions"),
            Figure(f"{query}: columns read", len(columns), "columns"),
            Figure(f"{query}: Parquet read", parquet / 2**20, "MiB"),
            Figure(f"{query}: of which dedupe columns", dedupe / 2**20, "MiB"),
            Figure(f"{query}: JSON read", json_read / 2**20, "MiB"),
            Figure(f"{query}: JSON / Parquet", json_read / parquet, "x"),
            Figure(f"{query}: Parquet read + footers", (parquet + footers) / 2**20, "MiB"),
            Figure(f"{query}: JSON / (Parquet + footers)", json_read / (parquet + footers), "x"),
            Figure(f"{query}: compacted Parquet read", compacted / 2**20, "MiB"),
            Figure(f"{query}: JSON / compacted", json_read / compacted, "x"),
            Figure(f"{query}: compacted read beyond dedupe", beyond / 2**20, "MiB"),
            Figure(f"{query}: JSON / compacted beyond dedupe", json_read / beyond, "x", target),
            Figure(f"{query}: DuckDB run time", elapsed, "s"),
        )
    runtime = time.perf_counter() - started
    run.show(
        f"\ntotal runtime {runtime:.0f} s; data in {work}" + (" (removed)" if removed else ""),
        Figure("total runtime", runtime, "s"),
    )


if __name__ == "__main__":
    main()
