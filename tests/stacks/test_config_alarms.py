"""The deployment config's alarms table and the stores' opening hours (shopper_sentiment/config.py)."""

from __future__ import annotations

import pytest

from shopper_sentiment import config as cfg
from shopper_sentiment.config import ConfigError, parse_config
from tests.stacks.test_config import with_change


def deployment(change) -> cfg.Deployment:
    (result,) = parse_config(with_change(change)).deployments
    return result


def alarms(**values) -> cfg.Alarms:
    return deployment(lambda d: d.update(alarms=values)).alarms


def test_without_an_alarms_table_the_defaults_apply_and_a_topic_is_created_without_a_subscription():
    defaults = deployment(lambda d: None).alarms
    assert (defaults.email, defaults.topic_arn) == (None, None)
    assert defaults.silent_store_hours == cfg.DEFAULT_SILENT_STORE_HOURS == 2
    assert defaults.quarantine_percent == cfg.DEFAULT_QUARANTINE_PERCENT == 5
    assert defaults.detect_faces_throttled_percent == cfg.DEFAULT_DETECT_FACES_THROTTLED_PERCENT == 10
    assert defaults.queue_age_percent == cfg.DEFAULT_QUEUE_AGE_PERCENT == 25
    assert defaults.firehose_freshness_minutes == cfg.DEFAULT_FIREHOSE_FRESHNESS_MINUTES == 30


def test_an_email_or_an_existing_topic_is_accepted():
    assert alarms(email="ops@example.com").email == "ops@example.com"
    arn = "arn:aws:sns:eu-west-1:123456789012:on-call"
    assert alarms(topic_arn=arn).topic_arn == arn


def test_an_email_and_an_existing_topic_together_are_refused_naming_the_field():
    with pytest.raises(ConfigError, match=r"deployment 'eu': field 'alarms.topic_arn': give email .* not both"):
        alarms(email="ops@example.com", topic_arn="arn:aws:sns:eu-west-1:123456789012:on-call")


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"email": "not-an-address"}, r"field 'alarms.email': e-mail address 'not-an-address'"),
        ({"topic_arn": "arn:aws:sqs:eu-west-1:123456789012:q"}, r"field 'alarms.topic_arn': SNS topic ARN"),
        ({"silent_store_hours": 0}, r"field 'alarms.silent_store_hours'.*\(got 0\)"),
        ({"silent_store_hours": 24}, r"field 'alarms.silent_store_hours'.*\(got 24\)"),
        ({"quarantine_percent": 0}, r"field 'alarms.quarantine_percent'"),
        ({"queue_age_percent": 100}, r"field 'alarms.queue_age_percent'"),
        # At or under Firehose's 15-minute buffering the freshness alarm would always fire.
        ({"firehose_freshness_minutes": 15}, r"field 'alarms.firehose_freshness_minutes'"),
        ({"pager": "x"}, r"unknown key 'alarms.pager'"),
    ],
)
def test_a_wrong_alarm_setting_is_refused_naming_the_field(values, message):
    with pytest.raises(ConfigError, match=message):
        alarms(**values)


def store_with_hours(hours) -> cfg.Store:
    return deployment(lambda d: d["stores"]["store-1"].update(opening_hours=hours)).stores["store-1"]


def test_opening_hours_give_each_weekday_its_hours_daily_filling_the_days_not_named():
    store = store_with_hours({"daily": "08:00-20:00", "sat": "09:00-24:00", "sun": "closed"})
    assert [store.hours_on(day) for day in range(7)] == ["08:00-20:00"] * 5 + ["09:00-24:00", None]


def test_days_not_named_without_daily_are_closed_and_a_store_without_hours_is_never_open():
    store = store_with_hours({"mon": "08:00-12:00"})
    assert [store.hours_on(day) for day in range(7)] == ["08:00-12:00"] + [None] * 6
    assert deployment(lambda d: None).stores["store-1"].hours_on(0) is None


@pytest.mark.parametrize(
    ("hours", "message"),
    [
        ({"monday": "08:00-20:00"}, r"'monday' is not 'daily' or one of mon, tue"),
        ({"daily": "8-20"}, r"daily: '8-20' is not 'HH:MM-HH:MM'"),
        ({"daily": "20:00-08:00"}, r"daily: '20:00-08:00' closes before it opens"),
        ({"sun": "25:00-26:00"}, r"sun: '25:00-26:00' is not 'HH:MM-HH:MM'"),
    ],
)
def test_wrong_opening_hours_are_refused_naming_the_store_and_field(hours, message):
    with pytest.raises(ConfigError, match=r"deployment 'eu': field 'stores.store-1.opening_hours': " + message):
        store_with_hours(hours)
