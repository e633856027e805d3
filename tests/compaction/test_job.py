"""A compaction run against moto's S3, with Parquet in Firehose's layout: what is left in the bucket."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from botocore.exceptions import ClientError
from shopper_compact.partitions import COMPACTED_PREFIX
from shopper_compact.rewrite import parquet_parts
from shopper_sentiment.dashboards.render import QUERIES_DIR

from local.athena import run_query_file
from local.parquet_layout import records_table
from shopper_sentiment.contracts.catalogue import CATALOGUE
from shopper_sentiment.contracts.schema import IMAGES_TABLE_NAME, TABLE_NAME, UNREGISTERED_STORE, arrow_schema
from shopper_sentiment.tiers.compaction import TABLES as COMPACTED_TABLES
from tests.compaction.conftest import (
    BUCKET,
    SPECS,
    Crash,
    WatchedS3,
    compactor,
    deliver,
    mirror,
    objects,
    parquet_body,
    read_rows,
)
from tests.dashboards.curated_rows import face_record, image_record

DAYS = [dt.date(2026, 3, 10), dt.date(2026, 3, 11), dt.date(2026, 3, 12)]
STORES = ("store-001", "store-002")  # Los Angeles (UTC-7 after 8 March 2026), Berlin (UTC+1)
#: Every day above has ended, plus the hour's delay, in both stores.
LATER = dt.datetime(2026, 3, 14, 12, tzinfo=dt.UTC)
TODAY = dt.date(2026, 3, 14)
EMOTIONS = ("happy", "calm", "sad", "surprised")
ZONES = ("entrance", "checkout")


def first_analysis(rows: list[dict[str, Any]], id_column: str) -> dict[str, dict[str, Any]]:
    """Id → the row the queries keep: the earliest processed_at."""
    kept: dict[str, dict[str, Any]] = {}
    for row in rows:
        if row[id_column] not in kept or row["processed_at"] < kept[row[id_column]]["processed_at"]:
            kept[row[id_column]] = row
    return kept


def without_partitions(record: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in record.items() if k not in ("store_id", "dt")}


def store_days(days=DAYS, stores=STORES, *, stills: int = 12, tag: str = "") -> tuple[list[dict], list[dict]]:
    """Face records and image rows of stills through each store's opening hours, every 4th re-analyzed later."""
    faces, images = [], []
    for store in stores:
        for day in days:
            for n in range(stills):
                local = dt.datetime.combine(day, dt.time(8 + n % 12, 7 * n % 60))
                name = f"{tag}{store}-{day:%m%d}-{n:03d}"
                zone = ZONES[n % 2]
                kept = n % 3  # stills without faces too
                image = image_record(name, store, local, zone, f"pi-{store}-{zone}", zone, kept)
                images.append(image)
                for index in range(kept):
                    face = face_record(
                        f"{name}#{index}", store, local, zone, name, EMOTIONS[(n + index) % 4], (20, 30), "Female", True
                    )
                    faces.append(face)
                if n % 4 == 0:  # a redelivery: the same ids, analyzed again later, differently
                    images.append(image | {"processed_at": image["processed_at"] + 60_000, "faces_kept": 7})
                    faces += [
                        f | {"processed_at": f["processed_at"] + 60_000, "dominant_emotion": "angry"}
                        for f in faces[len(faces) - kept :]
                    ]
    return faces, images


def unregistered_images(day: dt.date) -> list[dict]:
    captured = dt.datetime.combine(day, dt.time(23, 30), tzinfo=dt.UTC)
    return [
        image_record(f"unreg-{day}", UNREGISTERED_STORE, None, None, "pi-unknown", "cam", None, captured_utc=captured)
    ]


@pytest.fixture
def delivered(s3):
    faces, images = store_days()
    images += unregistered_images(DAYS[0])
    deliver(s3, TABLE_NAME, faces)
    deliver(s3, IMAGES_TABLE_NAME, images)
    return faces, images


def partition_keys(s3, table: str = TABLE_NAME) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for key in objects(s3, f"{SPECS[table].prefix}/"):
        folder, name = key.rsplit("/", 1)
        found.setdefault(folder, []).append(name)
    return found


def answers(root: Path) -> dict[str, list[tuple]]:
    return {
        query.name: sorted(run_query_file(root, QUERIES_DIR / query.sql_file, today=TODAY).rows, key=repr)
        for query in CATALOGUE.queries
    }


