"""``shopper-sentiment erase`` end to end against moto: two stores, several days, every place a copy lives.

Only the scope goes; every other object version and table item stays byte-identical.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import boto3
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from moto import mock_aws

from shopper_sentiment.cli import main
from shopper_sentiment.contracts import outputs, schema
from shopper_sentiment.contracts.identifiers import stack_name
from shopper_sentiment.contracts.layout import image_key, partition_prefix, quarantine_key
from tests.shopper_sentiment.deployed import create_idempotency_table, publish_outputs

REGION = "eu-west-1"
SOURCE, ARCHIVE, CURATED, TABLE = "erase-source", "erase-archive", "erase-curated", "erase-idempotency"
FUNCTION = "ShopperSentiment-shop-Analyze.app.analyze"
CONFIG = """
[deployments.shop]
region = "eu-west-1"
rekognition_tps = 5

[deployments.shop.stores.berlin]
timezone = "Europe/Berlin"

[deployments.shop.stores.berlin.devices]
pi-door = { camera_id = "door", zone = "entrance" }
pi-till = { camera_id = "till", zone = "checkout" }

[deployments.shop.stores.la]
timezone = "America/Los_Angeles"

[deployments.shop.stores.la.devices]
pi-la = { camera_id = "door", zone = "entrance" }
"""
STORES = {
    "berlin": ("Europe/Berlin", {"pi-door": "door", "pi-till": "till"}),
    "la": ("America/Los_Angeles", {"pi-la": "door"}),
}
DAYS = [date(2026, 3, 1), date(2026, 3, 2), date(2026, 3, 3)]


@pytest.fixture
def config_file(tmp_path: Path) -> Path:
    path = tmp_path / "deployments.toml"
    path.write_text(CONFIG, encoding="utf-8")
    return path


def captures(timezone: str, day: date) -> list[datetime]:
    """Two stills of a store-local day: mid-morning, and 00:30 local (still the day before in UTC east of Greenwich)."""
    from zoneinfo import ZoneInfo

    zone = ZoneInfo(timezone)
    return [
        datetime(day.year, day.month, day.day, 10, 15, tzinfo=zone).astimezone(UTC),
        datetime(day.year, day.month, day.day, 0, 30, tzinfo=zone).astimezone(UTC),
    ]


def face_row(store: str, device: str, camera: str, captured: datetime, key: str, index: int, day: date) -> dict:
    return {
        "record_id": hashlib.sha256(f"{key}{index}".encode()).hexdigest()[:32],
        "image_key": key,
        "device_id": device,
        "camera_id": camera,
        "zone": "entrance",
        "captured_at": int(captured.timestamp() * 1000),
        "captured_at_local": int(captured.timestamp() * 1000),
        "processed_at": int(captured.timestamp() * 1000) + 5000,
        "image_id": hashlib.sha256(key.encode()).hexdigest()[:32],
        "face_index": index,
        "faces_in_image": 2,
        "dominant_emotion": "happy",
        "emotion_happy": 90.0,
        "gender": "Female",
        "age_low": 20,
        "age_high": 30,
        "analyzer": "rekognition",
        "store_id": store,
        "dt": day.isoformat(),
    }


def image_row(store: str, device: str, camera: str, captured: datetime, key: str, day: date) -> dict:
    return {
        "image_id": hashlib.sha256(key.encode()).hexdigest()[:32],
        "image_key": key,
        "device_id": device,
        "camera_id": camera,
        "zone": "entrance",
        "captured_at": int(captured.timestamp() * 1000),
        "captured_at_local": int(captured.timestamp() * 1000),
        "processed_at": int(captured.timestamp() * 1000) + 5000,
        "outcome": "analyzed",
        "faces_detected": 2,
        "faces_kept": 2,
        "analyzer": "rekognition",
        "store_id": store,
        "dt": day.isoformat(),
    }


def parquet(rows: list[dict], table: str) -> bytes:
    arrow_schema = schema.arrow_schema(table=table)
    columns = {name: [row.get(name) for row in rows] for name in arrow_schema.names}
    for name in ("captured_at", "captured_at_local", "processed_at"):
        columns[name] = [None if v is None else datetime.fromtimestamp(v / 1000, UTC) for v in columns[name]]
    out = io.BytesIO()
    pq.write_table(pa.table(columns, schema=arrow_schema), out, compression="snappy")
    return out.getvalue()


def error_line(record: dict) -> bytes:
    envelope = {
        "attemptsMade": 1,
        "lastErrorCode": "DataFormatConversion.ParseError",
        "rawData": base64.b64encode(json.dumps(record).encode()).decode(),
    }
    return (json.dumps(envelope) + "\n").encode()


def powertools_id(key: str, etag: str) -> str:
    digest = hashlib.md5(json.dumps([SOURCE, key, etag], sort_keys=True).encode(), usedforsecurity=False)
    return f"{FUNCTION}#{digest.hexdigest()}"


def marker(key: str, etag: str) -> str:
    return "delivered#" + hashlib.sha256(f"{SOURCE}/{key}/{etag}".encode()).hexdigest()


@pytest.fixture
def account(config_file: Path) -> Iterator[Any]:
    """Two stores, three days: images in every place, rows in partitions, error records, stored analyses."""
    with mock_aws():
        session = boto3.Session(region_name=REGION)
        s3 = session.client("s3")
        for bucket in (SOURCE, ARCHIVE, CURATED):
            s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": REGION})
            s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
        dynamodb = session.client("dynamodb")
        create_idempotency_table(session, TABLE)
        publish_outputs(
            session,
            "shop",
            {
                outputs.SOURCE_BUCKET: SOURCE,
                outputs.ARCHIVE_BUCKET: ARCHIVE,
                outputs.CURATED_BUCKET: CURATED,
                outputs.IDEMPOTENCY_TABLE: TABLE,
            },
        )
        errors: list[bytes] = []
        for store, (timezone, devices) in STORES.items():
            for day in DAYS:
                faces: list[dict] = []
                images: list[dict] = []
                for device, camera in devices.items():
                    for n, captured in enumerate(captures(timezone, day)):
                        body = f"jpeg {device} {captured.isoformat()}".encode()
                        key = image_key(device, camera, captured, hashlib.sha256(body).hexdigest())
                        etag = s3.put_object(Bucket=ARCHIVE, Key=key, Body=body)["ETag"].strip('"')
                        if n == 0:  # a failed one, uploaded twice: two versions in incoming/
                            s3.put_object(Bucket=SOURCE, Key=key, Body=body)
                            s3.put_object(Bucket=SOURCE, Key=key, Body=body)
                            s3.put_object(Bucket=ARCHIVE, Key=quarantine_key("unknown-camera", key), Body=body)
                        rows = [face_row(store, device, camera, captured, key, i, day) for i in range(2)]
                        faces += rows
                        images.append(image_row(store, device, camera, captured, key, day))
                        errors.append(error_line(rows[0]))
                        stored = {"records": rows, "image": images[-1]}
                        dynamodb.put_item(
                            TableName=TABLE,
                            Item={
                                "id": {"S": powertools_id(key, etag)},
                                "status": {"S": "COMPLETED"},
                                "data": {"S": json.dumps(stored)},
                            },
                        )
                        dynamodb.put_item(
                            TableName=TABLE, Item={"id": {"S": marker(key, etag)}, "delivered_records": {"N": "2"}}
                        )
                partition = partition_prefix(store, day.isoformat())
                s3.put_object(Bucket=CURATED, Key=f"{partition}faces-1.parquet", Body=parquet(faces, schema.TABLE_NAME))
                images_partition = partition_prefix(store, day.isoformat(), table_prefix="images")
                s3.put_object(
                    Bucket=CURATED,
                    Key=f"{images_partition}images-1.parquet",
                    Body=parquet(images, schema.IMAGES_TABLE_NAME),
                )
        # Firehose dates error folders by arrival (UTC), not by the store's day: all lines in one object.
        s3.put_object(
            Bucket=CURATED, Key="errors/format-conversion-failed/dt=2026-03-04/errors-1", Body=b"".join(errors)
        )
        yield session


def everything(session: Any) -> dict[str, Any]:
    """Every object version's bytes and every table item, to compare before and after."""
    s3 = session.client("s3")
    state: dict[str, Any] = {}
    for bucket in (SOURCE, ARCHIVE, CURATED):
        listing = s3.list_object_versions(Bucket=bucket)
        for version in listing.get("Versions", []):
            body = s3.get_object(Bucket=bucket, Key=version["Key"], VersionId=version["VersionId"])["Body"].read()
            state[f"s3://{bucket}/{version['Key']}?{version['VersionId']}"] = body
    for item in session.client("dynamodb").scan(TableName=TABLE)["Items"]:
        state[f"item:{item['id']['S']}"] = item
    return state


