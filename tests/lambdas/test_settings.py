import json
from pathlib import Path

import pytest
from shopper_analyze.settings import (
    ANALYZE_THREADS_CEILING,
    DEFAULT_MIN_DETECTION_CONFIDENCE,
    ENVIRONMENT_VARIABLES,
    CameraInfo,
    ConfigurationError,
    DeviceInfo,
    load_settings,
)

from tests.lambdas.local_aws import DEVICE_REGISTRY, function_environment, write_device_registry


@pytest.fixture
def code_dir(tmp_path: Path) -> Path:
    """The function's code folder as deployed: the stack bundles device_registry.json into it."""
    write_device_registry(tmp_path)
    return tmp_path


def deployed_environment(**overrides: str) -> dict[str, str]:
    """Exactly what shopper_sentiment/tiers/process.py sets: the registry file name, relative to the code folder."""
    env = function_environment(**overrides)
    del env["DEVICE_REGISTRY"]
    env["DEVICE_REGISTRY_FILE"] = "device_registry.json"
    return env


def test_stack_environment_is_read_into_typed_settings(code_dir):
    settings = load_settings(deployed_environment(MIN_DETECTION_CONFIDENCE="95.5"), base_dir=code_dir)

    assert settings.device_registry["pi-s002-aisle-3"] == DeviceInfo(
        store_id="store-002",
        timezone="Europe/Berlin",
        cameras={"aisle-3": CameraInfo(zone="grocery"), "door": CameraInfo(zone="entrance")},
    )
    assert set(settings.device_registry) == set(DEVICE_REGISTRY)
    assert (settings.min_detection_confidence, settings.min_sharpness) == (95.5, 10.0)
    assert settings.firehose_stream_name == "shopper-faces"
    assert settings.images_stream_name == "shopper-images"


def test_inline_registry_is_accepted_for_local_runs(tmp_path):
    settings = load_settings(function_environment(), base_dir=tmp_path)  # no file in tmp_path

    assert settings.device_registry["pi-s001-entrance"].store_id == "store-001"


def test_floors_default_to_90_confidence_and_no_sharpness_floor(code_dir):
    env = deployed_environment()
    del env["MIN_DETECTION_CONFIDENCE"], env["MIN_SHARPNESS"]

    settings = load_settings(env, base_dir=code_dir)

    assert (settings.min_detection_confidence, settings.min_sharpness) == (90.0, 0.0)


@pytest.mark.parametrize(("raw", "threads"), [(None, 8), ("", 8), ("1", 1), (" 16 ", 16), ("32", 32)])
def test_analysis_threads_default_to_8_and_accept_1_to_32(code_dir, raw, threads):
    env = deployed_environment()
    if raw is not None:
        env["ANALYZE_THREADS"] = raw

    assert load_settings(env, base_dir=code_dir).analyze_threads == threads


@pytest.mark.parametrize(
    "name",
    [
        "FIREHOSE_STREAM_NAME",
        "ARCHIVE_BUCKET",
        "IDEMPOTENCY_TABLE",
        "DEVICE_REGISTRY_FILE",
        "POWERTOOLS_METRICS_NAMESPACE",
    ],
)
def test_missing_required_variable_is_named(code_dir, name):
    env = deployed_environment()
    del env[name]

    with pytest.raises(ConfigurationError, match=name):
        load_settings(env, base_dir=code_dir)


def test_registry_file_missing_from_the_code_folder_is_named_with_its_path(tmp_path):
    with pytest.raises(ConfigurationError, match=r"DEVICE_REGISTRY_FILE=device_registry.json \(.*\) cannot be read"):
        load_settings(deployed_environment(), base_dir=tmp_path)


