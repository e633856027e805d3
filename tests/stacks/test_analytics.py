"""AnalyticsTier guarantees: Parquet table from the schema, projection, locked-down workgroup."""

from __future__ import annotations

import shutil

import aws_cdk as cdk
import pytest
from aws_cdk.assertions import Template

from shopper_sentiment.contracts import schema
from shopper_sentiment.contracts.catalogue import CATALOGUE, NamedQuery
from shopper_sentiment.tiers.analytics import QUERIES_DIR, AnalyticsTier, load_named_queries
from tests.cdk_apps import new_app

STORES = ["store-b", "store-a"]


@pytest.fixture(scope="module")
def analytics() -> tuple[cdk.Stack, AnalyticsTier, Template]:
    stack = cdk.Stack(new_app(), "Bare")
    tier = AnalyticsTier(stack, "Analytics", store_ids=STORES, name_prefix="Shop-x", bytes_scanned_cutoff_mb=100)
    return stack, tier, Template.from_stack(stack)


def table_input(template: Template, name: str = schema.TABLE_NAME) -> dict:
    (table,) = [
        t["Properties"]["TableInput"]
        for t in template.find_resources("AWS::Glue::Table").values()
        if t["Properties"]["TableInput"]["Name"] == name
    ]
    return table


@pytest.mark.parametrize(
    ("name", "columns"), [(schema.TABLE_NAME, schema.COLUMNS), (schema.IMAGES_TABLE_NAME, schema.IMAGE_COLUMNS)]
)
def test_each_table_has_its_schema_columns_in_order(analytics, name, columns):
    _, _, template = analytics
    ti = table_input(template, name)
    assert ti["StorageDescriptor"]["Columns"] == [
        {"Name": c.name, "Type": c.type, "Comment": c.comment} for c in columns
    ]
    assert [k["Name"] for k in ti["PartitionKeys"]] == ["store_id", "dt"]
    assert not {"store_id", "dt"} & {c["Name"] for c in ti["StorageDescriptor"]["Columns"]}


@pytest.mark.parametrize("name", [schema.TABLE_NAME, schema.IMAGES_TABLE_NAME])
def test_each_table_is_declared_parquet_not_json(analytics, name):
    sd = table_input(analytics[2], name)["StorageDescriptor"]
    assert sd["SerdeInfo"]["SerializationLibrary"] == "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe"
    assert sd["InputFormat"] == "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat"
    assert sd["OutputFormat"] == "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat"


@pytest.mark.parametrize(
    ("name", "folder", "stores"),
    [
        # The check device's rows are in their own store, which the check queries.
        (schema.TABLE_NAME, "faces", "_check,store-a,store-b"),
        # Images of a device in no store are kept (and counted) under their own store value.
        (schema.IMAGES_TABLE_NAME, "images", "_check,_unregistered,store-a,store-b"),
    ],
)
def test_partition_projection_covers_the_configured_stores_and_a_date_range(analytics, name, folder, stores):
    stack, tier, template = analytics
    params = table_input(template, name)["Parameters"]
    assert params["projection.enabled"] == "true"
    assert params["projection.store_id.type"] == "enum"
    assert params["projection.store_id.values"] == stores
    assert params["projection.dt.type"] == "date"
    assert params["projection.dt.format"] == "yyyy-MM-dd"
    # dt is the store's date: in Tokyo it is tomorrow for nine hours of every UTC day.
    assert params["projection.dt.range"] == "2024-01-01,NOW+1DAYS"
    assert params["projection.dt.interval.unit"] == "DAYS"
    curated = stack.get_logical_id(tier.curated_bucket.node.default_child)
    assert params["storage.location.template"] == {
        "Fn::Join": ["", ["s3://", {"Ref": curated}, f"/{folder}/store_id=${{store_id}}/dt=${{dt}}/"]]
    }


