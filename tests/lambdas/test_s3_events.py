import json

import pytest
from shopper_analyze.s3_events import MalformedEventError, S3ObjectRef, s3_objects_from

from tests.lambdas.local_aws import load_event, s3_notification, s3_record


def test_fixture_notification_gives_its_object():
    body = json.dumps(load_event("s3_object_created.json"))

    assert s3_objects_from(body) == [
        S3ObjectRef(
            bucket="source-bucket",
            key="incoming/pi-s001-entrance/2026/03/14/20260314T092653412Z-3f9a1c2be4d7.jpg",
            version_id=None,
            etag="0123456789abcdef0123456789abcdef",
            size=48213,
        )
    ]


@pytest.mark.parametrize(
    ("encoded", "decoded"),
    [
        ("incoming/pi+s001/a+b.jpg", "incoming/pi s001/a b.jpg"),
        ("incoming/pi-1/caf%C3%A9.jpg", "incoming/pi-1/café.jpg"),
        ("incoming/pi-1/a%2Bb.jpg", "incoming/pi-1/a+b.jpg"),
        ("incoming/pi-1/%E6%B1%89%E5%AD%97%20x.jpg", "incoming/pi-1/汉字 x.jpg"),
    ],
)
def test_keys_are_url_decoded_with_plus_as_space(encoded, decoded):
    record = s3_record("placeholder")
    record["s3"]["object"]["key"] = encoded

    assert [ref.key for ref in s3_objects_from(s3_notification(record))] == [decoded]


def test_every_record_of_a_body_is_returned_in_order():
    body = s3_notification(s3_record("incoming/a.jpg"), s3_record("incoming/b.jpg"), s3_record("incoming/c.jpg"))

    assert [ref.key for ref in s3_objects_from(body)] == ["incoming/a.jpg", "incoming/b.jpg", "incoming/c.jpg"]


def test_version_and_quoted_etag_are_kept_normalised():
    record = s3_record("incoming/a.jpg", etag='"abc"', version_id="3HL4kqtJlcpXroDTDmJ.rmSpXd3dIbrHY")

    (ref,) = s3_objects_from(s3_notification(record))

    assert (ref.version_id, ref.etag) == ("3HL4kqtJlcpXroDTDmJ.rmSpXd3dIbrHY", "abc")


def test_s3_test_event_yields_no_object():
    assert s3_objects_from(json.dumps(load_event("s3_test_event.json"))) == []


def test_records_other_than_object_created_are_skipped():
    removed = s3_record("incoming/a.jpg", event_name="ObjectRemoved:Delete")
    created = s3_record("incoming/b.jpg", event_name="ObjectCreated:CompleteMultipartUpload")

    assert [ref.key for ref in s3_objects_from(s3_notification(removed, created))] == ["incoming/b.jpg"]


@pytest.mark.parametrize(
    "body",
    [
        pytest.param("not json", id="not-json"),
        pytest.param("[]", id="not-an-object"),
        pytest.param("{}", id="no-records"),
        pytest.param('{"Records": [{"eventSource": "aws:s3", "eventName": "ObjectCreated:Put"}]}', id="no-s3-part"),
        pytest.param('{"Records": ["x"]}', id="record-not-an-object"),
    ],
)
def test_body_that_is_no_s3_notification_is_an_error(body):
    with pytest.raises(MalformedEventError):
        s3_objects_from(body)
