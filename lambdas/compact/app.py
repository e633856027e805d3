"""Compaction Lambda: every hour, each closed store-day of the curated tables becomes one Parquet object.

Entry point ``app.handler`` (an EventBridge schedule; the event's content is
not used). This module only wires settings, the S3 client and Powertools to
``shopper_compact.job``: list the curated tables, pick the closed store-days
not yet compacted, rewrite each (one row per id, sorted by labels then capture time), then
delete what was rewritten. The run stops starting partitions when
``TIME_RESERVE_SECONDS`` of the invocation are left; the next run continues.

Metrics (namespace from ``POWERTOOLS_METRICS_NAMESPACE``, one datapoint each per
run, summed over the tables): ``PartitionsCompacted``, ``PartitionsUnreadable``,
``PartitionsLeftForNextRun``, ``ObjectsBefore``, ``ObjectsAfter``, ``BytesBefore``,
``BytesAfter``, ``RowsBefore``, ``RowsAfter``, ``DuplicatesRemoved`` and
``OldestUncompactedClosedPartitionAge`` (seconds since the oldest closed
store-day still uncompacted after the run closed; 0 when there is none), which
the stack's alarm watches.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict
from typing import Any

import boto3
from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from botocore.config import Config
from shopper_compact.job import Compactor, RunReport
from shopper_compact.settings import Settings, load_settings

logger = Logger()
metrics = Metrics()

_COUNTS = {
    "PartitionsCompacted": "partitions_compacted",
    "PartitionsUnreadable": "partitions_unreadable",
    "PartitionsLeftForNextRun": "partitions_left_for_next_run",
    "ObjectsBefore": "objects_before",
    "ObjectsAfter": "objects_after",
    "RowsBefore": "rows_before",
    "RowsAfter": "rows_after",
    "DuplicatesRemoved": "duplicates_removed",
}
_BYTES = {"BytesBefore": "bytes_before", "BytesAfter": "bytes_after"}
OLDEST_AGE_METRIC = "OldestUncompactedClosedPartitionAge"


def s3_client() -> Any:
    # Standard retries ride out S3's 503 Slow Down; timeouts bound a stuck call.
    return boto3.client("s3", config=Config(retries={"mode": "standard", "max_attempts": 5}, read_timeout=60))


def record_metrics(report: RunReport) -> None:
    total = report.total
    for name, attribute in _COUNTS.items():
        metrics.add_metric(name=name, unit=MetricUnit.Count, value=getattr(total, attribute))
    for name, attribute in _BYTES.items():
        metrics.add_metric(name=name, unit=MetricUnit.Bytes, value=getattr(total, attribute))
    metrics.add_metric(name=OLDEST_AGE_METRIC, unit=MetricUnit.Seconds, value=report.oldest_uncompacted_closed_age)


def create_handler(settings: Settings, s3: Any, *, clock: Any = None) -> Any:
    """A handler on any S3 client; ``clock()`` gives the current UTC instant (tests pass their own)."""
    now = clock or (lambda: dt.datetime.now(dt.UTC))

    @metrics.log_metrics
    @logger.inject_lambda_context
    def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
        reserve_ms = settings.time_reserve_seconds * 1000
        compactor = Compactor(
            s3,
            settings.bucket,
            settings.tables,
            settings.closing,
            max_object_bytes=settings.max_object_bytes,
            log=lambda message, **fields: logger.info(message, extra=fields),
        )
        report = compactor.run(now(), time_left=lambda: context.get_remaining_time_in_millis() - reserve_ms)
        record_metrics(report)
        for outcome in report.outcomes:
            if outcome.outcome == "unreadable":
                logger.error("unreadable partition left as it was", extra=asdict(outcome))
        if report.stray_keys:
            logger.warning("objects outside the partition layout, left alone", extra={"keys": report.stray_keys[:50]})
        summary = {
            "tables": {name: asdict(tally) for name, tally in report.tables.items()},
            "oldest_uncompacted_closed_partition": report.oldest_uncompacted_closed,
            "oldest_uncompacted_closed_age_seconds": report.oldest_uncompacted_closed_age,
            "not_compacted": [asdict(o) for o in report.outcomes if o.outcome != "compacted"],
        }
        logger.info("compaction run", extra=summary)
        return summary

    return handler


SETTINGS = load_settings()
handler = create_handler(SETTINGS, s3_client())
