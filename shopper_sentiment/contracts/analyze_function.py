"""What the CDK stack hands the analyze function, and what the function reads.

The stack (``shopper_sentiment/tiers/process.py``) sets exactly these environment variables
and bundles the deployment's device registry into the function's code asset;
the function (``lambdas/analyze_image/shopper_analyze/settings.py``, which
ships without this repository and keeps its own copy of the names) reads
them at cold start. ``tests/contracts`` feeds the synthesized function's
environment into the function's settings loader, so a renamed variable fails
a test, not a deploy.
"""

from __future__ import annotations

FIREHOSE_STREAM_NAME = "FIREHOSE_STREAM_NAME"
#: The stream of the ``images`` table (one row per settled image).
IMAGES_STREAM_NAME = "IMAGES_STREAM_NAME"
ARCHIVE_BUCKET = "ARCHIVE_BUCKET"
IDEMPOTENCY_TABLE = "IDEMPOTENCY_TABLE"
#: A file name relative to the function's code folder (Lambda's environment
#: is capped at 4 KB, which a few dozen devices would exceed).
DEVICE_REGISTRY_FILE = "DEVICE_REGISTRY_FILE"
MIN_DETECTION_CONFIDENCE = "MIN_DETECTION_CONFIDENCE"
MIN_SHARPNESS = "MIN_SHARPNESS"
ANALYZE_THREADS = "ANALYZE_THREADS"
#: Read by Powertools itself (the function requires the namespace too).
POWERTOOLS_VARIABLES = ("POWERTOOLS_SERVICE_NAME", "POWERTOOLS_METRICS_NAMESPACE", "POWERTOOLS_LOG_LEVEL")

#: Every variable the stack sets on the function.
ENVIRONMENT_VARIABLES = (
    FIREHOSE_STREAM_NAME,
    IMAGES_STREAM_NAME,
    ARCHIVE_BUCKET,
    IDEMPOTENCY_TABLE,
    DEVICE_REGISTRY_FILE,
    MIN_DETECTION_CONFIDENCE,
    MIN_SHARPNESS,
    ANALYZE_THREADS,
    *POWERTOOLS_VARIABLES,
)

#: The registry's file name inside the code asset::
#:
#:     {"<device_id>": {"store_id": "<store>", "timezone": "<IANA zone>",
#:                      "cameras": {"<camera_id>": {"zone": "<zone>",
#:                                                  "attributes": ["age", ...],
#:                                                  "keep_images": true}}}}
REGISTRY_FILE_NAME = "device_registry.json"
#: The fields of one device, and of one of its cameras. ``attributes`` and
#: ``keep_images`` are the camera's privacy profile (the deployment's, with its
#: store's and its own overrides applied); the stack always writes them.
REGISTRY_FIELDS = ("store_id", "timezone", "cameras")
CAMERA_FIELDS = ("zone", "attributes", "keep_images")

#: The groups of face attributes a privacy profile turns on or off, each the
#: record columns it fills (the function's copy, shopper_analyze.face_records,
#: also knows which DetectFaces attributes to request for each):
#:
#: - ``emotions``: the eight emotion scores and the dominant emotion;
#: - ``age``: the estimated age range;
#: - ``gender``: the predicted gender and its confidence;
#: - ``appearance``: smile, eyeglasses, sunglasses, beard, mustache, eyes and
#:   mouth open, face occluded.
#:
#: Face position, size, head pose and image quality are always recorded: they
#: say where a face was and how well it was seen, nothing about the person.
ATTRIBUTE_GROUPS = ("age", "appearance", "emotions", "gender")

SERVICE_NAME = "shopper-sentiment-analyze"
#: The metrics namespace of a construct used on its own; a deployment publishes
#: under ``metrics_namespace(<deployment>)``.
METRICS_NAMESPACE = "ShopperSentiment"


def metrics_namespace(deployment: str) -> str:
    """One namespace per deployment: two deployments in one account and region (one per store,
    say) must not add up each other's metrics, nor set off each other's alarms."""
    return f"{METRICS_NAMESPACE}/{deployment}"


#: Faces below these floors are dropped by the function (and counted): the
#: deployment config's defaults and the function's when a variable is unset.
DEFAULT_MIN_DETECTION_CONFIDENCE = 90.0
DEFAULT_MIN_SHARPNESS = 0.0
