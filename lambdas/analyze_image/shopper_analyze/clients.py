"""The AWS clients and the face analyzer one analyze handler works with.

``app.py`` builds the deployed ones (boto3 clients with their botocore
``Config``) and hands them to its handler factory; tests, the demo and the
benchmark hand it their own (wrappers that inject failures, a local analyzer).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient  # type stubs only, never at runtime
    from mypy_boto3_firehose import FirehoseClient
    from mypy_boto3_s3 import S3Client

    from shopper_analyze.analyzers import FaceAnalyzer


@dataclass(frozen=True)
class Clients:
    #: Reads the source images, moves them to the archive or quarantine.
    s3: S3Client
    #: Receives the face records (PutRecordBatch).
    firehose: FirehoseClient
    #: The idempotency table: Powertools' stored analyses and the delivered markers.
    dynamodb: DynamoDBClient
    #: Finds the faces in an image (Rekognition when deployed).
    analyzer: FaceAnalyzer
