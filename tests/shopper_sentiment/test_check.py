"""``shopper-sentiment check`` end to end: S3, DynamoDB and the stack outputs in moto; Athena and QuickSight stubbed.

The pipeline itself (the analyze function, Firehose) is played by the test's
clock: each time the check waits, the fake pipeline takes its next step on
the moto buckets (archive the still, then write its rows as Firehose would).
moto's Athena answers canned results without reading S3, so Athena is
botocore's Stubber (validated against the service model); the query the
check sends is also run on the delivered rows with the local Athena
emulator. QuickSight is Stubber only.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.stub import ANY, Stubber
from moto import mock_aws

from local.athena import run_query
from shopper_sentiment.cli import build_parser
from shopper_sentiment.commands import check
from shopper_sentiment.contracts import outputs
from shopper_sentiment.contracts.identifiers import (
    CHECK_CAMERA_ID,
    CHECK_DEVICE_ID,
    CHECK_STORE_ID,
    CHECK_ZONE,
    glue_database_name,
    stack_name,
)
from shopper_sentiment.contracts.layout import parse_image_key, quarantine_key
from shopper_sentiment.contracts.schema import IMAGES_TABLE_NAME, TABLE_NAME
from tests.dashboards.curated_rows import face_record, image_record, write_rows
from tests.shopper_sentiment.deployed import create_idempotency_table, publish_outputs

REGION = "eu-west-1"
ACCOUNT = "123456789012"
SOURCE, ARCHIVE, CURATED, TABLE, WORKGROUP = "chk-source", "chk-archive", "chk-curated", "chk-idem", "chk-wg"
CONFIG = """
[deployments.shop]
region = "eu-west-1"
rekognition_tps = 5
{dashboard}

[deployments.shop.stores.berlin]
timezone = "Europe/Berlin"

