"""The handler's real records against shopper_sentiment/contracts/schema.py, strictly: keys, types, Parquet.

The deployed handler cannot import shopper_sentiment.contracts/schema.py, so it keeps its own
column list (tests/contracts ties the two lists); here the records it really
delivers are checked against the schema, key by key and type by type.
"""

from __future__ import annotations

import copy
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
from shopper_analyze import face_records

from shopper_sentiment.contracts import schema
from tests.lambdas.local_aws import (
    SOURCE_BUCKET,
    delivered_image_rows,
    delivered_records,
    image_key,
    load_event,
    s3_notification,
    s3_record,
)
from tests.lambdas.local_aws import sqs_event as make_sqs_event

# Python type a JSON value must decode to, per Glue type (bool is no int here).
_JSON_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "int": (int,),
    "timestamp": (int,),  # epoch millis: Hive JSON SerDe TimestampFormats ["millis"]
    "double": (float,),
    "boolean": (bool,),
}


def handler_records(handler, rekognition, s3, lambda_context) -> list[dict[str, Any]]:
    """Records the handler delivered for realistic faces plus one with hardly any attributes (nulls)."""
    key = image_key()
    s3.put_object(Bucket=SOURCE_BUCKET, Key=key, Body=b"\xff\xd8\xff\xe0jpeg")
    response = copy.deepcopy(load_event("detect_faces_three_faces.json"))
    response["FaceDetails"].append(
        {
            "BoundingBox": {"Width": 0.05, "Height": 0.1, "Left": 0.9, "Top": 0.8},
            "Confidence": 97.0,
            "Quality": {"Sharpness": 50.0},
        }
    )
    rekognition.add_response(
        "detect_faces", response, {"Image": {"S3Object": {"Bucket": SOURCE_BUCKET, "Name": key}}, "Attributes": ["ALL"]}
    )
    assert handler(make_sqs_event(s3_notification(s3_record(key))), lambda_context) == {"batchItemFailures": []}
    return delivered_records(s3)


def test_handler_records_have_exactly_the_schema_keys_and_json_types(handler, rekognition, s3, lambda_context):
    records = handler_records(handler, rekognition, s3, lambda_context)
    types = {c.name: c.type for c in schema.COLUMNS + schema.PARTITION_KEYS}

    assert len(records) == 4
    assert records[3]["gender"] is None and records[3]["smile"] is None  # nulls are typed too
    for record in records:
        assert tuple(record) == schema.RECORD_KEYS  # no missing, no extra key, schema order
        for name, value in record.items():
            if value is not None:
                assert type(value) in _JSON_TYPES[types[name]], f"{name}={value!r} is not {types[name]}"
    for name in ("record_id", "image_key", "device_id", "camera_id", "zone", "captured_at", "processed_at"):
        assert all(record[name] is not None for record in records), f"{name} is never null"


def test_handler_records_pass_strictly_through_the_arrow_schema_into_parquet(
    handler, rekognition, s3, lambda_context, tmp_path
):
    records = handler_records(handler, rekognition, s3, lambda_context)

    with_partitions = pa.Table.from_pylist(records, schema=schema.arrow_schema(with_partitions=True))
    # Firehose keeps partition values in the S3 prefix, not in the Parquet file.
    data_rows = [{k: v for k, v in r.items() if k not in ("store_id", "dt")} for r in records]
    table = pa.Table.from_pylist(data_rows, schema=schema.arrow_schema())
    path = tmp_path / "faces.parquet"
    pq.write_table(table, path, compression="snappy")
    back = pq.read_table(path)

    assert with_partitions.num_rows == len(records)
    assert back.schema.equals(schema.arrow_schema())
    assert back.to_pylist() == [_with_datetimes(row, schema.COLUMNS) for row in data_rows]


def _with_datetimes(row: dict[str, Any], columns: tuple[schema.Column, ...]) -> dict[str, Any]:
    """A JSON row as Parquet gives it back: epoch millis become naive datetimes (nulls stay null)."""
    timestamps = {c.name for c in columns if c.type == "timestamp"}
    return {
        name: _as_datetime(value) if name in timestamps and value is not None else value for name, value in row.items()
    }


def _as_datetime(millis: int):
    return face_records.from_epoch_millis(millis).replace(tzinfo=None)


def handler_image_rows(handler, rekognition, s3, lambda_context) -> list[dict[str, Any]]:
    """The rows the handler delivered: one analyzed image, one of an unknown device, one out of the layout."""
    analyzed = image_key(content=b"analyzed")
    unknown = image_key(device_id="pi-s999-unknown", content=b"unknown")
    stray = "incoming/pi-s001-entrance/snapshot.jpg"
    for key in (analyzed, unknown, stray):
        s3.put_object(Bucket=SOURCE_BUCKET, Key=key, Body=b"\xff\xd8\xff\xe0jpeg")
    rekognition.add_response(
        "detect_faces",
        load_event("detect_faces_three_faces.json"),
        {"Image": {"S3Object": {"Bucket": SOURCE_BUCKET, "Name": analyzed}}, "Attributes": ["ALL"]},
    )
    event = make_sqs_event(*(s3_notification(s3_record(key)) for key in (analyzed, unknown, stray)))
    assert handler(event, lambda_context) == {"batchItemFailures": []}
    return sorted(delivered_image_rows(s3), key=lambda row: row["image_key"])


def test_handler_image_rows_have_exactly_the_schema_keys_and_json_types(handler, rekognition, s3, lambda_context):
    rows = handler_image_rows(handler, rekognition, s3, lambda_context)
    types = {c.name: c.type for c in schema.IMAGE_COLUMNS + schema.PARTITION_KEYS}

    assert sorted(row["outcome"] for row in rows) == ["analyzed", "quarantined", "quarantined"]
    for row in rows:
        assert tuple(row) == schema.IMAGE_RECORD_KEYS
        for name, value in row.items():
            if value is not None:
                assert type(value) in _JSON_TYPES[types[name]], f"{name}={value!r} is not {types[name]}"
    for name in ("image_id", "image_key", "processed_at", "outcome", "store_id", "dt"):
        assert all(row[name] is not None for row in rows), f"{name} is never null"


def test_handler_image_rows_pass_strictly_through_the_arrow_schema_into_parquet(
    handler, rekognition, s3, lambda_context, tmp_path
):
    rows = handler_image_rows(handler, rekognition, s3, lambda_context)
    images = schema.IMAGES_TABLE_NAME

    pa.Table.from_pylist(rows, schema=schema.arrow_schema(with_partitions=True, table=images))
    data_rows = [{k: v for k, v in r.items() if k not in ("store_id", "dt")} for r in rows]
    path = tmp_path / "images.parquet"
    pq.write_table(pa.Table.from_pylist(data_rows, schema=schema.arrow_schema(table=images)), path)
    back = pq.read_table(path)

    assert back.schema.equals(schema.arrow_schema(table=images))
    assert back.to_pylist() == [_with_datetimes(row, schema.IMAGE_COLUMNS) for row in data_rows]
