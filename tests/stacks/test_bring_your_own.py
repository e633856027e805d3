"""Bring your own bucket or Glue database, or override chosen props: each path, and each refusal by its message."""

from __future__ import annotations

import json
import re

import aws_cdk as cdk
import pytest
from aws_cdk import aws_glue as glue
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from aws_cdk.assertions import Annotations, Match, Template
from cdk_nag import AwsSolutionsChecks

from shopper_sentiment import AnalyticsTier, CompactionTier, IngestTier, PropsError
from shopper_sentiment.contracts.layout import DATA_PREFIX, ERROR_PREFIX, IMAGES_PREFIX, INCOMING_PREFIX
from tests.cdk_apps import new_app, process_tier

DEVICES = ["pi-a", "pi-b"]


def ingest(stack: cdk.Stack, **props) -> IngestTier:
    return IngestTier(
        stack, "Ingest", device_ids=DEVICES, retention=cdk.Duration.days(30), name_prefix="Shop-x", **props
    )


def analytics(stack: cdk.Stack, **props) -> AnalyticsTier:
    return AnalyticsTier(stack, "Analytics", store_ids=["berlin"], name_prefix="Shop-x", **props)


def own_bucket(stack: cdk.Stack, id_: str = "Mine", **props) -> s3.Bucket:
    return s3.Bucket(
        stack,
        id_,
        encryption=s3.BucketEncryption.S3_MANAGED,
        block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
        enforce_ssl=True,
        versioned=True,
        **props,
    )


def lifecycle_rules(template: Template, stack: cdk.Stack, bucket: s3.IBucket) -> dict[str, dict]:
    resource = template.to_json()["Resources"][stack.get_logical_id(bucket.node.default_child)]
    return {rule["Id"]: rule for rule in resource["Properties"]["LifecycleConfiguration"]["Rules"]}


# -- IngestTier ---------------------------------------------------------------


def test_an_own_source_bucket_receives_the_stills_and_gets_the_incoming_lifetime():
    stack = cdk.Stack(new_app(), "Own")
    mine = own_bucket(stack)
    tier = ingest(stack, existing_source_bucket=mine)
    template = Template.from_stack(stack)

    assert tier.source_bucket is mine
    # Mine, the archive and the tier's access-log bucket: no source bucket of the tier's.
    template.resource_count_is("AWS::S3::Bucket", 3)
    assert tier.node.try_find_child("Source") is None
    mine_id = stack.get_logical_id(mine.node.default_child)
    template.has_resource_properties(
        "Custom::S3BucketNotifications",
        {
            "BucketName": {"Ref": mine_id},
            "NotificationConfiguration": {
                "QueueConfigurations": [
                    Match.object_like(
                        {"Filter": {"Key": {"FilterRules": [{"Name": "prefix", "Value": INCOMING_PREFIX}]}}}
                    )
                ]
            },
        },
    )
    rule = lifecycle_rules(template, stack, mine)["NeverAnalyzedImages"]
    assert rule["Prefix"] == INCOMING_PREFIX
    assert rule["ExpirationInDays"] == 15
    # The edge devices write into my bucket, under their own prefix only.
    template.has_resource_properties(
        "AWS::IAM::Role",
        {
            "Policies": [
                {
                    "PolicyName": "UploadOwnPrefixOnly",
                    "PolicyDocument": {
                        "Statement": [
                            Match.object_like(
                                {
                                    "Action": "s3:PutObject",
                                    "Resource": {
                                        "Fn::Join": [
                                            "",
                                            [
                                                {"Fn::GetAtt": [mine_id, "Arn"]},
                                                "/incoming/${credentials-iot:ThingName}/*",
                                            ],
                                        ]
                                    },
                                }
                            )
                        ]
                    },
                }
            ]
        },
    )


def test_an_imported_source_bucket_is_used_with_a_warning_that_its_lifetimes_are_its_owners():
    stack = cdk.Stack(new_app(), "Imported", env=cdk.Environment(account="111111111111", region="eu-west-1"))
    imported = s3.Bucket.from_bucket_name(stack, "Theirs", "their-stills")
    tier = ingest(stack, existing_source_bucket=imported)
    template = Template.from_stack(stack)

    assert tier.source_bucket is imported
    template.resource_count_is("AWS::S3::Bucket", 2)  # archive and access logs
    template.has_resource_properties("Custom::S3BucketNotifications", {"BucketName": "their-stills", "Managed": False})
    warnings = Annotations.from_stack(stack).find_warning("*", Match.string_like_regexp("existing_source_bucket"))
    assert len(warnings) == 1
    message = warnings[0].entry.data
    assert "is imported" in message
    assert f"{INCOMING_PREFIX} expires after 15 days" in message


