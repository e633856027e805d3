"""Whole QuickSight API requests (boto3 ``create_*`` keyword arguments).

The DashboardStack maps the same members onto ``AWS::QuickSight::*``
resources; these complete requests are what the tests validate against the
service model, and what a script could pass to boto3 directly.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any, Literal

from shopper_sentiment.dashboards.quicksight.dataset import (
    DEFAULT_LOOKBACK_DAYS,
    athena_data_source_parameters,
    logical_table_map,
    physical_table_map,
    refresh_schedule,
)
from shopper_sentiment.dashboards.quicksight.definition import (
    DEFAULT_WINDOW_DAYS,
    analysis_definition,
    dashboard_definition,
    dashboard_publish_options,
)
from shopper_sentiment.dashboards.quicksight.permissions import owner_permissions

from shopper_sentiment.contracts.schema import TABLE_NAME

ImportMode = Literal["SPICE", "DIRECT_QUERY"]


def create_data_source_request(
    *, aws_account_id: str, data_source_id: str, name: str, workgroup: str, principal_arn: str | None = None
) -> dict[str, Any]:
    request: dict[str, Any] = {
        "AwsAccountId": aws_account_id,
        "DataSourceId": data_source_id,
        "Name": name,
        "Type": "ATHENA",
        "DataSourceParameters": athena_data_source_parameters(workgroup),
    }
    if principal_arn:
        request["Permissions"] = owner_permissions(principal_arn, "data_source")
    return request


def create_data_set_request(
    *,
    aws_account_id: str,
    data_set_id: str,
    name: str,
    data_source_arn: str,
    database: str,
    table: str = TABLE_NAME,
    import_mode: ImportMode = "SPICE",
    lookback_days: int = DEFAULT_LOOKBACK_DAYS,
    principal_arn: str | None = None,
) -> dict[str, Any]:
    """The dataset of one curated table over its last ``lookback_days`` days of ``dt`` partitions."""
    if import_mode not in ("SPICE", "DIRECT_QUERY"):
        raise ValueError(f"import_mode must be SPICE or DIRECT_QUERY (got {import_mode!r})")
    request: dict[str, Any] = {
        "AwsAccountId": aws_account_id,
        "DataSetId": data_set_id,
        "Name": name,
        "PhysicalTableMap": physical_table_map(
            data_source_arn, database=database, table=table, lookback_days=lookback_days
        ),
        "ImportMode": import_mode,
    }
    logical = logical_table_map(table)
    if logical is not None:
        request["LogicalTableMap"] = logical
    if principal_arn:
        request["Permissions"] = owner_permissions(principal_arn, "dataset")
    return request


def create_refresh_schedule_request(*, aws_account_id: str, data_set_id: str, **schedule: str) -> dict[str, Any]:
    return {"AwsAccountId": aws_account_id, "DataSetId": data_set_id, "Schedule": refresh_schedule(**schedule)}


def _definition_request(
    kind: Literal["analysis", "dashboard"],
    *,
    aws_account_id: str,
    resource_id: str,
    name: str,
    definition: dict[str, Any],
    principal_arn: str | None,
) -> dict[str, Any]:
    # CreateAnalysis and CreateDashboard differ only in the id member's name.
    request: dict[str, Any] = {
        "AwsAccountId": aws_account_id,
        f"{kind.capitalize()}Id": resource_id,
        "Name": name,
        "Definition": definition,
    }
    if principal_arn:
        request["Permissions"] = owner_permissions(principal_arn, kind)
    return request


def create_analysis_request(
    *,
    aws_account_id: str,
    analysis_id: str,
    name: str,
    dataset_arns: Mapping[str, str],
    window_days: int = DEFAULT_WINDOW_DAYS,
    principal_arn: str | None = None,
    not_collected: Collection[str] = (),
) -> dict[str, Any]:
    """``dataset_arns``: table name (``faces``, ``images``) → that table's dataset ARN."""
    return _definition_request(
        "analysis",
        aws_account_id=aws_account_id,
        resource_id=analysis_id,
        name=name,
        definition=analysis_definition(dataset_arns=dataset_arns, window_days=window_days, not_collected=not_collected),
        principal_arn=principal_arn,
    )


def create_dashboard_request(
    *,
    aws_account_id: str,
    dashboard_id: str,
    name: str,
    dataset_arns: Mapping[str, str],
    window_days: int = DEFAULT_WINDOW_DAYS,
    principal_arn: str | None = None,
    not_collected: Collection[str] = (),
) -> dict[str, Any]:
    request = _definition_request(
        "dashboard",
        aws_account_id=aws_account_id,
        resource_id=dashboard_id,
        name=name,
        definition=dashboard_definition(
            dataset_arns=dataset_arns, window_days=window_days, not_collected=not_collected
        ),
        principal_arn=principal_arn,
    )
    request["DashboardPublishOptions"] = dashboard_publish_options()
    return request
