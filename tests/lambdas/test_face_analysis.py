"""One content analyzed: the request that names it, and the analyzer's faces → records (no AWS)."""

from __future__ import annotations

import copy

import jmespath
from shopper_analyze.face_analysis import IDEMPOTENCY_KEY_JMESPATH, FaceAnalysis, analysis_request
from shopper_analyze.face_records import FaceFloor
from shopper_analyze.image_keys import parse_image_key
from shopper_analyze.metric_tally import MetricTally
from shopper_analyze.s3_events import S3ObjectRef
from shopper_analyze.settings import CameraInfo, DeviceInfo

from tests.lambdas.local_aws import SOURCE_BUCKET, image_key, load_event

KEY = image_key()
DEVICE = DeviceInfo(
    store_id="store-001", timezone="America/Los_Angeles", cameras={"entrance": CameraInfo(zone="entrance")}
)


class ListedFaces:
    """An analyzer that answers every image with the same faces and remembers what it was asked."""

    name = "listed"

    def __init__(self, faces: list[dict]) -> None:
        self.faces = faces
        self.asked: list[tuple[str, str, str | None]] = []

    def detect_faces(self, *, bucket: str, key: str, version_id: str | None) -> list[dict]:
        self.asked.append((bucket, key, version_id))
        return copy.deepcopy(self.faces)


def request(version_id: str | None = "v7") -> dict:
    obj = S3ObjectRef(bucket=SOURCE_BUCKET, key=KEY, version_id=version_id, etag="etag-1", size=1)
    key = parse_image_key(KEY)
    camera = DEVICE.cameras[key.camera_id]
    return analysis_request(obj, version="etag-1", version_id=version_id, image_key=key, device=DEVICE, camera=camera)


def test_stored_analyses_are_keyed_on_bucket_key_and_content():
    assert jmespath.search(IDEMPOTENCY_KEY_JMESPATH, request()) == [SOURCE_BUCKET, KEY, "etag-1"]
    assert jmespath.search(IDEMPOTENCY_KEY_JMESPATH, request(version_id="v8")) == [SOURCE_BUCKET, KEY, "etag-1"]


def test_analysis_reads_the_version_the_event_names_and_keeps_faces_above_the_floor(logger):
    analyzer = ListedFaces(load_event("detect_faces_low_quality_faces.json")["FaceDetails"])
    analysis = FaceAnalysis(
        analyzer=analyzer, floor=FaceFloor(min_detection_confidence=90, min_sharpness=10), logger=logger
    )
    tally = MetricTally()

    result = analysis(request(), tally)

    assert analyzer.asked == [(SOURCE_BUCKET, KEY, "v7")]
    (record,) = result["records"]
    assert (record["image_key"], record["store_id"], record["analyzer"], record["faces_in_image"]) == (
        KEY,
        "store-001",
        "listed",
        1,
    )
    snapshot = tally.drain()
    assert snapshot.counts == {"ImagesAnalyzed": 1, "FacesDetected": 3, "FacesDropped": 2}
    assert [(name, unit) for name, unit, _ in snapshot.samples] == [("AnalyzerLatency", "Milliseconds")]
