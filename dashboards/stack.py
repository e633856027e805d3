"""DashboardStack: the QuickSight data source, dataset, analysis and dashboard.

Optional and separate per deployment: built only when the deployment config
names a QuickSight principal (QuickSight needs a subscription, which a
plain pipeline deployment must not depend on). Every resource body comes
from ``dashboards.quicksight`` (Python builders validated offline against
the QuickSight service model); this stack only places them as
``AWS::QuickSight::*`` resources, so ``aws_cdk.aws_quicksight`` (very large)
is never imported.

Names the stack relies on are the deterministic ones ``PipelineStack`` gives
its workgroup and Glue database, so no cross-stack exports tie the two.
QuickSight runs the dataset's queries as its service role, which this stack
does not touch: the pipeline stack grants it (``stacks.quicksight_access``)
and is deployed first, so the first SPICE refresh is already allowed.
"""

from __future__ import annotations

from typing import Any, Literal

from aws_cdk import Acknowledgment, CfnResource, Stack, Validations
from constructs import Construct

from dashboards.quicksight import (
    cloudformation_properties,
    create_analysis_request,
    create_dashboard_request,
    create_data_set_request,
    create_data_source_request,
    create_refresh_schedule_request,
)


class DashboardStack(Stack):
    """Athena data source on the workgroup → dataset (SPICE or DirectQuery) → analysis and dashboard.

    Attributes: ``data_source``, ``data_set``, ``refresh_schedule`` (None
    with DirectQuery), ``analysis``, ``dashboard``.
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
        lookback_days: int | None = None,
        **kwargs: Any,
    ) -> None:
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
        data_set_id = f"{resource_id}-faces"
        self.data_set = place(
            "FacesDataSet",
            "CreateDataSet",
            create_data_set_request(
                aws_account_id=account,
                data_set_id=data_set_id,
                name=f"{name_prefix} faces",
                data_source_arn=self.data_source.get_att("Arn").to_string(),
                database=database_name,
                import_mode=import_mode,
                lookback_days=lookback_days,
                principal_arn=principal_arn,
            ),
        )
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
        self.refresh_schedule: CfnResource | None = None
        if import_mode == "SPICE":
            self.refresh_schedule = place(
                "DailyRefresh",
                "CreateRefreshSchedule",
                create_refresh_schedule_request(aws_account_id=account, data_set_id=data_set_id),
            )
            self.refresh_schedule.add_resource_dependency(self.data_set)

        data_set_arn = self.data_set.get_att("Arn").to_string()
        self.analysis = place(
            "Analysis",
            "CreateAnalysis",
            create_analysis_request(
                aws_account_id=account,
                analysis_id=f"{resource_id}-analysis",
                name=f"{name_prefix} shopper sentiment",
                dataset_arn=data_set_arn,
                principal_arn=principal_arn,
            ),
        )
        self.dashboard = place(
            "Dashboard",
            "CreateDashboard",
            create_dashboard_request(
                aws_account_id=account,
                dashboard_id=f"{resource_id}-dashboard",
                name=f"{name_prefix} shopper sentiment",
                dataset_arn=data_set_arn,
                principal_arn=principal_arn,
            ),
        )
