"""Every copy of a contract that ships without the repository agrees with shopper_sentiment/contracts/.

The analyze function (its code asset) and the edge agent (its own package on
the Raspberry Pi) cannot import ``contracts``; each carries the facts it
needs. A copy that drifts fails here, before a deploy.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from types import SimpleNamespace

import pytest
from shopper_analyze import face_records, image_keys, image_rows, s3_objects, settings
from shopper_edge import capture, provision
from shopper_edge import config as edge_config
from shopper_edge import deployment as edge_deployment

from shopper_sentiment.contracts import analyze_function, identifiers, layout, outputs, schema
from shopper_sentiment.tiers.process import check_device_registry_entry
from tests.cdk_apps import is_analyze_function

SHA = "0123456789abcdef" * 4
INSTANTS = (
    datetime(2026, 3, 14, 9, 26, 53, 412000, tzinfo=UTC),
    datetime(2026, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),  # milliseconds truncate, never round up a day
    datetime(2026, 11, 24, 19, 0, tzinfo=timezone(timedelta(hours=-8))),  # a local instant: stored as UTC
    datetime(2028, 2, 29, 0, 0, tzinfo=UTC),
)
DEVICES = ("pi-s001-entrance", "A", "pi_7", "x" * 128)
CAMERAS = ("entrance", "B", "aisle_3", "c" * 64)
#: Keys the edge agent never writes; every reader must refuse each of them.
NOT_IN_LAYOUT = (
    "incoming/pi-1/cam/2026/03/14/20260314T092653412Z-0123456789ab.jpeg",
    "incoming/pi-1/cam/2026/03/15/20260314T092653412Z-0123456789ab.jpg",  # folders disagree with the stamp
    "incoming/pi-1/cam/2026/02/30/20260230T092653412Z-0123456789ab.jpg",  # no such day
    "incoming/pi-1/cam/2026/03/14/20260314T092653412Z-0123456789AB.jpg",
    "incoming/-pi/cam/2026/03/14/20260314T092653412Z-0123456789ab.jpg",
    "incoming/pi-1/-cam/2026/03/14/20260314T092653412Z-0123456789ab.jpg",
    "incoming/pi-1/2026/03/14/20260314T092653412Z-0123456789ab.jpg",  # no camera segment (the old layout)
    "incoming/pi-1/cam/2026/03/14/２０２６0314T092653412Z-0123456789ab.jpg",  # non-ASCII digits
    "incoming/" + "x" * 129 + "/cam/2026/03/14/20260314T092653412Z-0123456789ab.jpg",
    "incoming/pi-1/" + "c" * 65 + "/2026/03/14/20260314T092653412Z-0123456789ab.jpg",
    "other/pi-1/2026/03/14/20260314T092653412Z-0123456789ab.jpg",
)


# --- the object key ------------------------------------------------------------------------------


@pytest.mark.parametrize("captured_at", INSTANTS)
@pytest.mark.parametrize(("device_id", "camera_id"), list(zip(DEVICES, CAMERAS, strict=True)))
def test_edge_agent_writes_the_contract_key(device_id, camera_id, captured_at):
    theirs = capture.object_key(device_id, camera_id, captured_at, SHA)
    assert theirs == layout.image_key(device_id, camera_id, captured_at, SHA)


@pytest.mark.parametrize("captured_at", INSTANTS)
@pytest.mark.parametrize(("device_id", "camera_id"), list(zip(DEVICES, CAMERAS, strict=True)))
def test_analyze_function_reads_the_contract_key_as_the_contract_does(device_id, camera_id, captured_at):
    key = layout.image_key(device_id, camera_id, captured_at, SHA)
    theirs, ours = image_keys.parse_image_key(key), layout.parse_image_key(key)
    assert (theirs.device_id, theirs.camera_id, theirs.captured_at, theirs.content_sha) == (
        ours.device_id,
        ours.camera_id,
        ours.captured_at,
        ours.content_sha,
    )
    assert (ours.device_id, ours.camera_id) == (device_id, camera_id)
    assert ours.captured_at == captured_at.astimezone(UTC).replace(microsecond=captured_at.microsecond // 1000 * 1000)


@pytest.mark.parametrize("key", NOT_IN_LAYOUT)
def test_analyze_function_and_contract_refuse_the_same_keys(key):
    with pytest.raises(layout.KeyLayoutError):
        layout.parse_image_key(key)
    with pytest.raises(image_keys.KeyLayoutError):
        image_keys.parse_image_key(key)


def test_incoming_prefix_is_the_same_everywhere():
    assert image_keys.INCOMING_PREFIX == layout.INCOMING_PREFIX
    agent_key_prefix = edge_config.AgentConfig.key_prefix.fget
    assert agent_key_prefix(SimpleNamespace(device_id="pi-1")) == layout.device_prefix("pi-1")


def test_quarantine_layout_is_the_contract():
    assert s3_objects.QUARANTINE_PREFIX == layout.QUARANTINE_PREFIX
    key = layout.image_key("pi-1", "door", INSTANTS[0], SHA)
    assert s3_objects.quarantine_key("unknown-device", key) == layout.quarantine_key("unknown-device", key)


# --- ids and names ---------------------------------------------------------------------------------


def test_device_id_alphabet_is_the_contract_in_the_edge_agent_and_the_function():
    assert edge_config.DEVICE_ID_PATTERN.pattern == identifiers.DEVICE_ID_PATTERN
    key_device = re.search(r"\(\?P<device_id>(.+?)\)/", image_keys._KEY.pattern)
    assert key_device is not None and key_device.group(1) == identifiers.DEVICE_ID_PATTERN
    assert settings._DEVICE_ID.pattern == identifiers.DEVICE_ID_PATTERN


def test_camera_id_alphabet_is_the_contract_in_the_edge_agent():
    assert edge_config.CAMERA_ID_PATTERN.pattern == identifiers.LABEL_PATTERN


@pytest.mark.parametrize("deployment", ["demo", "eu-stores"])
def test_edge_agent_names_stacks_and_reads_outputs_as_the_stack_writes_them(deployment):
    assert edge_deployment.STACK_NAME_PREFIX == identifiers.STACK_NAME_PREFIX
    assert edge_deployment.EDGE_NAME_SUFFIX == identifiers.EDGE_NAME_SUFFIX
    stack = identifiers.stack_name(deployment)
    assert edge_deployment.stack_name(deployment) == stack
    assert edge_deployment.edge_name(stack) == identifiers.role_alias_name(stack) == identifiers.iot_policy_name(stack)
    assert (edge_deployment.SOURCE_BUCKET, edge_deployment.EDGE_ROLE_ALIAS) == (
        outputs.SOURCE_BUCKET,
        outputs.EDGE_ROLE_ALIAS,
    )


def test_the_stack_outputs_every_contract_key(demo_templates):
    (template,) = demo_templates.values()
    assert set(template["Outputs"]) == set(outputs.ALL)


def test_camera_id_alphabet_is_the_contract_in_the_function():
    key_camera = re.search(r"\(\?P<camera_id>(.+?)\)/", image_keys._KEY.pattern)
    assert key_camera is not None and key_camera.group(1) == identifiers.LABEL_PATTERN
    assert settings._LABEL.pattern == identifiers.LABEL_PATTERN


@pytest.mark.parametrize("deployment", ["demo", "eu-stores", "A1"])
def test_edge_provisioning_names_the_role_alias_and_policy_the_stack_creates(deployment):
    name_prefix = identifiers.stack_name(deployment)
    assert provision.edge_resource_name(deployment) == identifiers.role_alias_name(name_prefix)
    assert provision.edge_resource_name(deployment) == identifiers.iot_policy_name(name_prefix)


def test_role_alias_in_the_synthesized_template_is_the_contract_name(demo_templates):
    (template,) = demo_templates.values()
    aliases = [
        r["Properties"]["RoleAlias"] for r in template["Resources"].values() if r["Type"] == "AWS::IoT::RoleAlias"
    ]
    assert aliases == [provision.edge_resource_name("demo")]


# --- the face record ---------------------------------------------------------------------------------


def test_function_builds_records_with_the_schema_keys_and_emotions():
    assert face_records.RECORD_KEYS == schema.RECORD_KEYS
    assert face_records.EMOTIONS == schema.EMOTIONS


def test_function_builds_image_rows_with_the_schema_keys_and_outcomes():
    assert image_rows.IMAGE_RECORD_KEYS == schema.IMAGE_RECORD_KEYS
    assert (image_rows.OUTCOME_ANALYZED, image_rows.OUTCOME_QUARANTINED) == schema.OUTCOMES
    assert image_rows.UNREGISTERED_STORE == schema.UNREGISTERED_STORE
    # Never a configured store: the config's store ids cannot start with "_".
    assert not re.fullmatch(identifiers.STORE_ID_PATTERN, schema.UNREGISTERED_STORE)


def test_partition_keys_are_the_curated_folders_in_order():
    assert tuple(k.name for k in schema.PARTITION_KEYS) == layout.PARTITION_NAMES
    assert layout.partition_prefix("s1", "2026-11-24") == "faces/store_id=s1/dt=2026-11-24/"
    images = layout.partition_prefix("s1", "2026-11-24", table_prefix=layout.IMAGES_PREFIX)
    assert images == "images/store_id=s1/dt=2026-11-24/"


# --- the function's environment --------------------------------------------------------------------


class RecordingEnviron(dict[str, str]):
    """A mapping that remembers every name it was asked for."""

    def __init__(self, values: dict[str, str]) -> None:
        super().__init__(values)
        self.asked: set[str] = set()

    def get(self, key, default=None):  # type: ignore[override]
        self.asked.add(key)
        return super().get(key, default)

    def __getitem__(self, key: str) -> str:
        self.asked.add(key)
        return super().__getitem__(key)

    def __contains__(self, key: object) -> bool:
        self.asked.add(str(key))
        return super().__contains__(key)


@pytest.fixture(scope="module")
def synthesized_function(demo_assembly) -> tuple[dict[str, object], Path]:
    """(environment variables, bundled code folder) of the demo deployment's analyze function."""
    (stack,) = demo_assembly.stacks
    functions = [r["Properties"] for r in stack.template["Resources"].values() if is_analyze_function(r)]
    (function,) = functions
    asset_hash = function["Code"]["S3Key"].removesuffix(".zip")
    return function["Environment"]["Variables"], Path(demo_assembly.directory) / f"asset.{asset_hash}"


