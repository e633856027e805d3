"""Why a message went back to SQS: one cause per failure, the ``cause`` dimension of ``MessagesRetried``.

An operator reads the cause off a graph (docs/operations.md says what each
means and what to do) instead of searching the logs for a traceback. The
causes are a fixed set, so the metric's cardinality stays bounded whatever
the exception: anything not recognised is ``other``.
"""

from __future__ import annotations

from collections.abc import Iterator

from aws_lambda_powertools.utilities.idempotency.exceptions import (
    IdempotencyAlreadyInProgressError,
    IdempotencyPersistenceLayerError,
)
from botocore.exceptions import ClientError, ConnectionError, HTTPClientError

from shopper_analyze.analyzers import ImageUnreadableError
from shopper_analyze.call_attempts import THROTTLING_CODES
from shopper_analyze.call_deadline import CallDeadlineError
from shopper_analyze.s3_events import MalformedEventError
from shopper_analyze.settlement import ContentNotDeliveredError, FirehoseDeliveryError
from shopper_analyze.staging import DeadlineApproachingError
from shopper_analyze.triage import ImageRowNotDeliveredError

#: A service refused the call for its rate (after the client's own retries).
THROTTLED = "throttled"
#: The function's role, a bucket policy or a KMS key policy does not allow a call.
ACCESS_DENIED = "access-denied"
#: A call timed out or its connection failed (after the client's own retries).
TIMEOUT = "timeout"
#: Too little of the invocation was left to start the image or a call (the batch took too long, a service hung).
DEADLINE = "deadline"
#: Firehose still rejected records after every retry (or their quarantine row).
FIREHOSE_REJECTED = "firehose-rejected"
#: The idempotency table (stored analyses, delivered markers) failed a call.
DYNAMODB_FAILED = "dynamodb-failed"
#: Another invocation is analyzing the same content right now; the retry finds its result.
IN_PROGRESS = "analysis-in-progress"
#: The message is not an S3 event notification: it fails on every receive and ends in the DLQ.
MALFORMED_MESSAGE = "malformed-message"
#: Another error from S3 or Rekognition (a 5xx, an unexpected code).
SERVICE_ERROR = "service-error"
#: Anything else: a bug; the function's log has the traceback.
OTHER = "other"

#: Every cause, for the dashboard and the runbook.
CAUSES = (
    THROTTLED,
    ACCESS_DENIED,
    TIMEOUT,
    DEADLINE,
    FIREHOSE_REJECTED,
    DYNAMODB_FAILED,
    IN_PROGRESS,
    MALFORMED_MESSAGE,
    SERVICE_ERROR,
    OTHER,
)

_ACCESS_DENIED_CODES = frozenset(
    {
        "AccessDenied",
        "AccessDeniedException",
        "UnauthorizedOperation",
        "KMS.AccessDeniedException",
        "KMS.DisabledException",
        "KMS.KMSInvalidStateException",
        "InvalidAccessKeyId",
        "ExpiredToken",
    }
)
_DYNAMODB_OPERATIONS = frozenset({"GetItem", "PutItem", "UpdateItem", "DeleteItem", "Query", "BatchGetItem"})
_FIREHOSE_ERRORS = (FirehoseDeliveryError, ContentNotDeliveredError, ImageRowNotDeliveredError)


def _chain(exc: BaseException) -> Iterator[BaseException]:
    """The exception and what it was raised from (``raise ... from``), outermost first.

    Not what it was raised while handling (``__context__``): an image
    quarantined while handling Rekognition's rejection fails for Firehose, not
    for Rekognition.
    """
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__


def _client_error_cause(error: ClientError) -> str:
    code = str(error.response.get("Error", {}).get("Code", ""))
    status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    if code in THROTTLING_CODES:
        return THROTTLED
    if code in _ACCESS_DENIED_CODES or status == 403:
        return ACCESS_DENIED
    if error.operation_name in _DYNAMODB_OPERATIONS:
        return DYNAMODB_FAILED
    return SERVICE_ERROR


def failure_cause(exc: BaseException) -> str:
    """The cause (one of ``CAUSES``) of the exception that failed a message.

    Wrappers defer to what they wrap: a throttled DynamoDB call inside
    Powertools' persistence error is ``throttled``, an unreadable image inside
    the handler's own error is ``access-denied``.
    """
    chain = list(_chain(exc))

    def found(*types: type[BaseException]) -> bool:
        return any(isinstance(e, types) for e in chain)

    # The handler's own errors first: they say what the step was.
    if found(DeadlineApproachingError, CallDeadlineError):
        return DEADLINE
    if found(MalformedEventError):
        return MALFORMED_MESSAGE
    if found(*_FIREHOSE_ERRORS):
        return FIREHOSE_REJECTED
    if found(ImageUnreadableError):
        # Rekognition could not read an object that exists: its KMS key or the role.
        return ACCESS_DENIED
    if found(IdempotencyAlreadyInProgressError):
        return IN_PROGRESS
    client_error = next((e for e in chain if isinstance(e, ClientError)), None)
    if client_error is not None:
        return _client_error_cause(client_error)
    if found(ConnectionError, HTTPClientError):
        return TIMEOUT
    if found(IdempotencyPersistenceLayerError):
        return DYNAMODB_FAILED
    return OTHER
