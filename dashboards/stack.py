"""DashboardStack: the QuickSight data source, dataset, analysis and dashboard.

Optional and separate per deployment: built only when the deployment config
names a QuickSight principal (QuickSight needs a subscription, which a
plain pipeline deployment must not depend on). Every resource body comes
from ``shopper_sentiment.dashboards.quicksight`` (Python builders validated offline against
the QuickSight service model); this stack only places them as
``AWS::QuickSight::*`` resources, so ``aws_cdk.aws_quicksight`` (very large)
is never imported.

Names the stack relies on are the deterministic ones ``PipelineStack`` gives
its workgroup and Glue database, so no cross-stack exports tie the two.
QuickSight runs the dataset's queries as its service role, which this stack
does not touch: the pipeline stack grants it (``shopper_sentiment.tiers.quicksight_access``)
and is deployed first, so the first SPICE refresh is already allowed.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any, Literal

from aws_cdk import Acknowledgment, CfnResource, Stack, Validations
from constructs import Construct
from shopper_sentiment.dashboards.quicksight import (
    DATASET_TABLES,
    DEFAULT_LOOKBACK_DAYS,
    DEFAULT_WINDOW_DAYS,
    cloudformation_properties,
    create_analysis_request,
    create_dashboard_request,
    create_data_set_request,
    create_data_source_request,
    create_refresh_schedule_request,
    dt_window,
)


class DashboardStack(Stack):
    """Athena data source on the workgroup → two datasets (SPICE or DirectQuery) → analysis and dashboard.

    One dataset per curated table (``faces``, ``images``), each the custom
    SQL of ``shopper_sentiment.dashboards.quicksight.dataset.dataset_sql``: the last
    ``lookback_days`` days of ``dt`` partitions (default 90, the config's
    ``dashboard_lookback_days``), one row per record or image id. The date
    range control shows at most 30 of those days by default.

    Attributes: ``data_source``, ``data_sets`` (table → dataset), ``data_set``
    (the faces dataset), ``refresh_schedules`` (table → schedule; empty with
    DirectQuery), ``refresh_schedule`` (the faces one, or None), ``analysis``,
    ``dashboard``.
    """

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        name_prefix: str,
        workgroup_name: str,
        database_name: str,
        principal_arn: str,
        import_mode: Literal["SPICE", "DIRECT_QUERY"] = "SPICE",
        lookback_days: int = DEFAULT_LOOKBACK_DAYS,
        not_collected: Collection[str] = (),
        **kwargs: Any,
    ) -> None:
        dt_window(lookback_days)  # refuses a missing or non-positive window before anything is built
        super().__init__(scope, id_, **kwargs)
        account = self.account
        resource_id = name_prefix.lower()

        def place(construct_id: str, operation: str, request: dict[str, Any]) -> CfnResource:
            resource_type, properties = cloudformation_properties(operation, request)
            return CfnResource(self, construct_id, type=resource_type, properties=properties)

        self.data_source = place(
            "AthenaDataSource",
            "CreateDataSource",
            create_data_source_request(
                aws_account_id=account,
                data_source_id=f"{resource_id}-athena",
                name=f"{name_prefix} Athena",
                workgroup=workgroup_name,
                principal_arn=principal_arn,
            ),
        )
        data_source_arn = self.data_source.get_att("Arn").to_string()
        self.data_sets: dict[str, CfnResource] = {}
        self.refresh_schedules: dict[str, CfnResource] = {}
        for table in DATASET_TABLES:
            data_set_id = f"{resource_id}-{table}"
            data_set = place(
                f"{table.capitalize()}DataSet",
                "CreateDataSet",
                create_data_set_request(
                    aws_account_id=account,
                    data_set_id=data_set_id,
                    name=f"{name_prefix} {table}",
                    data_source_arn=data_source_arn,
                    database=database_name,
                    table=table,
                    import_mode=import_mode,
                    lookback_days=lookback_days,
                    principal_arn=principal_arn,
                ),
            )
            self.data_sets[table] = data_set
            if import_mode == "SPICE":
                schedule = place(
                    f"{table.capitalize()}DailyRefresh",
                    "CreateRefreshSchedule",
                    create_refresh_schedule_request(aws_account_id=account, data_set_id=data_set_id),
                )
                schedule.add_resource_dependency(data_set)
                self.refresh_schedules[table] = schedule
        self.data_set = self.data_sets["faces"]
        self.refresh_schedule: CfnResource | None = self.refresh_schedules.get("faces")
        # LogicalTableMap (calculated columns) is what QuickSight now calls
        # its legacy data-prep experience; the API and CloudFormation still
        # accept it and DataPrepConfiguration is not yet in cdk/cfn-lint
        # tooling we can validate offline.
        Validations.of(self.data_set).acknowledge(
            Acknowledgment(
                id="CloudFormation-Validate::W9009",
                reason="LogicalTableMap is QuickSight's legacy (still supported) data preparation; moving the "
                "calculated fields to DataPrepConfiguration is tracked as follow-up work.",
            )
        )

        data_set_arns = {table: data_set.get_att("Arn").to_string() for table, data_set in self.data_sets.items()}
        window_days = min(DEFAULT_WINDOW_DAYS, lookback_days)
        self.analysis = place(
            "Analysis",
            "CreateAnalysis",
            create_analysis_request(
                aws_account_id=account,
                analysis_id=f"{resource_id}-analysis",
                name=f"{name_prefix} shopper sentiment",
                dataset_arns=data_set_arns,
                window_days=window_days,
                principal_arn=principal_arn,
                not_collected=not_collected,
            ),
        )
        self.dashboard = place(
            "Dashboard",
            "CreateDashboard",
            create_dashboard_request(
                aws_account_id=account,
                dashboard_id=f"{resource_id}-dashboard",
                name=f"{name_prefix} shopper sentiment",
                dataset_arns=data_set_arns,
                window_days=window_days,
                principal_arn=principal_arn,
                not_collected=not_collected,
            ),
        )