def erase(*args: str, config: Path) -> int:
    return main(["erase", "--config", str(config), *args])


def in_scope_key(key: str, devices: set[str], days: set[str], timezone: str) -> bool:
    from zoneinfo import ZoneInfo

    from shopper_sentiment.contracts.layout import parse_image_key

    parsed = parse_image_key(key)
    local = parsed.captured_at.astimezone(ZoneInfo(timezone)).date().isoformat()
    return parsed.device_id in devices and local in days


def test_erasing_one_device_for_one_day_removes_only_that_and_rewrites_the_shared_partitions(
    account, config_file, capsys
):
    before = everything(account)
    scope = ("--store", "berlin", "--device", "pi-door", "--from", "2026-03-02", "--to", "2026-03-02")

    assert erase(*scope, "--json", config=config_file) == 0

    report = json.loads(capsys.readouterr().out)
    after = everything(account)
    places = {p["place"]: p for p in report["places"]}
    # Two stills a day for pi-door: one in incoming/ (2 versions), both in the archive, one quarantined.
    assert places["source incoming/"]["versions"] == 2
    assert places["archive incoming/"]["versions"] == 2
    assert places["archive quarantine/"]["versions"] == 1
    assert places["curated faces/"] == {**places["curated faces/"], "rewritten": 1, "rows": 4}
    assert places["curated images/"] == {**places["curated images/"], "rewritten": 1, "rows": 2}
    assert places["curated errors/"] == {**places["curated errors/"], "rewritten": 1, "rows": 2}
    assert places["idempotency table"]["items"] == 4  # two stored analyses, two markers
    assert report["remaining"] == []

    gone = set(before) - set(after)
    added = set(after) - set(before)
    # Only the in-scope images, their items, and the versions of the three rewritten files went.
    for name in gone:
        if name.startswith("item:"):
            continue
        key = name.split("/", 3)[3].rsplit("?", 1)[0]
        if key.startswith(("faces/", "images/", "errors/")):
            assert key in {
                f"{partition_prefix('berlin', '2026-03-02')}faces-1.parquet",
                f"{partition_prefix('berlin', '2026-03-02', table_prefix='images')}images-1.parquet",
                "errors/format-conversion-failed/dt=2026-03-04/errors-1",
            }
        else:
            image = key.split("/", 2)[2] if key.startswith("quarantine/") else key
            assert in_scope_key(image, {"pi-door"}, {"2026-03-02"}, "Europe/Berlin"), key
    assert len([n for n in gone if n.startswith("item:")]) == 4
    for name in set(before) & set(after):
        assert before[name] == after[name], name  # byte-identical
    # The rewritten files: one version each, pi-door's rows gone, pi-till's rows exactly as they were.
    assert len(added) == 3
    s3 = account.client("s3")
    faces_key = f"{partition_prefix('berlin', '2026-03-02')}faces-1.parquet"
    old = pq.read_table(io.BytesIO(next(v for n, v in before.items() if faces_key in n))).to_pylist()
    new = pq.read_table(io.BytesIO(s3.get_object(Bucket=CURATED, Key=faces_key)["Body"].read())).to_pylist()
    assert new == [row for row in old if row["device_id"] != "pi-door"]
    assert len(s3.list_object_versions(Bucket=CURATED, Prefix=faces_key)["Versions"]) == 1
    lines = s3.get_object(Bucket=CURATED, Key="errors/format-conversion-failed/dt=2026-03-04/errors-1")["Body"].read()
    records = [json.loads(base64.b64decode(json.loads(line)["rawData"])) for line in lines.splitlines()]
    assert len(records) == 3 * 3 * 2 - 2  # three devices, three days, two stills each; pi-door's two of March 2 gone
    assert not [r for r in records if r["device_id"] == "pi-door" and r["dt"] == "2026-03-02"]


