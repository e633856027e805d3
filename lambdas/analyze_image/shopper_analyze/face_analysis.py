"""One image content analyzed: the analyzer's faces turned into face records.

The handler stores what ``FaceAnalysis`` returns per content with Powertools'
idempotency, keyed on ``IDEMPOTENCY_KEY_JMESPATH`` of the request this module
builds, so a redelivered or re-uploaded image gets the same records back
without another analyzer call (or bill).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.metrics import MetricUnit

from shopper_analyze.face_records import (
    ATTRIBUTE_COLUMNS,
    FaceFloor,
    ImageContext,
    detect_faces_attributes,
    epoch_millis,
    face_records_from,
    from_epoch_millis,
)
from shopper_analyze.image_rows import OUTCOME_ANALYZED, image_row
from shopper_analyze.metric_tally import milliseconds_since

if TYPE_CHECKING:
    from collections.abc import Mapping

    from aws_lambda_powertools import Logger

    from shopper_analyze.analyzers import FaceAnalyzer
    from shopper_analyze.image_keys import ImageKey
    from shopper_analyze.metric_tally import MetricTally
    from shopper_analyze.s3_events import S3ObjectRef
    from shopper_analyze.settings import CameraInfo, DeviceInfo

#: The request fields that name a content: stored analyses are found by them.
IDEMPOTENCY_KEY_JMESPATH = "[bucket, key, version]"


def analysis_request(
    obj: S3ObjectRef,
    *,
    version: str,
    version_id: str | None,
    image_key: ImageKey,
    device: DeviceInfo,
    camera: CameraInfo,
) -> dict[str, Any]:
    """The JSON-serialisable request for one content (``version`` is its ETag first, see ImageTriage)."""
    return {
        "bucket": obj.bucket,
        "key": obj.key,
        "version": version,
        "version_id": version_id,
        "device_id": image_key.device_id,
        "store_id": device.store_id,
        "camera_id": image_key.camera_id,
        "zone": camera.zone,
        "captured_at_ms": epoch_millis(image_key.captured_at),
        "timezone": device.timezone,
        # The camera's privacy profile: what may be asked of the analyzer and written.
        "attributes": sorted(camera.attributes),
    }


@dataclass(frozen=True)
class FaceAnalysis:
    """The analyzer's faces above the floor as records; counted, and logged without any face attribute."""

    analyzer: FaceAnalyzer
    floor: FaceFloor
    logger: Logger

    def __call__(self, image: Mapping[str, Any], tally: MetricTally) -> dict[str, Any]:
        """Analyzer call and records for one object content (stored: a redelivery returns the same records)."""
        context = ImageContext(
            bucket=image["bucket"],
            key=image["key"],
            version=image["version"],
            device_id=image["device_id"],
            store_id=image["store_id"],
            camera_id=image["camera_id"],
            zone=image["zone"],
            captured_at=from_epoch_millis(image["captured_at_ms"]),
            time_zone=image["timezone"],
        )
        collected = frozenset(image.get("attributes", ATTRIBUTE_COLUMNS))
        requested = detect_faces_attributes(collected)
        # Only a restricted profile passes the attributes: an analyzer that
        # estimates everything it can (the local one) need not know the argument.
        restricted = {} if requested == ["ALL"] else {"attributes": requested}
        started = time.perf_counter()
        faces = self.analyzer.detect_faces(
            bucket=image["bucket"], key=image["key"], version_id=image["version_id"], **restricted
        )
        analyzer_ms = milliseconds_since(started)
        processed_at = datetime.now(UTC)
        result = face_records_from(
            faces,
            image=context,
            analyzer=self.analyzer.name,
            processed_at=processed_at,
            floor=self.floor,
            collected=collected,
        )
        tally.count("ImagesAnalyzed")
        tally.count("FacesDetected", result.faces_detected)
        tally.count("FacesDropped", result.faces_dropped)
        tally.sample("AnalyzerLatency", MetricUnit.Milliseconds.value, analyzer_ms)
        self.logger.info(
            "image analyzed",
            extra={
                "faces_detected": result.faces_detected,
                "faces_kept": len(result.records),
                "faces_dropped": result.faces_dropped,
                "analyzer_ms": analyzer_ms,
            },
        )
        row = image_row(
            image_id=context.image_id,
            key=context.key,
            processed_at=processed_at,
            outcome=OUTCOME_ANALYZED,
            device_id=context.device_id,
            camera_id=context.camera_id,
            zone=context.zone,
            store_id=context.store_id,
            time_zone=context.time_zone,
            captured_at=context.captured_at,
            faces_detected=result.faces_detected,
            faces_kept=len(result.records),
            analyzer=self.analyzer.name,
        )
        # Stored with the records: a redelivery gets the same image row back.
        return {"records": result.records, "image": row}
