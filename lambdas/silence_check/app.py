"""Silence check: which open stores sent no still for the last ``SILENT_HOURS`` hours.

Runs on a schedule (shopper_sentiment/tiers/monitoring.py, every 15 minutes). A store is
checked only when the whole window lies inside its opening hours on its own
clock (``zoneinfo``, so daylight saving time moves the hours with the store);
it is silent when the analyze function counted none of its images in that
window (``StoreImages`` with the ``store`` dimension). The check publishes
``StoresSilent`` (how many) on every run, 0 included, so an alarm can treat
a missing value as the check itself not running, and ``StoreSilent`` per
checked store (1 or 0) for the dashboard to say which.

A metric the function emits per store cannot do this alone: a silent store
emits nothing, and CloudWatch alarms have no notion of a store's local hours
(metric math knows UTC hours only, and daylight saving time shifts them).

The stores (ids, time zones, opening hours) ship beside this file as
``stores.json``: a deployment's stores would not fit in Lambda's 4 KB of
environment variables.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

#: The stores file's name inside the code asset:
#: ``{"<store_id>": {"timezone": "<IANA zone>", "hours": ["HH:MM-HH:MM" or null, ...7, Monday first]}}``.
STORES_FILE_NAME = "stores.json"
#: Where the analyze function publishes and this check with it (the deployment's namespace,
#: shopper_sentiment/contracts/analyze_function.py metrics_namespace; the stack sets METRICS_NAMESPACE).
NAMESPACE_VARIABLE = "METRICS_NAMESPACE"
#: The namespace of a construct used on its own (shopper_sentiment/contracts/analyze_function.py METRICS_NAMESPACE).
NAMESPACE = "ShopperSentiment"
ANALYZE_SERVICE = "shopper-sentiment-analyze"
#: This check's own ``service`` dimension.
SERVICE = "shopper-sentiment-silence-check"
STORE_IMAGES = "StoreImages"
STORES_SILENT = "StoresSilent"
STORE_SILENT = "StoreSilent"
#: GetMetricData takes at most 500 queries per call.
_QUERIES_PER_CALL = 500


def _at(day: datetime, hhmm: str, zone: ZoneInfo) -> datetime:
    hours, minutes = (int(part) for part in hhmm.split(":"))
    midnight = datetime(day.year, day.month, day.day, tzinfo=zone)
    # "24:00" is the next midnight; a wall-clock time, so a DST change that day moves it.
    return (midnight.replace(tzinfo=None) + timedelta(hours=hours, minutes=minutes)).replace(tzinfo=zone)


def stores_to_check(stores: Mapping[str, Mapping[str, Any]], now: datetime, window: timedelta) -> list[str]:
    """The stores whose opening hours on their own clock hold the whole window ``[now - window, now]``."""
    due = []
    for store_id, store in sorted(stores.items()):
        zone = ZoneInfo(store["timezone"])
        local_now = now.astimezone(zone)
        hours = store["hours"][local_now.weekday()]
        if hours is None:
            continue
        opens, closes = (_at(local_now, hhmm, zone) for hhmm in hours.split("-"))
        if opens <= now - window and now <= closes:
            due.append(store_id)
    return due


def images_per_store(
    cloudwatch: Any, store_ids: list[str], start: datetime, end: datetime, namespace: str = NAMESPACE
) -> dict[str, float]:
    """How many images the analyze function counted per store between ``start`` and ``end`` (0 for none)."""
    counts = dict.fromkeys(store_ids, 0.0)
    for first in range(0, len(store_ids), _QUERIES_PER_CALL):
        chunk = store_ids[first : first + _QUERIES_PER_CALL]
        queries = [
            {
                "Id": f"s{index}",
                "MetricStat": {
                    "Metric": {
                        "Namespace": namespace,
                        "MetricName": STORE_IMAGES,
                        "Dimensions": [
                            {"Name": "service", "Value": ANALYZE_SERVICE},
                            {"Name": "store", "Value": store_id},
                        ],
                    },
                    "Period": 300,
                    "Stat": "Sum",
                },
            }
            for index, store_id in enumerate(chunk)
        ]
        pages = cloudwatch.get_paginator("get_metric_data").paginate(
            MetricDataQueries=queries, StartTime=start, EndTime=end
        )
        for page in pages:
            for result in page["MetricDataResults"]:
                counts[chunk[int(result["Id"][1:])]] += sum(result.get("Values", []))
    return counts


def check(
    cloudwatch: Any,
    stores: Mapping[str, Mapping[str, Any]],
    now: datetime,
    window: timedelta,
    namespace: str = NAMESPACE,
) -> list[str]:
    """Publish how many open stores were silent for the window (and which); the silent ones."""
    due = stores_to_check(stores, now, window)
    counts = images_per_store(cloudwatch, due, now - window, now, namespace) if due else {}
    silent = [store_id for store_id in due if counts[store_id] == 0]
    service = {"Name": "service", "Value": SERVICE}
    data = [{"MetricName": STORES_SILENT, "Dimensions": [service], "Value": len(silent), "Unit": "Count"}]
    data += [
        {
            "MetricName": STORE_SILENT,
            "Dimensions": [service, {"Name": "store", "Value": store_id}],
            "Value": 1 if store_id in silent else 0,
            "Unit": "Count",
        }
        for store_id in due
    ]
    for first in range(0, len(data), 1000):  # PutMetricData takes 1,000 values per call
        cloudwatch.put_metric_data(Namespace=namespace, MetricData=data[first : first + 1000])
    print(json.dumps({"message": "silence check", "checked": due, "silent": silent}))
    return silent


def load_stores(base_dir: Path) -> dict[str, Any]:
    return json.loads((base_dir / STORES_FILE_NAME).read_text(encoding="utf-8"))


def handler(event: Mapping[str, Any], context: Any) -> dict[str, Any]:
    import boto3  # the runtime's; imported here so the pure functions load without it

    stores = load_stores(Path(__file__).resolve().parent)
    window = timedelta(hours=int(os.environ["SILENT_HOURS"]))
    namespace = os.environ.get(NAMESPACE_VARIABLE) or NAMESPACE
    silent = check(boto3.client("cloudwatch"), stores, datetime.now(UTC), window, namespace)
    return {"silent": silent}
