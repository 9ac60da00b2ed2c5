"""A training job's CloudWatch logs: every instance's stream, in time order, each line once.

SageMaker logs to ``/aws/sagemaker/TrainingJobs``, one stream per instance, named
``<job>/algo-<n>-<epoch>``. FilterLogEvents over the stream prefix reads all instances
interleaved. Following polls from the newest timestamp seen (inclusive, since lines
share milliseconds) and drops the events already printed, by their eventId.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mypy_boto3_logs import CloudWatchLogsClient

LOG_GROUP = "/aws/sagemaker/TrainingJobs"


@dataclass(frozen=True)
class Line:
    event_id: str
    timestamp: int  # ms
    stream: str
    message: str

    @property
    def host(self) -> str:
        """``algo-1`` of ``job/algo-1-1700000000``."""
        return self.stream.split("/", 1)[-1].rsplit("-", 1)[0]

    def render(self, hosts: bool) -> str:
        return f"[{self.host}] {self.message}" if hosts else self.message


@dataclass
class LogReader:
    """Reads a job's lines; each call of ``new_lines`` returns only lines not seen before.

    Each read starts ``LOOKBACK_MS`` before the newest line seen, because CloudWatch may
    ingest a line after a newer one; the ids seen in that window are remembered.
    """

    client: CloudWatchLogsClient
    job_name: str
    start_ms: int | None = None
    _seen: dict[str, int] = field(default_factory=dict)  # event id → timestamp

    LOOKBACK_MS = 5_000

    def new_lines(self) -> list[Line]:
        start = self.start_ms
        if self._seen:
            start = max(self._seen.values()) - self.LOOKBACK_MS
            start = start if self.start_ms is None else max(start, self.start_ms)
        lines = list(self._fetch(start))
        fresh = [line for line in lines if line.event_id not in self._seen]
        self._seen.update((line.event_id, line.timestamp) for line in fresh)
        if self._seen:
            horizon = max(self._seen.values()) - self.LOOKBACK_MS
            self._seen = {key: stamp for key, stamp in self._seen.items() if stamp >= horizon}
        return sorted(fresh, key=lambda line: (line.timestamp, line.stream))

    def _fetch(self, start_ms: int | None) -> Iterator[Line]:
        parameters: dict[str, Any] = {"logGroupName": LOG_GROUP,
                                      "logStreamNamePrefix": f"{self.job_name}/"}  # fmt: skip
        if start_ms is not None:
            parameters["startTime"] = start_ms
        for page in self.client.get_paginator("filter_log_events").paginate(**parameters):
            for event in page.get("events", []):
                message = str(event["message"]).rstrip("\n")
                yield Line(str(event["eventId"]), int(event["timestamp"]),
                           str(event["logStreamName"]), message)  # fmt: skip