def test_each_closed_store_day_becomes_one_object_with_the_first_analysis_of_each_id(s3, delivered):
    faces, images = delivered
    report = compactor(s3).run(LATER)

    for table, records, id_column in ((TABLE_NAME, faces, "record_id"), (IMAGES_TABLE_NAME, images, "image_id")):
        folders = partition_keys(s3, table)
        assert folders and all(len(names) == 1 and names[0].startswith(COMPACTED_PREFIX) for names in folders.values())
        for folder in folders:
            store = folder.split("store_id=")[1].split("/")[0]
            day = folder.rsplit("dt=", 1)[1]
            expected = first_analysis([r for r in records if (r["store_id"], r["dt"]) == (store, day)], id_column)
            (key,) = objects(s3, folder + "/")
            body = s3.get_object(Bucket=BUCKET, Key=key)["Body"].read()
            stored = pq.read_table(pa.BufferReader(body))
            assert stored.schema.equals(arrow_schema(table=table))
            rows = stored.to_pylist()
            # Exactly one row per id, and it is the earliest analysis (not the later "angry" one).
            assert len(rows) == len(expected)
            kept = {row[id_column]: row for row in rows}
            expected_rows = records_as_rows(expected.values(), table)
            assert kept == {row[id_column]: row for row in expected_rows}
            assert [sort_key(r, table) for r in rows] == sorted(sort_key(r, table) for r in rows)
            metadata = pq.ParquetFile(pa.BufferReader(body)).metadata
            column = metadata.row_group(0).column(arrow_schema(table=table).get_field_index("captured_at"))
            assert column.compression == "SNAPPY"
            assert column.statistics.has_min_max
    total = report.total
    assert total.partitions_compacted == 2 * len(STORES) * len(DAYS) + 1  # + the unregistered day
    assert total.duplicates_removed == (len(faces) + len(images)) - total.rows_after > 0
    assert total.objects_after == total.partitions_compacted < total.objects_before
    assert total.bytes_after < total.bytes_before
    assert report.oldest_uncompacted_closed_age == 0


def records_as_rows(records, table):
    return records_table(list(records), table=table).to_pylist()


def test_a_store_day_that_has_not_closed_on_its_own_clock_is_left_alone(s3, delivered):
    # 07:30 UTC on 13 March: Berlin's 12 March ended at 23:00 UTC (+1 h: closed at
    # midnight); Los Angeles's ends at 07:00 UTC (PDT) and closes only at 08:00 UTC.
    compactor(s3).run(dt.datetime(2026, 3, 13, 7, 30, tzinfo=dt.UTC))
    folders = partition_keys(s3)
    assert len(folders["faces/store_id=store-002/dt=2026-03-12"]) == 1
    assert len(folders["faces/store_id=store-001/dt=2026-03-12"]) == 3
    assert len(folders["faces/store_id=store-001/dt=2026-03-11"]) == 1
    compactor(s3).run(dt.datetime(2026, 3, 13, 8, 0, tzinfo=dt.UTC))
    assert len(partition_keys(s3)["faces/store_id=store-001/dt=2026-03-12"]) == 1


def test_unregistered_image_rows_are_dated_and_closed_by_utc(s3, delivered):
    folder = f"images/store_id={UNREGISTERED_STORE}/dt=2026-03-10"
    compactor(s3).run(dt.datetime(2026, 3, 11, 0, 59, tzinfo=dt.UTC))
    assert not partition_keys(s3, IMAGES_TABLE_NAME)[folder][0].startswith(COMPACTED_PREFIX)
    compactor(s3).run(dt.datetime(2026, 3, 11, 1, 0, tzinfo=dt.UTC))
    assert partition_keys(s3, IMAGES_TABLE_NAME)[folder][0].startswith(COMPACTED_PREFIX)


def test_a_second_run_writes_and_deletes_nothing(s3, delivered):
    compactor(s3).run(LATER)
    before = objects(s3)
    watched = WatchedS3(s3)
    report = compactor(watched).run(LATER + dt.timedelta(hours=1))
    assert objects(s3) == before
    assert set(watched.calls) == {"list_objects_v2"}
    assert report.total.partitions_compacted == 0
    assert report.total.partitions_already_compacted == report.total.partitions_closed > 0


