"""Shopper Sentiment: anonymous, queryable shopper-experience data from in-store camera stills.

The public API of the library, importable from here (each name is also at
home in its module, listed below); anything not listed is internal and may
change in any release. Breaking a name listed here is a major change, noted
in CHANGELOG.md.

Stacks (one deployment, as this repository's app builds it):

- ``PipelineStack`` (``shopper_sentiment.pipeline_stack``): the tiers below
  for one ``Deployment``, with its outputs (``shopper_sentiment.contracts.outputs``).
- ``DashboardStack`` (``shopper_sentiment.dashboards.stack``): the QuickSight
  data source, datasets, analysis and dashboard over a pipeline's workgroup.

Tiers, each a construct usable alone in a stack of yours:

- ``IngestTier`` (``shopper_sentiment.tiers.ingest``): source and archive
  buckets, the incoming queue, the edge fleet's access. Brings your own
  source bucket (``existing_source_bucket``) or overrides its props.
- ``ProcessTier`` (``shopper_sentiment.tiers.process``): the analyze function,
  its idempotency table and the two Firehose streams to Parquet.
- ``AnalyticsTier`` (``shopper_sentiment.tiers.analytics``): curated bucket,
  Glue tables, Athena workgroup and named queries. Brings your own curated
  bucket or Glue database, or overrides their props.
- ``CompactionTier`` (``shopper_sentiment.tiers.compaction``): one object per
  closed store-day.
- ``Monitoring`` (``shopper_sentiment.tiers.monitoring``): alarms, one topic,
  the operations dashboard; ``StoreHours`` for its silence check.
- ``QuickSightToAthena`` (``shopper_sentiment.tiers.quicksight_access``):
  what QuickSight's service role needs to read the tables.

Composition helpers: ``queue_visibility_timeout_for`` (an ingest queue fit for
a function timeout), ``firehose_buffering_interval`` (what compaction waits
for), ``DEFAULT_FUNCTION_TIMEOUT``, ``metrics_namespace`` (the CloudWatch
namespace of one deployment's functions and alarms). Refused props raise
``PropsError``.

Configuration (``shopper_sentiment.config``): ``PipelineConfig``,
``Deployment``, ``Alarms``, ``load_config``, ``ConfigError``.

Contracts (``shopper_sentiment.contracts``): the record schema, object layout,
identifiers, stack outputs and query catalogue, as plain Python (no CDK).

Names resolve on first use, so ``import shopper_sentiment`` (and the
``shopper-sentiment`` console script) does not start the CDK's runtime.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from shopper_sentiment.version import __version__

if TYPE_CHECKING:  # what the lazy names below resolve to, for type checkers and IDEs
    from shopper_sentiment.building.overrides import PropsError
    from shopper_sentiment.config import Alarms, ConfigError, Deployment, PipelineConfig, load_config
    from shopper_sentiment.contracts.analyze_function import metrics_namespace
    from shopper_sentiment.dashboards.stack import DashboardStack
    from shopper_sentiment.pipeline_stack import PipelineStack
    from shopper_sentiment.tiers.analytics import AnalyticsTier
    from shopper_sentiment.tiers.compaction import CompactionTier, firehose_buffering_interval
    from shopper_sentiment.tiers.ingest import IngestTier
    from shopper_sentiment.tiers.monitoring import Monitoring, StoreHours
    from shopper_sentiment.tiers.process import DEFAULT_TIMEOUT as DEFAULT_FUNCTION_TIMEOUT
    from shopper_sentiment.tiers.process import ProcessTier, queue_visibility_timeout_for
    from shopper_sentiment.tiers.quicksight_access import QuickSightToAthena

#: Public name → (module, attribute in it).
_EXPORTS: dict[str, tuple[str, str]] = {
    "PipelineStack": ("shopper_sentiment.pipeline_stack", "PipelineStack"),
    "DashboardStack": ("shopper_sentiment.dashboards.stack", "DashboardStack"),
    "IngestTier": ("shopper_sentiment.tiers.ingest", "IngestTier"),
    "ProcessTier": ("shopper_sentiment.tiers.process", "ProcessTier"),
    "AnalyticsTier": ("shopper_sentiment.tiers.analytics", "AnalyticsTier"),
    "CompactionTier": ("shopper_sentiment.tiers.compaction", "CompactionTier"),
    "Monitoring": ("shopper_sentiment.tiers.monitoring", "Monitoring"),
    "StoreHours": ("shopper_sentiment.tiers.monitoring", "StoreHours"),
    "QuickSightToAthena": ("shopper_sentiment.tiers.quicksight_access", "QuickSightToAthena"),
    "queue_visibility_timeout_for": ("shopper_sentiment.tiers.process", "queue_visibility_timeout_for"),
    "firehose_buffering_interval": ("shopper_sentiment.tiers.compaction", "firehose_buffering_interval"),
    "metrics_namespace": ("shopper_sentiment.contracts.analyze_function", "metrics_namespace"),
    "DEFAULT_FUNCTION_TIMEOUT": ("shopper_sentiment.tiers.process", "DEFAULT_TIMEOUT"),
    "PropsError": ("shopper_sentiment.building.overrides", "PropsError"),
    "PipelineConfig": ("shopper_sentiment.config", "PipelineConfig"),
    "Deployment": ("shopper_sentiment.config", "Deployment"),
    "Alarms": ("shopper_sentiment.config", "Alarms"),
    "load_config": ("shopper_sentiment.config", "load_config"),
    "ConfigError": ("shopper_sentiment.config", "ConfigError"),
}

# Stated, not derived, so tools read it; tests/library checks it equals the exports.
__all__ = [
    "DEFAULT_FUNCTION_TIMEOUT",
    "Alarms",
    "AnalyticsTier",
    "CompactionTier",
    "ConfigError",
    "DashboardStack",
    "Deployment",
    "IngestTier",
    "Monitoring",
    "PipelineConfig",
    "PipelineStack",
    "ProcessTier",
    "PropsError",
    "QuickSightToAthena",
    "StoreHours",
    "__version__",
    "firehose_buffering_interval",
    "load_config",
    "metrics_namespace",
    "queue_visibility_timeout_for",
]


def __getattr__(name: str) -> Any:
    try:
        module, attribute = _EXPORTS[name]
    except KeyError:
        raise AttributeError(f"module 'shopper_sentiment' has no attribute {name!r}") from None
    value = getattr(importlib.import_module(module), attribute)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_EXPORTS})
