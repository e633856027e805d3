"""AnalyticsTier: the curated data lake and how analysts query it.

Defaults:

- Curated bucket (where Firehose writes Parquet under ``faces/``) and an
  Athena results bucket: SSE-S3, BlockPublicAccess.BLOCK_ALL, TLS-only,
  access logs; query results expire after ``results_retention``; face and
  image rows (``faces/``, ``images/``) after ``curated_retention``; records
  Firehose could not convert (``errors/``, face attributes too) after
  ``error_retention``; noncurrent versions (a compacted or erased file)
  after ``NONCURRENT_VERSION_RETENTION``.
- Glue database and the ``faces`` and ``images`` tables generated from shopper_sentiment.contracts/schema.py, stored
  as Parquet (Parquet SerDe and input/output formats declared, so Athena
  never sees a JSON SerDe), partitioned by ``store_id`` and ``dt`` with
  partition projection: ``store_id`` an enum of the configured stores and
  the check device's ``_check`` (and, for ``images``, ``_unregistered``),
  ``dt`` a date range up to tomorrow (``dt`` is the store's date, ahead of
  UTC east of Greenwich), and a ``storage.location.template`` equal to the
  Firehose prefix, so no crawler or MSCK REPAIR is ever needed.
- Athena workgroup: engine v3, configuration enforced, results encrypted
  (SSE-S3) in their own bucket, a per-query bytes-scanned cutoff, CloudWatch
  metrics on.
- One named query per entry of shopper_sentiment/contracts/catalogue.py, its SQL read from
  dashboards/queries/<name>.sql and its description the SQL's opening
  comment line (the question it answers); a catalogue entry without its
  file, or a file the catalogue does not list, fails synth.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aws_cdk import Duration, RemovalPolicy, Stack
from aws_cdk import aws_athena as athena
from aws_cdk import aws_glue as glue
from aws_cdk import aws_s3 as s3
from constructs import Construct

from shopper_sentiment.building.feature_flags import pin_feature_flags
from shopper_sentiment.building.overrides import PropsError, adopt_bucket, bucket_overrides, given, refuse_both
from shopper_sentiment.building.package_files import packaged_folder
from shopper_sentiment.building.storage import access_log_bucket, expiring, secure_bucket
from shopper_sentiment.contracts import identifiers, schema
from shopper_sentiment.contracts.catalogue import CATALOGUE, NamedQuery
from shopper_sentiment.contracts.layout import (
    ATHENA_RESULTS_PREFIX,
    DATA_PREFIX,
    ERROR_PREFIX,
    IMAGES_PREFIX,
    partition_prefix,
)

QUERIES_DIR = packaged_folder("shopper_sentiment.dashboards", "queries")

#: The faces table's storage.location.template: the same partition folders
#: Firehose writes (both come from shopper_sentiment.contracts.layout.partition_prefix).
PROJECTION_LOCATION_SUFFIX = partition_prefix("${store_id}", "${dt}")


#: Replaced or deleted Parquet files (compaction, erasure) stay recoverable this long.
NONCURRENT_VERSION_RETENTION = Duration.days(7)

PARQUET_SERDE = "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe"
PARQUET_INPUT = "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat"
PARQUET_OUTPUT = "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat"


@dataclass(frozen=True)
class NamedQuerySource:
    name: str
    description: str
    sql: str


def load_named_queries(
    directory: Path = QUERIES_DIR, queries: Sequence[NamedQuery] = CATALOGUE.queries
) -> list[NamedQuerySource]:
    """The catalogue's queries, in its order: SQL from ``<directory>/<name>.sql``, description its opening comment.

    The catalogue and the folder must list the same queries: a SQL file the
    catalogue does not name would silently never be deployed.
    """
    listed = {query.sql_file for query in queries}
    strays = sorted(path for path in directory.glob("*.sql") if path.name not in listed)
    if strays:
        files = ", ".join(str(path) for path in strays)
        raise ValueError(
            f"{files}: not a named query of shopper_sentiment/contracts/catalogue.py; "
            "add it to the catalogue or delete it"
        )
    sources = []
    for query in queries:
        path = directory / query.sql_file
        if not path.is_file():
            raise ValueError(
                f"{path}: missing, but shopper_sentiment/contracts/catalogue.py lists the named query {query.name!r}"
            )
        sql = path.read_text(encoding="utf-8").strip()
        first = sql.splitlines()[0] if sql else ""
        if not first.startswith("--"):
            raise ValueError(f"{path}: a named query must open with a '-- what it answers' comment line")
        sources.append(NamedQuerySource(query.name, first.removeprefix("--").strip()[:1024], sql))
    if not sources:
        raise ValueError(f"{directory}: no named queries (shopper_sentiment/contracts/catalogue.py lists none)")
    return sources


#: What Athena can query: a Glue database name of lowercase letters, digits and underscores.
GLUE_DATABASE_NAME = re.compile(r"[a-z0-9_]{1,255}")
#: The database fields ``database_props`` may set; the rest would make it something other than a database of tables.
DATABASE_FIELDS = ("name", "description", "location_uri", "parameters")


def _database_input(
    name_prefix: str,
    existing_name: str | None,
    props: glue.CfnDatabase.DatabaseInputProperty | Mapping[str, Any] | None,
) -> glue.CfnDatabase.DatabaseInputProperty:
    """The Glue database the tier creates: its defaults with ``props`` over them; checks an existing name too."""
    fields = given(props, glue.CfnDatabase.DatabaseInputProperty)
    refused = sorted(set(fields) - set(DATABASE_FIELDS))
    if refused:
        raise PropsError(
            f"AnalyticsTier: database_props.{refused[0]} is refused: only {', '.join(DATABASE_FIELDS)} may be "
            "overridden (the tier creates a plain database for its tables)"
        )
    values = {
        "name": identifiers.glue_database_name(name_prefix),
        "description": "Shopper Sentiment: anonymous face records from in-store cameras",
        **fields,
    }
    for prop, name in (("existing_database_name", existing_name), ("database_props.name", values["name"])):
        if name is not None and not GLUE_DATABASE_NAME.fullmatch(str(name)):
            raise PropsError(
                f"AnalyticsTier: {prop} {name!r} is refused: Athena queries Glue databases named with lowercase "
                "letters, digits and underscores (at most 255)"
            )
    return glue.CfnDatabase.DatabaseInputProperty(**values)


class AnalyticsTier(Construct):
    """Curated bucket, Glue catalog with partition projection, Athena workgroup.

    Attributes: ``curated_bucket``, ``results_bucket``, ``database_name``,
    ``database``, ``table``, ``table_name``, ``images_table``,
    ``images_table_name``, ``workgroup``,
    ``workgroup_name``, ``named_queries``.
    """

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        store_ids: Sequence[str],
        name_prefix: str,
        bytes_scanned_cutoff_mb: int = 10_240,
        projection_start: str = "2024-01-01",
        results_retention: Duration = Duration.days(30),
        curated_retention: Duration = Duration.days(400),
        error_retention: Duration = Duration.days(30),
        removal_policy: RemovalPolicy = RemovalPolicy.RETAIN,
        server_access_logs_bucket: s3.IBucket | None = None,
        queries_dir: Path = QUERIES_DIR,
        existing_curated_bucket: s3.IBucket | None = None,
        curated_bucket_props: s3.BucketProps | Mapping[str, Any] | None = None,
        existing_database_name: str | None = None,
        database_props: glue.CfnDatabase.DatabaseInputProperty | Mapping[str, Any] | None = None,
    ) -> None:
        """The tables of ``store_ids`` (their partition enum), named from ``name_prefix``.

        ``curated_retention`` and ``error_retention`` are the lifetimes of the
        tables' rows and of rows Firehose could not convert;
        ``results_retention`` that of query results. ``existing_curated_bucket``
        is a bucket of yours for the tables' data, ``existing_database_name``
        a Glue database of yours (in this account and region) to create the
        tables in; ``curated_bucket_props`` and ``database_props`` override the
        props of the ones the tier creates instead
        (``shopper_sentiment.building.overrides`` lists what is refused).
        """
        super().__init__(scope, id_)
        pin_feature_flags(self)
        if not store_ids:
            raise ValueError("AnalyticsTier needs at least one store id (the store_id partition enum)")
        if bytes_scanned_cutoff_mb < 10:
            raise ValueError("AnalyticsTier bytes_scanned_cutoff_mb must be at least 10 (Athena's minimum)")
        refuse_both("AnalyticsTier", "curated_bucket", existing_curated_bucket, curated_bucket_props)
        refuse_both("AnalyticsTier", "database", existing_database_name, database_props)
        curated_overrides = bucket_overrides(
            "AnalyticsTier", "curated_bucket_props", curated_bucket_props, versioned=True
        )
        database_input = _database_input(name_prefix, existing_database_name, database_props)

        log_bucket = server_access_logs_bucket or access_log_bucket(self, "AccessLogs", removal_policy=removal_policy)
        curated_lifecycle = [
            expiring("FaceRows", f"{DATA_PREFIX}/", curated_retention, old_versions=NONCURRENT_VERSION_RETENTION),
            expiring("ImageRows", f"{IMAGES_PREFIX}/", curated_retention, old_versions=NONCURRENT_VERSION_RETENTION),
            expiring("ConversionErrors", ERROR_PREFIX, error_retention, old_versions=NONCURRENT_VERSION_RETENTION),
            # Anything else written here (none today) still has its old versions cleared.
            expiring("NoncurrentVersions", None, None, old_versions=NONCURRENT_VERSION_RETENTION),
        ]
        self.curated_bucket: s3.IBucket
        if existing_curated_bucket is not None:
            days = NONCURRENT_VERSION_RETENTION.to_days()
            adopt_bucket(
                self,
                "existing_curated_bucket",
                existing_curated_bucket,
                curated_lifecycle,
                lifetimes=f"{DATA_PREFIX}/ and {IMAGES_PREFIX}/ expire after {curated_retention.to_days()} days, "
                f"{ERROR_PREFIX} after {error_retention.to_days()} days, older versions after {days} days",
            )
            self.curated_bucket = existing_curated_bucket
        else:
            self.curated_bucket = secure_bucket(
                self,
                "Curated",
                removal_policy=removal_policy,
                server_access_logs_bucket=log_bucket,
                server_access_logs_prefix="curated/",
                lifecycle_rules=curated_lifecycle,
                overrides=curated_overrides,
            )
        self.results_bucket = secure_bucket(
            self,
            "QueryResults",
            removal_policy=removal_policy,
            server_access_logs_bucket=log_bucket,
            server_access_logs_prefix="athena-results/",
            versioned=False,
            lifecycle_rules=[
                s3.LifecycleRule(
                    expiration=results_retention,
                    abort_incomplete_multipart_upload_after=Duration.days(1),
                )
            ],
        )

        account = Stack.of(self).account
        # None when the tables go into a database of yours: nothing here creates or owns it.
        self.database: glue.CfnDatabase | None = None
        if existing_database_name is not None:
            self.database_name = existing_database_name
        else:
            self.database_name = database_input.name
            self.database = glue.CfnDatabase(self, "Database", catalog_id=account, database_input=database_input)

        self.table_name = schema.TABLE_NAME
        self.table = self._table(
            "FacesTable",
            schema.TABLE_NAME,
            DATA_PREFIX,
            schema.COLUMNS,
            description="One row per detected face (schema: shopper_sentiment/contracts/schema.py)",
            # The check device's rows are in their own store: listed so that the check can query them.
            store_ids=[*store_ids, identifiers.CHECK_STORE_ID],
            projection_start=projection_start,
        )
        self.images_table_name = schema.IMAGES_TABLE_NAME
        # Images of a device in no store are kept under UNREGISTERED_STORE: the
        # projection must list it, or Athena would never read them.
        self.images_table = self._table(
            "ImagesTable",
            schema.IMAGES_TABLE_NAME,
            IMAGES_PREFIX,
            schema.IMAGE_COLUMNS,
            description="One row per settled image, faces or not, analyzed or quarantined "
            "(shopper_sentiment/contracts/schema.py)",
            store_ids=[*store_ids, schema.UNREGISTERED_STORE, identifiers.CHECK_STORE_ID],
            projection_start=projection_start,
        )

        self.workgroup_name = name_prefix
        self.workgroup = athena.CfnWorkGroup(
            self,
            "WorkGroup",
            name=self.workgroup_name,
            description="Shopper Sentiment analysts and dashboards",
            state="ENABLED",
            recursive_delete_option=True,
            work_group_configuration=athena.CfnWorkGroup.WorkGroupConfigurationProperty(
                enforce_work_group_configuration=True,
                publish_cloud_watch_metrics_enabled=True,
                bytes_scanned_cutoff_per_query=bytes_scanned_cutoff_mb * 1024 * 1024,
                engine_version=athena.CfnWorkGroup.EngineVersionProperty(
                    selected_engine_version="Athena engine version 3"
                ),
                result_configuration=athena.CfnWorkGroup.ResultConfigurationProperty(
                    output_location=f"s3://{self.results_bucket.bucket_name}/{ATHENA_RESULTS_PREFIX}",
                    encryption_configuration=athena.CfnWorkGroup.EncryptionConfigurationProperty(
                        encryption_option="SSE_S3"
                    ),
                ),
            ),
        )

        self.named_queries = []
        for query in load_named_queries(queries_dir):
            named = athena.CfnNamedQuery(
                self,
                f"Query-{query.name}",
                name=query.name,
                description=query.description,
                database=self.database_name,
                query_string=query.sql,
                work_group=self.workgroup.ref,
            )
            if self.database is not None:
                named.node.add_dependency(self.database)
            self.named_queries.append(named)

    def _table(
        self,
        construct_id: str,
        name: str,
        prefix: str,
        columns: tuple[schema.Column, ...],
        *,
        description: str,
        store_ids: Sequence[str],
        projection_start: str,
    ) -> glue.CfnTable:
        """A Parquet table under ``prefix/`` of the curated bucket, its partitions projected, none crawled."""
        bucket = self.curated_bucket.bucket_name
        location_suffix = partition_prefix("${store_id}", "${dt}", table_prefix=prefix)
        table = glue.CfnTable(
            self,
            construct_id,
            catalog_id=Stack.of(self).account,
            database_name=self.database_name,
            table_input=glue.CfnTable.TableInputProperty(
                name=name,
                description=description,
                table_type="EXTERNAL_TABLE",
                partition_keys=[glue.CfnTable.ColumnProperty(**c) for c in schema.glue_columns(schema.PARTITION_KEYS)],
                parameters={
                    "classification": "parquet",
                    "EXTERNAL": "TRUE",
                    "parquet.compression": "SNAPPY",
                    "projection.enabled": "true",
                    "projection.store_id.type": "enum",
                    "projection.store_id.values": ",".join(sorted(store_ids)),
                    "projection.dt.type": "date",
                    "projection.dt.format": "yyyy-MM-dd",
                    # dt is the store's date: east of UTC it is already tomorrow
                    # while UTC's NOW is still today.
                    "projection.dt.range": f"{projection_start},NOW+1DAYS",
                    "projection.dt.interval": "1",
                    "projection.dt.interval.unit": "DAYS",
                    "storage.location.template": f"s3://{bucket}/{location_suffix}",
                },
                storage_descriptor=glue.CfnTable.StorageDescriptorProperty(
                    columns=[glue.CfnTable.ColumnProperty(**c) for c in schema.glue_columns(columns)],
                    location=f"s3://{bucket}/{prefix}/",
                    input_format=PARQUET_INPUT,
                    output_format=PARQUET_OUTPUT,
                    compressed=True,
                    serde_info=glue.CfnTable.SerdeInfoProperty(
                        serialization_library=PARQUET_SERDE,
                        parameters={"serialization.format": "1"},
                    ),
                ),
            ),
        )
        if self.database is not None:
            table.node.add_dependency(self.database)
        return table