def test_late_records_for_a_compacted_day_are_compacted_by_the_next_run(s3, delivered):
    faces, _ = delivered
    compactor(s3).run(LATER)
    folder = "faces/store_id=store-001/dt=2026-03-10"
    # A device back from an outage: new stills of that day, and a redelivery of one already there.
    late, _ = store_days([DAYS[0]], ["store-001"], stills=5, tag="late-")
    again = next(f for f in faces if f["dt"] == "2026-03-10" and f["store_id"] == "store-001")
    deliver(s3, TABLE_NAME, [*late, again | {"processed_at": again["processed_at"] + 1}], objects_per_day=2)
    assert len(partition_keys(s3)[folder]) == 3

    before = read_rows(s3, folder + "/")
    report = compactor(s3).run(LATER + dt.timedelta(hours=1))
    (name,) = partition_keys(s3)[folder]
    assert name.startswith(COMPACTED_PREFIX)
    rows = read_rows(s3, folder + "/")
    everything = [f for f in [*faces, *late] if (f["store_id"], f["dt"]) == ("store-001", "2026-03-10")]
    assert {r["record_id"] for r in rows} == set(first_analysis(everything, "record_id"))
    assert len(rows) == len({r["record_id"] for r in rows})
    assert report.total.partitions_compacted == 1
    assert report.total.duplicates_removed == len(before) - len(rows) > 0


def _every_row_is_still_there(s3, faces, images):
    for table, records, id_column in ((TABLE_NAME, faces, "record_id"), (IMAGES_TABLE_NAME, images, "image_id")):
        stored = read_rows(s3, f"{SPECS[table].prefix}/", table)
        expected = first_analysis(records, id_column)
        assert {r[id_column] for r in stored} == set(expected)
        # The row a reader keeps (earliest processed_at) is the first analysis, whatever copies are left.
        kept = first_analysis(stored, id_column)
        assert {k: r["processed_at"] for k, r in kept.items()} == {
            k: dt.datetime.fromtimestamp(r["processed_at"] / 1000, dt.UTC).replace(tzinfo=None)
            for k, r in expected.items()
        }


@pytest.mark.parametrize(
    "step",
    [
        ("get_object", 1),  # reading the first partition
        ("get_object", 2),
        ("put_object", 1),  # writing its compacted object
        ("delete_objects", 1),  # deleting what was rewritten
        ("put_object", 5),  # a later partition, some already done
        ("delete_objects", 5),
    ],
    ids=lambda step: f"{step[0]}#{step[1]}",
)
def test_a_crash_at_any_step_leaves_every_row_and_the_next_run_finishes(s3, delivered, step):
    faces, images = delivered
    with pytest.raises(Crash):
        compactor(WatchedS3(s3, fail_on=step)).run(LATER)
    _every_row_is_still_there(s3, faces, images)

    compactor(s3).run(LATER)
    _every_row_is_still_there(s3, faces, images)
    for table in (TABLE_NAME, IMAGES_TABLE_NAME):
        for names in partition_keys(s3, table).values():
            assert len(names) == 1 and names[0].startswith(COMPACTED_PREFIX)
        id_column = SPECS[table].id_column
        rows = read_rows(s3, f"{SPECS[table].prefix}/", table)
        assert len(rows) == len({r[id_column] for r in rows})


def test_a_crash_between_the_parts_of_a_split_day_leaves_every_row(s3, delivered):
    faces, images = delivered
    # Objects just under a whole face day: each store-day is split in several parts.
    whole = max(len(b) for b in parquet_parts(first_analysis_table(s3), max_object_bytes=2**30))
    with pytest.raises(Crash):
        # Die before the second part of the first day.
        compactor(WatchedS3(s3, fail_on=("put_object", 2)), max_object_bytes=whole - 1).run(LATER)
    _every_row_is_still_there(s3, faces, images)
    compactor(s3, max_object_bytes=whole - 1).run(LATER)
    _every_row_is_still_there(s3, faces, images)
    folders = partition_keys(s3)
    assert any(len(names) > 1 for names in folders.values())
    for folder, names in folders.items():
        assert len({name.split("-")[1] for name in names}) == 1, folder  # one run's parts only
        rows = read_rows(s3, folder + "/")
        table = "faces" if folder.startswith("faces/") else "images"
        assert [sort_key(r, table) for r in rows] == sorted(sort_key(r, table) for r in rows)


