"""QuickSight resource permissions for the configured principal.

Without an explicit permission a data source, dataset, analysis or dashboard
created by API/CloudFormation is invisible in the console, even to admins.
The action sets are the "owner" sets the QuickSight console grants.
"""

from __future__ import annotations

from typing import Literal

ResourceKind = Literal["data_source", "dataset", "analysis", "dashboard"]

OWNER_ACTIONS: dict[str, tuple[str, ...]] = {
    "data_source": (
        "quicksight:DescribeDataSource",
        "quicksight:DescribeDataSourcePermissions",
        "quicksight:PassDataSource",
        "quicksight:UpdateDataSource",
        "quicksight:DeleteDataSource",
        "quicksight:UpdateDataSourcePermissions",
    ),
    "dataset": (
        "quicksight:DescribeDataSet",
        "quicksight:DescribeDataSetPermissions",
        "quicksight:PassDataSet",
        "quicksight:DescribeIngestion",
        "quicksight:ListIngestions",
        "quicksight:CreateIngestion",
        "quicksight:CancelIngestion",
        "quicksight:UpdateDataSet",
        "quicksight:DeleteDataSet",
        "quicksight:UpdateDataSetPermissions",
    ),
    "analysis": (
        "quicksight:DescribeAnalysis",
        "quicksight:DescribeAnalysisPermissions",
        "quicksight:QueryAnalysis",
        "quicksight:UpdateAnalysis",
        "quicksight:RestoreAnalysis",
        "quicksight:DeleteAnalysis",
        "quicksight:UpdateAnalysisPermissions",
    ),
    "dashboard": (
        "quicksight:DescribeDashboard",
        "quicksight:ListDashboardVersions",
        "quicksight:QueryDashboard",
        "quicksight:UpdateDashboard",
        "quicksight:DeleteDashboard",
        "quicksight:UpdateDashboardPublishedVersion",
        "quicksight:DescribeDashboardPermissions",
        "quicksight:UpdateDashboardPermissions",
    ),
}


def owner_permissions(principal_arn: str, kind: ResourceKind) -> list[dict[str, object]]:
    """``Permissions`` granting ``principal_arn`` full control of one resource kind.

    The principal is ``arn:aws:quicksight:<identity-region>:<account>:user/<namespace>/<user>``
    (or ``group/...``); its region is the QuickSight identity region, which may
    differ from the stack's.
    """
    if kind not in OWNER_ACTIONS:
        raise ValueError(f"unknown QuickSight resource kind {kind!r}; one of {sorted(OWNER_ACTIONS)}")
    return [{"Principal": principal_arn, "Actions": list(OWNER_ACTIONS[kind])}]