def test_stack_sets_exactly_the_contract_variables(synthesized_function):
    environment, _ = synthesized_function
    assert set(environment) == set(analyze_function.ENVIRONMENT_VARIABLES)


def test_synthesized_environment_loads_into_the_function_settings(synthesized_function, demo_config):
    environment, code = synthesized_function
    # Tokens (Ref, GetAtt) become the names they resolve to at deploy time.
    values = {
        name: value if isinstance(value, str) else f"resolved-{name.lower()}" for name, value in environment.items()
    }
    recording = RecordingEnviron(values)

    loaded = settings.load_settings(recording, base_dir=code)

    read_by_powertools = set(analyze_function.POWERTOOLS_VARIABLES)
    assert set(environment) - recording.asked <= read_by_powertools, "the stack sets a variable nobody reads"
    # The inline registry (tests, the local pipeline) is the one name the stack leaves out on purpose.
    assert recording.asked - set(environment) <= {"DEVICE_REGISTRY"}, "the function reads a variable the stack omits"
    assert loaded.firehose_stream_name == values[analyze_function.FIREHOSE_STREAM_NAME]
    assert loaded.analyze_threads == int(values[analyze_function.ANALYZE_THREADS])
    assert set(loaded.device_registry) == {*demo_config.deployments[0].device_registry(), identifiers.CHECK_DEVICE_ID}


