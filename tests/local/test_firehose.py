"""local/firehose.py: PutRecordBatch in, Parquet in Firehose's layout out."""

from __future__ import annotations

import json

import pyarrow.parquet as pq
import pytest

from local.firehose import MAX_RECORDS_PER_CALL, LocalFirehose
from shopper_sentiment.contracts.schema import IMAGE_RECORD_KEYS, IMAGES_TABLE_NAME, RECORD_KEYS, arrow_schema


def test_local_firehose_writes_each_streams_parquet_in_firehoses_partition_layout(tmp_path):
    firehose = LocalFirehose.for_function("unit-faces", "unit-images")
    record = dict.fromkeys(RECORD_KEYS) | {"record_id": "r1", "store_id": "store-001", "dt": "2026-03-14"}
    other_day = record | {"record_id": "r2", "dt": "2026-03-15"}
    response = firehose.put_record_batch(
        DeliveryStreamName="unit-faces",
        Records=[{"Data": (json.dumps(r) + "\n").encode()} for r in (record, other_day)],
    )
    assert response["FailedPutCount"] == 0 and len(response["RequestResponses"]) == 2
    row = dict.fromkeys(IMAGE_RECORD_KEYS) | {"image_id": "i1", "store_id": "_unregistered", "dt": "2026-03-14"}
    firehose.put_record_batch(DeliveryStreamName="unit-images", Records=[{"Data": (json.dumps(row) + "\n").encode()}])

    paths = firehose.write_parquet(tmp_path)

    assert [p.relative_to(tmp_path).parent.as_posix() for p in paths] == [
        "faces/store_id=store-001/dt=2026-03-14",
        "faces/store_id=store-001/dt=2026-03-15",
        "images/store_id=_unregistered/dt=2026-03-14",
    ]
    assert all(pq.read_schema(p).equals(arrow_schema()) for p in paths[:2])
    assert pq.read_schema(paths[2]).equals(arrow_schema(table=IMAGES_TABLE_NAME))
    assert [r["record_id"] for r in firehose.records] == ["r1", "r2"]
    assert [r["image_id"] for r in firehose.image_rows] == ["i1"]


@pytest.mark.parametrize("records", [0, MAX_RECORDS_PER_CALL + 1])
def test_local_firehose_refuses_what_putrecordbatch_refuses(records):
    firehose = LocalFirehose.for_function("unit-faces", "unit-images")
    with pytest.raises(ValueError, match="PutRecordBatch takes"):
        firehose.put_record_batch(DeliveryStreamName="unit-faces", Records=[{"Data": b"{}\n"}] * records)
    with pytest.raises(ValueError, match="unknown delivery stream"):
        firehose.put_record_batch(DeliveryStreamName="other", Records=[{"Data": b"{}\n"}])


def test_with_a_buffering_interval_each_partition_gets_one_object_per_flush(tmp_path):
    firehose = LocalFirehose.for_function("unit-faces", "unit-images")
    base = dict.fromkeys(RECORD_KEYS) | {"store_id": "store-001", "dt": "2026-03-14"}
    # 09:00:00, 09:14:59 and 09:15:00 UTC: the first two in one 15-minute flush, the third in the next.
    moments = [1773478800000, 1773478800000 + 899_999, 1773478800000 + 900_000]
    records = [base | {"record_id": f"r{i}", "captured_at": moment} for i, moment in enumerate(moments)]
    firehose.put_record_batch(
        DeliveryStreamName="unit-faces", Records=[{"Data": (json.dumps(r) + "\n").encode()} for r in records]
    )

    paths = firehose.write_parquet(tmp_path, flush_seconds=900)

    assert len(paths) == 2
    assert {p.parent.relative_to(tmp_path).as_posix() for p in paths} == {"faces/store_id=store-001/dt=2026-03-14"}
    assert [pq.read_table(p).column("record_id").to_pylist() for p in paths] == [["r0", "r1"], ["r2"]]
