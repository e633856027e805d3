"""The handler as Lambda runs it: settings from the environment and compaction.json, EMF metrics out."""

from __future__ import annotations

import datetime as dt
import importlib.util
import json
import sys

import pytest
from aws_lambda_powertools import Metrics
from aws_lambda_powertools.metrics.provider import cold_start
from shopper_compact.partitions import ClosingRule
from shopper_compact.settings import SettingsError, load_settings

from local.lambda_runtime import LambdaContextStub
from shopper_sentiment.contracts.schema import TABLE_NAME
from shopper_sentiment.tiers.compaction import compaction_config
from tests.compaction import LAMBDA_DIR
from tests.compaction.conftest import BUCKET, deliver
from tests.compaction.test_job import LATER, store_days
from tests.dashboards.curated_rows import STORE_ZONES


@pytest.fixture
def environment(tmp_path, monkeypatch):
    config = tmp_path / "compaction.json"
    config.write_text(json.dumps(compaction_config(STORE_ZONES)), encoding="utf-8")
    values = {
        "CURATED_BUCKET": BUCKET,
        "COMPACTION_CONFIG_FILE": str(config),
        "CLOSE_DELAY_SECONDS": "3600",
        "MAX_OBJECT_BYTES": str(128 * 2**20),
        "POWERTOOLS_SERVICE_NAME": "shopper-sentiment-compact",
        "POWERTOOLS_METRICS_NAMESPACE": "ShopperSentiment",
    }
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    yield values
    metrics = Metrics()
    metrics.clear_metrics()
    cold_start.reset_cold_start_flag()


def load_app():
    spec = importlib.util.spec_from_file_location("compact_app", LAMBDA_DIR / "app.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["compact_app"] = module
    spec.loader.exec_module(module)
    return module


def emf(output: str) -> dict[str, float]:
    for line in output.splitlines():
        if line.startswith("{") and "_aws" in line:
            document = json.loads(line)
            names = [m["Name"] for m in document["_aws"]["CloudWatchMetrics"][0]["Metrics"]]
            assert document["service"] == "shopper-sentiment-compact"
            values = {name: document[name] for name in names}
            # One datapoint each per run.
            assert all(not isinstance(v, list) or len(v) == 1 for v in values.values()), values
            return {name: v[0] if isinstance(v, list) else v for name, v in values.items()}
    raise AssertionError(f"no EMF metrics in {output[:500]!r}")


def test_a_run_reports_files_bytes_rows_and_duplicates_as_metrics(s3, environment, capsys):
    faces, _ = store_days()
    deliver(s3, TABLE_NAME, faces)
    app = load_app()
    handler = app.create_handler(app.SETTINGS, s3, clock=lambda: LATER)
    summary = handler(
        {"source": "aws.events", "detail-type": "Scheduled Event"}, LambdaContextStub(remaining_ms=600_000)
    )
    values = emf(capsys.readouterr().out)
    assert values["ObjectsBefore"] == 3 * 6 and values["ObjectsAfter"] == 6
    assert values["PartitionsCompacted"] == 6
    assert values["RowsBefore"] == len(faces)
    assert values["DuplicatesRemoved"] == len(faces) - len({f["record_id"] for f in faces}) > 0
    assert values["RowsAfter"] == values["RowsBefore"] - values["DuplicatesRemoved"]
    assert 0 < values["BytesAfter"] < values["BytesBefore"]
    assert values["OldestUncompactedClosedPartitionAge"] == 0
    assert summary["tables"][TABLE_NAME]["partitions_compacted"] == 6


def test_an_unreadable_partition_shows_in_the_age_metric_and_the_log(s3, environment, capsys, caplog):
    key = "faces/store_id=store-001/dt=2026-03-10/broken.parquet"
    s3.put_object(Bucket=BUCKET, Key=key, Body=b"not parquet")
    app = load_app()
    app.create_handler(app.SETTINGS, s3, clock=lambda: LATER)({}, LambdaContextStub(remaining_ms=600_000))
    out = capsys.readouterr().out
    values = emf(out)
    assert values["PartitionsUnreadable"] == 1
    # Closed at 2026-03-11 08:00 UTC (Los Angeles midnight, PDT, + 1 h); the run is at 2026-03-14 12:00.
    assert (
        values["OldestUncompactedClosedPartitionAge"]
        == (LATER - dt.datetime(2026, 3, 11, 8, tzinfo=dt.UTC)).total_seconds()
    )
    (logged,) = [r for r in caplog.records if r.getMessage() == "unreadable partition left as it was"]
    assert logged.levelname == "ERROR"
    assert logged.partition == "faces/store_id=store-001/dt=2026-03-10/" and key in logged.detail


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("CURATED_BUCKET", "", "CURATED_BUCKET is not set"),
        ("CLOSE_DELAY_SECONDS", "soon", "CLOSE_DELAY_SECONDS='soon' is not an integer"),
        ("MAX_OBJECT_BYTES", "1000", "under 1 MiB"),
        ("COMPACTION_CONFIG_FILE", "/nonexistent/compaction.json", "cannot read"),
    ],
)
def test_a_bad_setting_fails_the_cold_start_naming_it(environment, monkeypatch, name, value, message):
    monkeypatch.setenv(name, value)
    with pytest.raises(SettingsError, match=message):
        load_settings()


def test_an_unknown_time_zone_in_the_shipped_config_is_refused(environment, tmp_path, monkeypatch):
    config = tmp_path / "bad.json"
    config.write_text(json.dumps(compaction_config({"store-001": "Mars/Olympus"})), encoding="utf-8")
    monkeypatch.setenv("COMPACTION_CONFIG_FILE", str(config))
    with pytest.raises(SettingsError, match="Mars/Olympus"):
        load_settings()


@pytest.mark.parametrize(
    ("store", "day", "closes"),
    [
        ("store-001", dt.date(2026, 3, 7), dt.datetime(2026, 3, 8, 9, tzinfo=dt.UTC)),  # PST: midnight = 08:00 UTC
        ("store-001", dt.date(2026, 3, 8), dt.datetime(2026, 3, 9, 8, tzinfo=dt.UTC)),  # PDT from 8 March
        ("store-002", dt.date(2026, 3, 28), dt.datetime(2026, 3, 29, 0, tzinfo=dt.UTC)),  # CET
        ("store-002", dt.date(2026, 3, 29), dt.datetime(2026, 3, 29, 23, tzinfo=dt.UTC)),  # CEST
        ("store-003", dt.date(2026, 3, 29), dt.datetime(2026, 3, 29, 16, tzinfo=dt.UTC)),  # Tokyo, ahead of UTC
        ("_unregistered", dt.date(2026, 3, 29), dt.datetime(2026, 3, 30, 1, tzinfo=dt.UTC)),  # UTC
        ("store-gone", dt.date(2026, 3, 29), dt.datetime(2026, 3, 30, 13, tzinfo=dt.UTC)),  # not in config: UTC-12
    ],
)
def test_a_store_day_closes_an_hour_after_midnight_on_the_stores_clock(store, day, closes):
    rule = ClosingRule(STORE_ZONES, frozenset({"_unregistered"}), dt.timedelta(hours=1))
    assert rule.closes_at(store, day) == closes
