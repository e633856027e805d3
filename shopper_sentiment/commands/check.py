"""Follow a sample still through a deployment, step by step, then remove everything it added.

Examples:
  # right after `npx cdk deploy`: the whole pipeline, up to half an hour
  shopper-sentiment check --config deployments.toml --deployment demo
  # keep what the check added, to look at it (erase it later by running the check again)
  shopper-sentiment check --deployment demo --keep

The still (shopper_sentiment/data/check-still.jpg, one clear face) is
uploaded as the reserved check device (shopper_sentiment/contracts/identifiers.py
CHECK_DEVICE_ID), which the stack adds to the function's registry in its own
store, _check: no named query or QuickSight dataset counts that store.

Steps, each printed as passed, failed or skipped with what to look at:
  upload     the still is put under incoming/<check device>/ of the source bucket
  analysis   its archive copy appears and the incoming copy is gone (--analysis-timeout)
  delivery   Firehose wrote its rows as Parquet under images/ and faces/ of the curated
             bucket, in store _check; Firehose buffers up to 900 s (--delivery-timeout)
  query      the rows can be queried through the deployment's Athena workgroup (--query-timeout)
  dashboard  the QuickSight analysis and dashboard were created without errors
             (skipped when the config names no quicksight_principal_arn)
  cleanup    every copy of the check device's stills and rows is deleted (the erase
             command's machinery: incoming/, archive, quarantine/, store _check's
             partitions, errors/, idempotency table), also what earlier checks left

Exit codes: 0 every step passed (or was skipped), 1 a step failed, 2 bad arguments or config.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import resources
from typing import Any

from shopper_sentiment.commands import EXIT_DONE, EXIT_LEFT_OVER, UsageError
from shopper_sentiment.commands.erase import Resources, Scope, erase
from shopper_sentiment.commands.reprocess_quarantine import reasons_in
from shopper_sentiment.contracts import identifiers, outputs
from shopper_sentiment.contracts.layout import (
    DATA_PREFIX,
    ERROR_PREFIX,
    IMAGES_PREFIX,
    image_key,
    partition_prefix,
    quarantine_key,
)
from shopper_sentiment.deployment import add_deployment_arguments, deployment_from, outputs_of, session_for

NAME = "check"
HELP = "follow a sample still through the deployment (analysis, Firehose, Athena, QuickSight), then remove it"

#: The packaged sample still (its README names source and licence).
SAMPLE_STILL = "check-still.jpg"
DEFAULT_ANALYSIS_TIMEOUT = 300.0
#: Firehose flushes every 900 s at most (shopper_sentiment/tiers/process.py), and a flush with
#: dynamic partitioning and Parquet conversion takes a few minutes more.
DEFAULT_DELIVERY_TIMEOUT = 1200.0
DEFAULT_QUERY_TIMEOUT = 120.0
DEFAULT_POLL_SECONDS = 10.0
#: QuickSight statuses of a resource whose last create or update went through.
_QUICKSIGHT_DONE = ("CREATION_SUCCESSFUL", "UPDATE_SUCCESSFUL")

PASSED, FAILED, SKIPPED = "passed", "failed", "skipped"
_QUERY_FAILED = "query failed"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_deployment_arguments(parser)
    parser.add_argument(
        "--analysis-timeout",
        type=_seconds,
        default=DEFAULT_ANALYSIS_TIMEOUT,
        help=f"seconds to wait for the function to archive the still (default: {DEFAULT_ANALYSIS_TIMEOUT:g})",
    )
    parser.add_argument(
        "--delivery-timeout",
        type=_seconds,
        default=DEFAULT_DELIVERY_TIMEOUT,
        help="seconds to wait for Firehose to write the rows; it buffers up to 900 s"
        f" (default: {DEFAULT_DELIVERY_TIMEOUT:g})",
    )
    parser.add_argument(
        "--query-timeout",
        type=_seconds,
        default=DEFAULT_QUERY_TIMEOUT,
        help=f"seconds to wait for Athena to return the rows (default: {DEFAULT_QUERY_TIMEOUT:g})",
    )
    parser.add_argument(
        "--poll", type=_seconds, default=DEFAULT_POLL_SECONDS, help="seconds between looks (default: 10)"
    )
    parser.add_argument("--keep", action="store_true", help="leave what the check added (no cleanup step)")


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"{text}: give a number of seconds above 0")
    return value


def sample_still() -> bytes:
    return resources.files("shopper_sentiment").joinpath("data", SAMPLE_STILL).read_bytes()


@dataclass(frozen=True)
class Target:
    """Where the check looks: the deployment's resources (stack outputs) and its dashboard, if any."""

    source_bucket: str
    archive_bucket: str
    curated_bucket: str
    idempotency_table: str
    workgroup: str
    database: str
    #: The QuickSight account and the analysis and dashboard ids (dashboards/stack.py), or None without one.
    quicksight: tuple[str, str, str] | None = None