def test_registry_file_and_inline_registry_together_are_refused(code_dir):
    env = deployed_environment()
    env["DEVICE_REGISTRY"] = json.dumps(DEVICE_REGISTRY)

    with pytest.raises(ConfigurationError, match="only one of"):
        load_settings(env, base_dir=code_dir)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"MIN_DETECTION_CONFIDENCE": "high"}, "MIN_DETECTION_CONFIDENCE='high' is not a number"),
        ({"MIN_SHARPNESS": "101"}, "MIN_SHARPNESS='101' must be between 0 and 100"),
        ({"MIN_SHARPNESS": "nan"}, "MIN_SHARPNESS='nan' must be between 0 and 100"),
        ({"ANALYZE_THREADS": "eight"}, "ANALYZE_THREADS='eight' is not a whole number"),
        ({"ANALYZE_THREADS": "2.5"}, "ANALYZE_THREADS='2.5' is not a whole number"),
        ({"ANALYZE_THREADS": "0"}, "ANALYZE_THREADS='0' must be between 1 and 32"),
        ({"ANALYZE_THREADS": "33"}, "ANALYZE_THREADS='33' must be between 1 and 32"),
    ],
)
def test_invalid_floor_is_refused_with_a_message_naming_it(code_dir, overrides, message):
    with pytest.raises(ConfigurationError) as error:
        load_settings(deployed_environment(**overrides), base_dir=code_dir)

    assert message in str(error.value)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{", "is not valid JSON"),
        ("{}", "must be a non-empty JSON object"),
        (json.dumps({"pi 1": {}}), "device id 'pi 1' is not a valid device id"),
        (
            json.dumps({"pi-1": {"store_id": "s", "camera_id": "c", "zone": "z"}}),
            "device 'pi-1' must have exactly the keys store_id, timezone, cameras",
        ),
        (
            json.dumps({"pi-1": {"store_id": "", "timezone": "UTC", "cameras": {"c": {"zone": "z"}}}}),
            "empty or non-string store_id",
        ),
        (
            json.dumps({"pi-1": {"store_id": "s", "timezone": "UTC", "cameras": {}}}),
            "device 'pi-1' must list at least one camera",
        ),
        (
            json.dumps({"pi-1": {"store_id": "s", "timezone": "Mars/Olympus", "cameras": {"c": {"zone": "z"}}}}),
            "device 'pi-1' has timezone 'Mars/Olympus', which is no IANA time zone",
        ),
        (
            json.dumps({"pi-1": {"store_id": "s", "timezone": "UTC", "cameras": {"c 1": {"zone": "z"}}}}),
            "device 'pi-1' camera 'c 1' is not a valid camera id",
        ),
        (
            json.dumps({"pi-1": {"store_id": "s", "timezone": "UTC", "cameras": {"c": {"zone": "z", "x": 1}}}}),
            "camera 'c' must have the key zone and may have only zone, attributes, keep_images",
        ),
        (
            json.dumps({"pi-1": {"store_id": "s", "timezone": "UTC", "cameras": {"c": {"zone": ""}}}}),
            "camera 'c' has an empty or non-string zone",
        ),
    ],
)
def test_invalid_registry_file_is_refused_with_a_message_naming_it(tmp_path, content, message):
    (tmp_path / "device_registry.json").write_text(content)

    with pytest.raises(ConfigurationError) as error:
        load_settings(deployed_environment(), base_dir=tmp_path)

    assert str(error.value).startswith("DEVICE_REGISTRY_FILE=device_registry.json")
    assert message in str(error.value)


class RecordingEnvironment(dict):
    """An environment that remembers which variables were looked up."""

    def __init__(self, *args: object, **kwargs: str) -> None:
        super().__init__(*args, **kwargs)
        self.read: set[str] = set()

    def get(self, key: str, default: str | None = None) -> str | None:
        self.read.add(key)
        return super().get(key, default)

    def __getitem__(self, key: str) -> str:
        self.read.add(key)
        return super().__getitem__(key)


def test_settings_read_exactly_the_variables_they_declare(code_dir):
    env = RecordingEnvironment(deployed_environment())

    load_settings(env, base_dir=code_dir)

    assert env.read == set(ENVIRONMENT_VARIABLES)


def test_declared_defaults_are_the_ones_applied(code_dir):
    env = deployed_environment()
    del env["MIN_DETECTION_CONFIDENCE"]

    assert load_settings(env, base_dir=code_dir).min_detection_confidence == DEFAULT_MIN_DETECTION_CONFIDENCE


def test_analysis_threads_above_the_ceiling_are_refused(code_dir):
    env = deployed_environment(ANALYZE_THREADS=str(ANALYZE_THREADS_CEILING + 1))

    with pytest.raises(ConfigurationError, match=f"between 1 and {ANALYZE_THREADS_CEILING}"):
        load_settings(env, base_dir=code_dir)
