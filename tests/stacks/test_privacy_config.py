"""Privacy profiles and lifetimes in the deployment config: defaults, overrides, refusals naming the field."""

from __future__ import annotations

import copy

import pytest

from shopper_sentiment.config import (
    DEFAULT_CURATED_RETENTION_DAYS,
    QUEUE_RETENTION_DAYS,
    ConfigError,
    PrivacyProfile,
    parse_config,
)
from shopper_sentiment.contracts.analyze_function import ATTRIBUTE_GROUPS
from tests.stacks.test_config import GOOD


def deployment_with(**fields):
    data = copy.deepcopy(GOOD)
    data["deployments"]["eu"].update(fields)
    return data


def registry_of(data):
    (deployment,) = parse_config(data).deployments
    return deployment.device_registry()


def test_by_default_every_attribute_is_collected_and_images_are_kept():
    registry = registry_of(GOOD)
    for entry in registry.values():
        for camera in entry["cameras"].values():
            assert camera["attributes"] == list(ATTRIBUTE_GROUPS)
            assert camera["keep_images"] is True
    assert PrivacyProfile().attributes == ATTRIBUTE_GROUPS


def test_a_store_overrides_the_deployment_and_a_camera_overrides_its_store():
    data = deployment_with(privacy={"keep_images": False, "gender": False})
    store = data["deployments"]["eu"]["stores"]["store-1"]
    store["privacy"] = {"emotions": False}
    # The checkout camera sees the cashier: no emotions, no age either; the short form carries it.
    store["devices"]["pi-1"] = {"camera_id": "door", "zone": "entrance", "privacy": {"age": False}}
    store["devices"]["pi-3"] = {"cameras": {"aisle": {"zone": "grocery", "privacy": {"emotions": True}}}}

    registry = registry_of(data)

    assert registry["pi-1"]["cameras"]["door"] == {
        "zone": "entrance",
        "attributes": ["appearance"],
        "keep_images": False,
    }
    assert registry["pi-3"]["cameras"]["aisle"]["attributes"] == ["age", "appearance", "emotions"]
    # The other store has only the deployment's profile.
    assert registry["pi-2"]["cameras"]["till"]["attributes"] == ["age", "appearance", "emotions"]
    assert registry["pi-2"]["cameras"]["till"]["keep_images"] is False


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"privacy": {"emotion": False}}, "deployment 'eu': unknown key 'privacy.emotion'"),
        (
            {"privacy": {"emotions": "off"}},
            "deployment 'eu': field 'privacy.emotions': Input should be a valid boolean",
        ),
        (
            {"incoming_retention_days": QUEUE_RETENTION_DAYS},
            "field 'incoming_retention_days': Input should be greater than or equal to 15",
        ),
        ({"curated_retention_days": 0}, "field 'curated_retention_days': Input should be greater than or equal to 1"),
        ({"curated_retention_days": 30}, "curated_retention_days (30) is shorter than dashboard_lookback_days (90)"),
        ({"error_retention_days": 4000}, "field 'error_retention_days': Input should be less than or equal to 3650"),
        ({"quarantine_retention_days": "30"}, "field 'quarantine_retention_days': Input should be a valid integer"),
        ({"query_results_retention_days": 0}, "field 'query_results_retention_days'"),
    ],
)
def test_a_wrong_privacy_or_lifetime_field_is_refused_by_name(fields, message):
    with pytest.raises(ConfigError) as refused:
        parse_config(deployment_with(**fields))
    assert message in str(refused.value)


def test_privacy_on_a_device_rather_than_its_camera_is_refused():
    data = copy.deepcopy(GOOD)
    data["deployments"]["eu"]["stores"]["store-1"]["devices"]["pi-1"] = {
        "cameras": {"door": {"zone": "entrance"}},
        "privacy": {"emotions": False},
    }
    with pytest.raises(ConfigError, match="privacy belongs to a camera"):
        parse_config(data)


def test_rows_are_kept_a_year_and_a_comparison_week_by_default():
    (deployment,) = parse_config(GOOD).deployments
    assert deployment.curated_retention_days == DEFAULT_CURATED_RETENTION_DAYS == 400
    assert deployment.incoming_retention_days > QUEUE_RETENTION_DAYS


def test_the_privacy_page_describes_every_attribute_group_and_the_profile_fields():
    from tests.cdk_apps import PROJECT_ROOT

    page = (PROJECT_ROOT / "docs" / "privacy.md").read_text(encoding="utf-8")
    for group in ATTRIBUTE_GROUPS:
        assert f"  - `{group}`:" in page, group
    for name, field in PrivacyProfile.model_fields.items():
        assert f"{name} = {str(field.default).lower()}" in page, name