def test_workgroup_enforces_engine_v3_encryption_and_a_scan_cutoff(analytics):
    stack, tier, template = analytics
    results = stack.get_logical_id(tier.results_bucket.node.default_child)
    template.has_resource_properties(
        "AWS::Athena::WorkGroup",
        {
            "Name": "Shop-x",
            "WorkGroupConfiguration": {
                "EnforceWorkGroupConfiguration": True,
                "BytesScannedCutoffPerQuery": 100 * 1024 * 1024,
                "EngineVersion": {"SelectedEngineVersion": "Athena engine version 3"},
                "PublishCloudWatchMetricsEnabled": True,
                "ResultConfiguration": {
                    "EncryptionConfiguration": {"EncryptionOption": "SSE_S3"},
                    "OutputLocation": {"Fn::Join": ["", ["s3://", {"Ref": results}, "/results/"]]},
                },
            },
        },
    )


def test_query_results_expire(analytics):
    stack, tier, template = analytics
    props = template.to_json()["Resources"][stack.get_logical_id(tier.results_bucket.node.default_child)]
    rules = props["Properties"]["LifecycleConfiguration"]["Rules"]
    assert any(r.get("ExpirationInDays") == 30 for r in rules)


def test_the_named_queries_are_the_catalogues_with_their_sql_and_question(analytics):
    _, _, template = analytics
    named = template.find_resources("AWS::Athena::NamedQuery")
    assert sorted(q["Properties"]["Name"] for q in named.values()) == sorted(q.name for q in CATALOGUE.queries)
    for query in CATALOGUE.queries:
        sql = (QUERIES_DIR / query.sql_file).read_text(encoding="utf-8").strip()
        question = sql.splitlines()[0].removeprefix("--").strip()
        template.has_resource_properties(
            "AWS::Athena::NamedQuery",
            {"Name": query.name, "Database": "shop_x", "QueryString": sql, "Description": question},
        )


def test_named_queries_run_in_the_tiers_workgroup(analytics):
    stack, tier, template = analytics
    workgroup = stack.get_logical_id(tier.workgroup)
    template.all_resources_properties("AWS::Athena::NamedQuery", {"WorkGroup": {"Ref": workgroup}})


def copy_of_the_queries(tmp_path):
    folder = tmp_path / "queries"
    shutil.copytree(QUERIES_DIR, folder)
    return folder


def test_a_catalogue_query_without_its_sql_file_fails_synth_naming_the_file(tmp_path):
    folder = copy_of_the_queries(tmp_path)
    (folder / "gender_split.sql").unlink()

    with pytest.raises(ValueError, match=r"gender_split\.sql: missing, but .*/contracts/catalogue\.py lists"):
        AnalyticsTier(cdk.Stack(new_app(), "Missing"), "A", store_ids=["s"], name_prefix="x", queries_dir=folder)


def test_a_sql_file_the_catalogue_does_not_list_fails_synth_naming_the_file(tmp_path):
    folder = copy_of_the_queries(tmp_path)
    (folder / "dwell_time.sql").write_text("-- How long do shoppers stay?\nSELECT 1", encoding="utf-8")

    with pytest.raises(ValueError, match=r"dwell_time\.sql: not a named query of .*/catalogue\.py"):
        AnalyticsTier(cdk.Stack(new_app(), "Stray"), "A", store_ids=["s"], name_prefix="x", queries_dir=folder)


def test_a_query_without_its_opening_comment_is_refused(tmp_path):
    (tmp_path / "bad.sql").write_text("SELECT 1", encoding="utf-8")
    with pytest.raises(ValueError, match="bad.sql: a named query must open"):
        load_named_queries(tmp_path, [NamedQuery("bad", "Bad")])


def test_analytics_tier_refuses_a_cutoff_below_athenas_minimum():
    with pytest.raises(ValueError, match="at least 10"):
        AnalyticsTier(cdk.Stack(new_app(), "Bad"), "A", store_ids=["s"], name_prefix="x", bytes_scanned_cutoff_mb=1)
