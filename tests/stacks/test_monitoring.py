"""Monitoring: each alarm's metric, threshold and action; the topic; the silence check; the dashboard; the runbook."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_kinesisfirehose as firehose
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sqs as sqs
from aws_cdk.assertions import Match, Template

from app import build_app
from shopper_sentiment.building.lambda_code import code_asset_hash
from shopper_sentiment.config import Alarms, parse_config
from shopper_sentiment.tiers import monitoring as mon
from shopper_sentiment.tiers.monitoring import Monitoring, StoreHours
from tests.cdk_apps import PROJECT_ROOT, new_app

RUNBOOK = PROJECT_ROOT / "docs" / "operations.md"
PREFIX = "ShopperSentiment-demo"


def alarms_of(template: Template) -> dict[str, dict[str, Any]]:
    """Alarm properties by the key in their name (``<stack>-<key>``)."""
    found = {}
    for resource in template.find_resources("AWS::CloudWatch::Alarm").values():
        properties = resource["Properties"]
        name = properties["AlarmName"]
        assert isinstance(name, str) and name.startswith(f"{PREFIX}-"), name
        found[name.removeprefix(f"{PREFIX}-")] = properties
    return found


def metric_names(properties: dict[str, Any]) -> set[str]:
    if "MetricName" in properties:
        return {properties["MetricName"]}
    return {q["MetricStat"]["Metric"]["MetricName"] for q in properties["Metrics"] if "MetricStat" in q}


def topic_ref(stack: cdk.Stack) -> dict[str, str]:
    monitoring = stack.node.find_child("Monitoring")
    return {"Ref": stack.get_logical_id(monitoring.node.find_child("AlarmTopic").node.default_child)}


# --- every alarm of the demo stack ------------------------------------------------------------------

#: key → (metric names, threshold, comparison, evaluation periods, treat missing data)
EXPECTED = {
    "DeadLetters": ({"ApproximateNumberOfMessagesVisible"}, 0, "GreaterThanThreshold", 1, "notBreaching"),
    "AnalyzeFunctionErrors": ({"Errors"}, 0, "GreaterThanThreshold", 2, "notBreaching"),
    "AnalyzeFunctionThrottled": ({"Throttles"}, 0, "GreaterThanThreshold", 3, "notBreaching"),
    # A quarter of the queue's 14-day retention.
    "IncomingQueueOldMessages": (
        {"ApproximateAgeOfOldestMessage"},
        14 * 86400 * 0.25,
        "GreaterThanThreshold",
        3,
        "notBreaching",
    ),
    "DetectFacesThrottled": ({"DetectFacesThrottled"}, 10, "GreaterThanThreshold", 3, "notBreaching"),
    "QuarantineRate": ({"ImagesQuarantined", "ImagesReceived"}, 5, "GreaterThanThreshold", 1, "notBreaching"),
    "StoresSilent": ({"StoresSilent"}, 0, "GreaterThanThreshold", 1, "breaching"),
    **{
        f"{stream}{key}": expected
        for stream in ("Faces", "Images")
        for key, expected in {
            "FirehoseDataFreshness": ({"DeliveryToS3.DataFreshness"}, 1800, "GreaterThanThreshold", 1, "notBreaching"),
            "FirehoseDeliveryFailing": ({"DeliveryToS3.Success"}, 1, "LessThanThreshold", 3, "notBreaching"),
            "FirehoseConversionFailed": ({"FailedConversion.Records"}, 0, "GreaterThanThreshold", 1, "notBreaching"),
            "FirehosePartitionLimit": (
                {"PartitionCountExceeded"},
                1,
                "GreaterThanOrEqualToThreshold",
                1,
                "notBreaching",
            ),
        }.items()
    },
}


@pytest.mark.parametrize("key", sorted(EXPECTED))
def test_each_alarm_watches_its_metric_at_its_threshold(demo_template, key):
    names, threshold, comparison, periods, missing = EXPECTED[key]
    alarm = alarms_of(demo_template)[key]
    assert metric_names(alarm) == names
    assert alarm["Threshold"] == threshold
    assert alarm["ComparisonOperator"] == comparison
    assert alarm["EvaluationPeriods"] == periods
    assert alarm["TreatMissingData"] == missing


def test_every_alarm_of_the_stack_notifies_the_topic_when_it_fires_and_when_it_clears(demo_stack, demo_template):
    alarms = alarms_of(demo_template)
    # The tiers' own alarms are adopted: none is left without an action.
    assert set(alarms) == set(EXPECTED) | {"CompactionLagging"}
    for key, alarm in alarms.items():
        assert alarm["AlarmActions"] == [topic_ref(demo_stack)], key
        assert alarm["OKActions"] == [topic_ref(demo_stack)], key


def test_alarms_on_the_functions_own_metrics_read_its_namespace_and_service(demo_template):
    alarms = alarms_of(demo_template)
    for key in ("DetectFacesThrottled", "QuarantineRate"):
        for query in alarms[key]["Metrics"]:
            if "MetricStat" in query:
                metric = query["MetricStat"]["Metric"]
                assert metric["Namespace"] == "ShopperSentiment/demo"  # the deployment's own
                assert metric["Dimensions"] == [{"Name": "service", "Value": "shopper-sentiment-analyze"}]
    throttled = next(q for q in alarms["DetectFacesThrottled"]["Metrics"] if "Expression" in q)
    # Throttled calls per second as a share of the demo's 5/s budget.
    assert throttled["Expression"] == "100 * FILL(throttled, 0) / PERIOD(throttled) / 5"
    rate = next(q for q in alarms["QuarantineRate"]["Metrics"] if "Expression" in q)
    assert rate["Expression"] == "IF(received >= 20, 100 * FILL(quarantined, 0) / received, 0)"
    assert {q["MetricStat"]["Period"] for q in alarms["QuarantineRate"]["Metrics"] if "MetricStat" in q} == {3600}


def test_firehose_alarms_watch_each_stream_by_name(demo_stack, demo_template):
    process = demo_stack.process
    streams = {
        "Faces": demo_stack.get_logical_id(process.delivery_stream.node.default_child),
        "Images": demo_stack.get_logical_id(process.images_stream.node.default_child),
    }
    for key, alarm in alarms_of(demo_template).items():
        if key.startswith(("Faces", "Images")):
            assert alarm["Namespace"] == "AWS/Firehose"
            stream = streams["Faces" if key.startswith("Faces") else "Images"]
            assert alarm["Dimensions"] == [{"Name": "DeliveryStreamName", "Value": {"Ref": stream}}]


def test_the_topic_is_encrypted_with_a_key_cloudwatch_may_use_and_refuses_plain_http(demo_template):
    demo_template.has_resource_properties(
        "AWS::SNS::Topic", {"KmsMasterKeyId": {"Fn::GetAtt": [Match.any_value(), "Arn"]}}
    )
    demo_template.has_resource_properties(
        "AWS::KMS::Key",
        {
            "EnableKeyRotation": True,
            "KeyPolicy": {
                "Statement": Match.array_with(
                    [
                        Match.object_like(
                            {
                                "Principal": {"Service": "cloudwatch.amazonaws.com"},
                                "Action": ["kms:Decrypt", "kms:GenerateDataKey*"],
                            }
                        )
                    ]
                )
            },
        },
    )
    demo_template.has_resource_properties(
        "AWS::SNS::TopicPolicy",
        {
            "PolicyDocument": {
                "Statement": Match.array_with(
                    [Match.object_like({"Effect": "Deny", "Condition": {"Bool": {"aws:SecureTransport": "false"}}})]
                )
            }
        },
    )
    demo_template.resource_count_is("AWS::SNS::Subscription", 0)  # the demo names no address


# --- the construct on its own, with other settings -------------------------------------------------


def monitoring_stack(alarms: Alarms = mon.DEFAULT_ALARMS, stores: dict[str, StoreHours] | None = None) -> Template:
    stack = cdk.Stack(new_app(), "ShopperSentiment-demo")
    queue = sqs.Queue(stack, "Incoming", retention_period=cdk.Duration.days(4))
    function = lambda_.Function.from_function_name(stack, "Analyze", "analyze")
    Monitoring(
        stack,
        "Monitoring",
        name_prefix=PREFIX,
        function=function,
        queue=queue,
        dead_letter_queue=sqs.Queue(stack, "DeadLetters"),
        delivery_streams={"Faces": firehose.DeliveryStream.from_delivery_stream_name(stack, "Faces", "faces")},
        rekognition_tps=20,
        stores={} if stores is None else stores,
        alarms=alarms,
    )
    return Template.from_stack(stack)


def test_thresholds_come_from_the_deployments_alarms_settings():
    alarms = alarms_of(
        monitoring_stack(
            Alarms(
                quarantine_percent=12,
                detect_faces_throttled_percent=25,
                queue_age_percent=50,
                firehose_freshness_minutes=60,
            )
        )
    )
    assert alarms["QuarantineRate"]["Threshold"] == 12
    assert alarms["DetectFacesThrottled"]["Threshold"] == 25
    throttled = next(q for q in alarms["DetectFacesThrottled"]["Metrics"] if "Expression" in q)
    assert throttled["Expression"].endswith("/ 20")  # this deployment's budget
    assert alarms["IncomingQueueOldMessages"]["Threshold"] == 4 * 86400 * 0.5  # half of this queue's 4 days
    assert alarms["FacesFirehoseDataFreshness"]["Threshold"] == 3600


def test_an_email_address_is_subscribed_to_the_topic_the_stack_creates():
    template = monitoring_stack(Alarms(email="ops@example.com"))
    template.resource_count_is("AWS::SNS::Topic", 1)
    template.has_resource_properties(
        "AWS::SNS::Subscription", {"Protocol": "email", "Endpoint": "ops@example.com", "TopicArn": Match.any_value()}
    )


def test_an_existing_topic_is_notified_and_no_topic_or_key_is_created():
    arn = "arn:aws:sns:eu-west-1:123456789012:on-call"
    template = monitoring_stack(Alarms(topic_arn=arn))
    template.resource_count_is("AWS::SNS::Topic", 0)
    template.resource_count_is("AWS::KMS::Key", 0)
    for key, alarm in alarms_of(template).items():
        assert alarm["AlarmActions"] == [arn], key


def test_without_opening_hours_there_is_no_silence_check_and_no_silence_alarm():
    template = monitoring_stack()
    assert "StoresSilent" not in alarms_of(template)
    template.resource_count_is("AWS::Lambda::Function", 0)
    template.resource_count_is("AWS::Events::Rule", 0)


def test_the_silence_check_runs_every_15_minutes_with_the_configured_hours():
    berlin = StoreHours(timezone="Europe/Berlin", hours=("08:00-20:00",) * 6 + (None,))
    template = monitoring_stack(Alarms(silent_store_hours=3), stores={"store-002": berlin})
    template.has_resource_properties(
        "AWS::Lambda::Function",
        {"Handler": "app.handler", "Environment": {"Variables": {"SILENT_HOURS": "3"}}, "Timeout": 60},
    )
    template.has_resource_properties("AWS::Events::Rule", {"ScheduleExpression": "rate(15 minutes)"})
    alarm = alarms_of(template)["StoresSilent"]
    # Twice the check's rate: one late run leaves no gap that would read as "not running".
    assert (alarm["Period"], alarm["Statistic"], alarm["TreatMissingData"]) == (1800, "Maximum", "breaching")
    assert alarm["Dimensions"] == [{"Name": "service", "Value": "shopper-sentiment-silence-check"}]
    template.has_resource_properties(
        "AWS::IAM::Policy",
        {
            "PolicyDocument": {
                "Statement": Match.array_with(
                    [
                        Match.object_like(
                            {
                                "Action": "cloudwatch:PutMetricData",
                                "Condition": {"StringEquals": {"cloudwatch:namespace": "ShopperSentiment"}},
                            }
                        )
                    ]
                )
            }
        },
    )


def test_the_silence_check_ships_the_stores_and_their_hours_beside_its_code(demo_assembly, demo_config):
    template = next(s.template for s in demo_assembly.stacks if s.stack_name == "ShopperSentiment-demo")
    (check,) = [
        r["Properties"]
        for r in template["Resources"].values()
        if r["Type"] == "AWS::Lambda::Function"
        and "SILENT_HOURS" in r["Properties"].get("Environment", {}).get("Variables", {})
    ]
    asset = Path(demo_assembly.directory) / f"asset.{check['Code']['S3Key'].removesuffix('.zip')}"
    stores = json.loads((asset / mon.STORES_FILE_NAME).read_text())
    assert set(stores) == {s for s, store in demo_config.deployments[0].stores.items() if store.opening_hours}
    assert (asset / "app.py").read_text() == (mon.SILENCE_CHECK_DIR / "app.py").read_text()
    # New hours change the asset, so they reach the function.
    other = {**stores, "store-999": next(iter(stores.values()))}
    assert code_asset_hash(mon.SILENCE_CHECK_DIR, mon.STORES_FILE_NAME, json.dumps(other)) != code_asset_hash(
        mon.SILENCE_CHECK_DIR, mon.STORES_FILE_NAME, json.dumps(stores)
    )


def test_a_second_alarm_with_an_adopted_key_is_refused():
    stack = cdk.Stack(new_app(), "S")
    queue = sqs.Queue(stack, "Q")
    alarm = cloudwatch.Alarm(
        stack, "A", metric=queue.metric_approximate_number_of_messages_visible(), threshold=0, evaluation_periods=1
    )
    with pytest.raises(ValueError, match="an alarm named 'QuarantineRate' exists already"):
        Monitoring(
            stack,
            "Monitoring",
            name_prefix="S",
            function=lambda_.Function.from_function_name(stack, "F", "f"),
            queue=queue,
            dead_letter_queue=queue,
            delivery_streams={"Faces": firehose.DeliveryStream.from_delivery_stream_name(stack, "D", "d")},
            rekognition_tps=5,
            stores={},
            adopt={"DeadLetters": alarm, "QuarantineRate": alarm},
        )


# --- the dashboard ---------------------------------------------------------------------------------


def dashboard_body(template: Template) -> str:
    (dashboard,) = template.find_resources("AWS::CloudWatch::Dashboard").values()
    parts = dashboard["Properties"]["DashboardBody"]["Fn::Join"][1]
    return "".join(part if isinstance(part, str) else json.dumps(part) for part in parts)


def test_the_dashboard_is_named_after_the_deployment(demo_template):
    demo_template.has_resource_properties("AWS::CloudWatch::Dashboard", {"DashboardName": f"{PREFIX}-operations"})


@pytest.mark.parametrize(
    "shown",
    [
        '"ImagesReceived"',  # images in
        '"FacesDelivered"',  # faces out
        'MetricName=\\"ImagesQuarantined\\"',  # quarantine by reason
        'MetricName=\\"MessagesRetried\\"',  # retry causes
        'MetricName=\\"StoreImages\\"',  # images per store
        'MetricName=\\"StoreSilent\\"',  # which store is silent
        "FILL(calls, 0) / PERIOD(calls)",  # DetectFaces calls ...
        '"label":"budget"',  # ... against the budget
        '"ApproximateAgeOfOldestMessage"',  # queue age (cdk-monitoring-constructs)
        '"ApproximateNumberOfMessagesVisible"',  # queue depth
        '"DeliveryToS3.DataFreshness"',  # Firehose freshness
        '"FailedConversion.Records"',  # conversion failures
        '"Throttles"',  # the function (cdk-monitoring-constructs)
    ],
)
def test_the_dashboard_shows(demo_template, shown):
    assert shown in dashboard_body(demo_template)


def test_the_dashboard_shows_the_state_of_every_alarm(demo_stack, demo_template):
    body = dashboard_body(demo_template)
    start = body.index('"type":"alarm"')
    end = body.find('"type":', start + 1)
    widget = body[start : end if end > 0 else None]
    logical_ids = set(re.findall(r'"Fn::GetAtt": \["(\w+)", "Arn"\]', widget))
    assert logical_ids == set(demo_template.find_resources("AWS::CloudWatch::Alarm"))


# --- the runbook -----------------------------------------------------------------------------------


def runbook_sections() -> dict[str, str]:
    """``## <key>`` sections of docs/operations.md by key."""
    text = RUNBOOK.read_text(encoding="utf-8")
    parts = re.split(r"^## ", text, flags=re.MULTILINE)[1:]
    return {part.split("\n", 1)[0].strip(): part for part in parts}


