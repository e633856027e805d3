"""Bytes each named query reads: Parquet as Firehose writes it vs. JSON lines.

Generates a month (October 2026) of face records for 10 stores, at least
1M faces, and writes them twice under a temp dir, partitioned the same way
(``faces/store_id=<s>/dt=<d>/``):

* Parquet/SNAPPY, schema ``contracts.schema.arrow_schema()``, one object per
  partition per Firehose buffer interval (900 s, the maximum: at this
  traffic the interval, not the 64 MiB size, flushes the buffer), which is
  how Firehose with dynamic partitioning delivers;
* the same Parquet compacted to one object per partition (for comparison:
  what a compaction job would leave);
* JSON lines, the handler's records (what the original solution stored),
  compact, uncompressed.

For each query in ``dashboards/queries`` (run as of 2026-10-31, so its
30-day window selects 30 of the 31 days), the bytes Athena would read:

* Parquet: the compressed size of the column chunks of the columns the query
  references, in the partitions its ``dt`` predicate selects (footers and
  page indexes, a few KiB per object, are left out);
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

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from sqlglot import exp

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.results import BenchRun, Figure  # noqa: E402
from contracts.catalogue import CATALOGUE  # noqa: E402
from contracts.schema import COLUMN_NAMES, EMOTIONS, PARTITION_KEYS, arrow_schema  # noqa: E402
from dashboards.render import QUERIES_DIR  # noqa: E402
from local.athena import connect, parse_athena_sql, pin_current_date, run_query  # noqa: E402
from local.parquet_layout import partition_dir, write_partition  # noqa: E402

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
# Share of a store-day's faces in each opening hour (08-21 UTC), peaks at noon and after work.
HOUR_WEIGHTS = {8: 3, 9: 5, 10: 7, 11: 9, 12: 11, 13: 10, 14: 8, 15: 8, 16: 9, 17: 11, 18: 10, 19: 6, 20: 3}


def _f32(values: list[float]) -> list[float]:
    # Rekognition's numbers are float32 values printed as doubles
    # (99.99996185302734): same digits, same sizes, as the real records.
    return array.array("f", values).tolist()


def store_day_table(rng: random.Random, store: int, day: dt.date, faces: int) -> pa.Table:
    """One store-day of face records, sorted by capture time, in the Parquet schema."""
    store_id = f"store-{store:03d}"
    zones = ZONES[: 2 + store % 4]
    hours = rng.choices(list(HOUR_WEIGHTS), weights=list(HOUR_WEIGHTS.values()), k=faces)
    emotions = rng.choices(list(EMOTION_WEIGHTS), weights=list(EMOTION_WEIGHTS.values()), k=faces)
    base = dt.datetime.combine(day, dt.time(), tzinfo=dt.UTC)
    cols: dict[str, list] = {name: [] for name in COLUMN_NAMES}
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
        cols["record_id"].append(hashlib.blake2b(f"{image_key}#{index_in_image}".encode(), digest_size=16).hexdigest())
        cols["image_key"].append(image_key)
        cols["device_id"].append(device)
        cols["camera_id"].append(zone)
        cols["zone"].append(zone)
        cols["captured_at"].append(image_captured)
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
    schema = arrow_schema()
    arrays = []
    for field in schema:
        values = cols[field.name]
        if pa.types.is_floating(field.type):
            values = _f32(values)
        arrays.append(pa.array(values, type=field.type))
    return pa.Table.from_arrays(arrays, schema=schema).append_column("store_id", pa.array([store_id] * faces))


def write_dataset(parquet_root: Path, compacted_root: Path, json_root: Path, seed: int = 20261031) -> tuple[int, int]:
    """Write the month as Firehose delivers it, compacted, and as JSON; return (faces, Parquet objects)."""
    rng = random.Random(seed)
    con = duckdb.connect()
    total = objects = 0
    per_store_day = -(-MIN_FACES // (STORES * DAYS))  # ceil: the month has at least MIN_FACES
    for store in range(1, STORES + 1):
        store_id = f"store-{store:03d}"
        for offset in range(DAYS):
            day = MONTH_START + dt.timedelta(days=offset)
            # Busier stores and weekends, never below the average.
            faces = per_store_day + 40 * store + (600 if day.weekday() >= 5 else 0)
            table = store_day_table(rng, store, day, faces)
            total += faces
            data = table.drop_columns(["store_id"])
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
                        object_name=f"faces-stream-1-{stamp:%Y-%m-%d-%H-%M-%S}-{objects:08d}.parquet",
                    )
                    objects += 1
                    start = end
            # What a daily compaction job (or one buffer per day) would leave.
            write_partition(compacted_root, store_id, day.isoformat(), data)
            folder = partition_dir(json_root, store_id, day.isoformat())
            folder.mkdir(parents=True, exist_ok=True)
            con.register("part", table)
            select = ", ".join(
                f"epoch_ms(CAST({c} AS TIMESTAMP)) AS {c}" if c in ("captured_at", "processed_at") else c
                for c in COLUMN_NAMES
            )
            con.execute(
                f"COPY (SELECT {select}, store_id, '{day.isoformat()}' AS dt FROM part) "
                f"TO '{folder / 'faces-stream-1.json'}' (FORMAT JSON)"
            )
            con.unregister("part")
    return total, objects


def referenced_columns(sql: str) -> set[str]:
    """Data columns (not partition keys) a query reads."""
    return {c.name for c in parse_athena_sql(sql).find_all(exp.Column)} & set(COLUMN_NAMES)


def selected_partitions(sql: str, partitions: list[tuple[str, str]]) -> set[tuple[str, str]]:
    """The partitions Athena keeps: evaluate the WHERE conjuncts that only touch partition keys."""
    tree = pin_current_date(parse_athena_sql(sql), AS_OF)
    kept: set[tuple[str, str]] = set()
    con = duckdb.connect()
    con.execute("CREATE TABLE partitions (store_id VARCHAR, dt VARCHAR)")
    con.executemany("INSERT INTO partitions VALUES (?, ?)", partitions)
    for table in tree.find_all(exp.Table):
        if table.name != "faces":
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


def parquet_column_bytes(root: Path) -> dict[tuple[str, str], dict[str, int]]:
    """(store_id, dt) → column → compressed bytes of its column chunks, over every object.

    The key ``""`` holds the rest of the objects' bytes (footers, magic):
    Athena reads those too, so they are reported beside the column chunks.
    """
    sizes: dict[tuple[str, str], dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for path in (root / "faces").glob("store_id=*/dt=*/*"):
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


def json_bytes(root: Path) -> dict[tuple[str, str], int]:
    sizes: dict[tuple[str, str], int] = defaultdict(int)
    for path in (root / "faces").glob("store_id=*/dt=*/*"):
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
    total, objects = write_dataset(work / "parquet", work / "compacted", work / "json")
    generated = time.perf_counter() - started
    column_sizes = parquet_column_bytes(work / "parquet")
    compacted_sizes = parquet_column_bytes(work / "compacted")
    json_sizes = json_bytes(work / "json")
    partitions = sorted(json_sizes)
    all_chunks = sum(v for c in column_sizes.values() for k, v in c.items() if k)
    all_footers = sum(c[""] for c in column_sizes.values())
    all_json = sum(json_sizes.values())
    run.show(
        f"{total:,} faces, {STORES} stores, {MONTH_START} .. {AS_OF} ({len(partitions)} partitions, "
        f"{objects:,} Parquet objects, one per partition per {BUFFER_SECONDS} s buffer); "
        f"generated in {generated:.0f} s",
        Figure("faces", total, "faces"),
        Figure("partitions", len(partitions), "partitions"),
        Figure("Parquet objects", objects, "objects"),
        Figure("data generation", generated, "s"),
    )
    run.show(
        f"whole month: Parquet column chunks {_mib(all_chunks)} (+ footers {_mib(all_footers)}), "
        f"JSON lines {_mib(all_json)}",
        Figure("whole month: Parquet column chunks", all_chunks / 2**20, "MiB"),
        Figure("whole month: Parquet footers", all_footers / 2**20, "MiB"),
        Figure("whole month: JSON lines", all_json / 2**20, "MiB"),
    )
    run.show(f"queries run as of {AS_OF} (window dt >= {AS_OF - dt.timedelta(days=29)})")
    run.show(
        "ratio = JSON bytes / Parquet bytes. Parquet read = column chunks only; +footers adds the selected"
        " objects' footers;\ncompacted = column chunks + footers if each partition were one object\n"
    )
    header = (
        f"{'query':<24} {'parts':>5} {'cols':>4} {'Parquet read':>13} {'JSON read':>13} {'ratio':>6}"
        f" {'+footers':>10} {'ratio':>6} {'compacted':>10} {'ratio':>6} {'DuckDB':>7}"
    )
    run.show(header)
    run.show("-" * len(header))
    con = connect(work / "parquet")
    for path in (QUERIES_DIR / query.sql_file for query in CATALOGUE.queries):
        sql = path.read_text(encoding="utf-8")
        columns = referenced_columns(sql)
        kept = selected_partitions(sql, partitions)
        parquet = sum(column_sizes[p].get(c, 0) for p in kept for c in columns)
        footers = sum(column_sizes[p][""] for p in kept)
        compacted = sum(compacted_sizes[p].get(c, 0) for p in kept for c in [*columns, ""])
        json_read = sum(json_sizes[p] for p in kept)
        t0 = time.perf_counter()
        run_query(con, sql, today=AS_OF, source=path.name)
        elapsed = time.perf_counter() - t0
        query = path.stem
        run.show(
            f"{query:<24} {len(kept):>5} {len(columns):>4} {_mib(parquet):>13} {_mib(json_read):>13}"
            f" {json_read / parquet:>5.0f}x {_mib(parquet + footers):>10} {json_read / (parquet + footers):>5.0f}x"
            f" {_mib(compacted):>10} {json_read / compacted:>5.0f}x {elapsed:>6.1f}s",
            Figure(f"{query}: partitions read", len(kept), "partitions"),
            Figure(f"{query}: columns read", len(columns), "columns"),
            Figure(f"{query}: Parquet read", parquet / 2**20, "MiB"),
            Figure(f"{query}: JSON read", json_read / 2**20, "MiB"),
            Figure(f"{query}: JSON / Parquet", json_read / parquet, "x"),
            Figure(f"{query}: Parquet read + footers", (parquet + footers) / 2**20, "MiB"),
            Figure(f"{query}: JSON / (Parquet + footers)", json_read / (parquet + footers), "x"),
            Figure(f"{query}: compacted Parquet read", compacted / 2**20, "MiB"),
            Figure(f"{query}: JSON / compacted", json_read / compacted, "x"),
            Figure(f"{query}: DuckDB run time", elapsed, "s"),
        )
    runtime = time.perf_counter() - started
    run.show(
        f"\ntotal runtime {runtime:.0f} s; data in {work}" + (" (removed)" if removed else ""),
        Figure("total runtime", runtime, "s"),
    )


if __name__ == "__main__":
    main()
