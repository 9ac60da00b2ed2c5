"""CloudWatch Logs of the emulated training jobs: what `kubectl sagemaker logs` reads.

SageMaker writes a job's output to the log group ``/aws/sagemaker/TrainingJobs``, one
stream per instance, named ``<job>/algo-<n>-<epoch seconds>``. Here the lines are made
from the job's own timeline, as far as the emulator's clock has gone: a line per
secondary-status transition, and one per second of training. Nothing is stored; the same
job at the same moment always shows the same log.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from sagemaker_emulator.jobs import JobStore, SageMakerError, TrainingJob

LOG_GROUP = "/aws/sagemaker/TrainingJobs"
_MAX_TRAINING_LINES = 600  # a long emulated training logs its first ten minutes
_DEFAULT_STREAMS_PAGE = 50
_DEFAULT_EVENTS_PAGE = 10_000
_NO_STREAM = "The specified log stream does not exist."


@dataclass(frozen=True)
class LogEvent:
    stream: str
    timestamp: int  # milliseconds since the epoch
    message: str

    @property
    def event_id(self) -> str:
        digest = zlib.crc32(f"{self.stream}\n{self.message}".encode())
        return f"{self.timestamp:013d}{digest:010d}"


def instance_count(job: TrainingJob) -> int:
    config = job.request.get("ResourceConfig") or {}
    groups = config.get("InstanceGroups") or []
    return int(config.get("InstanceCount") or sum(g.get("InstanceCount", 0) for g in groups) or 1)


def streams(job: TrainingJob) -> list[str]:
    """The job's streams, once its containers started (SageMaker's Downloading)."""
    if job.training_start is None:
        return []
    started = int(job.training_start)
    return [f"{job.name}/algo-{host}-{started}" for host in range(1, instance_count(job) + 1)]


def events(job: TrainingJob, now: float) -> list[LogEvent]:
    """Every line of every stream of the job up to ``now``, in time order."""
    found = [event for host, stream in enumerate(streams(job), start=1)
             for event in _host_events(job, stream, host, now)]  # fmt: skip
    return sorted(found, key=lambda event: (event.timestamp, event.stream))


def _host_events(job: TrainingJob, stream: str, host: int, now: float) -> Iterator[LogEvent]:
    assert job.training_start is not None
    for transition in job.transitions:
        moment = float(transition["StartTime"])
        if moment < job.training_start or moment > now:
            continue
        yield LogEvent(
            stream, _ms(moment), f"[{transition['Status']}] {transition['StatusMessage']}"
        )
        if transition["Status"] == "Training":
            end = min(float(transition.get("EndTime") or now), now)
            for second in range(1, min(int(end - moment), _MAX_TRAINING_LINES) + 1):
                loss = 2.0 / (second + 1) + 0.01 * host
                yield LogEvent(stream, _ms(moment + second),
                               f"algo-{host}: epoch {second}: train-loss={loss:.4f}")  # fmt: skip


def _ms(seconds: float) -> int:
    return int(seconds * 1000)


# -- the operations ---------------------------------------------------------------------


def _jobs_of_group(store: JobStore, region: str, params: dict[str, Any]) -> list[TrainingJob]:
    if params.get("logGroupName", LOG_GROUP) != LOG_GROUP and not params.get("logGroupIdentifier"):
        raise SageMakerError("ResourceNotFoundException", "The specified log group does not exist.")
    return store.all(region)


def _job_of_stream(store: JobStore, region: str, stream: str) -> TrainingJob:
    try:
        job = store.get(region, stream.split("/", 1)[0])
    except SageMakerError as error:
        raise SageMakerError("ResourceNotFoundException",
                             _NO_STREAM) from error  # fmt: skip
    if stream not in streams(job):
        raise SageMakerError(
            "ResourceNotFoundException", "The specified log stream does not exist."
        )
    return job


def _offset(token: str | None, prefix: str) -> int:
    if not token:
        return 0
    if not token.startswith(prefix) or not token[len(prefix) :].isdigit():
        raise SageMakerError("InvalidParameterException", "The specified nextToken is invalid.")
    return int(token[len(prefix) :])


def describe_log_streams(store: JobStore, region: str, params: dict[str, Any]) -> dict[str, Any]:
    prefix = params.get("logStreamNamePrefix", "")
    now = store.clock.now()
    described: list[dict[str, Any]] = []
    for job in _jobs_of_group(store, region, params):
        logged = events(job, now)
        for stream in streams(job):
            if not stream.startswith(prefix):
                continue
            own = [event.timestamp for event in logged if event.stream == stream]
            described.append({
                "logStreamName": stream,
                "creationTime": _ms(job.training_start or job.created),
                "firstEventTimestamp": min(own, default=None),
                "lastEventTimestamp": max(own, default=None),
                "lastIngestionTime": max(own, default=None),
                "arn": f"arn:aws:logs:{region}:{store.account_id}:log-group:{LOG_GROUP}:"
                       f"log-stream:{stream}",
            })  # fmt: skip
    described.sort(key=lambda item: item["logStreamName"], reverse=bool(params.get("descending")))
    start = _offset(params.get("nextToken"), "s/")
    size = int(params.get("limit", _DEFAULT_STREAMS_PAGE))
    answer: dict[str, Any] = {"logStreams": described[start : start + size]}
    if start + size < len(described):
        answer["nextToken"] = f"s/{start + size}"
    return answer


def get_log_events(store: JobStore, region: str, params: dict[str, Any]) -> dict[str, Any]:
    _jobs_of_group(store, region, params)
    stream = params["logStreamName"]
    job = _job_of_stream(store, region, stream)
    own = [event for event in events(job, store.clock.now()) if event.stream == stream
           and _within(event, params)]  # fmt: skip
    size = int(params.get("limit", _DEFAULT_EVENTS_PAGE))
    token = params.get("nextToken")
    if token:
        direction, _, number = token.partition("/")
        if direction not in {"f", "b"} or not number.isdigit():
            raise SageMakerError("InvalidParameterException", "The specified nextToken is invalid.")
        start = int(number) if direction == "f" else max(0, int(number) - size)
    elif params.get("startFromHead"):
        start = 0
    else:
        start = max(0, len(own) - size)
    page = own[start : start + size]
    return {
        "events": [
            {
                "timestamp": event.timestamp,
                "message": event.message,
                "ingestionTime": event.timestamp,
            }
            for event in page
        ],
        # CloudWatch's convention: at the end, the forward token comes back unchanged.
        "nextForwardToken": f"f/{start + len(page):d}",
        "nextBackwardToken": f"b/{start:d}",
    }


def filter_log_events(store: JobStore, region: str, params: dict[str, Any]) -> dict[str, Any]:
    names = params.get("logStreamNames")
    prefix = params.get("logStreamNamePrefix", "")
    terms = [term for term in str(params.get("filterPattern") or "").split() if term]
    now = store.clock.now()
    found = [
        event for job in _jobs_of_group(store, region, params) for event in events(job, now)
        if (names is None or event.stream in names) and event.stream.startswith(prefix)
        and _within(event, params) and all(term.strip('"') in event.message for term in terms)
    ]  # fmt: skip
    found.sort(key=lambda event: (event.timestamp, event.stream))
    start = _offset(params.get("nextToken"), "e/")
    size = int(params.get("limit", _DEFAULT_EVENTS_PAGE))
    answer: dict[str, Any] = {
        "events": [{"logStreamName": event.stream, "timestamp": event.timestamp,
                    "message": event.message, "ingestionTime": event.timestamp,
                    "eventId": event.event_id} for event in found[start : start + size]],
        "searchedLogStreams": [],
    }  # fmt: skip
    if start + size < len(found):
        answer["nextToken"] = f"e/{start + size}"
    return answer


def _within(event: LogEvent, params: dict[str, Any]) -> bool:
    start, end = params.get("startTime"), params.get("endTime")
    return (start is None or event.timestamp >= start) and (end is None or event.timestamp < end)
