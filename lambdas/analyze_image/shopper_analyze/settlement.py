"""Phase 2 of an invocation, once for the whole batch: deliver, mark delivered, archive.

Every staged face record goes to the faces stream and every image row to
the images stream, in as few calls as the limits allow; each image whose
records and row all arrived is marked as delivered, then moved to the
archive. A message with an undelivered record or a failed move is
reported back as failed and its image stays in incoming/.

The image is archived only after its records are in Firehose, so a failed
write never loses an image; the marker keeps a later redelivery of the same
content from writing the records again. A camera whose privacy profile says
``keep_images = false`` has its image deleted at that point instead of
archived (and kept in incoming/ for the retry when delivery fails).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import Executor
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING

from botocore.exceptions import BotoCoreError, ClientError

from shopper_analyze.delivered_markers import mark_delivered
from shopper_analyze.delivery import DeliveryReport, deliver
from shopper_analyze.metric_tally import milliseconds_since
from shopper_analyze.s3_objects import delete_image, move_object

if TYPE_CHECKING:
    from aws_lambda_powertools import Logger
    from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
    from mypy_boto3_dynamodb import DynamoDBClient  # type stubs only, never at runtime
    from mypy_boto3_firehose import FirehoseClient
    from mypy_boto3_s3 import S3Client

    from shopper_analyze.metric_tally import MetricTally
    from shopper_analyze.staging import Invocation
    from shopper_analyze.triage import StagedImage


class FirehoseDeliveryError(RuntimeError):
    """Some records of the message were still rejected after every retry."""


class ContentNotDeliveredError(RuntimeError):
    """A second upload of the same bytes waits for the first one's records to be delivered."""


