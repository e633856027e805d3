"""A Firehose stand-in for the analyze function: PutRecordBatch in, Parquet in Firehose's layout out.

It answers for the function's delivery streams, each feeding one table (the
faces stream and the images stream), accepts what the function sends
(newline-terminated JSON records, at most 500 per call) and writes them as
the streams' format conversion and dynamic partitioning would: Parquet/SNAPPY
with the table's schema from ``shopper_sentiment.contracts.schema``, one object per
``store_id``/``dt`` partition (``local.parquet_layout``), so DuckDB reads
locally what Athena reads in AWS.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from local.parquet_layout import write_faces
from shopper_sentiment.contracts.schema import IMAGES_TABLE_NAME, TABLE_NAME

#: PutRecordBatch's limit on records per call.
MAX_RECORDS_PER_CALL = 500


class LocalFirehose:
    """Answers ``put_record_batch`` for the streams it knows (stream name → table); thread-safe."""

    def __init__(self, streams: Mapping[str, str]) -> None:
        self.streams = dict(streams)
        self.received: dict[str, list[dict[str, Any]]] = {table: [] for table in self.streams.values()}
        self.calls = 0
        self._lock = threading.Lock()

    @classmethod
    def for_function(cls, faces_stream: str, images_stream: str) -> LocalFirehose:
        """The two streams the analyze function puts to."""
        return cls({faces_stream: TABLE_NAME, images_stream: IMAGES_TABLE_NAME})

    @property
    def records(self) -> list[dict[str, Any]]:
        """The face records received so far."""
        with self._lock:
            return list(self.received.get(TABLE_NAME, ()))

    @property
    def image_rows(self) -> list[dict[str, Any]]:
        """The image rows received so far."""
        with self._lock:
            return list(self.received.get(IMAGES_TABLE_NAME, ()))

    def put_record_batch(self, *, DeliveryStreamName: str, Records: Sequence[Mapping[str, bytes]]) -> dict[str, Any]:
        table = self.streams.get(DeliveryStreamName)
        if table is None:
            raise ValueError(
                f"unknown delivery stream {DeliveryStreamName!r} (this stand-in has {sorted(self.streams)})"
            )
        if not 1 <= len(Records) <= MAX_RECORDS_PER_CALL:
            raise ValueError(f"PutRecordBatch takes 1..{MAX_RECORDS_PER_CALL} records, got {len(Records)}")
        # One JSON object (and a newline) per record, as the Hive JSON SerDe reads them.
        decoded = [json.loads(line) for r in Records for line in r["Data"].decode("utf-8").splitlines() if line]
        with self._lock:
            self.calls += 1
            call = self.calls
            self.received[table].extend(decoded)
        return {
            "FailedPutCount": 0,
            "Encrypted": False,
            "RequestResponses": [{"RecordId": f"local-{call}-{i}"} for i in range(len(Records))],
        }

    def write_parquet(self, curated_root: Path, *, flush_seconds: int | None = None) -> list[Path]:
        """Everything received so far, as Parquet objects under ``curated_root`` (the curated bucket's copy).

        Without ``flush_seconds``, one object per table and partition. With it,
        one per partition and buffering interval, as Firehose flushes each
        active partition once per interval: the records are placed in the
        interval of their capture time, as if the stills had been uploaded and
        analyzed as they were taken (a simulated week arrives in seconds here).
        """
        with self._lock:
            received = {table: list(records) for table, records in self.received.items()}
        paths = []
        for table, records in sorted(received.items()):
            flushes: dict[int, list[dict[str, Any]]] = {}
            for record in records:
                moment = record.get("captured_at") or record["processed_at"]  # epoch ms
                flushes.setdefault(moment // (flush_seconds * 1000) if flush_seconds else 0, []).append(record)
            for flush, batch in sorted(flushes.items()):
                name = f"{table}-{flush:012d}.parquet"
                paths += write_faces(curated_root, batch, object_name=name, table=table)
        return paths
