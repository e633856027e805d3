"""QuickSightToAthena: QuickSight's imported service role gets exactly what its Athena queries need."""

from __future__ import annotations

from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_athena as athena
from aws_cdk import aws_glue as glue
from aws_cdk import aws_s3 as s3
from aws_cdk.assertions import Template

from shopper_sentiment.contracts.identifiers import QUICKSIGHT_SERVICE_ROLE_NAME
from shopper_sentiment.tiers.quicksight_access import QuickSightToAthena
from tests.cdk_apps import new_app

ACCOUNT, REGION = "123456789012", "eu-west-1"


def bare_stack() -> tuple[cdk.Stack, dict[str, Any]]:
    stack = cdk.Stack(new_app(), "Bare", env=cdk.Environment(account=ACCOUNT, region=REGION))
    props = {
        "workgroup": athena.CfnWorkGroup(stack, "WorkGroup", name="shop"),
        "faces_table": glue.CfnTable(
            stack,
            "Table",
            catalog_id=ACCOUNT,
            database_name="shop_db",
            table_input=glue.CfnTable.TableInputProperty(name="faces"),
        ),
        "curated_bucket": s3.Bucket(stack, "Curated"),
        "results_bucket": s3.Bucket(stack, "Results"),
    }
    return stack, props


def readable(stack: cdk.Stack, value: Any) -> Any:
    """Template values with intrinsics spelled out: Ref → <LogicalId>, bucket Arn → arn:aws:s3:::<LogicalId>."""
    if isinstance(value, list):
        return [readable(stack, v) for v in value]
    if isinstance(value, dict) and set(value) == {"Fn::Join"}:
        separator, parts = value["Fn::Join"]
        return separator.join(readable(stack, p) for p in parts)
    if isinstance(value, dict) and set(value) == {"Ref"}:
        return "aws" if value["Ref"] == "AWS::Partition" else f"<{value['Ref']}>"
    if isinstance(value, dict) and set(value) == {"Fn::GetAtt"}:
        logical_id, attribute = value["Fn::GetAtt"]
        assert attribute == "Arn"
        return f"arn:aws:s3:::<{logical_id}>"
    if isinstance(value, dict):
        return {k: readable(stack, v) for k, v in value.items()}
    return value


def logical_id(stack: cdk.Stack, construct) -> str:
    element = construct if isinstance(construct, cdk.CfnElement) else construct.node.default_child
    return stack.get_logical_id(element)


@pytest.fixture(scope="module")
def access() -> tuple[cdk.Stack, QuickSightToAthena, dict, dict[str, Any]]:
    stack, props = bare_stack()
    construct = QuickSightToAthena(stack, "QuickSight", **props)
    (policy,) = Template.from_stack(stack).find_resources("AWS::IAM::Policy").values()
    return stack, construct, policy["Properties"], props


def test_policy_is_attached_to_the_imported_quicksight_service_role_by_name(access):
    stack, construct, policy, _ = access
    assert policy["Roles"] == [QUICKSIGHT_SERVICE_ROLE_NAME]
    assert construct.role.role_name == QUICKSIGHT_SERVICE_ROLE_NAME
    # Imported, never created: QuickSight's subscription owns the role.
    Template.from_stack(stack).resource_count_is("AWS::IAM::Role", 0)


