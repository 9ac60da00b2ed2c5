"""Tracking: one ListTrainingJobs per region and tick, not one Describe per job.

The jobs in flight come from a kopf index of the resources (built from their status, so
a restarted operator resumes without describing anything). Every ``poll_interval`` the
tracker lists, per region, the jobs modified since the last change it saw, and updates
each resource of ours from its summary. A job that reached an end state is described
once, for what a summary cannot carry (failure reason, model artifacts, billable time);
it then leaves the index and is never called again. Status is patched only when it
changed.
"""

from __future__ import annotations

import asyncio
import datetime
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from sagemaker_operator import metrics
from sagemaker_operator.aws.errors import classify
from sagemaker_operator.controller.runtime import ResourceRef, Runtime, status_fields
from sagemaker_operator.status.conditions import (
    END_STATES,
    status_from_sagemaker,
    verdict_for_job,
)

logger = logging.getLogger(__name__)

# Re-list the edge: timestamps are per millisecond, and SageMaker's Date header (the start
# of a list) is to the second and written after the first page was read.
OVERLAP = datetime.timedelta(seconds=2)
IDLE_CHECK = 1.0  # seconds between looks at an empty index
CONCURRENT_UPDATES = 16  # status patches (and end-state describes) in flight per tick


@dataclass(frozen=True)
class Tracked:
    """A resource whose job is in flight, as the index holds it."""

    ref: ResourceRef
    region: str
    job_name: str
    generation: int
    status: Mapping[str, Any]

    @property
    def last_change(self) -> datetime.datetime:
        stamp = self.status.get("lastModifiedTime") or self.status.get("creationTime")
        if stamp is None:
            return datetime.datetime.now(datetime.UTC) - datetime.timedelta(minutes=5)
        return datetime.datetime.fromisoformat(str(stamp).replace("Z", "+00:00"))


def tracked_from(
    namespace: str, name: str, uid: str, generation: int, status: Mapping[str, Any]
) -> Tracked | None:
    """The index entry for a resource, or None when there is no job in flight to track."""
    if not status.get("trainingJobArn") or status.get("trainingJobStatus") in END_STATES:
        return None
    return Tracked(
        ResourceRef(namespace, name, uid),
        str(status["region"]),
        str(status["trainingJobName"]),
        generation,
        dict(status),
    )