def target_from(values: dict[str, str], deployment: Any) -> Target:
    stack_name = deployment.stack_name
    needed = (
        outputs.SOURCE_BUCKET,
        outputs.ARCHIVE_BUCKET,
        outputs.CURATED_BUCKET,
        outputs.IDEMPOTENCY_TABLE,
        outputs.ATHENA_WORKGROUP,
    )
    missing = [key for key in needed if not values.get(key)]
    if missing:
        raise UsageError(f"stack {stack_name} has no output {missing[0]}: deploy the current version of the stack")
    quicksight = None
    if deployment.quicksight_principal_arn:
        # The principal's ARN names the account the dashboard stack created its resources in.
        account = deployment.quicksight_principal_arn.split(":")[4]
        resource_id = stack_name.lower()  # DashboardStack's ids
        quicksight = (account, f"{resource_id}-analysis", f"{resource_id}-dashboard")
    return Target(
        source_bucket=values[outputs.SOURCE_BUCKET],
        archive_bucket=values[outputs.ARCHIVE_BUCKET],
        curated_bucket=values[outputs.CURATED_BUCKET],
        idempotency_table=values[outputs.IDEMPOTENCY_TABLE],
        workgroup=values[outputs.ATHENA_WORKGROUP],
        database=identifiers.glue_database_name(stack_name),
        quicksight=quicksight,
    )


@dataclass
class Step:
    name: str
    status: str
    detail: str
    #: Where to look when it failed (the runbook has an entry per step).
    look_at: list[str] = field(default_factory=list)


@dataclass
class Clock:
    """How the check waits: real time, or a test's."""

    now: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep

    def wait_for(self, condition: Callable[[], Any], timeout: float, poll: float) -> Any:
        """``condition()``'s first true value, looked at every ``poll`` seconds; None after ``timeout``."""
        deadline = self.now() + timeout
        while True:
            value = condition()
            if value:
                return value
            if self.now() >= deadline:
                return None
            self.sleep(poll)


def _exists(s3: Any, bucket: str, key: str) -> bool:
    from botocore.exceptions import ClientError

    try:
        s3.head_object(Bucket=bucket, Key=key)
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
            return False
        raise
    return True