def test_an_own_source_bucket_with_a_customer_managed_key_is_refused():
    stack = cdk.Stack(new_app(), "Keyed")
    keyed = s3.Bucket(
        stack,
        "Keyed",
        encryption=s3.BucketEncryption.KMS,
        encryption_key=kms.Key(stack, "Key", enable_key_rotation=True),
        enforce_ssl=True,
    )
    with pytest.raises(
        PropsError,
        match=re.escape("existing_source_bucket is refused: the tier's roles are granted object access, not key use"),
    ):
        ingest(stack, existing_source_bucket=keyed)


def test_adopting_a_bucket_leaves_cdks_shared_block_all_intact():
    # Reading an L1's public-access block back through jsii would turn BLOCK_ALL into a proxy.
    stack = cdk.Stack(new_app(), "After")
    ingest(stack, existing_source_bucket=own_bucket(stack))
    s3.Bucket(stack, "Later", block_public_access=s3.BlockPublicAccess.BLOCK_ALL)
    assert type(s3.BlockPublicAccess.BLOCK_ALL) is s3.BlockPublicAccess


def test_source_bucket_props_override_the_name_and_add_lifecycle_rules_after_the_tiers():
    stack = cdk.Stack(new_app(), "Props")
    tier = ingest(
        stack,
        source_bucket_props=s3.BucketProps(
            bucket_name="shop-x-stills",
            transfer_acceleration=True,
            lifecycle_rules=[s3.LifecycleRule(id="Mine", prefix="notes/", expiration=cdk.Duration.days(3))],
        ),
        archive_bucket_props={"bucket_name": "shop-x-archive"},
    )
    template = Template.from_stack(stack)
    source = template.to_json()["Resources"][stack.get_logical_id(tier.source_bucket.node.default_child)]
    props = source["Properties"]
    assert props["BucketName"] == "shop-x-stills"
    assert props["AccelerateConfiguration"] == {"AccelerationStatus": "Enabled"}
    assert [rule["Id"] for rule in props["LifecycleConfiguration"]["Rules"]] == ["NeverAnalyzedImages", "Mine"]
    # The defaults the override did not touch are all still there.
    assert props["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]["ServerSideEncryptionByDefault"] == {
        "SSEAlgorithm": "AES256"
    }
    assert props["VersioningConfiguration"] == {"Status": "Enabled"}
    assert props["OwnershipControls"] == {"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]}
    template.has_resource_properties("AWS::S3::Bucket", {"BucketName": "shop-x-archive"})


def test_props_that_repeat_a_default_are_accepted():
    stack = cdk.Stack(new_app(), "Same")
    ingest(
        stack,
        source_bucket_props=s3.BucketProps(
            enforce_ssl=True,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            encryption=s3.BucketEncryption.S3_MANAGED,
            versioned=True,
            minimum_tls_version=1.2,
        ),
    )
    template = Template.from_stack(stack)
    template.resource_count_is("AWS::S3::Bucket", 3)


@pytest.mark.parametrize(
    ("props", "message"),
    [
        ({"enforce_ssl": False}, "source_bucket_props.enforce_ssl is refused: the bucket refuses requests without TLS"),
        ({"public_read_access": True}, "source_bucket_props.public_read_access is refused: the bucket is private"),
        (
            {"block_public_access": s3.BlockPublicAccess.BLOCK_ACLS},
            "source_bucket_props.block_public_access is refused: the bucket blocks all public access",
        ),
        (
            {"encryption": s3.BucketEncryption.KMS},
            "source_bucket_props.encryption is refused: the bucket is encrypted with SSE-S3",
        ),
        (
            {"object_ownership": s3.ObjectOwnership.OBJECT_WRITER},
            "source_bucket_props.object_ownership is refused: ACLs are disabled",
        ),
        (
            {"access_control": s3.BucketAccessControl.PUBLIC_READ},
            "source_bucket_props.access_control is refused: ACLs are disabled",
        ),
        ({"versioned": False}, "source_bucket_props.versioned is refused: the bucket is versioned"),
        ({"minimum_tls_version": 1.0}, "source_bucket_props.minimum_tls_version is refused: TLS below 1.2"),
        (
            {"website_index_document": "index.html"},
            "source_bucket_props.website_index_document is refused: a website endpoint serves objects publicly",
        ),
        (
            {"replication_rules": []},
            "source_bucket_props.replication_rules is refused: a replica would outlive the lifetimes",
        ),
        ({"bucket_nmae": "typo"}, "BucketProps has no field bucket_nmae"),
    ],
    ids=lambda value: next(iter(value)) if isinstance(value, dict) else None,
)
def test_source_bucket_props_that_weaken_a_default_are_refused_by_name(props, message):
    with pytest.raises(PropsError, match=re.escape(message)):
        ingest(cdk.Stack(new_app(), "Weak"), source_bucket_props=props)


def test_archive_bucket_props_are_checked_like_the_source_buckets():
    with pytest.raises(PropsError, match=re.escape("IngestTier: archive_bucket_props.enforce_ssl is refused")):
        ingest(cdk.Stack(new_app(), "Weak"), archive_bucket_props={"enforce_ssl": False})


def test_an_existing_source_bucket_and_source_bucket_props_together_are_refused():
    stack = cdk.Stack(new_app(), "Both")
    with pytest.raises(
        PropsError, match=re.escape("IngestTier: give existing_source_bucket or source_bucket_props, not both")
    ):
        ingest(stack, existing_source_bucket=own_bucket(stack), source_bucket_props={"bucket_name": "x"})


def test_props_of_the_wrong_type_are_refused():
    with pytest.raises(PropsError, match="expected BucketProps or a mapping of its fields, got str"):
        ingest(cdk.Stack(new_app(), "Wrong"), source_bucket_props="shop-x-stills")


# -- AnalyticsTier ------------------------------------------------------------


def test_an_own_curated_bucket_holds_the_tables_and_gets_their_lifetimes():
    stack = cdk.Stack(new_app(), "Own")
    mine = own_bucket(stack)
    tier = analytics(stack, existing_curated_bucket=mine)
    template = Template.from_stack(stack)

    assert tier.curated_bucket is mine
    assert tier.node.try_find_child("Curated") is None
    template.resource_count_is("AWS::S3::Bucket", 3)  # mine, query results, access logs
    mine_id = stack.get_logical_id(mine.node.default_child)
    template.has_resource_properties(
        "AWS::Glue::Table",
        {
            "TableInput": Match.object_like(
                {
                    "Name": "faces",
                    "StorageDescriptor": Match.object_like(
                        {"Location": {"Fn::Join": ["", ["s3://", {"Ref": mine_id}, f"/{DATA_PREFIX}/"]]}}
                    ),
                }
            )
        },
    )
    rules = lifecycle_rules(template, stack, mine)
    assert rules["FaceRows"]["Prefix"] == f"{DATA_PREFIX}/"
    assert rules["FaceRows"]["ExpirationInDays"] == 400
    assert rules["ImageRows"]["Prefix"] == f"{IMAGES_PREFIX}/"
    assert rules["ConversionErrors"]["Prefix"] == ERROR_PREFIX
    assert rules["ConversionErrors"]["ExpirationInDays"] == 30


def test_an_imported_curated_bucket_warns_with_the_tables_lifetimes():
    stack = cdk.Stack(new_app(), "Imported")
    tier = analytics(stack, existing_curated_bucket=s3.Bucket.from_bucket_name(stack, "Lake", "our-lake"))
    Template.from_stack(stack)
    warnings = Annotations.from_stack(stack).find_warning("*", Match.string_like_regexp("existing_curated_bucket"))
    assert len(warnings) == 1
    assert f"{DATA_PREFIX}/ and {IMAGES_PREFIX}/ expire after 400 days" in warnings[0].entry.data
    assert tier.curated_bucket.bucket_name == "our-lake"


def test_curated_bucket_props_are_checked_and_refused_together_with_an_existing_bucket():
    with pytest.raises(PropsError, match=re.escape("AnalyticsTier: curated_bucket_props.versioned is refused")):
        analytics(cdk.Stack(new_app(), "Curated"), curated_bucket_props={"versioned": False})
    stack = cdk.Stack(new_app(), "CuratedBoth")
    with pytest.raises(
        PropsError, match=re.escape("AnalyticsTier: give existing_curated_bucket or curated_bucket_props, not both")
    ):
        analytics(stack, existing_curated_bucket=own_bucket(stack), curated_bucket_props={"bucket_name": "x"})


def test_an_existing_glue_database_gets_the_tables_and_is_not_created():
    stack = cdk.Stack(new_app(), "Db")
    tier = analytics(stack, existing_database_name="retail_lake")
    template = Template.from_stack(stack)

    assert tier.database is None
    assert tier.database_name == "retail_lake"
    template.resource_count_is("AWS::Glue::Database", 0)
    for table in template.find_resources("AWS::Glue::Table").values():
        assert table["Properties"]["DatabaseName"] == "retail_lake"
        assert "DependsOn" not in table
    for query in template.find_resources("AWS::Athena::NamedQuery").values():
        assert query["Properties"]["Database"] == "retail_lake"


def test_database_props_override_the_name_and_description():
    stack = cdk.Stack(new_app(), "DbProps")
    tier = analytics(
        stack,
        database_props=glue.CfnDatabase.DatabaseInputProperty(name="shop_x_faces", description="Store X"),
    )
    template = Template.from_stack(stack)
    assert tier.database_name == "shop_x_faces"
    template.has_resource_properties(
        "AWS::Glue::Database", {"DatabaseInput": {"Name": "shop_x_faces", "Description": "Store X"}}
    )
    template.has_resource_properties("AWS::Glue::Table", {"DatabaseName": "shop_x_faces"})


@pytest.mark.parametrize(
    ("props", "message"),
    [
        (
            {"existing_database_name": "retail_lake", "database_props": {"description": "x"}},
            "AnalyticsTier: give existing_database or database_props, not both",
        ),
        (
            {"existing_database_name": "Retail-Lake"},
            "AnalyticsTier: existing_database_name 'Retail-Lake' is refused: Athena queries Glue databases named "
            "with lowercase letters, digits and underscores",
        ),
        (
            {"database_props": {"name": "Faces DB"}},
            "AnalyticsTier: database_props.name 'Faces DB' is refused",
        ),
        (
            {"database_props": {"target_database": {"catalogId": "222222222222", "databaseName": "x"}}},
            "AnalyticsTier: database_props.target_database is refused: only name, description, location_uri, "
            "parameters may be overridden",
        ),
    ],
    ids=["both", "existing-name", "props-name", "props-field"],
)
def test_refused_database_choices_are_named(props, message):
    with pytest.raises(PropsError, match=re.escape(message)):
        analytics(cdk.Stack(new_app(), "DbRefused"), **props)


def test_curated_bucket_props_override_the_name_and_keep_the_tables_lifetimes():
    stack = cdk.Stack(new_app(), "CuratedProps")
    tier = analytics(stack, curated_bucket_props=s3.BucketProps(bucket_name="shop-x-curated"))
    template = Template.from_stack(stack)
    rules = lifecycle_rules(template, stack, tier.curated_bucket)
    assert list(rules) == ["FaceRows", "ImageRows", "ConversionErrors", "NoncurrentVersions"]
    template.has_resource_properties(
        "AWS::S3::Bucket", {"BucketName": "shop-x-curated", "VersioningConfiguration": {"Status": "Enabled"}}
    )


# -- Across stacks ------------------------------------------------------------


def test_an_own_source_bucket_in_another_stack_is_refused_with_the_way_out():
    app = new_app()
    mine = own_bucket(cdk.Stack(app, "Buckets"))
    with pytest.raises(
        PropsError,
        match=re.escape(
            "IngestTier: existing_source_bucket is refused: it belongs to stack Buckets, and its incoming/ "
            "notifications to this tier's queue in stack Uploads would make each stack depend on the other"
        ),
    ):
        ingest(cdk.Stack(app, "Uploads"), existing_source_bucket=mine)


def test_tiers_reading_a_curated_bucket_of_another_stack_pass_the_nag_gate(tmp_path):
    app = new_app(tmp_path)
    env = cdk.Environment(account="111111111111", region="eu-central-1")
    lake = cdk.Stack(app, "Lake", env=env)
    tables = analytics(lake)
    store = cdk.Stack(app, "Store", env=env)
    uploads = ingest(store)
    process_tier(store, uploads, tables)
    CompactionTier(store, "Compaction", curated_bucket=tables.curated_bucket, store_time_zones={"berlin": "UTC"})
    cdk.Validations.of(app).add_plugins(AwsSolutionsChecks(app))

    template = app.synth().get_stack_by_name("Store").template  # a finding would fail the synth
    imports = json.dumps(template)
    assert '"Fn::ImportValue": "Lake:ExportsOutputFnGetAttAnalyticsCurated' in imports


def test_a_curated_bucket_imported_from_an_export_passes_the_nag_gate(tmp_path):
    app = new_app(tmp_path)
    stack = cdk.Stack(app, "Imports")
    lake = s3.Bucket.from_bucket_arn(stack, "Lake", cdk.Fn.import_value("lake-arn"))
    CompactionTier(stack, "Compaction", curated_bucket=lake, store_time_zones={"berlin": "UTC"})
    cdk.Validations.of(app).add_plugins(AwsSolutionsChecks(app))

    template = app.synth().get_stack_by_name("Imports").template  # a finding would fail the synth
    assert {"Fn::Join": ["", [{"Fn::ImportValue": "lake-arn"}, "/faces/*"]]} in [
        resource
        for policy in template["Resources"].values()
        if policy["Type"] == "AWS::IAM::Policy"
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
        for resource in (statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]])
    ]
