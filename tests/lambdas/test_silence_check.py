"""The silence check: open stores by their own clock, silent ones found in CloudWatch (moto) and published."""

from __future__ import annotations

import importlib.util
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import ModuleType

import boto3
import pytest
from moto import mock_aws

CHECK_DIR = Path(__file__).resolve().parents[2] / "lambdas" / "silence_check"
WEEK = ["08:00-20:00"] * 6 + [None]  # Monday to Saturday, closed on Sunday


def load_check() -> ModuleType:
    # Its module is "app" like the analyze function's: load it under a name of its own.
    spec = importlib.util.spec_from_file_location("silence_check_app", CHECK_DIR / "app.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


check = load_check()
STORES = {
    "store-001": {"timezone": "America/Los_Angeles", "hours": WEEK},
    "store-002": {"timezone": "Europe/Berlin", "hours": WEEK},
}
TWO_HOURS = timedelta(hours=2)


@pytest.mark.parametrize(
    ("now", "due"),
    [
        # Tuesday 12:00 UTC: 13:00 in Berlin (open since 08:00), 04:00 in Los Angeles (closed).
        (datetime(2026, 11, 24, 12, 0, tzinfo=UTC), ["store-002"]),
        # 09:30 in Berlin: open only 1.5 hours, the 2-hour window starts before opening.
        (datetime(2026, 11, 24, 8, 30, tzinfo=UTC), []),
        # 10:00 in Berlin: the window starts exactly at opening.
        (datetime(2026, 11, 24, 9, 0, tzinfo=UTC), ["store-002"]),
        # 20:00 in Berlin (closing) and 11:00 in Los Angeles: both open for the whole window.
        (datetime(2026, 11, 24, 19, 0, tzinfo=UTC), ["store-001", "store-002"]),
        # 20:01 in Berlin: closed.
        (datetime(2026, 11, 24, 19, 1, tzinfo=UTC), ["store-001"]),
        # Sunday: both closed all day on their own clocks.
        (datetime(2026, 11, 29, 18, 0, tzinfo=UTC), []),
        # Monday 01:00 UTC is still Sunday 17:00 in Los Angeles: closed there.
        (datetime(2026, 11, 30, 1, 0, tzinfo=UTC), []),
    ],
)
def test_a_store_is_checked_only_when_the_whole_window_is_inside_its_own_opening_hours(now, due):
    assert check.stores_to_check(STORES, now, TWO_HOURS) == due


def test_opening_hours_follow_the_stores_daylight_saving_time():
    berlin = {"store-002": {"timezone": "Europe/Berlin", "hours": ["08:00-20:00"] * 7}}
    # 10:30 local both days: 08:30 UTC in summer (UTC+2), 09:30 UTC in winter (UTC+1).
    assert check.stores_to_check(berlin, datetime(2026, 7, 1, 8, 30, tzinfo=UTC), TWO_HOURS) == ["store-002"]
    assert check.stores_to_check(berlin, datetime(2026, 12, 1, 8, 30, tzinfo=UTC), TWO_HOURS) == []
    assert check.stores_to_check(berlin, datetime(2026, 12, 1, 9, 30, tzinfo=UTC), TWO_HOURS) == ["store-002"]


def test_a_store_open_until_midnight_is_checked_until_midnight():
    late = {"s": {"timezone": "UTC", "hours": ["14:00-24:00"] * 7}}
    assert check.stores_to_check(late, datetime(2026, 11, 24, 23, 59, tzinfo=UTC), TWO_HOURS) == ["s"]


@pytest.fixture
def cloudwatch():
    with mock_aws():
        yield boto3.client("cloudwatch", region_name="us-east-1")


def put_store_images(
    cloudwatch, store_id: str, at: datetime, value: float, namespace: str = "ShopperSentiment"
) -> None:
    cloudwatch.put_metric_data(
        Namespace=namespace,
        MetricData=[
            {
                "MetricName": "StoreImages",
                "Dimensions": [
                    {"Name": "service", "Value": "shopper-sentiment-analyze"},
                    {"Name": "store", "Value": store_id},
                ],
                "Timestamp": at,
                "Value": value,
                "Unit": "Count",
            }
        ],
    )


def published(
    cloudwatch, name: str, store_id: str | None, now: datetime, namespace: str = "ShopperSentiment"
) -> list[float]:
    dimensions = [{"Name": "service", "Value": "shopper-sentiment-silence-check"}]
    if store_id:
        dimensions.append({"Name": "store", "Value": store_id})
    response = cloudwatch.get_metric_statistics(
        Namespace=namespace,
        MetricName=name,
        Dimensions=dimensions,
        StartTime=now - timedelta(hours=1),
        EndTime=now + timedelta(hours=1),
        Period=60,
        Statistics=["Maximum"],
    )
    return [point["Maximum"] for point in response["Datapoints"]]


def test_an_open_store_without_images_in_the_window_is_silent_and_published(cloudwatch, capsys):
    now = datetime.now(UTC).replace(microsecond=0)
    always_open = ["00:00-24:00"] * 7
    stores = {
        "busy": {"timezone": "Europe/Berlin", "hours": always_open},
        "quiet": {"timezone": "Europe/Berlin", "hours": always_open},
        "stale": {"timezone": "Europe/Berlin", "hours": always_open},
    }
    put_store_images(cloudwatch, "busy", now - timedelta(minutes=30), 12)
    # Before the window: it does not make the store any less silent now.
    put_store_images(cloudwatch, "stale", now - timedelta(hours=3), 40)

    silent = check.check(cloudwatch, stores, now, TWO_HOURS)

    assert silent == ["quiet", "stale"]
    assert published(cloudwatch, "StoresSilent", None, now) == [2]
    assert published(cloudwatch, "StoreSilent", "busy", now) == [0]
    assert published(cloudwatch, "StoreSilent", "quiet", now) == [1]
    log = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert log == {"message": "silence check", "checked": ["busy", "quiet", "stale"], "silent": ["quiet", "stale"]}


def test_with_every_store_closed_the_check_still_reports_zero(cloudwatch):
    now = datetime.now(UTC).replace(microsecond=0)
    closed = {"s": {"timezone": "UTC", "hours": [None] * 7}}

    assert check.check(cloudwatch, closed, now, TWO_HOURS) == []

    # A value on every run: only a check that did not run leaves the alarm without data.
    assert published(cloudwatch, "StoresSilent", None, now) == [0]


def test_the_handler_reads_the_stores_shipped_beside_it(monkeypatch, tmp_path):
    (tmp_path / check.STORES_FILE_NAME).write_text(json.dumps(STORES), encoding="utf-8")
    assert check.load_stores(tmp_path) == STORES


def test_the_check_reads_and_publishes_only_its_deployments_namespace(cloudwatch):
    now = datetime.now(UTC).replace(microsecond=0)
    stores = {"shop": {"timezone": "UTC", "hours": ["00:00-24:00"] * 7}}
    namespaces: list[tuple[str, str]] = []

    def record(params, model, **_):
        if model.name == "GetMetricData":
            queries = params["MetricDataQueries"]
            namespaces.extend((model.name, q["MetricStat"]["Metric"]["Namespace"]) for q in queries)
        elif model.name == "PutMetricData":
            namespaces.append((model.name, params["Namespace"]))

    # moto answers GetMetricData whatever the namespace, so the requests themselves are checked.
    cloudwatch.meta.events.register("provide-client-params.cloudwatch.*", record)

    assert check.check(cloudwatch, stores, now, TWO_HOURS, "ShopperSentiment/north") == ["shop"]
    assert set(namespaces) == {("GetMetricData", "ShopperSentiment/north"), ("PutMetricData", "ShopperSentiment/north")}
    assert published(cloudwatch, "StoresSilent", None, now, "ShopperSentiment/north") == [1]
