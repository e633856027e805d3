"""QuickSightToAthena: QuickSight's service role may query the pipeline's data through Athena.

QuickSight runs Athena queries (the dashboard's SPICE refreshes, DirectQuery
visuals) as its own service role, not as the person looking at the
dashboard. The role is created in the account by the QuickSight subscription;
this construct imports it by name (it never creates or changes the role) and
attaches one policy with exactly what those queries need:

- Athena: run, follow, stop and read queries in the pipeline's workgroup and
  read that workgroup; read the account's ``AwsDataCatalog`` and list data
  catalogs (``athena:ListDataCatalogs`` has no resource type, so ``*``).
- Glue: read the catalog, the pipeline's database and its tables (database,
  table and partition reads only).
- S3: list and read the curated bucket under the data prefix (``faces/``;
  never ``errors/``), and read/write query results under the workgroup's
  results prefix (``results/``) of the results bucket.

Defaults: ``role_name`` is ``aws-quicksight-service-role-v0``, the role
QuickSight creates when the account subscribes (an account that passed its
own role to QuickSight gives that role's name, without its path);
``data_prefix`` is shopper_sentiment/contracts/layout.py's ``DATA_PREFIX``; ``results_prefix``
is the workgroup's (shopper_sentiment/contracts/layout.py's ``ATHENA_RESULTS_PREFIX``).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from aws_cdk import Stack
from aws_cdk import aws_athena as athena
from aws_cdk import aws_glue as glue
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3
from constructs import Construct

from shopper_sentiment.building.cfn import objects_arn
from shopper_sentiment.building.feature_flags import pin_feature_flags
from shopper_sentiment.building.nag import acknowledge, finding
from shopper_sentiment.contracts.identifiers import QUICKSIGHT_SERVICE_ROLE_NAME
from shopper_sentiment.contracts.layout import ATHENA_RESULTS_PREFIX, DATA_PREFIX, IMAGES_PREFIX

#: The Glue Data Catalog as Athena names it (the only catalog the pipeline uses).
ATHENA_DATA_CATALOG = "AwsDataCatalog"

_ROLE_NAME = re.compile(r"[\w+=,.@-]{1,64}")


class QuickSightToAthena(Construct):
    """QuickSight's service role → the pipeline's Athena workgroup, Glue table and buckets.

    Attributes: ``role`` (the imported service role), ``role_name``,
    ``policy`` (the attached ``AWS::IAM::Policy``).
    """

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        workgroup: athena.CfnWorkGroup,
        faces_table: glue.CfnTable,
        curated_bucket: s3.IBucket,
        results_bucket: s3.IBucket,
        role_name: str = QUICKSIGHT_SERVICE_ROLE_NAME,
        data_prefixes: Sequence[str] = (DATA_PREFIX, IMAGES_PREFIX),
        results_prefix: str = ATHENA_RESULTS_PREFIX,
    ) -> None:
        super().__init__(scope, id_)
        pin_feature_flags(self)
        if not _ROLE_NAME.fullmatch(role_name):
            raise ValueError(
                f"QuickSightToAthena role_name {role_name!r} is not an IAM role name: give the name only "
                f"(no path, no ARN), e.g. {QUICKSIGHT_SERVICE_ROLE_NAME!r}"
            )
        data_folders = [prefix.strip("/") for prefix in data_prefixes]
        results_folder = results_prefix.strip("/")
        if not data_folders or not all(data_folders) or not results_folder:
            raise ValueError(
                "QuickSightToAthena data_prefixes and results_prefix must each name a folder: QuickSight never gets "
                "a whole bucket"
            )

        stack = Stack.of(self)
        self.role_name = role_name
        # Imported by name: QuickSight owns the role (and its path); the
        # policy is attached by name, so the path does not matter.
        self.role = iam.Role.from_role_name(self, "ServiceRole", role_name)

        database_name = faces_table.database_name
        database_tables = stack.format_arn(service="glue", resource="table", resource_name=f"{database_name}/*")
        data_objects = [objects_arn(self, curated_bucket, f"{folder}/*") for folder in data_folders]
        result_objects = objects_arn(self, results_bucket, f"{results_folder}/*")

        def list_under(sid: str, bucket: s3.IBucket, folders: Sequence[str]) -> iam.PolicyStatement:
            return iam.PolicyStatement(
                sid=sid,
                actions=["s3:ListBucket"],
                resources=[bucket.bucket_arn],
                conditions={"StringLike": {"s3:prefix": [f"{folder}/*" for folder in folders]}},
            )

        self.policy = iam.Policy(
            self,
            "Policy",
            statements=[
                iam.PolicyStatement(
                    sid="QueryThroughWorkgroup",
                    actions=[
                        "athena:GetQueryExecution",
                        "athena:GetQueryResults",
                        "athena:GetWorkGroup",
                        "athena:StartQueryExecution",
                        "athena:StopQueryExecution",
                    ],
                    resources=[stack.format_arn(service="athena", resource="workgroup", resource_name=workgroup.ref)],
                ),
                iam.PolicyStatement(
                    sid="ReadDataCatalog",
                    actions=["athena:GetDataCatalog"],
                    resources=[
                        stack.format_arn(service="athena", resource="datacatalog", resource_name=ATHENA_DATA_CATALOG)
                    ],
                ),
                iam.PolicyStatement(
                    sid="ListDataCatalogs",
                    actions=["athena:ListDataCatalogs"],
                    # ListDataCatalogs has no resource type: "*" is the only resource it can be granted on.
                    resources=["*"],
                ),
                iam.PolicyStatement(
                    sid="ReadTableMetadata",
                    actions=[
                        "glue:GetDatabase",
                        "glue:GetDatabases",
                        "glue:GetPartition",
                        "glue:GetPartitions",
                        "glue:GetTable",
                        "glue:GetTables",
                    ],
                    resources=[
                        stack.format_arn(service="glue", resource="catalog"),
                        stack.format_arn(service="glue", resource="database", resource_name=database_name),
                        database_tables,
                    ],
                ),
                iam.PolicyStatement(
                    sid="LocateBuckets",
                    actions=["s3:GetBucketLocation"],
                    resources=[curated_bucket.bucket_arn, results_bucket.bucket_arn],
                ),
                list_under("ListData", curated_bucket, data_folders),
                iam.PolicyStatement(sid="ReadData", actions=["s3:GetObject"], resources=data_objects),
                list_under("ListQueryResults", results_bucket, [results_folder]),
                iam.PolicyStatement(
                    sid="ListResultUploads",
                    actions=["s3:ListBucketMultipartUploads"],
                    resources=[results_bucket.bucket_arn],
                ),
                iam.PolicyStatement(
                    sid="ReadWriteQueryResults",
                    actions=[
                        "s3:AbortMultipartUpload",
                        "s3:GetObject",
                        "s3:ListMultipartUploadParts",
                        "s3:PutObject",
                    ],
                    resources=[result_objects],
                ),
            ],
        )
        self.policy.attach_to_role(self.role)

        acknowledge(
            self.policy,
            "AwsSolutions-IAM5[Resource::*]",
            "athena:ListDataCatalogs supports no resource-level permissions; '*' is the only resource it can be "
            "granted on, and it returns catalog names only.",
        )
        scoped = {
            database_tables: "QuickSight reads table and partition metadata of the pipeline's own Glue database "
            "only; glue:GetTables needs every table of the database, and the database holds only this "
            "pipeline's tables.",
            **{
                objects: f"QuickSight (through Athena) reads the Parquet objects Firehose names under "
                f"{folder}/ of the curated bucket; it cannot read errors/ or write anywhere in that bucket."
                for folder, objects in zip(data_folders, data_objects, strict=True)
            },
            result_objects: f"Athena writes QuickSight's query results under {results_folder}/ of the results "
            "bucket with generated names and QuickSight reads them back; nothing outside that prefix.",
        }
        for resource, reason in scoped.items():
            acknowledge(self.policy, finding(self, "AwsSolutions-IAM5", "Resource", resource), reason)
