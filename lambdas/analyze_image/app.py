"""Analyze Lambda: S3 events (through SQS) → faces → Firehose, then the image leaves incoming/.

Entry point ``app.handler``; ``create_handler`` builds the same handler on any
clients. This module only wires settings, clients and Powertools to the logic
in ``shopper_analyze``. One invocation runs in two phases:

1. stage (``staging``, ``triage``): triage the batch's images on
   ``ANALYZE_THREADS`` threads — quarantine what can never be analyzed, skip
   what was delivered before, analyze the rest (stored per content: a
   redelivered or re-uploaded image does not reach Rekognition twice); the
   ``BatchProcessor`` commits each message whose images all staged;
2. settle (``settlement``), once for the whole batch: deliver to Firehose,
   mark what arrived as delivered, archive it. A message with an undelivered
   record or a failed move fails; its image stays in incoming/.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from concurrent.futures import Executor, ThreadPoolExecutor
from functools import partial
from pathlib import Path
from typing import Any

import boto3
from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.metrics.provider.cloudwatch_emf.cloudwatch import AmazonCloudWatchEMFProvider
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType
from aws_lambda_powertools.utilities.idempotency import DynamoDBPersistenceLayer, IdempotencyConfig, idempotent_function
from aws_lambda_powertools.utilities.typing import LambdaContext
from botocore.config import Config
from shopper_analyze.analyzers import RekognitionAnalyzer
from shopper_analyze.batch_plan import plan_batch
from shopper_analyze.call_attempts import CallAttempts
from shopper_analyze.call_deadline import CallDeadline
from shopper_analyze.clients import DETECT_FACES_PER_SECOND_PER_THREAD, Clients, Clock, PacedAnalyzer
from shopper_analyze.face_analysis import IDEMPOTENCY_KEY_JMESPATH, FaceAnalysis
from shopper_analyze.face_records import FaceFloor
from shopper_analyze.failure_causes import failure_cause
from shopper_analyze.metric_tally import MetricTally
from shopper_analyze.settings import Settings, load_settings
from shopper_analyze.settlement import Settlement
from shopper_analyze.staging import DELIVERY_RESERVE_MS, Invocation, commit_message, stage_images
from shopper_analyze.triage import ImageTriage

#: Redeliveries within this window reuse the stored analysis instead of calling
#: Rekognition again (SQS retries, a DLQ redrive within a week). Delivered
#: markers expire alike; an image already archived is recognised by the HEAD
#: in ImageTriage.stage at any age.
IDEMPOTENCY_TTL_SECONDS = 7 * 24 * 3600

Handler = Callable[[dict[str, Any], LambdaContext], dict[str, Any]]
#: Metric names of the DetectFaces attempts botocore sent and of those Rekognition throttled.
DETECT_FACES_CALLS = "DetectFacesCalls"
DETECT_FACES_THROTTLED = "DetectFacesThrottled"
#: A failed message, with the ``cause`` dimension (shopper_analyze.failure_causes).
MESSAGES_RETRIED = "MessagesRetried"
#: Kept back after phase 2's last call: botocore's backoff before an attempt
#: the deadline then refuses (up to 8 s for the five-attempt clients), the
#: BatchProcessor's response and the metrics flush.
SETTLE_MARGIN_MS = 10_000


#: The SDK's loggers, held at INFO whatever the function's log level: at DEBUG
#: botocore logs every request and response body, which here are face
#: attributes (DetectFaces answers, PutRecordBatch records) and stored analyses.
SDK_LOGGERS = ("boto3", "botocore", "urllib3")


def keep_sdk_logs_free_of_payloads() -> None:
    for name in SDK_LOGGERS:
        logging.getLogger(name).setLevel(logging.INFO)


def aws_clients(
    settings: Settings,
    *,
    clock: Clock | None = None,
    detect_faces_attempts: CallAttempts | None = None,
    call_deadline: CallDeadline | None = None,
) -> Clients:
    """The deployed clients, with the retries and timeouts each service needs.

    ``clock`` is where the analyzer's pace waits (the system's unless a simulation gives its own);
    ``detect_faces_attempts`` counts every DetectFaces attempt of the Rekognition client, retries included;
    ``call_deadline`` (the handler's) refuses every client's attempts that would end after it.
    """
    # Clients live for the execution environment and are shared by the analysis
    # threads (boto3 clients are thread-safe); each thread may hold a connection.
    # Timeouts bound a stuck call well inside the function timeout.
    pool = max(10, settings.analyze_threads)

    def client(service: str, *, retry_mode: str, attempts: int, read_timeout: int) -> Any:
        # total_max_attempts counts the first attempt; botocore's max_attempts would
        # count retries only and allow one attempt more than ``attempts`` says.
        retries = {"mode": retry_mode, "total_max_attempts": attempts}
        config = Config(retries=retries, connect_timeout=2, read_timeout=read_timeout, max_pool_connections=pool)
        made = boto3.client(service, config=config)
        # Timeouts and retries bound one call, not a batch of them: the deadline does.
        return made if call_deadline is None else call_deadline.attach(made)

    rekognition = client("rekognition", retry_mode="adaptive", attempts=5, read_timeout=20)
    if detect_faces_attempts is not None:
        detect_faces_attempts.attach(rekognition)
    return Clients(
        s3=client("s3", retry_mode="standard", attempts=5, read_timeout=10),
        firehose=client("firehose", retry_mode="standard", attempts=3, read_timeout=10),
        dynamodb=client("dynamodb", retry_mode="standard", attempts=3, read_timeout=5),
        # Paced to this environment's share of the budget (see clients.py). Adaptive
        # mode stays as the fallback: should the account's quota be shared or
        # lowered, a throttled environment slows all its threads down (the limiter
        # is per client) instead of hammering it.
        analyzer=PacedAnalyzer(
            RekognitionAnalyzer(rekognition),
            calls_per_second=settings.analyze_threads * DETECT_FACES_PER_SECOND_PER_THREAD,
            clock=clock,
        ),
    )


def analyze(*, image: dict[str, Any], tally: MetricTally, analysis: FaceAnalysis) -> dict[str, Any]:
    """The stored analysis of one content. Powertools keys it "<function>.<module>.<name>#<hash>": this
    function's module and name ("app.analyze") must not change, or every stored analysis is missed."""
    return analysis(image, tally)


def publish(metrics: Metrics, tally: MetricTally) -> None:
    """Hand what the threads recorded to Powertools, from the invocation's thread."""
    snapshot = tally.drain()
    # Samples first: Powertools flushes a metric set on its 100th value, and a
    # set left empty by that would make the final flush warn "no metrics".
    for name, unit, value in snapshot.samples:
        metrics.add_metric(name=name, unit=unit, value=value)
    for name, value in snapshot.counts.items():
        metrics.add_metric(name=name, unit=MetricUnit.Count, value=value)
    for (name, dimension, dimension_value), value in snapshot.dimensioned.items():
        # One value, two metrics: by its dimension (a reason, a cause, a store)
        # and the total, which an alarm on a rate needs (an alarm cannot sum a
        # metric over the values of a dimension).
        metric = AmazonCloudWatchEMFProvider(
            namespace=metrics.namespace, service=metrics.service, default_dimensions=metrics.default_dimensions
        )
        metric.add_metric(name=name, unit=MetricUnit.Count, value=value)
        metric.add_dimension(name=dimension, value=dimension_value)
        metric.add_dimensions(service=metrics.service or "")
        metric.flush_metrics()


def count_retry(tally: MetricTally, exc: BaseException) -> None:
    """A message goes back to SQS: counted by its cause (``MessagesRetried``, dimension ``cause``)."""
    tally.count_with_dimension(MESSAGES_RETRIED, "cause", failure_cause(exc))


def counted(commit: Callable[[Any], int], tally: MetricTally, record: Any) -> int:
    """Phase 1's verdict on one message; a failure is counted by its cause before the BatchProcessor sees it."""
    try:
        return commit(record)
    except Exception as exc:
        count_retry(tally, exc)
        raise


def create_handler(
    settings: Settings,
    clients: Clients,
    *,
    thread_pool: Callable[..., Executor] = ThreadPoolExecutor,
    detect_faces_attempts: CallAttempts | None = None,
    call_deadline: CallDeadline | None = None,
) -> Handler:
    """A handler on these clients, with its own idempotency config and persistence layer.

    ``thread_pool`` makes each invocation's pool of analysis threads; a
    simulation passes one whose threads wait in simulated time.
    ``detect_faces_attempts`` (attached to the analyzer's client) is
    published with each invocation's metrics. ``call_deadline`` (attached to
    the clients) is set per phase: phase 1's calls end ``DELIVERY_RESERVE_MS``
    before the function's timeout, phase 2's ``SETTLE_MARGIN_MS`` before it.
    """
    keep_sdk_logs_free_of_payloads()
    logger = Logger()
    metrics = Metrics()
    # Every failure, even of the whole batch, is reported per message: one code path.
    processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False, logger=logger)
    idempotency_config = IdempotencyConfig(
        event_key_jmespath=IDEMPOTENCY_KEY_JMESPATH,
        raise_on_no_idempotency_key=True,
        expires_after_seconds=IDEMPOTENCY_TTL_SECONDS,
    )
    persistence = DynamoDBPersistenceLayer(table_name=settings.idempotency_table, boto3_client=clients.dynamodb)
    stored_analyze = idempotent_function(
        analyze, data_keyword_argument="image", config=idempotency_config, persistence_store=persistence
    )
    # The persistence layer configures itself on the first call and marks itself
    # configured before it has compiled the key expression: two threads making
    # the first calls at once could hash different keys. Configure it now, with
    # the arguments the decorator passes (idempotency/base.py, IdempotencyHandler).
    persistence.configure(idempotency_config, f"{analyze.__module__}.{analyze.__qualname__}")
    floor = FaceFloor(min_detection_confidence=settings.min_detection_confidence, min_sharpness=settings.min_sharpness)
    triage = ImageTriage(
        s3=clients.s3,
        dynamodb=clients.dynamodb,
        firehose=clients.firehose,
        images_stream_name=settings.images_stream_name,
        analyze=partial(stored_analyze, analysis=FaceAnalysis(analyzer=clients.analyzer, floor=floor, logger=logger)),
        archive_bucket=settings.archive_bucket,
        idempotency_table=settings.idempotency_table,
        device_registry=settings.device_registry,
        logger=logger,
    )
    settlement = Settlement(
        s3=clients.s3,
        firehose=clients.firehose,
        dynamodb=clients.dynamodb,
        stream_name=settings.firehose_stream_name,
        images_stream_name=settings.images_stream_name,
        archive_bucket=settings.archive_bucket,
        idempotency_table=settings.idempotency_table,
        marker_ttl_seconds=IDEMPOTENCY_TTL_SECONDS,
        logger=logger,
    )

    @logger.inject_lambda_context(clear_state=True)
    @metrics.log_metrics(capture_cold_start_metric=True)
    def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
        # The in-progress idempotency record then expires with this invocation, so
        # a timeout does not block the redelivered message for the whole TTL.
        idempotency_config.register_lambda_context(context)
        tally = MetricTally()
        if call_deadline is not None:
            ends_at = call_deadline.now() + context.get_remaining_time_in_millis() / 1000
            call_deadline.set_at(ends_at - DELIVERY_RESERVE_MS / 1000)
        try:
            plans = plan_batch(event["Records"], tally, logger)
            invocation = Invocation()
            with thread_pool(max_workers=settings.analyze_threads, thread_name_prefix="analyze") as pool:
                outcomes = stage_images(plans, pool, context, tally, stage=triage.stage, logger=logger)
                # The context-manager form of BatchProcessor (rather than
                # process_partial_response) leaves room for phase 2, which works
                # on the whole batch and may still fail individual messages.
                commit = partial(commit_message, plans=plans, outcomes=outcomes, invocation=invocation, logger=logger)
                with processor(
                    records=event["Records"], handler=partial(counted, commit, tally), lambda_context=context
                ):
                    processor.process()
                    logger.set_correlation_id(None)
                    if call_deadline is not None:
                        call_deadline.set_at(ends_at - SETTLE_MARGIN_MS / 1000)
                    for message, exc in settlement.settle(invocation, pool, tally):
                        count_retry(tally, exc)
                        processor.failure_handler(record=message, exception=(type(exc), exc, exc.__traceback__))
        finally:
            if call_deadline is not None:
                call_deadline.clear()
            if detect_faces_attempts is not None:
                detect_faces_attempts.drain_into(
                    tally, attempts_metric=DETECT_FACES_CALLS, throttled_metric=DETECT_FACES_THROTTLED
                )
            publish(metrics, tally)
        return processor.response()

    return handler


SETTINGS = load_settings(os.environ, base_dir=Path(__file__).resolve().parent)
DETECT_FACES_ATTEMPTS = CallAttempts(service_id="rekognition", operation="DetectFaces")
CALL_DEADLINE = CallDeadline()
handler = create_handler(
    SETTINGS,
    aws_clients(SETTINGS, detect_faces_attempts=DETECT_FACES_ATTEMPTS, call_deadline=CALL_DEADLINE),
    detect_faces_attempts=DETECT_FACES_ATTEMPTS,
    call_deadline=CALL_DEADLINE,
)
