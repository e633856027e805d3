"""Triage of one object named by a message: analyze it, skip it, or quarantine it with a reason.

What can never be analyzed (a key outside the layout, a device not in the
registry, an empty or too large object, an image the analyzer rejects) moves
to ``quarantine/<reason>/`` in the archive bucket, after its image row (the
``images`` table: outcome ``quarantined`` and the reason) is in Firehose, so
a quarantined still is counted in the figures; what is already gone is
counted, not failed; content delivered before (its marker) is not analyzed
again. What is left is analyzed and comes back as a ``StagedImage`` for
settlement.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from typing import TYPE_CHECKING, Any, Protocol

from botocore.exceptions import ClientError

from shopper_analyze.analyzers import (
    IMAGE_TOO_LARGE,
    INVALID_IMAGE_FORMAT,
    MAX_S3_IMAGE_BYTES,
    REJECTION_REASONS,
    ImageRejectedError,
    ImageUnreadableError,
)
from shopper_analyze.delivered_markers import Identity, delivered_record_count
from shopper_analyze.delivery import deliver
from shopper_analyze.face_analysis import analysis_request
from shopper_analyze.face_records import encode_record, withhold_attributes
from shopper_analyze.image_keys import INCOMING_PREFIX, ImageKey, KeyLayoutError, parse_image_key
from shopper_analyze.image_rows import OUTCOME_QUARANTINED, image_id_for, image_row
from shopper_analyze.s3_events import S3ObjectRef
from shopper_analyze.s3_objects import head_object, is_forbidden, move_object, object_exists, quarantine_key
from shopper_analyze.settings import DeviceInfo

if TYPE_CHECKING:
    from aws_lambda_powertools import Logger
    from mypy_boto3_dynamodb import DynamoDBClient  # type stubs only, never at runtime
    from mypy_boto3_firehose import FirehoseClient
    from mypy_boto3_s3 import S3Client

    from shopper_analyze.metric_tally import MetricTally

KEY_NOT_IN_LAYOUT = "key-not-in-layout"
UNKNOWN_DEVICE = "unknown-device"
UNKNOWN_CAMERA = "unknown-camera"


class ImageRowNotDeliveredError(RuntimeError):
    """A quarantined image's row was not accepted by Firehose; the image stays in incoming/ for a retry."""


class ImageNotVisibleError(RuntimeError):
    """S3 refused the HEAD of an image (403) that was not settled before: the role, a bucket or key policy."""


@dataclass
class StagedImage:
    """An image to deliver (its encoded records) or only to archive, with what settlement needs to know."""

    message_id: str
    source: S3ObjectRef
    version_id: str | None
    identity: Identity
    blobs: list[bytes]
    #: The image's row for the images table (None for content delivered before: its row went with it).
    image_blob: bytes | None = None
    #: Records Firehose accepted for this content in an earlier invocation (its marker), else None.
    delivered_before: int | None = None
    #: Another upload of the same bytes was staged earlier in this batch: its records stand for both.
    same_content_as_earlier: bool = False
    #: The camera's privacy profile: False deletes the image once its records are delivered, instead of archiving it.
    keep_image: bool = True


class StoredAnalysis(Protocol):
    """The analysis of one content, stored per content (Powertools idempotency around FaceAnalysis)."""

    def __call__(self, *, image: dict[str, Any], tally: MetricTally) -> dict[str, Any]: ...