def test_every_alarm_in_the_template_has_a_runbook_entry(demo_template):
    missing = sorted(set(alarms_of(demo_template)) - set(runbook_sections()))
    assert missing == [], f"alarms without a '## <key>' section in docs/operations.md: {missing}"


@pytest.mark.parametrize("key", sorted({*EXPECTED, "CompactionLagging"}))
def test_each_runbook_entry_says_what_it_means_how_to_confirm_and_what_to_do(key):
    section = runbook_sections()[key]
    for part in ("**Means**", "**Confirm**", "**Do**"):
        assert part in section, f"{key}: no {part}"
    assert "```" in section, f"{key}: no command"


def test_every_alarm_description_points_at_its_runbook_entry(demo_template):
    for key, alarm in alarms_of(demo_template).items():
        if key in EXPECTED and key != "DeadLetters":
            assert alarm["AlarmDescription"].endswith(f"docs/operations.md#{key.lower()}"), key


def test_two_deployments_in_one_account_publish_and_alarm_each_in_its_own_namespace():
    """One deployment per store in one region must not add up, nor alarm on, each other's metrics."""
    store = {"timezone": "Europe/Berlin", "opening_hours": {"daily": "08:00-20:00"}}
    deployments = {
        name: {
            "region": "eu-west-1",
            "retention_days": 30,
            "rekognition_tps": 5,
            "stores": {f"store-{name}": {**store, "devices": {f"pi-{name}": {"camera_id": "door", "zone": "z"}}}},
        }
        for name in ("north", "south")
    }
    app = build_app(new_app(), parse_config({"deployments": deployments}))
    for name in ("north", "south"):
        template = Template.from_stack(app.node.find_child(f"ShopperSentiment-{name}")).to_json()
        namespace = f"ShopperSentiment/{name}"
        functions = [r for r in template["Resources"].values() if r["Type"] == "AWS::Lambda::Function"]
        variables = [f["Properties"].get("Environment", {}).get("Variables", {}) for f in functions]
        published = {v.get("POWERTOOLS_METRICS_NAMESPACE") or v.get("METRICS_NAMESPACE") for v in variables}
        assert published - {None} == {namespace}
        read = set()
        for alarm in template["Resources"].values():
            if alarm["Type"] != "AWS::CloudWatch::Alarm":
                continue
            props = alarm["Properties"]
            read |= {props["Namespace"]} if "Namespace" in props else set()
            read |= {q["MetricStat"]["Metric"]["Namespace"] for q in props.get("Metrics", []) if "MetricStat" in q}
        assert {ns for ns in read if ns.startswith("ShopperSentiment")} == {namespace}
