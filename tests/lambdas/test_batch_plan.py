"""Planning an SQS batch: messages parsed in order, each object version staged once."""

from __future__ import annotations

import json

from shopper_analyze.batch_plan import plan_batch
from shopper_analyze.metric_tally import MetricTally
from shopper_analyze.s3_events import MalformedEventError

from tests.lambdas.local_aws import image_key, load_event, s3_notification, s3_record, sqs_event


def test_duplicate_messages_in_a_batch_are_staged_once(logger):
    body = s3_notification(s3_record(image_key()))
    tally = MetricTally()

    plans = plan_batch(sqs_event(body, body)["Records"], tally, logger)

    assert [len(plans["m0"].tasks), len(plans["m1"].tasks)] == [1, 0]
    assert plans["m1"].objects == 1  # the message still names an object: it is not an empty message
    assert tally.drain().counts == {"ImagesReceived": 2, "DuplicateEventsSkipped": 1}


def test_same_key_in_a_new_version_is_staged_again(logger):
    key = image_key()
    first, second = s3_record(key, version_id="v1", etag="e"), s3_record(key, version_id="v2", etag="e")

    plans = plan_batch(sqs_event(s3_notification(first), s3_notification(second))["Records"], MetricTally(), logger)

    assert [t.source.version_id for p in plans.values() for t in p.tasks] == ["v1", "v2"]


def test_malformed_message_fails_alone(logger):
    good = s3_notification(s3_record(image_key()))

    plans = plan_batch(sqs_event("not json", good)["Records"], MetricTally(), logger)

    assert isinstance(plans["m0"].error, MalformedEventError)
    assert plans["m0"].tasks == []
    assert plans["m1"].error is None
    assert len(plans["m1"].tasks) == 1


def test_tasks_are_numbered_across_the_batch_in_message_order(logger):
    keys = [image_key(content=str(i).encode()) for i in range(3)]
    bodies = [s3_notification(s3_record(keys[0]), s3_record(keys[1])), s3_notification(s3_record(keys[2]))]

    plans = plan_batch(sqs_event(*bodies)["Records"], MetricTally(), logger)

    assert [(t.index, t.message_id, t.source.key) for p in plans.values() for t in p.tasks] == [
        (1, "m0", keys[0]),
        (2, "m0", keys[1]),
        (3, "m1", keys[2]),
    ]


def test_s3_test_event_plans_a_message_without_objects(logger):
    plans = plan_batch(sqs_event(json.dumps(load_event("s3_test_event.json")))["Records"], MetricTally(), logger)

    assert (plans["m0"].objects, plans["m0"].tasks, plans["m0"].error) == (0, [], None)
