"""QuickSight data source, dataset, analysis and dashboard, built in code.

Pure Python dicts in the boto3 API shape (``CreateDataSource``,
``CreateDataSet``, ``CreateRefreshSchedule``, ``CreateAnalysis``,
``CreateDashboard``); nothing here imports aws_cdk or calls AWS.
``shopper_sentiment.dashboards.quicksight.validation`` (test-only, needs botocore) checks
them against the QuickSight service model.
"""

from shopper_sentiment.dashboards.quicksight.cloudformation import RESOURCE_TYPES, cloudformation_properties
from shopper_sentiment.dashboards.quicksight.dataset import (
    CALCULATED_COLUMN_TYPES,
    DATASET_TABLES,
    DEDUPE_KEYS,
    DEFAULT_LOOKBACK_DAYS,
    DERIVED_COLUMNS,
    DOCUMENTED_RETURN_TYPES,
    LOGICAL_TABLE_ID,
    PHYSICAL_TABLE_ID,
    athena_data_source_parameters,
    calculated_columns,
    dataset_column_types,
    dataset_columns,
    dataset_sql,
    dt_window,
    input_columns,
    logical_table_map,
    physical_table_map,
    quicksight_type,
    refresh_schedule,
)
from shopper_sentiment.dashboards.quicksight.definition import (
    DEFAULT_DATASET_IDENTIFIER,
    DEFAULT_WINDOW_DAYS,
    SHEET_ID,
    analysis_definition,
    dashboard_definition,
    dashboard_publish_options,
    visual_dataset,
)
from shopper_sentiment.dashboards.quicksight.permissions import OWNER_ACTIONS, owner_permissions
from shopper_sentiment.dashboards.quicksight.requests import (
    create_analysis_request,
    create_dashboard_request,
    create_data_set_request,
    create_data_source_request,
    create_refresh_schedule_request,
)

__all__ = [
    "CALCULATED_COLUMN_TYPES",
    "DATASET_TABLES",
    "DEDUPE_KEYS",
    "DEFAULT_DATASET_IDENTIFIER",
    "DEFAULT_LOOKBACK_DAYS",
    "DEFAULT_WINDOW_DAYS",
    "DERIVED_COLUMNS",
    "DOCUMENTED_RETURN_TYPES",
    "LOGICAL_TABLE_ID",
    "OWNER_ACTIONS",
    "PHYSICAL_TABLE_ID",
    "RESOURCE_TYPES",
    "SHEET_ID",
    "analysis_definition",
    "athena_data_source_parameters",
    "calculated_columns",
    "cloudformation_properties",
    "create_analysis_request",
    "create_dashboard_request",
    "create_data_set_request",
    "create_data_source_request",
    "create_refresh_schedule_request",
    "dashboard_definition",
    "dashboard_publish_options",
    "dataset_column_types",
    "dataset_columns",
    "dataset_sql",
    "dt_window",
    "input_columns",
    "logical_table_map",
    "owner_permissions",
    "physical_table_map",
    "quicksight_type",
    "refresh_schedule",
    "visual_dataset",
]
