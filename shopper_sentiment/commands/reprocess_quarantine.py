"""Put the quarantined images of one reason back in incoming/, so the function analyzes them again.

Examples:
  # which images the config's missing device left in quarantine, without moving any
  shopper-sentiment reprocess-quarantine --config deployments.toml --deployment demo \\
      --reason unknown-device --dry-run
  # after the device is in the config and deployed: put them back
  shopper-sentiment reprocess-quarantine --config deployments.toml --deployment demo --reason unknown-device

An image the function cannot analyze is kept in the archive bucket under
quarantine/<reason>/<its incoming/ key> (docs/operations.md, QuarantineRate).
Once the cause is fixed (a device or camera added to the config and
deployed, a camera's capture setting repaired), this copies each image of
the reason back to its key in the source bucket — the object-created event
then sends it through the pipeline — and deletes the quarantined version it
copied. An image whose key is already in incoming/ is left in quarantine
(counted as skipped). An image that still cannot be analyzed comes back to
quarantine.

Both buckets are found from the stack's outputs (CloudFormation DescribeStacks).
Exit codes: 0 done, 1 some images left in quarantine (failed, skipped; counted),
2 bad arguments or config.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from typing import Any

from shopper_sentiment.commands import EXIT_DONE, EXIT_LEFT_OVER, UsageError
from shopper_sentiment.contracts import outputs
from shopper_sentiment.contracts.layout import INCOMING_PREFIX, QUARANTINE_PREFIX, quarantine_key
from shopper_sentiment.deployment import add_deployment_arguments, deployment_from, outputs_of, session_for

NAME = "reprocess-quarantine"
HELP = "put the quarantined images of a reason back in incoming/ (after a fix), or list them"

_REASON = re.compile(r"[a-z0-9][a-z0-9-]{0,63}")
#: A line of progress every this many images.
_PROGRESS_EVERY = 100


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_deployment_arguments(parser)
    parser.add_argument(
        "--reason",
        required=True,
        type=_reason,
        help="the quarantine reason (the folder under quarantine/: unknown-device, unknown-camera,"
        " invalid-image-format, image-too-large, invalid-parameter, key-not-in-layout)",
    )
    parser.add_argument("--dry-run", action="store_true", help="count the images of the reason; move nothing")
    parser.add_argument("--json", action="store_true", help="print the report as one JSON document")


def _reason(text: str) -> str:
    if not _REASON.fullmatch(text):
        raise argparse.ArgumentTypeError(f"{text!r} is not a quarantine reason (lowercase letters, digits, dashes)")
    return text


@dataclass
class ReprocessReport:
    reason: str
    dry_run: bool
    found: int = 0
    bytes: int = 0
    moved: int = 0
    moved_bytes: int = 0
    #: Already in incoming/ under the same key: left in quarantine.
    skipped: int = 0
    failed: int = 0
    #: Quarantined under the reason after the run.
    left: int = 0
    #: The reasons that have images, when the one asked for has none.
    other_reasons: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Quarantined:
    key: str
    version_id: str | None
    size: int

    def original_key(self, reason: str) -> str:
        return self.key.removeprefix(quarantine_key(reason, ""))


def quarantined(s3: Any, bucket: str, reason: str) -> Iterator[Quarantined]:
    """The current version of every image quarantined for ``reason``."""
    prefix = quarantine_key(reason, "")
    for page in s3.get_paginator("list_object_versions").paginate(Bucket=bucket, Prefix=prefix):
        for version in page.get("Versions", []):
            if version.get("IsLatest"):
                version_id = version.get("VersionId")
                yield Quarantined(
                    key=version["Key"],
                    version_id=None if version_id in (None, "null") else version_id,
                    size=int(version.get("Size", 0)),
                )


def reasons_in(s3: Any, bucket: str) -> list[str]:
    found = s3.list_objects_v2(Bucket=bucket, Prefix=QUARANTINE_PREFIX, Delimiter="/").get("CommonPrefixes", [])
    return sorted(p["Prefix"].removeprefix(QUARANTINE_PREFIX).rstrip("/") for p in found)


def _exists(s3: Any, bucket: str, key: str) -> bool:
    from botocore.exceptions import ClientError

    try:
        s3.head_object(Bucket=bucket, Key=key)
    except ClientError as exc:
        if str(exc.response.get("Error", {}).get("Code")) in {"404", "NoSuchKey", "NotFound"}:
            return False
        raise
    return True


def reprocess(
    s3: Any, *, source_bucket: str, archive_bucket: str, reason: str, dry_run: bool, say: Callable[[str], None]
) -> ReprocessReport:
    from botocore.exceptions import ClientError

    report = ReprocessReport(reason=reason, dry_run=dry_run)
    images = list(quarantined(s3, archive_bucket, reason))
    report.found = len(images)
    report.bytes = sum(image.size for image in images)
    say(f"s3://{archive_bucket}/{quarantine_key(reason, '')}: {report.found} images, {report.bytes} bytes")
    if not images:
        report.other_reasons = [r for r in reasons_in(s3, archive_bucket) if r != reason]
        if report.other_reasons:
            say(f"  reasons with images: {', '.join(report.other_reasons)}")
    if dry_run:
        report.left = report.found
        return report
    say(f"copying back to s3://{source_bucket}/{INCOMING_PREFIX} ...")
    for done, image in enumerate(images, start=1):
        target = image.original_key(reason)
        try:
            if not target.startswith(INCOMING_PREFIX):
                report.failed += 1
                report.notes.append(f"{image.key}: not a quarantined incoming/ key; left where it is")
                continue
            if _exists(s3, source_bucket, target):
                report.skipped += 1
                continue
            source = {"Bucket": archive_bucket, "Key": image.key}
            if image.version_id:
                source["VersionId"] = image.version_id
            # REPLACE without tags: the quarantine-reason tag stays behind; the metadata comes along.
            s3.copy_object(CopySource=source, Bucket=source_bucket, Key=target, TaggingDirective="REPLACE")
            # The exact version copied: nothing of the quarantined image is left (no delete marker).
            s3.delete_object(
                Bucket=archive_bucket, Key=image.key, **({"VersionId": image.version_id} if image.version_id else {})
            )
        except ClientError as exc:
            report.failed += 1
            report.notes.append(f"{image.key}: {exc.response.get('Error', {}).get('Code', exc)}")
            continue
        report.moved += 1
        report.moved_bytes += image.size
        if done % _PROGRESS_EVERY == 0:
            say(f"  {done} of {report.found} ...")
    report.left = sum(1 for _ in quarantined(s3, archive_bucket, reason))
    return report


def run(args: argparse.Namespace) -> int:
    deployment = deployment_from(args)
    session = session_for(args, deployment, "reprocess-quarantine")
    stack_name = deployment.stack_name
    values = outputs_of(args, session, stack_name)
    for key in (outputs.SOURCE_BUCKET, outputs.ARCHIVE_BUCKET):
        if not values.get(key):
            raise UsageError(f"stack {stack_name} has no output {key}: deploy the current version of the stack")

    def say(message: str) -> None:
        print(message, file=sys.stderr if args.json else sys.stdout, flush=True)

    report = reprocess(
        session.client("s3"),
        source_bucket=values[outputs.SOURCE_BUCKET],
        archive_bucket=values[outputs.ARCHIVE_BUCKET],
        reason=args.reason,
        dry_run=args.dry_run,
        say=say,
    )
    if args.json:
        print(json.dumps(asdict(report), indent=2))
    elif args.dry_run:
        print(f"would put back {report.found} images ({report.bytes} bytes) of {report.reason}")
    else:
        print(f"put back in incoming/: {report.moved} images ({report.moved_bytes} bytes)")
        print(f"skipped (already in incoming/): {report.skipped}, failed: {report.failed}, left: {report.left}")
        for note in report.notes:
            print(f"  {note}")
    if args.dry_run:
        return EXIT_DONE
    return EXIT_LEFT_OVER if report.left or report.failed else EXIT_DONE