[deployments.shop.stores.berlin.devices]
pi-door = {{ camera_id = "door", zone = "entrance" }}
"""
PRINCIPAL = f'quicksight_principal_arn = "arn:aws:quicksight:us-east-1:{ACCOUNT}:user/default/analyst"'
REAL_STORE_ROWS = "faces/store_id=berlin/dt=2026-03-14/part-00000.parquet"


def config_file(tmp_path: Path, *, dashboard: bool = False) -> Path:
    path = tmp_path / "deployments.toml"
    path.write_text(CONFIG.format(dashboard=PRINCIPAL if dashboard else ""), encoding="utf-8")
    return path


@pytest.fixture
def aws() -> Iterator[boto3.Session]:
    with mock_aws():
        session = boto3.Session(region_name=REGION)
        s3 = session.client("s3")
        for bucket in (SOURCE, ARCHIVE, CURATED):
            s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": REGION})
        for bucket in (SOURCE, ARCHIVE):
            s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
        # A real store's rows: the check must leave them alone.
        s3.put_object(Bucket=CURATED, Key=REAL_STORE_ROWS, Body=b"PAR1 a real store's rows")
        create_idempotency_table(session, TABLE)
        publish_outputs(
            session,
            "shop",
            {
                outputs.SOURCE_BUCKET: SOURCE,
                outputs.ARCHIVE_BUCKET: ARCHIVE,
                outputs.CURATED_BUCKET: CURATED,
                outputs.IDEMPOTENCY_TABLE: TABLE,
                outputs.ATHENA_WORKGROUP: WORKGROUP,
            },
        )
        yield session


class Pipeline:
    """The analyze function and Firehose, one step per wait of the check (``steps`` in order)."""

    def __init__(self, session: boto3.Session, rows_dir: Path, steps: list[str]) -> None:
        self.s3 = session.client("s3")
        self.dynamodb = session.client("dynamodb")
        self.rows_dir = rows_dir
        self.steps = list(steps)
        self.key: str | None = None

    def _uploaded(self) -> str:
        listed = self.s3.list_objects_v2(Bucket=SOURCE, Prefix=f"incoming/{CHECK_DEVICE_ID}/").get("Contents", [])
        if self.key is None:
            (item,) = listed
            self.key = item["Key"]
        return self.key

    def advance(self) -> None:
        if not self.steps:
            return
        step = self.steps.pop(0)
        key = self._uploaded()
        if step == "archive":
            self.s3.copy_object(Bucket=ARCHIVE, Key=key, CopySource={"Bucket": SOURCE, "Key": key})
            self.s3.delete_object(Bucket=SOURCE, Key=key)
        elif step == "quarantine":
            target = quarantine_key("unknown-device", key)
            self.s3.copy_object(Bucket=ARCHIVE, Key=target, CopySource={"Bucket": SOURCE, "Key": key})
            self.s3.delete_object(Bucket=SOURCE, Key=key)
        elif step == "deliver":
            self._deliver(key)

    def _deliver(self, key: str) -> None:
        captured = parse_image_key(key).captured_at
        local = captured.replace(tzinfo=None)  # the check store's clock is UTC
        faces = []
        for index, emotion in enumerate(("happy", "calm")):
            face = face_record(f"F{index}", CHECK_STORE_ID, local, CHECK_ZONE, "still", emotion, (30, 38), None, True)
            faces.append({**face, "image_key": key, "device_id": CHECK_DEVICE_ID, "camera_id": CHECK_CAMERA_ID})
        image = image_record("still", CHECK_STORE_ID, local, CHECK_ZONE, CHECK_DEVICE_ID, CHECK_CAMERA_ID, 2)
        image = {**image, "image_key": key}
        for table, rows in ((TABLE_NAME, faces), (IMAGES_TABLE_NAME, [image])):
            for path in write_rows(self.rows_dir, table, rows):
                relative = path.relative_to(self.rows_dir).as_posix()
                self.s3.put_object(Bucket=CURATED, Key=relative, Body=path.read_bytes())
        # The function's stored analysis of the still (its rows), as the idempotency table keeps it.
        self.dynamodb.put_item(
            TableName=TABLE,
            Item={"id": {"S": "analyze#0123abcd"}, "data": {"S": json.dumps({"image": image, "records": faces})}},
        )


class FakeClock(check.Clock):
    def __init__(self, pipeline: Pipeline) -> None:
        self.elapsed = 0.0
        super().__init__(now=lambda: self.elapsed, sleep=self._sleep)
        self.pipeline = pipeline

    def _sleep(self, seconds: float) -> None:
        self.elapsed += seconds
        self.pipeline.advance()


class StubbedSession:
    """The moto session, except for the services given as stubbed clients."""

    def __init__(self, session: boto3.Session, **stubbed: Any) -> None:
        self.session, self.stubbed = session, stubbed

    def client(self, name: str) -> Any:
        return self.stubbed.get(name) or self.session.client(name)


def athena_answering(images: int, faces: int, *, state: str = "SUCCEEDED") -> tuple[Any, Stubber, list[str]]:
    client = boto3.client("athena", region_name=REGION)
    stubber = Stubber(client)
    sent: list[str] = []
    client.meta.events.register(
        "provide-client-params.athena.StartQueryExecution", lambda params, **_: sent.append(params["QueryString"])
    )
    stubber.add_response(
        "start_query_execution",
        {"QueryExecutionId": "q-1"},
        {"QueryString": ANY, "WorkGroup": WORKGROUP, "QueryExecutionContext": {"Database": "shoppersentiment_shop"}},
    )
    stubber.add_response(
        "get_query_execution",
        {"QueryExecution": {"QueryExecutionId": "q-1", "Status": {"State": state, "StateChangeReason": "boom"}}},
        {"QueryExecutionId": "q-1"},
    )
    if state == "SUCCEEDED":
        header = {"Data": [{"VarCharValue": "images"}, {"VarCharValue": "faces"}]}
        values = {"Data": [{"VarCharValue": str(images)}, {"VarCharValue": str(faces)}]}
        stubber.add_response(
            "get_query_results", {"ResultSet": {"Rows": [header, values]}}, {"QueryExecutionId": "q-1"}
        )
    stubber.activate()
    return client, stubber, sent


def quicksight_answering(
    analysis: str = "CREATION_SUCCESSFUL",
    definition_errors: list[dict[str, Any]] | None = None,
    dashboard: str = "CREATION_SUCCESSFUL",
    dashboard_definition_errors: list[dict[str, Any]] | None = None,
) -> tuple[Any, Stubber]:
    client = boto3.client("quicksight", region_name=REGION)
    stubber = Stubber(client)
    ids = {"AwsAccountId": ACCOUNT}
    stubber.add_response(
        "describe_analysis",
        {"Analysis": {"AnalysisId": "shoppersentiment-shop-analysis", "Status": analysis}, "Status": 200},
        {**ids, "AnalysisId": "shoppersentiment-shop-analysis"},
    )
    stubber.add_response(
        "describe_analysis_definition",
        {
            "AnalysisId": "shoppersentiment-shop-analysis",
            "ResourceStatus": analysis,
            "Status": 200,
            # The model allows no empty list: a definition without errors has no Errors member.
            **({"Errors": definition_errors} if definition_errors else {}),
        },
        {**ids, "AnalysisId": "shoppersentiment-shop-analysis"},
    )
    stubber.add_response(
        "describe_dashboard",
        {
            "Dashboard": {
                "DashboardId": "shoppersentiment-shop-dashboard",
                "Version": {"Status": dashboard, "VersionNumber": 1},
            },
            "Status": 200,
        },
        {**ids, "DashboardId": "shoppersentiment-shop-dashboard"},
    )
    stubber.add_response(
        "describe_dashboard_definition",
        {
            "DashboardId": "shoppersentiment-shop-dashboard",
            "ResourceStatus": dashboard,
            "Status": 200,
            **({"Errors": dashboard_definition_errors} if dashboard_definition_errors else {}),
        },
        {**ids, "DashboardId": "shoppersentiment-shop-dashboard"},
    )
    stubber.activate()
    return client, stubber


def run_check(
    session: boto3.Session,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    pipeline_steps: list[str],
    *args: str,
    dashboard: bool = False,
    **stubbed: Any,
) -> tuple[int, Pipeline]:
    pipeline = Pipeline(session, tmp_path / "rows", pipeline_steps)
    monkeypatch.setattr(check, "session_for", lambda *_: StubbedSession(session, **stubbed))
    config = config_file(tmp_path, dashboard=dashboard)
    parsed = build_parser().parse_args(["check", "--config", str(config), "--deployment", "shop", *args])
    return check.run(parsed, clock=FakeClock(pipeline)), pipeline


def _versions(s3: Any, bucket: str, prefix: str) -> list[str]:
    listed = s3.list_object_versions(Bucket=bucket, Prefix=prefix)
    return [v["Key"] for v in listed.get("Versions", []) + listed.get("DeleteMarkers", [])]


def _step_lines(out: str) -> dict[str, str]:
    names = ("upload", "analysis", "delivery", "query", "dashboard", "cleanup")
    found = {}
    for line in out.splitlines():
        parts = line.split()
        if len(parts) >= 2 and parts[1] in names:
            found[parts[1]] = parts[0]
    return found


def test_the_check_follows_the_still_through_every_step_and_removes_what_it_added(
    aws: boto3.Session, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    athena, stubber, sent = athena_answering(images=1, faces=2)
    code, pipeline = run_check(aws, tmp_path, monkeypatch, ["archive", "deliver"], athena=athena)
    out = capsys.readouterr().out

    assert code == 0, out
    assert _step_lines(out) == {
        "upload": "PASSED",
        "analysis": "PASSED",
        "delivery": "PASSED",
        "query": "PASSED",
        "dashboard": "SKIPPED",
        "cleanup": "PASSED",
    }
    assert "no dashboard deployed" in out
    stubber.assert_no_pending_responses()
    # The still went up as the check device, under its camera.
    key = pipeline.key
    assert key is not None and key.startswith(f"incoming/{CHECK_DEVICE_ID}/{CHECK_CAMERA_ID}/")
    # The query the check sent filters on the still and answers its rows on what was delivered.
    (sql,) = sent
    assert key in sql and f"store_id = '{CHECK_STORE_ID}'" in sql
    assert run_query(tmp_path / "rows", sql).rows == [(1, 2)]
    # Everything it added is gone (every version), the real store's rows are not.
    s3 = aws.client("s3")
    assert _versions(s3, SOURCE, "incoming/") == []
    assert _versions(s3, ARCHIVE, "") == []
    assert [o["Key"] for o in s3.list_objects_v2(Bucket=CURATED).get("Contents", [])] == [REAL_STORE_ROWS]
    assert aws.client("dynamodb").scan(TableName=TABLE)["Items"] == []


def test_a_quarantined_still_fails_the_analysis_naming_its_reason_and_is_removed(
    aws: boto3.Session, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    code, pipeline = run_check(aws, tmp_path, monkeypatch, ["quarantine"], "--analysis-timeout", "30")
    out = capsys.readouterr().out

    assert code == 1
    assert _step_lines(out) == {
        "upload": "PASSED",
        "analysis": "FAILED",
        "delivery": "SKIPPED",
        "query": "SKIPPED",
        "dashboard": "SKIPPED",
        "cleanup": "PASSED",
    }
    assert f"quarantined as unknown-device: s3://{ARCHIVE}/quarantine/unknown-device/{pipeline.key}" in out
    assert "look at: the deployed registry lists the check device" in out
    assert _versions(aws.client("s3"), ARCHIVE, "") == []


def test_a_still_the_function_never_takes_fails_the_analysis_after_its_timeout(
    aws: boto3.Session, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _ = run_check(aws, tmp_path, monkeypatch, [], "--analysis-timeout", "40", "--poll", "10")
    out = capsys.readouterr().out

    assert code == 1
    assert "not archived after 40 s (still in incoming/)" in out
    assert "look at: the incoming queue and the dead-letter queue" in out
    assert _versions(aws.client("s3"), SOURCE, "incoming/") == []


def test_rows_that_never_arrive_fail_the_delivery_after_the_stated_timeout(
    aws: boto3.Session, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _ = run_check(aws, tmp_path, monkeypatch, ["archive"], "--delivery-timeout", "60")
    out = capsys.readouterr().out

    assert code == 1
    lines = _step_lines(out)
    assert (lines["analysis"], lines["delivery"], lines["query"], lines["cleanup"]) == (
        "PASSED",
        "FAILED",
        "SKIPPED",
        "PASSED",
    )
    assert "after 60 s (Firehose buffers up to 900 s" in out
    assert f"look at: s3://{CURATED}/errors/" in out


def test_the_default_delivery_timeout_outlasts_firehoses_buffer() -> None:
    parsed = build_parser().parse_args(["check"])
    assert parsed.delivery_timeout == check.DEFAULT_DELIVERY_TIMEOUT > 900


def test_a_failed_athena_query_fails_the_query_step(
    aws: boto3.Session, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    athena, _, _ = athena_answering(0, 0, state="FAILED")
    code, _ = run_check(
        aws, tmp_path, monkeypatch, ["archive", "deliver"], "--query-timeout", "5", "--poll", "10", athena=athena
    )
    out = capsys.readouterr().out

    assert code == 1
    assert _step_lines(out)["query"] == "FAILED"
    assert "query q-1 FAILED: boom" in out
    assert "look at: the tables' partition projection lists store _check" in out


def test_a_deployed_dashboard_without_errors_passes(
    aws: boto3.Session, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    athena, _, _ = athena_answering(1, 2)
    quicksight, stubber = quicksight_answering()
    code, _ = run_check(
        aws, tmp_path, monkeypatch, ["archive", "deliver"], dashboard=True, athena=athena, quicksight=quicksight
    )
    out = capsys.readouterr().out

    assert code == 0, out
    assert _step_lines(out)["dashboard"] == "PASSED"
    stubber.assert_no_pending_responses()


def test_dashboard_status_and_definition_errors_fail_the_dashboard_step(
    aws: boto3.Session, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    athena, _, _ = athena_answering(1, 2)
    error = {"Type": "COLUMN_NOT_FOUND", "Message": "age_band is not in the dataset", "ViolatedEntities": []}
    quicksight, _ = quicksight_answering(definition_errors=[error], dashboard="CREATION_FAILED")
    code, _ = run_check(
        aws, tmp_path, monkeypatch, ["archive", "deliver"], dashboard=True, athena=athena, quicksight=quicksight
    )
    out = capsys.readouterr().out

    assert code == 1
    assert _step_lines(out)["dashboard"] == "FAILED"
    assert "COLUMN_NOT_FOUND age_band is not in the dataset" in out
    assert "dashboard shoppersentiment-shop-dashboard is CREATION_FAILED" in out


def test_errors_in_the_dashboards_own_definition_fail_the_dashboard_step(
    aws: boto3.Session, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    athena, _, _ = athena_answering(1, 2)
    # The analysis is fine; the published dashboard's definition is not (it is a separate copy).
    error = {"Type": "PARAMETER_NOT_FOUND", "Message": "store-control has no parameter", "ViolatedEntities": []}
    quicksight, stubber = quicksight_answering(dashboard_definition_errors=[error])
    code, _ = run_check(
        aws, tmp_path, monkeypatch, ["archive", "deliver"], dashboard=True, athena=athena, quicksight=quicksight
    )
    out = capsys.readouterr().out

    assert code == 1
    assert _step_lines(out)["dashboard"] == "FAILED"
    assert "PARAMETER_NOT_FOUND store-control has no parameter" in out
    stubber.assert_no_pending_responses()


def test_keep_leaves_the_still_and_its_rows(
    aws: boto3.Session, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    athena, _, _ = athena_answering(1, 2)
    code, pipeline = run_check(aws, tmp_path, monkeypatch, ["archive", "deliver"], "--keep", athena=athena)
    assert code == 0
    assert _step_lines(capsys.readouterr().out)["cleanup"] == "SKIPPED"
    assert pipeline.key in _versions(aws.client("s3"), ARCHIVE, "")


def test_the_sample_still_is_a_packaged_jpeg_with_its_source_and_licence() -> None:
    still = check.sample_still()
    assert still[:3] == b"\xff\xd8\xff" and 10_000 < len(still) < 100_000
    readme = Path(check.__file__).resolve().parents[1] / "data" / "README.md"
    text = readme.read_text(encoding="utf-8")
    assert "astronaut" in text and "public domain" in text


def test_the_checks_database_is_the_stacks(demo_templates: Any) -> None:
    # The check queries the Glue database the stack names (no output carries it).
    databases = [
        resource["Properties"]["DatabaseInput"]["Name"]
        for template in demo_templates.values()
        for resource in template["Resources"].values()
        if resource["Type"] == "AWS::Glue::Database"
    ]
    assert databases == [glue_database_name(stack_name("demo"))]
