"""An attribute no camera collects: the QuickSight sheet and the report say so instead of an empty chart."""

from __future__ import annotations

from typing import Any

import pytest
from aws_cdk.assertions import Template
from shopper_sentiment.dashboards.quicksight.requests import create_analysis_request, create_dashboard_request
from shopper_sentiment.dashboards.quicksight.validation import validate_request
from shopper_sentiment.dashboards.render import VISUALS_OF_ATTRIBUTE

from app import build_app
from shopper_sentiment.config import parse_config
from shopper_sentiment.contracts.catalogue import CATALOGUE, Surface
from tests.cdk_apps import new_app

ARNS = {
    "faces": "arn:aws:quicksight:eu-west-1:123456789012:dataset/f",
    "images": "arn:aws:quicksight:eu-west-1:123456789012:dataset/i",
}
PRINCIPAL = "arn:aws:quicksight:us-east-1:123456789012:user/default/analyst"


def sheet(request: dict[str, Any]) -> dict[str, Any]:
    (only,) = request["Definition"]["Sheets"]
    return only


def visual_ids(sheet_: dict[str, Any]) -> set[str]:
    return {next(iter(v.values()))["VisualId"] for v in sheet_["Visuals"]}


@pytest.mark.parametrize("build", [create_analysis_request, create_dashboard_request])
def test_visuals_of_a_group_not_collected_become_text_boxes_in_their_place(build):
    kind = "analysis_id" if build is create_analysis_request else "dashboard_id"
    request = build(
        aws_account_id="123456789012", name="n", dataset_arns=ARNS, not_collected=("emotions",), **{kind: "x"}
    )
    operation = "CreateAnalysis" if build is create_analysis_request else "CreateDashboard"
    assert validate_request(operation, request) == []

    shown = sheet(request)
    emotion_visuals = {v.id for v in CATALOGUE.visuals_on(Surface.QUICKSIGHT) if v.attribute == "emotions"}
    assert emotion_visuals == {"sentiment-kpi", "emotion-share", "emotions-by-hour"}
    assert not emotion_visuals & visual_ids(shown)
    assert {"age-bands", "gender-split", "people-present-kpi"} <= visual_ids(shown)
    boxes = {box["SheetTextBoxId"]: box["Content"] for box in shown["TextBoxes"]}
    assert set(boxes) == {f"{visual_id}-not-collected" for visual_id in emotion_visuals}
    assert all("emotions is not collected" in content for content in boxes.values())
    # Each box takes its visual's place on the grid; every element of the layout exists.
    (layout,) = shown["Layouts"]
    elements = {e["ElementId"]: e["ElementType"] for e in layout["Configuration"]["GridLayout"]["Elements"]}
    assert {k for k, kind_ in elements.items() if kind_ == "TEXT_BOX"} == set(boxes)
    assert {k for k, kind_ in elements.items() if kind_ == "VISUAL"} == visual_ids(shown)


def test_with_every_attribute_collected_the_sheet_has_no_text_box():
    request = create_analysis_request(aws_account_id="123456789012", analysis_id="x", name="n", dataset_arns=ARNS)
    assert "TextBoxes" not in sheet(request)


def test_the_report_and_the_sheet_take_the_groups_visuals_from_the_catalogue():
    assert VISUALS_OF_ATTRIBUTE == {
        "emotions": ("sentiment-kpi", "emotion-share", "sentiment-by-zone", "emotions-by-hour"),
        "age": ("age-bands",),
        "gender": ("gender-split",),
    }


def test_a_deployment_whose_cameras_all_leave_out_gender_gets_a_dashboard_that_says_so():
    store = {"timezone": "Europe/Berlin", "devices": {"pi-1": {"camera_id": "door", "zone": "entrance"}}}
    config = {
        "deployments": {
            "qs": {
                "region": "eu-west-1",
                "account": "123456789012",
                "retention_days": 30,
                "rekognition_tps": 5,
                "quicksight_principal_arn": PRINCIPAL,
                "privacy": {"gender": False},
                # One store turns emotions off, the other keeps them: emotions are still collected.
                "stores": {
                    "store-1": {**store, "privacy": {"emotions": False}},
                    "store-2": {**store, "devices": {"pi-2": {"camera_id": "door", "zone": "entrance"}}},
                },
            }
        }
    }
    (deployment,) = parse_config(config).deployments
    assert deployment.attributes_not_collected() == ("gender",)
    app = build_app(new_app(), parse_config(config))
    template = Template.from_stack(app.node.find_child("ShopperSentiment-qs-Dashboard")).to_json()
    for resource in template["Resources"].values():
        if resource["Type"] in ("AWS::QuickSight::Analysis", "AWS::QuickSight::Dashboard"):
            (shown,) = resource["Properties"]["Definition"]["Sheets"]
            assert [box["SheetTextBoxId"] for box in shown["TextBoxes"]] == ["gender-split-not-collected"]
            assert "emotion-share" in {next(iter(v.values()))["VisualId"] for v in shown["Visuals"]}