def _rows_of(s3: Any, bucket: str, prefix: str, key: str) -> int:
    """Rows of the still (by its key) in the Parquet objects under ``prefix``."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    rows = 0
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for item in page.get("Contents", []):
            body = s3.get_object(Bucket=bucket, Key=item["Key"])["Body"].read()
            try:
                table = pq.read_table(io.BytesIO(body), columns=["image_key"])
            except pa.ArrowInvalid:  # not Parquet: no rows of the still
                continue
            rows += pc.sum(pc.equal(table["image_key"], key)).as_py() or 0
    return rows


class Check:
    """The steps, in order; each returns its Step and whether the next ones can run."""

    def __init__(self, session: Any, target: Target, args: argparse.Namespace, clock: Clock) -> None:
        self.s3 = session.client("s3")
        self.session = session
        self.target = target
        self.args = args
        self.clock = clock
        self.key = ""
        self.day = ""

    def upload(self) -> Step:
        still = sample_still()
        captured = datetime.now(UTC)
        self.key = image_key(
            identifiers.CHECK_DEVICE_ID, identifiers.CHECK_CAMERA_ID, captured, hashlib.sha256(still).hexdigest()
        )
        # The check store's days are UTC days: the partition the rows land in.
        self.day = captured.date().isoformat()
        from botocore.exceptions import ClientError

        try:
            self.s3.put_object(Bucket=self.target.source_bucket, Key=self.key, Body=still, ContentType="image/jpeg")
        except ClientError as exc:
            return Step(
                "upload",
                FAILED,
                f"s3://{self.target.source_bucket}/{self.key}: {exc.response.get('Error', {}).get('Code')}",
                ["the credentials' s3:PutObject on the source bucket", "the --region and the stack outputs"],
            )
        return Step("upload", PASSED, f"s3://{self.target.source_bucket}/{self.key}")

    def analysis(self) -> Step:
        source, archive = self.target.source_bucket, self.target.archive_bucket

        def settled() -> bool:
            return _exists(self.s3, archive, self.key) and not _exists(self.s3, source, self.key)

        if self.clock.wait_for(settled, self.args.analysis_timeout, self.args.poll):
            return Step("analysis", PASSED, f"archived as s3://{archive}/{self.key}, gone from incoming/")
        for reason in reasons_in(self.s3, archive):
            if _exists(self.s3, archive, quarantine_key(reason, self.key)):
                return Step(
                    "analysis",
                    FAILED,
                    f"quarantined as {reason}: s3://{archive}/{quarantine_key(reason, self.key)}",
                    [
                        "docs/operations.md, the quarantine reason's entry",
                        "the deployed registry lists the check device: redeploy the current stack",
                    ],
                )
        still_incoming = _exists(self.s3, source, self.key)
        return Step(
            "analysis",
            FAILED,
            f"not archived after {self.args.analysis_timeout:g} s"
            + (" (still in incoming/)" if still_incoming else " (gone from incoming/, not in the archive)"),
            [
                "the incoming queue and the dead-letter queue (shopper-sentiment redrive --dry-run)",
                "the analyze function's errors and logs, and the stack's alarms",
                "the source bucket's event notification to the queue",
            ],
        )

    def delivery(self) -> Step:
        curated = self.target.curated_bucket
        prefixes = {
            table: partition_prefix(identifiers.CHECK_STORE_ID, self.day, table_prefix=table)
            for table in (IMAGES_PREFIX, DATA_PREFIX)
        }
        found: dict[str, int] = {}

        def delivered() -> bool:
            for table, prefix in prefixes.items():
                if not found.get(table):
                    found[table] = _rows_of(self.s3, curated, prefix, self.key)
            return all(found.values())

        if self.clock.wait_for(delivered, self.args.delivery_timeout, self.args.poll):
            counts = ", ".join(f"{found[t]} under {p}" for t, p in prefixes.items())
            return Step("delivery", PASSED, f"rows in s3://{curated}/: {counts}")
        missing = [prefixes[t] for t in prefixes if not found.get(t)]
        return Step(
            "delivery",
            FAILED,
            f"no rows of the still under {', '.join(missing)} after {self.args.delivery_timeout:g} s"
            " (Firehose buffers up to 900 s: a longer --delivery-timeout if it only needs time)",
            [
                f"s3://{curated}/{ERROR_PREFIX} (records Firehose could not convert to Parquet)",
                "the Firehose alarms (data freshness, delivery success, format conversion)",
                "the analyze function's Firehose-rejected retries",
            ],
        )

    def query(self) -> Step:
        athena = self.session.client("athena")
        # The key and day are made here from shopper_sentiment.contracts (no user input); the store is a constant.
        condition = f"store_id = '{identifiers.CHECK_STORE_ID}' AND dt = '{self.day}' AND image_key = '{self.key}'"
        sql = (
            f"SELECT (SELECT count(*) FROM images WHERE {condition}) AS images,"  # noqa: S608
            f" (SELECT count(*) FROM faces WHERE {condition}) AS faces"
        )
        last = ""
        deadline_left = self.args.query_timeout

        def answered() -> tuple[int, int] | str | None:
            nonlocal last
            execution_id = athena.start_query_execution(
                QueryString=sql,
                WorkGroup=self.target.workgroup,
                QueryExecutionContext={"Database": self.target.database},
            )["QueryExecutionId"]
            status = self.clock.wait_for(
                lambda: _finished(athena, execution_id), deadline_left, min(self.args.poll, 2.0)
            )
            if status is None:
                last = f"query {execution_id} did not finish"
                return None
            state, reason = status
            if state != "SUCCEEDED":
                # A failed query (permissions, a missing table) fails again: stop asking.
                last = f"query {execution_id} {state}: {reason}"
                return _QUERY_FAILED
            rows = athena.get_query_results(QueryExecutionId=execution_id)["ResultSet"]["Rows"]
            values = [int(cell.get("VarCharValue", "0")) for cell in rows[1]["Data"]] if len(rows) > 1 else [0, 0]
            images, faces = values
            last = f"query {execution_id}: {images} image rows, {faces} face rows"
            return (images, faces) if images and faces else None

        answer = self.clock.wait_for(answered, self.args.query_timeout, self.args.poll)
        if answer and answer is not _QUERY_FAILED:
            return Step("query", PASSED, f"workgroup {self.target.workgroup}: {last}")
        return Step(
            "query",
            FAILED,
            f"workgroup {self.target.workgroup}, database {self.target.database}: {last}",
            [
                "the query in the Athena console (workgroup history)",
                "the tables' partition projection lists store _check (redeploy the current stack)",
                "the workgroup's results bucket and bytes-scanned cutoff",
            ],
        )

    def dashboard(self) -> Step:
        if self.target.quicksight is None:
            return Step("dashboard", SKIPPED, "no dashboard deployed (the config names no quicksight_principal_arn)")
        account, analysis_id, dashboard_id = self.target.quicksight
        quicksight = self.session.client("quicksight")
        from botocore.exceptions import ClientError

        problems = []
        try:
            analysis = quicksight.describe_analysis(AwsAccountId=account, AnalysisId=analysis_id)["Analysis"]
            problems += _quicksight_problems(f"analysis {analysis_id}", analysis.get("Status"), analysis.get("Errors"))
            definition = quicksight.describe_analysis_definition(AwsAccountId=account, AnalysisId=analysis_id)
            problems += _quicksight_problems(
                f"analysis {analysis_id} definition", definition.get("ResourceStatus"), definition.get("Errors")
            )
            version = quicksight.describe_dashboard(AwsAccountId=account, DashboardId=dashboard_id)["Dashboard"].get(
                "Version", {}
            )
            problems += _quicksight_problems(f"dashboard {dashboard_id}", version.get("Status"), version.get("Errors"))
            definition = quicksight.describe_dashboard_definition(AwsAccountId=account, DashboardId=dashboard_id)
            problems += _quicksight_problems(
                f"dashboard {dashboard_id} definition", definition.get("ResourceStatus"), definition.get("Errors")
            )
        except ClientError as exc:
            error = exc.response.get("Error", {})
            problems.append(f"{exc.operation_name}: {error.get('Code')} {error.get('Message', '')}".strip())
        if problems:
            return Step(
                "dashboard",
                FAILED,
                "; ".join(problems),
                [
                    "the dashboard stack's events (npx cdk deploy, CloudFormation console)",
                    "the datasets' last refresh (QuickSight console) and the service role's access to Athena and S3",
                ],
            )
        return Step("dashboard", PASSED, f"analysis {analysis_id} and dashboard {dashboard_id} without errors")

    def cleanup(self) -> Step:
        target = self.target
        scope = Scope(
            store_id=identifiers.CHECK_STORE_ID,
            timezone=identifiers.CHECK_TIME_ZONE,
            devices=frozenset({identifiers.CHECK_DEVICE_ID}),
            whole_store=True,
        )
        resources_ = Resources(
            source_bucket=target.source_bucket,
            archive_bucket=target.archive_bucket,
            curated_bucket=target.curated_bucket,
            idempotency_table=target.idempotency_table,
        )
        report = erase(
            self.s3, self.session.client("dynamodb"), resources_, scope, dry_run=False, say=lambda _message: None
        )
        removed = sum(p["versions"] + p["items"] for p in report["places"])
        if report["remaining"]:
            left = ", ".join(p["place"] for p in report["remaining"])
            return Step(
                "cleanup",
                FAILED,
                f"still there after deleting: {left}",
                ["the credentials' delete permissions on the buckets and the idempotency table; run the check again"],
            )
        return Step("cleanup", PASSED, f"removed {removed} object versions and table items of the check device")


def _finished(athena: Any, execution_id: str) -> tuple[str, str] | None:
    status = athena.get_query_execution(QueryExecutionId=execution_id)["QueryExecution"]["Status"]
    if status["State"] in ("QUEUED", "RUNNING"):
        return None
    return status["State"], status.get("StateChangeReason", "")


def _quicksight_problems(what: str, status: str | None, errors: list[dict[str, Any]] | None) -> list[str]:
    problems = []
    if status not in _QUICKSIGHT_DONE:
        problems.append(f"{what} is {status}")
    problems += [f"{what}: {e.get('Type')} {e.get('Message', '')}".strip() for e in errors or []]
    return problems


def steps(check: Check, *, keep: bool) -> Iterator[Step]:
    """Each step in turn; a step that a failed one makes pointless is reported as skipped; cleanup always runs."""
    ok = True
    for name in ("upload", "analysis", "delivery", "query"):
        if ok:
            step = getattr(check, name)()
            ok = step.status == PASSED
        else:
            step = Step(name, SKIPPED, "an earlier step failed")
        yield step
    yield check.dashboard()
    if keep:
        yield Step("cleanup", SKIPPED, f"--keep: the check's still and rows stay ({check.key})")
    elif check.key:
        yield check.cleanup()


def print_step(step: Step, out: Any = None) -> None:
    out = out or sys.stdout
    print(f"{step.status.upper():<8} {step.name:<10} {step.detail}", file=out, flush=True)
    if step.status == FAILED:
        for place in step.look_at:
            print(f"{'':<20}look at: {place}", file=out, flush=True)


def run(args: argparse.Namespace, clock: Clock | None = None) -> int:
    deployment = deployment_from(args)
    session = session_for(args, deployment, "check")
    target = target_from(outputs_of(args, session, deployment.stack_name), deployment)
    print(
        f"checking {deployment.stack_name} with a still of device {identifiers.CHECK_DEVICE_ID}"
        f" (store {identifiers.CHECK_STORE_ID}); Firehose may take up to {args.delivery_timeout:g} s",
        flush=True,
    )
    check = Check(session, target, args, clock or Clock())
    failed = 0
    for step in steps(check, keep=args.keep):
        print_step(step)
        failed += step.status == FAILED
    print("every step passed" if not failed else f"{failed} step(s) failed: see docs/operations.md, 'check'")
    return EXIT_LEFT_OVER if failed else EXIT_DONE