@dataclass(frozen=True)
class ImageTriage:
    """Triage on these clients and settings; ``stage`` may run on many threads at once."""

    s3: S3Client
    #: Reads the delivered markers in the idempotency table.
    dynamodb: DynamoDBClient
    #: Puts the rows of quarantined images (before they move).
    firehose: FirehoseClient
    images_stream_name: str
    analyze: StoredAnalysis
    archive_bucket: str
    idempotency_table: str
    device_registry: Mapping[str, DeviceInfo]
    logger: Logger
    #: Waits between Firehose attempts for a rejected row.
    retry_sleep: Callable[[float], None] = time.sleep

    def stage(self, obj: S3ObjectRef, message_id: str, tally: MetricTally) -> StagedImage | None:
        """Quarantine, skip or analyze one object; an image to deliver or archive comes back for settlement."""
        if not obj.key.startswith(INCOMING_PREFIX):
            # The notification filter should make this impossible; the function
            # may not move objects outside incoming/, so it only reports them.
            tally.count("ObjectsIgnored")
            self.logger.warning("object outside incoming/ ignored", extra={"bucket": obj.bucket})
            return None
        try:
            image_key = parse_image_key(obj.key)
        except KeyLayoutError as exc:
            self.quarantine(obj, KEY_NOT_IN_LAYOUT, str(exc), tally)
            return None
        device = self.device_registry.get(image_key.device_id)
        if device is None:
            detail = f"device {image_key.device_id!r} is not in the device registry"
            self.quarantine(obj, UNKNOWN_DEVICE, detail, tally, image_key=image_key)
            return None
        # A registered store's images, whatever becomes of them: a store that sends none is silent.
        tally.count_with_dimension("StoreImages", "store", device.store_id)
        camera = device.cameras.get(image_key.camera_id)
        if camera is None:
            # A camera the config does not list for this device: its zone (and so
            # every figure about it) would be a guess.
            detail = f"camera {image_key.camera_id!r} is not registered for device {image_key.device_id!r}"
            self.quarantine(obj, UNKNOWN_CAMERA, detail, tally, image_key=image_key, device=device)
            return None
        # One HEAD before the analyzer: an image already moved (a duplicate event
        # after success) is not delivered again, and size limits are checked
        # without spending a Rekognition call.
        try:
            head = head_object(self.s3, bucket=obj.bucket, key=obj.key, version_id=obj.version_id)
        except ClientError as exc:
            # The role has no s3:ListBucket, so S3 answers 403, not 404, for an image
            # that is gone: a redelivery after it was archived is the common case.
            if not is_forbidden(exc):
                raise
            settled = self.settled_copy(obj)
            if settled is None:
                raise ImageNotVisibleError(
                    f"S3 refused to HEAD {obj.key} (403) and the archive holds no copy of it: check the function's"
                    " role and the bucket's policy; if the image was deleted (erase, lifecycle), delete the message"
                ) from exc
            self.count_gone(f"already settled: {settled}", tally)
            return None
        if head is None:
            self.count_gone("object or version not found", tally)
            return None
        placed = partial(self.quarantine, image_key=image_key, device=device, zone=camera.zone)
        if head.size == 0:
            placed(obj, INVALID_IMAGE_FORMAT, "empty object", tally, version=obj.etag or head.etag)
            return None
        if head.size > MAX_S3_IMAGE_BYTES:
            detail = f"{head.size} bytes, the analyzer accepts {MAX_S3_IMAGE_BYTES}"
            placed(obj, IMAGE_TOO_LARGE, detail, tally, version=obj.etag or head.etag)
            return None
        version_id = obj.version_id or head.version_id
        # Identity is the content (ETag = MD5 of a single-part PUT) before the
        # version: an edge agent killed between S3's confirmation and its ledger
        # re-uploads the same bytes to the same key as a new version, and that
        # must not analyze (or bill) the image twice or change its record ids.
        version = obj.etag or head.etag or version_id or ""
        identity = (obj.bucket, obj.key, version)
        staged = partial(
            StagedImage,
            message_id=message_id,
            source=obj,
            version_id=version_id,
            identity=identity,
            keep_image=camera.keep_images,
        )
        # Checked before the analysis: content delivered before needs neither
        # Rekognition nor its stored analysis, only to leave incoming/.
        delivered_before = delivered_record_count(self.dynamodb, table=self.idempotency_table, identity=identity)
        if delivered_before is not None:
            self.logger.info(
                "records of this image were delivered before; not sent again", extra={"records": delivered_before}
            )
            return staged(blobs=[], delivered_before=delivered_before)
        request = analysis_request(
            obj, version=version, version_id=version_id, image_key=image_key, device=device, camera=camera
        )
        try:
            analysis = self.analyze(image=request, tally=tally)
        except ImageRejectedError as exc:
            placed(obj, exc.reason, str(exc), tally, version=version)
            return None
        except ImageUnreadableError as exc:
            if head_object(self.s3, bucket=obj.bucket, key=obj.key, version_id=version_id) is None:
                self.count_gone("object deleted while being analyzed", tally)
                return None
            raise RuntimeError(
                "the analyzer cannot read an object that exists: check its encryption key and the function's role"
            ) from exc
        row = analysis.get("image")  # absent only from analyses stored before image rows existed
        # Withheld again: an analysis stored before the camera's profile turned an attribute off.
        return staged(
            blobs=[encode_record(withhold_attributes(record, camera.attributes)) for record in analysis["records"]],
            image_blob=None if row is None else encode_record(row),
        )

    def quarantine(
        self,
        obj: S3ObjectRef,
        reason: str,
        detail: str,
        tally: MetricTally,
        *,
        image_key: ImageKey | None = None,
        device: DeviceInfo | None = None,
        zone: str | None = None,
        version: str | None = None,
    ) -> None:
        """Put the image's row (outcome quarantined, the reason), then move it to quarantine/<reason>/.

        The row goes first: if Firehose refuses it, the message fails and the
        image stays in incoming/ for the retry, rather than sitting in
        quarantine where no figure counts it.
        """
        row = image_row(
            image_id=image_id_for(obj.bucket, obj.key, version or obj.etag or obj.version_id or ""),
            key=obj.key,
            processed_at=datetime.now(UTC),
            outcome=OUTCOME_QUARANTINED,
            quarantine_reason=reason,
            device_id=None if image_key is None else image_key.device_id,
            camera_id=None if image_key is None else image_key.camera_id,
            zone=zone,
            store_id=None if device is None else device.store_id,
            time_zone=None if device is None else device.timezone,
            captured_at=None if image_key is None else image_key.captured_at,
        )
        report = deliver(self.firehose, self.images_stream_name, [(0, encode_record(row))], sleep=self.retry_sleep)
        tally.count("FirehoseCalls", report.calls)
        if report.undelivered_owners:
            raise ImageRowNotDeliveredError(
                f"the row of an image to quarantine ({reason}) was refused by Firehose ({report.last_error});"
                " the image stays in incoming/"
            )
        tally.count("ImageRowsDelivered")
        moved = move_object(
            self.s3,
            bucket=obj.bucket,
            key=obj.key,
            version_id=obj.version_id,
            target_bucket=self.archive_bucket,
            target_key=quarantine_key(reason, obj.key),
            quarantine_reason=reason,
        )
        if not moved:
            self.count_gone(f"gone before quarantine ({reason})", tally)
            return
        tally.count_with_dimension("ImagesQuarantined", "reason", reason)
        self.logger.warning("image quarantined", extra={"reason": reason, "detail": detail})

    def settled_copy(self, obj: S3ObjectRef) -> str | None:
        """Where an image that left incoming/ went (its archive or quarantine copy), or None if neither is there.

        Keys carry a hash of the content, so a copy under the same key is this
        image. Only reasons of a registered camera's image are looked for: the
        others are decided from the key alone, before any HEAD.
        """
        if object_exists(self.s3, bucket=self.archive_bucket, key=obj.key):
            return "archived"
        for reason in REJECTION_REASONS:
            if object_exists(self.s3, bucket=self.archive_bucket, key=quarantine_key(reason, obj.key)):
                return f"quarantined ({reason})"
        identity = (obj.bucket, obj.key, obj.etag or "")
        if (
            obj.etag
            and delivered_record_count(self.dynamodb, table=self.idempotency_table, identity=identity) is not None
        ):
            return "delivered, then deleted (keep_images is off for its camera)"
        return None

    def count_gone(self, reason: str, tally: MetricTally) -> None:
        tally.count("ImagesGone")
        self.logger.info("object no longer in incoming/; nothing to do", extra={"reason": reason})
