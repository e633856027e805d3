"""local/rekognition.py: DetectFaces answers in the service's shape."""

from __future__ import annotations

import pytest

from local.rekognition import detect_faces_response


def test_detect_faces_stand_in_answers_in_the_service_shape():
    from botocore.session import get_session

    members = set(get_session().get_service_model("rekognition").shape_for("FaceDetail").members)
    faces = detect_faces_response(12)["FaceDetails"]
    assert len(faces) == 12 and all(set(face) <= members for face in faces)
    assert len({(f["BoundingBox"]["Left"], f["BoundingBox"]["Top"]) for f in faces}) == 12
    with pytest.raises(ValueError):
        detect_faces_response(101)