def test_synthesized_registry_file_has_the_contract_fields(synthesized_function, demo_config):
    environment, code = synthesized_function
    registry_file = code / environment[analyze_function.DEVICE_REGISTRY_FILE]
    assert registry_file.name == analyze_function.REGISTRY_FILE_NAME
    raw = json.loads(registry_file.read_text(encoding="utf-8"))
    # The deployment's devices, and the check device in its reserved store.
    assert raw == {
        **demo_config.deployments[0].device_registry(),
        identifiers.CHECK_DEVICE_ID: check_device_registry_entry(),
    }
    for entry in raw.values():
        assert set(entry) == set(analyze_function.REGISTRY_FIELDS)
        assert all(set(camera) == set(analyze_function.CAMERA_FIELDS) for camera in entry["cameras"].values())
    loaded = settings.parse_device_registry(registry_file.read_text(encoding="utf-8"))
    as_written = {
        device: {c: {**vars(info), "attributes": sorted(info.attributes)} for c, info in d.cameras.items()}
        for device, d in loaded.items()
    }
    assert as_written == {device: entry["cameras"] for device, entry in raw.items()}
    assert loaded[identifiers.CHECK_DEVICE_ID].store_id == identifiers.CHECK_STORE_ID


def test_function_knows_the_contract_attribute_groups_and_camera_fields():
    assert settings.ATTRIBUTE_GROUPS == analyze_function.ATTRIBUTE_GROUPS
    assert set(face_records.ATTRIBUTE_COLUMNS) == set(analyze_function.ATTRIBUTE_GROUPS)
    assert settings._CAMERA_FIELDS == analyze_function.CAMERA_FIELDS


def test_a_camera_without_a_profile_gets_the_deployment_default_profile(demo_config):
    (camera,) = settings.parse_device_registry(
        '{"pi-1": {"store_id": "s", "timezone": "UTC", "cameras": {"c": {"zone": "z"}}}}'
    )["pi-1"].cameras.values()
    default = type(demo_config.deployments[0]).model_fields["privacy"].default
    assert sorted(camera.attributes) == list(default.attributes)
    assert camera.keep_images is default.keep_images


def test_function_defaults_are_the_deployment_defaults(demo_config):
    minimal = {
        analyze_function.FIREHOSE_STREAM_NAME: "s",
        analyze_function.IMAGES_STREAM_NAME: "i",
        analyze_function.ARCHIVE_BUCKET: "b",
        analyze_function.IDEMPOTENCY_TABLE: "t",
        "DEVICE_REGISTRY": '{"pi-1": {"store_id": "s", "timezone": "UTC", "cameras": {"c": {"zone": "z"}}}}',
        "POWERTOOLS_METRICS_NAMESPACE": analyze_function.METRICS_NAMESPACE,
    }
    loaded = settings.load_settings(minimal, base_dir=Path("."))
    assert loaded.min_detection_confidence == analyze_function.DEFAULT_MIN_DETECTION_CONFIDENCE
    assert loaded.min_sharpness == analyze_function.DEFAULT_MIN_SHARPNESS
    deployment = demo_config.deployments[0]
    assert type(deployment).model_fields["min_detection_confidence"].default == loaded.min_detection_confidence
    assert type(deployment).model_fields["min_sharpness"].default == loaded.min_sharpness