def test_the_dry_run_deletes_nothing_and_reports_what_the_erase_then_deletes(account, config_file, capsys):
    before = everything(account)
    scope = ("--store", "berlin", "--device", "pi-till", "--from", "2026-03-01", "--to", "2026-03-02")

    assert erase(*scope, "--dry-run", "--json", config=config_file) == 0
    dry = json.loads(capsys.readouterr().out)
    assert everything(account) == before
    assert erase(*scope, "--json", config=config_file) == 0
    done = json.loads(capsys.readouterr().out)

    assert dry["dry_run"] is True and done["dry_run"] is False
    assert dry["places"] == done["places"]
    assert sum(p["versions"] for p in done["places"]) > 0
    assert done["remaining"] == []


def test_erasing_a_whole_store_leaves_the_other_store_untouched(account, config_file, capsys):
    before = everything(account)

    assert erase("--store", "la", config=config_file) == 0

    after = everything(account)
    assert "nothing in scope remains" in capsys.readouterr().out
    for name, value in before.items():
        la = (
            "/pi-la/" in name
            or "store_id=la/" in name
            or (name.startswith("item:") and '"store_id": "la"' in str(value))
        )
        if la:
            assert name not in after, name
        elif "errors/" not in name and not name.startswith("item:delivered#"):
            assert after[name] == value, name
    s3 = account.client("s3")
    assert s3.list_object_versions(Bucket=CURATED, Prefix="faces/store_id=la/").get("Versions") is None
    assert len(s3.list_object_versions(Bucket=CURATED, Prefix="faces/store_id=berlin/")["Versions"]) == 3
    markers_left = [n for n in after if n.startswith("item:delivered#")]
    assert len(markers_left) == 12  # berlin's two devices, two stills, three days


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--store", "paris"), "store 'paris' is not in deployment 'shop' (its stores: berlin, la)"),
        (("--store", "berlin", "--device", "pi-la"), "device 'pi-la' is not a device of store 'berlin'"),
        (
            ("--store", "berlin", "--from", "2026-03-03", "--to", "2026-03-01"),
            "--from 2026-03-03 is after --to 2026-03-01: the scope is empty",
        ),
        (("--store", "berlin", "--deployment", "nope"), "deployment 'nope' is not in"),
    ],
)
def test_an_unknown_store_or_device_or_an_empty_scope_is_refused_before_anything_is_touched(
    account, config_file, capsys, args, message
):
    before = everything(account)

    assert erase(*args, config=config_file) == 2

    assert message in capsys.readouterr().err
    assert everything(account) == before


