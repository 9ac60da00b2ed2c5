"""The operator's Prometheus metrics (prometheus-client), served on ``/metrics``.

Names follow Prometheus conventions: a ``sagemaker_operator_`` prefix, base units
(seconds), ``_total`` for counters. SageMaker calls are counted per HTTP attempt, so
the counts match what the service (or the emulator) saw, botocore's retries included.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

REGISTRY = CollectorRegistry(auto_describe=True)

SAGEMAKER_CALLS = Counter(
    "sagemaker_operator_sagemaker_calls",
    "SageMaker API requests (each HTTP attempt), by operation, outcome (ok, an AWS error "
    "code, or a connection error's class name) and account (own, or the assumed role's)",
    ["operation", "outcome", "account"],
    registry=REGISTRY,
)
SAGEMAKER_LATENCY = Histogram(
    "sagemaker_operator_sagemaker_call_duration_seconds",
    "Duration of a SageMaker API call, botocore's retries included, by operation",
    ["operation"],
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
    registry=REGISTRY,
)
RATE_LIMITER_WAIT = Histogram(
    "sagemaker_operator_rate_limiter_wait_seconds",
    "Time a call waited for the client-side rate limiter, by operation",
    ["operation"],
    buckets=(0.001, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
    registry=REGISTRY,
)
CREDENTIAL_REFRESHES = Counter(
    "sagemaker_operator_credential_refreshes",
    "An assumed role's credentials assumed again before their expiry because AWS refused "
    "them (forced), by account",
    ["account", "reason"],
    registry=REGISTRY,
)
ASSUME_ROLE_FAILURES = Counter(
    "sagemaker_operator_assume_role_failures",
    "Calls not made because the account's role could not be assumed, by account",
    ["account"],
    registry=REGISTRY,
)
STATUS_LAG = Histogram(
    "sagemaker_operator_status_lag_seconds",
    "From SageMaker's LastModifiedTime of a job to the status patch that shows it",
    buckets=(0.1, 0.25, 0.5, 1, 2, 5, 10, 15, 20, 30, 60, 120),
    registry=REGISTRY,
)
TICK_DURATION = Histogram(
    "sagemaker_operator_tick_duration_seconds",
    "Duration of a tracking tick in an account and region: every page listed, every change written",
    ["region", "account"],
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2, 3, 5, 7.5, 10, 15, 20, 30, 60),
    registry=REGISTRY,
)
LIST_PAGES = Histogram(
    "sagemaker_operator_list_pages",
    "ListTrainingJobs pages one tracking tick read in a region (its calls)",
    buckets=(1, 2, 3, 5, 10, 20, 50, 100, 200),
    registry=REGISTRY,
)
TRACKER_DESCRIBES = Counter(
    "sagemaker_operator_tracker_describes",
    "DescribeTrainingJob calls of the tracker, by why: ended (once per job), resync (in "
    "flight, not listed for resync_after) or follow (ended; rules or warm pool not settled)",
    ["purpose"],
    registry=REGISTRY,
)
RECONCILE_ERRORS = Counter(
    "sagemaker_operator_reconcile_errors",
    "Errors met while reconciling a TrainingJob (every occurrence, retried or not), by reason",
    ["reason"],
    registry=REGISTRY,
)


EVENT_RETRIES = Counter(
    "sagemaker_operator_event_retries",
    "Kubernetes Events tried again because the apiserver could not take them then",
    registry=REGISTRY,
)
EVENTS_LOST = Counter(
    "sagemaker_operator_events_lost",
    "Kubernetes Events given up (refused, or not taken within ten minutes of retries)",
    registry=REGISTRY,
)
WRITE_QUEUE = Gauge(
    "sagemaker_operator_status_writes_pending",
    "Jobs whose newest state (listed, described or from an event) waits to be written",
    registry=REGISTRY,
)
EVENTS_RECEIVED = Counter(
    "sagemaker_operator_queue_events",
    "State-change events read from the SQS queue, by outcome: written (offered to the "
    "writer), stale (older than the state written), foreign (not a job of this operator's "
    "resources), early (its resource shows no job yet: kept for it), expired (such an "
    "event, deleted after events_early_for), refused (its envelope "
    "disagrees with the job's ARN, or comes from an account the queue does not serve), "
    "malformed",
    ["outcome"],
    registry=REGISTRY,
)
EVENTS_MODE = Gauge(
    "sagemaker_operator_events_mode",
    "1 while status comes from the SQS queue (lists poll at events_poll_interval), 0 while "
    "the queue cannot be read and lists poll at poll_interval (only with --events-queue-url)",
    registry=REGISTRY,
)
EVENTS_MISSED = Counter(
    "sagemaker_operator_events_missed",
    "Job changes a list found, older than an event takes, that no event had brought (the "
    "events mode's proof of delivery: many of them and the lists poll at the usual interval)",
    registry=REGISTRY,
)
EVENTS_LAST_RECEIVE = Gauge(
    "sagemaker_operator_queue_last_receive_timestamp_seconds",
    "When a ReceiveMessage call on the events queue last answered (Unix time); liveness "
    "fails when it is stale",
    registry=REGISTRY,
)
TRACKER_LAST_TICK = Gauge(
    "sagemaker_operator_tracker_last_tick_timestamp_seconds",
    "When the tracker last finished a tick (Unix time); liveness fails when it is stale",
    registry=REGISTRY,
)


class JobsByStatus(Collector):
    """``sagemaker_operator_trainingjobs``: TrainingJob resources by job status, read from
    the operator's view of the resources at scrape time."""

    def __init__(self, counts: Callable[[], Mapping[str, int]]) -> None:
        self._counts = counts

    def collect(self) -> Iterator[GaugeMetricFamily]:
        family = GaugeMetricFamily(
            "sagemaker_operator_trainingjobs",
            "TrainingJob resources by SageMaker job status (Pending: no job yet)",
            labels=["status"],
        )
        for status, count in sorted(self._counts().items()):
            family.add_metric([status], count)
        yield family

    def describe(self) -> Iterable[Any]:
        return []


def observe_status_lag(last_modified: Any, now: datetime.datetime | None = None) -> None:
    if isinstance(last_modified, datetime.datetime):
        moment = now or datetime.datetime.now(datetime.UTC)
        STATUS_LAG.observe(max(0.0, (moment - last_modified).total_seconds()))


def serve(port: int) -> int:
    """Serve ``/metrics`` on all interfaces; return the port (``0`` picks a free one)."""
    server, _ = start_http_server(port, registry=REGISTRY)
    return int(server.server_port)