def test_policy_statements_are_exactly_what_quicksight_queries_through_athena_need(access):
    stack, _, policy, props = access
    workgroup = logical_id(stack, props["workgroup"])
    curated = f"arn:aws:s3:::<{logical_id(stack, props['curated_bucket'])}>"
    results = f"arn:aws:s3:::<{logical_id(stack, props['results_bucket'])}>"
    glue_arn = f"arn:aws:glue:{REGION}:{ACCOUNT}"
    statements = {s.pop("Sid"): s for s in readable(stack, policy["PolicyDocument"]["Statement"])}
    assert statements == {
        "QueryThroughWorkgroup": {
            "Effect": "Allow",
            "Action": [
                "athena:GetQueryExecution",
                "athena:GetQueryResults",
                "athena:GetWorkGroup",
                "athena:StartQueryExecution",
                "athena:StopQueryExecution",
            ],
            "Resource": f"arn:aws:athena:{REGION}:{ACCOUNT}:workgroup/<{workgroup}>",
        },
        "ReadDataCatalog": {
            "Effect": "Allow",
            "Action": "athena:GetDataCatalog",
            "Resource": f"arn:aws:athena:{REGION}:{ACCOUNT}:datacatalog/AwsDataCatalog",
        },
        "ListDataCatalogs": {"Effect": "Allow", "Action": "athena:ListDataCatalogs", "Resource": "*"},
        "ReadTableMetadata": {
            "Effect": "Allow",
            "Action": [
                "glue:GetDatabase",
                "glue:GetDatabases",
                "glue:GetPartition",
                "glue:GetPartitions",
                "glue:GetTable",
                "glue:GetTables",
            ],
            "Resource": [f"{glue_arn}:catalog", f"{glue_arn}:database/shop_db", f"{glue_arn}:table/shop_db/*"],
        },
        "LocateBuckets": {"Effect": "Allow", "Action": "s3:GetBucketLocation", "Resource": [curated, results]},
        "ListData": {
            "Effect": "Allow",
            "Action": "s3:ListBucket",
            "Resource": curated,
            "Condition": {"StringLike": {"s3:prefix": ["faces/*", "images/*"]}},
        },
        "ReadData": {
            "Effect": "Allow",
            "Action": "s3:GetObject",
            "Resource": [f"{curated}/faces/*", f"{curated}/images/*"],
        },
        "ListQueryResults": {
            "Effect": "Allow",
            "Action": "s3:ListBucket",
            "Resource": results,
            "Condition": {"StringLike": {"s3:prefix": ["results/*"]}},
        },
        "ListResultUploads": {"Effect": "Allow", "Action": "s3:ListBucketMultipartUploads", "Resource": results},
        "ReadWriteQueryResults": {
            "Effect": "Allow",
            "Action": [
                "s3:AbortMultipartUpload",
                "s3:GetObject",
                "s3:ListMultipartUploadParts",
                "s3:PutObject",
            ],
            "Resource": f"{results}/results/*",
        },
    }


def test_only_list_data_catalogs_is_granted_on_every_resource(access):
    _, _, policy, _ = access
    resources = [(s["Action"], s["Resource"]) for s in policy["PolicyDocument"]["Statement"]]
    unscoped = [action for action, resource in resources if resource == "*" or "*" in resource]
    assert unscoped == ["athena:ListDataCatalogs"]


def test_every_wildcard_is_acknowledged_with_a_real_reason(access):
    _, construct, _, _ = access
    acks = {
        rule: reason
        for entry in construct.policy.node.metadata
        if entry.type == cdk.Validations.ACKNOWLEDGED_RULES_METADATA_KEY
        for rule, reason in entry.data.items()
    }
    assert len(acks) == 5, acks  # ListDataCatalogs' "*", the database's tables, faces/*, images/*, results/*
    for rule, reason in acks.items():
        assert rule.startswith("AwsSolutions::AwsSolutions-IAM5["), rule
        assert len(reason) >= 60, rule


def test_a_role_passed_to_quicksight_at_sign_up_can_be_named():
    stack, props = bare_stack()
    QuickSightToAthena(stack, "QuickSight", role_name="shop-quicksight", **props)
    Template.from_stack(stack).has_resource_properties("AWS::IAM::Policy", {"Roles": ["shop-quicksight"]})


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"role_name": "service-role/aws-quicksight-service-role-v0"}, "not an IAM role name"),
        ({"role_name": "arn:aws:iam::123456789012:role/qs"}, "not an IAM role name"),
        ({"role_name": ""}, "not an IAM role name"),
        ({"data_prefixes": ("faces", "/")}, "must each name a folder"),
        ({"results_prefix": ""}, "must each name a folder"),
    ],
)
def test_quicksight_access_refuses_a_role_path_or_a_whole_bucket(kwargs, message):
    stack, props = bare_stack()
    with pytest.raises(ValueError, match=message):
        QuickSightToAthena(stack, "QuickSight", **props, **kwargs)
