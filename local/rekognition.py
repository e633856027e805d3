"""DetectFaces-shaped answers for local runs that need Rekognition's output without an image.

The benchmarks and the handler's tests feed the function realistic
``FaceDetails`` (every attribute ``Attributes=["ALL"]`` returns) in any number;
the demo analyzes real pixels with ``local.analyzer`` instead.
"""

from __future__ import annotations

from typing import Any

EMOTION_TYPES = ("HAPPY", "SAD", "ANGRY", "CONFUSED", "DISGUSTED", "SURPRISED", "CALM", "FEAR")

#: (gender, age range, dominant emotion, its confidence, brightness, sharpness) of the faces cycled through.
_PEOPLE = (
    ("Female", (29, 37), "HAPPY", 96.48, 81.53, 86.86),
    ("Male", (41, 51), "CALM", 88.37, 64.29, 53.33),
    ("Male", (18, 24), "SAD", 41.02, 55.01, 38.9),
)


def _face(index: int) -> dict[str, Any]:
    gender, (low, high), dominant, confidence, brightness, sharpness = _PEOPLE[index % len(_PEOPLE)]
    left, top = round((index % 10) / 10 + 0.01, 4), round((index // 10) / 10 + 0.01, 4)
    rest = (100 - confidence) / (len(EMOTION_TYPES) - 1)
    return {
        "BoundingBox": {"Width": 0.08, "Height": 0.09, "Left": left, "Top": top},
        "AgeRange": {"Low": low, "High": high},
        "Smile": {"Value": dominant == "HAPPY", "Confidence": 93.41},
        "Eyeglasses": {"Value": index % 4 == 1, "Confidence": 97.86},
        "Sunglasses": {"Value": False, "Confidence": 99.95},
        "Gender": {"Value": gender, "Confidence": 98.4},
        "Beard": {"Value": gender == "Male" and index % 2 == 1, "Confidence": 88.12},
        "Mustache": {"Value": False, "Confidence": 96.03},
        "EyesOpen": {"Value": True, "Confidence": 98.77},
        "MouthOpen": {"Value": dominant == "HAPPY", "Confidence": 91.5},
        "Emotions": [
            {"Type": kind, "Confidence": round(confidence if kind == dominant else rest, 2)} for kind in EMOTION_TYPES
        ],
        "Landmarks": [
            {"Type": "eyeLeft", "X": left + 0.02, "Y": top + 0.03},
            {"Type": "eyeRight", "X": left + 0.06, "Y": top + 0.03},
            {"Type": "nose", "X": left + 0.04, "Y": top + 0.05},
        ],
        "Pose": {"Roll": 2.41, "Yaw": -11.07 + index % 7, "Pitch": 4.83},
        "Quality": {"Brightness": brightness, "Sharpness": sharpness},
        "Confidence": 99.0 + (index % 10) / 10,
        "FaceOccluded": {"Value": False, "Confidence": 99.1},
        "EyeDirection": {"Yaw": -3.2, "Pitch": -8.7, "Confidence": 99.2},
    }


def detect_faces_response(faces: int) -> dict[str, Any]:
    """A DetectFaces response with ``faces`` distinct, realistic faces (DetectFaces returns at most 100)."""
    if not 0 <= faces <= 100:
        raise ValueError(f"DetectFaces returns 0..100 faces, not {faces}")
    return {"FaceDetails": [_face(i) for i in range(faces)]}
