"""A Firehose stand-in for the analyze function: PutRecordBatch in, Parquet in Firehose's layout out.

It accepts what the function sends (newline-terminated JSON records, at most
500 per call) and writes them as the delivery stream's format conversion and
dynamic partitioning would: Parquet/SNAPPY with the schema of
``contracts.schema``, one object per ``store_id``/``dt`` partition
(``local.parquet_layout``), so DuckDB reads locally what Athena reads in AWS.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from local.parquet_layout import write_faces

#: PutRecordBatch's limit on records per call.
MAX_RECORDS_PER_CALL = 500


class LocalFirehose:
    """Answers ``put_record_batch`` for one stream and keeps the records; thread-safe."""

    def __init__(self, stream_name: str) -> None:
        self.stream_name = stream_name
        self.records: list[dict[str, Any]] = []
        self.calls = 0
        self._lock = threading.Lock()

    def put_record_batch(self, *, DeliveryStreamName: str, Records: Sequence[Mapping[str, bytes]]) -> dict[str, Any]:
        if DeliveryStreamName != self.stream_name:
            raise ValueError(f"unknown delivery stream {DeliveryStreamName!r} (this stand-in is {self.stream_name!r})")
        if not 1 <= len(Records) <= MAX_RECORDS_PER_CALL:
            raise ValueError(f"PutRecordBatch takes 1..{MAX_RECORDS_PER_CALL} records, got {len(Records)}")
        # One JSON object (and a newline) per record, as the Hive JSON SerDe reads them.
        decoded = [json.loads(line) for r in Records for line in r["Data"].decode("utf-8").splitlines() if line]
        with self._lock:
            self.calls += 1
            call = self.calls
            self.records.extend(decoded)
        return {
            "FailedPutCount": 0,
            "Encrypted": False,
            "RequestResponses": [{"RecordId": f"local-{call}-{i}"} for i in range(len(Records))],
        }

    def write_parquet(self, curated_root: Path) -> list[Path]:
        """Everything received so far, as Parquet objects under ``curated_root`` (the curated bucket's copy)."""
        with self._lock:
            records = list(self.records)
        return write_faces(curated_root, records) if records else []