def sort_key(row: dict, table: str) -> tuple:
    """The order compaction writes a table's rows in: labels, then capture time (shopper_sentiment.tiers.compaction)."""
    (labels,) = [labels for name, _, _, labels in COMPACTED_TABLES if name == table]
    # Nulls last in each column, as the function sorts.
    return tuple((row[c] is None, row[c] or "") for c in (*labels, "captured_at"))


def first_analysis_table(s3):
    """The largest store-day of faces as compaction would write it (one object)."""
    largest = max(partition_keys(s3), key=lambda folder: len(read_rows(s3, folder + "/")))
    rows = read_rows(s3, largest + "/")
    table = pa.Table.from_pylist(list(first_analysis(rows, "record_id").values()), schema=arrow_schema())
    (labels,) = [labels for name, _, _, labels in COMPACTED_TABLES if name == TABLE_NAME]
    # In the function's order, which compresses best: its size is the size the function writes.
    return table.sort_by([(c, "ascending", "at_end") for c in (*labels, "captured_at", "record_id")])


def test_a_failed_write_is_reported_and_the_other_days_are_compacted(s3, delivered):
    error = ClientError({"Error": {"Code": "SlowDown", "Message": "Please reduce your request rate."}}, "PutObject")
    report = compactor(WatchedS3(s3, fail_on=("put_object", 1), error=error)).run(LATER)
    failed = [o for o in report.outcomes if o.outcome == "failed"]
    assert len(failed) == 1 and "SlowDown" in failed[0].detail
    assert report.total.partitions_compacted == report.total.partitions_closed - 1
    assert report.oldest_uncompacted_closed == failed[0].partition
    assert report.oldest_uncompacted_closed_age > 0
    assert len(partition_keys(s3)[failed[0].partition.rstrip("/")]) == 3


@pytest.mark.parametrize("damage", ["not parquet", "a column the table lacks"])
def test_an_unreadable_partition_is_left_as_it_was_and_reported(s3, delivered, damage):
    folder = "faces/store_id=store-002/dt=2026-03-11/"
    bad = folder + "ShopperSentiment-faces-1-2026-03-11-23-59-00-bad.parquet"
    if damage == "not parquet":
        body = b"PAR1 this is not a parquet file"
    else:
        body = parquet_body(pa.table({"record_id": ["x"], "face_embedding": [b"\x00"]}))
    s3.put_object(Bucket=BUCKET, Key=bad, Body=body)
    before = objects(s3, folder)

    report = compactor(s3).run(LATER)
    assert objects(s3, folder) == before
    (unreadable,) = [o for o in report.outcomes if o.outcome == "unreadable"]
    assert unreadable.partition == folder and bad in unreadable.detail
    assert report.tables[TABLE_NAME].partitions_unreadable == 1
    assert report.oldest_uncompacted_closed == folder
    # Only that store-day: every other closed day is compacted.
    assert all(len(names) == 1 for f, names in partition_keys(s3).items() if f + "/" != folder)


def test_a_reader_mid_run_gets_the_same_answers_as_before_and_after(s3, delivered, tmp_path):
    """At every write and delete of a run, a reader listing the bucket gets every query's answers unchanged."""
    expected = answers(mirror(s3, tmp_path / "before"))
    assert any(rows for rows in expected.values())
    seen = []

    def read_now(operation: str) -> None:
        snapshot = mirror(s3, tmp_path / f"mid-{len(seen):03d}")
        seen.append((operation, len(objects(s3))))
        assert answers(snapshot) == expected, f"a reader before {operation} #{len(seen)} saw other answers"

    compactor(WatchedS3(s3, before_mutation=read_now)).run(LATER)
    assert {op for op, _ in seen} == {"put_object", "delete_objects"}
    # Readers saw both the inputs and the compacted objects at some point (the duplicates were real).
    assert max(n for _, n in seen) > len(objects(s3))
    assert answers(mirror(s3, tmp_path / "after")) == expected


def test_a_run_out_of_time_leaves_the_rest_for_the_next_run(s3, delivered):
    budget = iter([1, 1, 0])
    report = compactor(s3).run(LATER, time_left=lambda: next(budget, 0))
    assert report.total.partitions_compacted == 2
    assert report.total.partitions_left_for_next_run == report.total.partitions_closed - 2
    assert report.oldest_uncompacted_closed_age > 0
    compactor(s3).run(LATER)
    assert all(len(names) == 1 for names in partition_keys(s3).values())
