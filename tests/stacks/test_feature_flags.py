"""Each tier brings the CDK feature flags it is tested with: it synthesizes the same in an app that sets none."""

from __future__ import annotations

import json

import aws_cdk as cdk
import pytest
from aws_cdk.assertions import Template

from app import cdk_json_context
from shopper_sentiment import AnalyticsTier, CompactionTier, IngestTier
from shopper_sentiment.building.feature_flags import TIER_FEATURE_FLAGS
from tests.cdk_apps import new_app, process_tier


def test_this_repositorys_app_sets_the_flags_the_tiers_pin_to_the_same_values():
    context = cdk_json_context()
    assert {flag: context.get(flag) for flag in TIER_FEATURE_FLAGS} == dict(TIER_FEATURE_FLAGS)


def in_order(value):
    """``value`` with statements' actions and resources in order: minimizePolicies (read at the stack) orders them."""
    if isinstance(value, dict):
        return {
            key: sorted(item, key=json.dumps)
            if key in ("Action", "Resource") and isinstance(item, list)
            else in_order(item)
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [in_order(item) for item in value]
    return value


def build_tiers(app: cdk.App) -> dict:
    stack = cdk.Stack(app, "Tiers")
    ingest = IngestTier(stack, "Ingest", device_ids=["pi-a"], retention=cdk.Duration.days(30), name_prefix="Shop-x")
    analytics = AnalyticsTier(stack, "Analytics", store_ids=["berlin"], name_prefix="Shop-x")
    process_tier(stack, ingest, analytics)
    CompactionTier(
        stack, "Compaction", curated_bucket=analytics.curated_bucket, store_time_zones={"berlin": "Europe/Berlin"}
    )
    return in_order(Template.from_stack(stack).to_json())


@pytest.mark.parametrize(
    "flags",
    [{}, {flag: False for flag in TIER_FEATURE_FLAGS}],
    ids=["an-app-with-no-flags", "an-app-with-every-flag-off"],
)
def test_the_tiers_synthesize_the_same_whatever_the_apps_flags(flags):
    ours = build_tiers(new_app())
    theirs = build_tiers(cdk.App(context=flags))
    assert theirs == ours
