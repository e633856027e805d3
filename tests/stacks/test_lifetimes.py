"""Every copy has a lifetime in the synthesized template, and docs/privacy.md's table says the same.

The demo deployment sets only ``retention_days`` (to its default), so its
template carries the code's defaults; the table's figures must be those
defaults and the template's values, row by row.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from aws_cdk import aws_logs as logs
from aws_cdk.assertions import Template

from shopper_sentiment.config import QUEUE_RETENTION_DAYS, Deployment
from shopper_sentiment.pipeline_stack import PipelineStack
from tests.cdk_apps import PROJECT_ROOT

PRIVACY_PAGE = PROJECT_ROOT / "docs" / "privacy.md"
HANDLER = PROJECT_ROOT / "lambdas" / "analyze_image" / "app.py"
DAY = 24 * 3600


def lifetimes_table(page: Path = PRIVACY_PAGE) -> dict[str, tuple[int, str]]:
    """``where`` → (days, setting) of the page's lifetimes table."""
    text = page.read_text(encoding="utf-8")
    header = "| Copy | Where | How long (default) | Setting |"
    assert header in text, f"{page}: the lifetimes table (header {header!r}) is missing"
    rows = {}
    for line in text.split(header, 1)[1].splitlines()[2:]:
        if not line.startswith("|"):
            break
        _, where, how_long, setting = (cell.strip() for cell in line.strip("|").split("|"))
        days = re.fullmatch(r"(\d+) days?", how_long)
        assert days, f"{page}: {how_long!r} is not 'N days'"
        rows[where] = (int(days.group(1)), setting)
    return rows


@pytest.fixture(scope="module")
def template(demo_stack: PipelineStack) -> dict[str, Any]:
    return Template.from_stack(demo_stack).to_json()


def _resource(stack: PipelineStack, template: dict[str, Any], construct: Any) -> dict[str, Any]:
    return template["Resources"][stack.get_logical_id(construct.node.default_child)]["Properties"]


def _rules(stack: PipelineStack, template: dict[str, Any], bucket: Any) -> list[dict[str, Any]]:
    return _resource(stack, template, bucket)["LifecycleConfiguration"]["Rules"]


def _expiry(prefix: str | None, bucket_of: Callable[[PipelineStack], Any]) -> Callable[..., int]:
    def days(stack: PipelineStack, template: dict[str, Any]) -> int:
        (rule,) = [
            r
            for r in _rules(stack, template, bucket_of(stack))
            if r.get("Prefix") == prefix and "ExpirationInDays" in r and r["Status"] == "Enabled"
        ]
        return rule["ExpirationInDays"]

    return days


def _older_versions(*buckets_of: Callable[[PipelineStack], Any]) -> Callable[..., int]:
    def days(stack: PipelineStack, template: dict[str, Any]) -> int:
        found = {
            r["NoncurrentVersionExpiration"]["NoncurrentDays"]
            for bucket_of in buckets_of
            for r in _rules(stack, template, bucket_of(stack))
        }
        # Every rule of these buckets clears older versions, all after the same time.
        assert len(found) == 1, found
        return found.pop()

    return days


def _idempotency(stack: PipelineStack, template: dict[str, Any]) -> int:
    table = _resource(stack, template, stack.process.idempotency_table)
    assert table["TimeToLiveSpecification"] == {"AttributeName": "expiration", "Enabled": True}
    assert table["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": False}
    # The TTL the function sets: IDEMPOTENCY_TTL_SECONDS in the handler module (read without importing it).
    (assignment,) = [
        node
        for node in ast.parse(HANDLER.read_text(encoding="utf-8")).body
        if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", "") == "IDEMPOTENCY_TTL_SECONDS"
    ]
    seconds = eval(compile(ast.Expression(assignment.value), str(HANDLER), "eval"), {"__builtins__": {}})
    assert seconds % DAY == 0
    return seconds // DAY