class Tracker:
    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self._since: dict[str, datetime.datetime] = {}
        self._known: dict[str, set[str]] = {}
        # Jobs whose end state is written: the index may hold them a moment longer (until
        # it sees the status patch), but they must not be described again.
        self._finished: dict[str, set[str]] = {}

    async def run(self, inflight: Mapping[str, Iterable[Tracked]]) -> None:
        while True:
            standing_by = False
            try:
                standing_by = await self.runtime.standing_by()
                if not standing_by:
                    await self.tick(inflight)
            except Exception:  # a bug or an outage must not end tracking for good
                logger.exception("tracking tick failed; trying again next tick")
            if standing_by:
                await asyncio.sleep(self.runtime.settings.poll_interval)
            else:
                await self._next_tick(inflight)

    async def _next_tick(self, inflight: Mapping[str, Iterable[Tracked]]) -> None:
        """Sleep a poll interval; but while nothing was tracked (just started, or idle), look
        at the index every second, so the first jobs (after a restart: all of them) do not
        wait a whole interval. Looking at the index costs no call."""
        interval = self.runtime.settings.poll_interval
        idle = not any(self._known.values())
        deadline = asyncio.get_running_loop().time() + interval
        while (remaining := deadline - asyncio.get_running_loop().time()) > 0:
            await asyncio.sleep(min(remaining, IDLE_CHECK) if idle else remaining)
            if idle and self._untracked(inflight):
                return

    def _untracked(self, inflight: Mapping[str, Iterable[Tracked]]) -> bool:
        """Whether the index holds a job in flight that no tick has looked at yet."""
        for region in list(inflight):
            seen = self._known.get(region, set()) | self._finished.get(region, set())
            if any(tracked.job_name not in seen for tracked in inflight.get(region, [])):
                return True
        return False

    async def tick(self, inflight: Mapping[str, Iterable[Tracked]]) -> None:
        for region in list(inflight):
            jobs = {tracked.job_name: tracked for tracked in inflight.get(region, [])}
            if jobs:
                try:
                    await self._tick_region(region, jobs)
                except (ClientError, BotoCoreError) as error:
                    # botocore has retried already; the next tick tries again.
                    failure = classify(error)
                    metrics.RECONCILE_ERRORS.labels(failure.code).inc()
                    logger.warning("tracking jobs in %s failed: %s", region, failure)

    async def _tick_region(self, region: str, jobs: dict[str, Tracked]) -> None:
        finished = self._finished.setdefault(region, set())
        finished.intersection_update(jobs)  # forget those the index has let go
        jobs = {name: tracked for name, tracked in jobs.items() if name not in finished}
        if not jobs:
            return
        known = self._known.setdefault(region, set())
        new = [tracked for name, tracked in jobs.items() if name not in known]
        since = self._since.get(region)
        if new:  # changes of a job the index did not hold yet may lie before `since`
            earliest = min(tracked.last_change for tracked in new)
            since = earliest if since is None else min(since, earliest)
        assert since is not None
        listing = await self.runtime.gateway.jobs_modified_after(region, since - OVERLAP)
        summaries = listing.summaries
        known.clear()
        known.update(jobs)
        ours = [(jobs[summary["TrainingJobName"]], summary) for summary in summaries
                if summary["TrainingJobName"] in jobs]  # fmt: skip
        slots = asyncio.Semaphore(CONCURRENT_UPDATES)

        async def update(tracked: Tracked, summary: Mapping[str, Any]) -> None:
            async with slots:
                await self._update(tracked, summary)

        outcomes = await asyncio.gather(
            *(update(tracked, summary) for tracked, summary in ours), return_exceptions=True
        )
        failed = [outcome for outcome in outcomes if isinstance(outcome, BaseException)]
        if failed:  # the others are written; `since` stays, so the next tick sees these again
            raise failed[0]
        self._since[region] = next_since(since, summaries, listing.started)

    async def _update(self, tracked: Tracked, summary: Mapping[str, Any]) -> None:
        answer: Mapping[str, Any] = summary
        if summary.get("TrainingJobStatus") in END_STATES:
            answer = await self.runtime.gateway.describe_training_job(
                tracked.region, tracked.job_name, polling=True
            )
        job = status_from_sagemaker(answer)
        fields = status_fields(job, verdict_for_job(job), tracked.generation,
                               tracked.status.get("conditions") or [])  # fmt: skip
        if _changed(tracked.status, fields):
            await self.runtime.patch_status(tracked.ref, fields)
            metrics.observe_status_lag(summary.get("LastModifiedTime"))
            await self._announce(tracked, fields)
        if job.training_job_status in END_STATES:  # written: never described again
            self._finished.setdefault(tracked.region, set()).add(tracked.job_name)

    async def _announce(self, tracked: Tracked, fields: Mapping[str, Any]) -> None:
        before = tracked.status.get("secondaryStatus")
        after = fields.get("secondaryStatus")
        job_status = fields.get("trainingJobStatus")
        if job_status == "Failed":
            await self.runtime.event(tracked.ref, "Failed", str(fields.get("failureReason", "")),
                               warning=True)  # fmt: skip
        elif job_status in {"Completed", "Stopped"}:
            await self.runtime.event(tracked.ref, str(job_status), f"{job_status} ({after})")
        elif after != before:
            await self.runtime.event(tracked.ref, str(after), f"{before} → {after}")


def next_since(
    since: datetime.datetime, summaries: Iterable[Mapping[str, Any]], started: datetime.datetime
) -> datetime.datetime:
    """Where the next list starts: after the latest change seen, but never after the moment
    this list began (a change to a job on a page read earlier was not seen)."""
    latest: list[datetime.datetime] = [summary["LastModifiedTime"] for summary in summaries
                                       if "LastModifiedTime" in summary]  # fmt: skip
    if not latest:
        return since
    return max(since, min(max(latest), started))


def _changed(current: Mapping[str, Any], fields: Mapping[str, Any]) -> bool:
    """Whether writing ``fields`` would change the status (conditions compared without times)."""
    for key, value in fields.items():
        if key == "conditions":
            if _without_times(current.get(key) or []) != _without_times(value):
                return True
        elif current.get(key) != value:
            return True
    return False


def _without_times(conditions: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    return [{k: v for k, v in c.items() if k != "lastTransitionTime"} for c in conditions]