@dataclass(frozen=True)
class Settlement:
    """Phase 2 on these clients and settings; its moves and markers run on the invocation's threads."""

    s3: S3Client
    firehose: FirehoseClient
    #: Writes the delivered markers into the idempotency table.
    dynamodb: DynamoDBClient
    stream_name: str
    #: The stream of the images table (one row per image).
    images_stream_name: str
    archive_bucket: str
    idempotency_table: str
    #: How long a delivered marker is kept (as long as the stored analyses).
    marker_ttl_seconds: int
    logger: Logger
    #: Waits between Firehose attempts for the records it rejected.
    retry_sleep: Callable[[float], None] = time.sleep

    def settle(self, invocation: Invocation, pool: Executor, tally: MetricTally) -> list[tuple[SQSRecord, Exception]]:
        """Deliver all staged records, mark what arrived, then archive each delivered image; the failed messages."""
        failed: dict[str, Exception] = {}
        # One image per content: another upload of the same bytes sends nothing,
        # and content delivered before (its marker exists) is not sent again.
        firsts = [i for i in invocation.images if not i.same_content_as_earlier]
        to_send = [i for i in firsts if i.delivered_before is None]
        delivered = {i.identity for i in firsts if i.delivered_before is not None}
        already = sum(i.delivered_before or 0 for i in firsts)
        if already:
            tally.count("RecordsAlreadyDelivered", already)
        arrived = self._deliver(to_send, failed, tally)
        delivered.update(image.identity for image in arrived)
        # Markers go first, before any archive move: once written, a redelivery
        # (a failed move, a re-upload of the same bytes) sends nothing again.
        # Window left: a crash (timeout, out of memory) or a failed marker put
        # after Firehose accepted an image's records and before its marker is
        # written, followed by a redelivery that still finds the image in
        # incoming/, sends those records once more — with the same record_id, so
        # the duplicate can be removed downstream. Firehose has no conditional put
        # that could close it. Likewise an image only some of whose records were
        # still rejected after every retry gets no marker, and its redelivery sends
        # all of its records again (the accepted ones a second time, same ids).
        expires_at = int(time.time()) + self.marker_ttl_seconds
        mark = partial(self._mark_delivered, expires_at=expires_at, tally=tally)
        list(pool.map(mark, [i for i in arrived if i.blobs]))
        to_archive = []
        for image in invocation.images:
            if image.identity in delivered:
                to_archive.append(image)
            elif image.same_content_as_earlier:
                failed.setdefault(
                    image.message_id,
                    ContentNotDeliveredError(
                        "the records of the same bytes uploaded earlier were not delivered;"
                        " this upload stays in incoming/"
                    ),
                )
        for image, error in self._archive_all(pool, to_archive, tally):
            if error is not None:
                failed.setdefault(image.message_id, error)
        return [(invocation.messages[message_id], exc) for message_id, exc in failed.items()]

    def _deliver(
        self, to_send: list[StagedImage], failed: dict[str, Exception], tally: MetricTally
    ) -> list[StagedImage]:
        """Put the records of every image; the images whose records all arrived (the others fail their message)."""
        # Owners are images, not messages: an image whose records all arrived is
        # marked and archived even when another image of its message failed.
        faces = [(owner, blob) for owner, image in enumerate(to_send) for blob in image.blobs]
        rows = [(owner, image.image_blob) for owner, image in enumerate(to_send) if image.image_blob is not None]
        if not faces and not rows:
            return to_send
        started = time.perf_counter()
        report = self._put(self.stream_name, faces)
        rows_report = self._put(self.images_stream_name, rows)
        undelivered = report.undelivered_owners | rows_report.undelivered_owners
        tally.count("FacesDelivered", report.delivered)
        tally.count("ImageRowsDelivered", rows_report.delivered)
        tally.count("FirehoseCalls", report.calls + rows_report.calls)
        tally.count("FirehoseRecordsRetried", report.retried + rows_report.retried)
        last_error = report.last_error or rows_report.last_error
        log = self.logger.error if undelivered else self.logger.info
        log(
            "records delivered to firehose",
            extra={
                "records": len(faces),
                "delivered": report.delivered,
                "image_rows": len(rows),
                "image_rows_delivered": rows_report.delivered,
                "calls": report.calls + rows_report.calls,
                "retried": report.retried + rows_report.retried,
                "images_failed": len(undelivered),
                "last_error": last_error,
                "firehose_ms": milliseconds_since(started),
            },
        )
        for owner in sorted(undelivered):
            failed.setdefault(
                to_send[owner].message_id,
                FirehoseDeliveryError(
                    f"records still rejected after retries ({last_error}); the image stays in incoming/"
                ),
            )
        return [image for owner, image in enumerate(to_send) if owner not in undelivered]

    def _put(self, stream_name: str, items: list[tuple[int, bytes]]) -> DeliveryReport[int]:
        if not items:
            return DeliveryReport()
        return deliver(self.firehose, stream_name, items, sleep=self.retry_sleep)

    def _mark_delivered(self, image: StagedImage, *, expires_at: int, tally: MetricTally) -> None:
        self.logger.thread_safe_append_keys(correlation_id=image.message_id, image_key=image.source.key)
        try:
            mark_delivered(
                self.dynamodb,
                table=self.idempotency_table,
                identity=image.identity,
                records=len(image.blobs),
                expires_at=expires_at,
            )
        except (ClientError, BotoCoreError):
            # The records are in; failing the message would only send them again.
            tally.count("DeliveredMarkersFailed")
            self.logger.exception(
                "delivered marker not written; a redelivery of this image would send its records again"
            )
        finally:
            self.logger.thread_safe_clear_keys()

    def _archive(self, image: StagedImage, *, tally: MetricTally) -> Exception | None:
        self.logger.thread_safe_append_keys(correlation_id=image.message_id, image_key=image.source.key)
        started = time.perf_counter()
        moved = False
        try:
            if image.keep_image:
                moved = move_object(
                    self.s3,
                    bucket=image.source.bucket,
                    key=image.source.key,
                    version_id=image.version_id,
                    target_bucket=self.archive_bucket,
                    target_key=image.source.key,
                )
            else:
                delete_image(self.s3, bucket=image.source.bucket, key=image.source.key, version_id=image.version_id)
        except (ClientError, BotoCoreError) as exc:
            self.logger.exception("archiving failed; the message will be retried")
            return exc
        else:
            if not image.blobs and image.delivered_before is None and not image.same_content_as_earlier:
                tally.count("ImagesWithoutFaces")
            tally.count("ImagesProcessed")
            if not image.keep_image:
                tally.count("ImagesDeletedAfterDelivery")
            self.logger.info(
                ("image archived" if moved else "image already archived")
                if image.keep_image
                else "image deleted after delivery (keep_images is off for its camera)",
                extra={
                    "faces": len(image.blobs) or image.delivered_before or 0,
                    "archive_ms": milliseconds_since(started),
                },
            )
            return None
        finally:
            self.logger.thread_safe_clear_keys()

    def _archive_all(
        self, pool: Executor, images: list[StagedImage], tally: MetricTally
    ) -> list[tuple[StagedImage, Exception | None]]:
        """Archive concurrently; versions of one key one after the other.

        Two versions of one key (an identical re-upload) copy to the same archive
        key: racing them gains nothing, and in order the second finds its work done.
        """
        by_key: dict[tuple[str, str], list[StagedImage]] = {}
        for image in images:
            by_key.setdefault((image.source.bucket, image.source.key), []).append(image)

        def archive_in_order(group: list[StagedImage]) -> list[tuple[StagedImage, Exception | None]]:
            return [(image, self._archive(image, tally=tally)) for image in group]

        return [pair for done in pool.map(archive_in_order, by_key.values()) for pair in done]