def test_a_day_that_is_not_a_date_is_refused_by_argparse(config_file, capsys):
    with pytest.raises(SystemExit) as exited:
        erase("--store", "berlin", "--from", "March 2", config=config_file)
    assert exited.value.code == 2
    assert "'March 2' is not a day in the form YYYY-MM-DD" in capsys.readouterr().err


def test_a_stack_without_the_erase_outputs_is_named(account, config_file, capsys, tmp_path):
    outputs_file = tmp_path / "outputs.json"
    outputs_file.write_text(json.dumps({stack_name("shop"): {outputs.SOURCE_BUCKET: SOURCE}}))

    assert erase("--store", "la", "--outputs-file", str(outputs_file), config=config_file) == 2

    assert f"stack {stack_name('shop')} has no output {outputs.ARCHIVE_BUCKET}" in capsys.readouterr().err


def test_something_left_in_scope_makes_the_exit_code_one(account, config_file, capsys, monkeypatch):
    from shopper_sentiment.commands import erase as erase_module

    real_apply = erase_module.apply

    def apply_all_but_the_table(s3, dynamodb, table, found):
        if found.place != "idempotency table":
            real_apply(s3, dynamodb, table, found)

    monkeypatch.setattr(erase_module, "apply", apply_all_but_the_table)

    assert erase("--store", "la", "--from", "2026-03-01", "--to", "2026-03-01", config=config_file) == 1

    out = capsys.readouterr().out
    assert "STILL IN SCOPE" in out
    assert "idempotency table" in out.split("STILL IN SCOPE")[1]


def test_the_cli_lists_erase_with_an_example_in_its_help(capsys):
    with pytest.raises(SystemExit) as exited:
        main(["erase", "--help"])
    assert exited.value.code == 0
    help_text = capsys.readouterr().out
    assert "--dry-run" in help_text and "shopper-sentiment erase --deployment demo --store" in help_text