def _queue(queue_of: Callable[[PipelineStack], Any]) -> Callable[..., int]:
    def days(stack: PipelineStack, template: dict[str, Any]) -> int:
        seconds = _resource(stack, template, queue_of(stack))["MessageRetentionPeriod"]
        assert seconds % DAY == 0
        return seconds // DAY

    return days


def _function_logs(stack: PipelineStack, template: dict[str, Any]) -> int:
    groups = [c for c in stack.process.node.find_all() if isinstance(c, logs.LogGroup)]
    found = {_resource(stack, template, group)["RetentionInDays"] for group in groups}
    assert len(groups) == 3 and len(found) == 1, found  # the function's and the two streams'
    return found.pop()


def _access_logs(stack: PipelineStack, template: dict[str, Any]) -> int:
    (rule,) = _rules(stack, template, stack.node.find_child("AccessLogs"))
    return rule["ExpirationInDays"]


#: Each row of the table, by its "Where" cell → where the template says how long.
CHECKS: dict[str, Callable[[PipelineStack, dict[str, Any]], int]] = {
    "source bucket, `incoming/`": _expiry("incoming/", lambda s: s.ingest.source_bucket),
    "archive bucket, `incoming/`": _expiry("incoming/", lambda s: s.ingest.archive_bucket),
    "archive bucket, `quarantine/`": _expiry("quarantine/", lambda s: s.ingest.archive_bucket),
    "source and archive buckets, older versions": _older_versions(
        lambda s: s.ingest.source_bucket, lambda s: s.ingest.archive_bucket
    ),
    "curated bucket, `faces/`": _expiry("faces/", lambda s: s.analytics.curated_bucket),
    "curated bucket, `images/`": _expiry("images/", lambda s: s.analytics.curated_bucket),
    "curated bucket, `errors/`": _expiry("errors/", lambda s: s.analytics.curated_bucket),
    "curated bucket, older versions": _older_versions(lambda s: s.analytics.curated_bucket),
    "query results bucket, `results/`": _expiry(None, lambda s: s.analytics.results_bucket),
    "idempotency table": _idempotency,
    "incoming queue": _queue(lambda s: s.ingest.queue),
    "dead-letter queue": _queue(lambda s: s.ingest.dead_letter_queue),
    "CloudWatch Logs": _function_logs,
    "access log bucket": _access_logs,
}


def test_the_table_lists_every_copy_the_template_gives_a_lifetime():
    assert set(lifetimes_table()) == set(CHECKS)


@pytest.mark.parametrize("where", sorted(CHECKS))
def test_each_lifetime_in_the_docs_is_the_one_in_the_template(where, demo_stack, template):
    documented, _ = lifetimes_table()[where]
    assert CHECKS[where](demo_stack, template) == documented, where


@pytest.mark.parametrize("where", sorted(CHECKS))
def test_each_configurable_lifetime_in_the_docs_is_the_config_default(where):
    documented, setting = lifetimes_table()[where]
    field = re.fullmatch(r"`(\w+)`", setting)
    if field is None:
        assert setting.startswith("fixed"), f"{where}: setting {setting!r} is neither a `field` nor 'fixed (...)'"
        return
    assert field.group(1) in Deployment.model_fields, f"{where}: {setting} is not a deployment field"
    assert Deployment.model_fields[field.group(1)].default == documented


def test_the_queue_keeps_messages_as_long_as_the_config_assumes(demo_stack, template):
    assert CHECKS["incoming queue"](demo_stack, template) == QUEUE_RETENTION_DAYS
    assert Deployment.model_fields["incoming_retention_days"].default > QUEUE_RETENTION_DAYS


def test_a_changed_figure_in_the_page_is_caught(tmp_path, demo_stack, template):
    page = tmp_path / "privacy.md"
    page.write_text(
        PRIVACY_PAGE.read_text(encoding="utf-8").replace(
            "| curated bucket, `faces/` | 400 days |", "| curated bucket, `faces/` | 365 days |"
        ),
        encoding="utf-8",
    )
    documented, _ = lifetimes_table(page)["curated bucket, `faces/`"]
    assert CHECKS["curated bucket, `faces/`"](demo_stack, template) != documented
