"""Tracking: one ListTrainingJobs per region and tick, not one Describe per job.

The jobs in flight come from a kopf index of the resources (built from their status, so
a restarted operator resumes without describing anything). Every ``poll_interval`` the
tracker lists, per region, the jobs modified since its previous list began, and updates
each resource of ours from its summary. A job that reached an end state is described
once, for what a summary cannot carry (failure reason, model artifacts, billable time);
it then leaves the index and is never called again. Status is patched only when it
changed.
"""

from __future__ import annotations

import asyncio
import datetime
import logging
import time
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

# Lists start this long before the previous list began: SageMaker's clock (its Date
# header, to the second, rounded down) and the moment a change becomes listable may
# differ by that much.
OVERLAP = datetime.timedelta(seconds=1)
IDLE_CHECK = 1.0  # seconds between looks at an empty index
CONCURRENT_UPDATES = 16  # status patches (and end-state describes) in flight per tick
MIN_GAP = 1.0  # seconds between the end of a tick and the start of the next, at least
# How far the Kubernetes apiserver's clock (a resource's creationTimestamp) may be ahead of
# SageMaker's (its job's CreationTime); both are NTP-synchronised in EKS and AWS.
CLOCK_SKEW = datetime.timedelta(seconds=2)
# How long before the create handler writes the conditions SageMaker may have created the
# job (the successful attempt of CreateTrainingJob, and the status patch after it).
CREATE_CALL = datetime.timedelta(seconds=5)
# Liveness fails when no tick has finished for this many poll intervals (and at least
# STALL_MINIMUM seconds): every call a tick makes has a deadline, so a tick that takes
# longer is stuck, and only a restart helps.
STALL_INTERVALS = 5
STALL_MINIMUM = 60.0


@dataclass(frozen=True)
class Tracked:
    """A resource whose job is in flight, as the index holds it."""

    ref: ResourceRef
    region: str
    job_name: str
    generation: int
    status: Mapping[str, Any]
    # The resource's metadata.creationTimestamp: its job was created later.
    created: str | None = None

    @property
    def last_change(self) -> datetime.datetime:
        """A moment no later than the job's last change SageMaker would list."""
        stamp = self.status.get("lastModifiedTime") or self.status.get("creationTime")
        if stamp is not None:
            return _parse(stamp)
        # Just created: its status has no SageMaker time yet. The job was created after its
        # resource, and shortly before the create handler wrote the conditions.
        bounds = [_parse(condition["lastTransitionTime"]) - CREATE_CALL
                  for condition in self.status.get("conditions") or []
                  if condition.get("lastTransitionTime")]  # fmt: skip
        if self.created is not None:
            bounds.append(_parse(self.created))
        if bounds:
            return max(bounds) - CLOCK_SKEW
        return datetime.datetime.now(datetime.UTC) - datetime.timedelta(minutes=5)


def _parse(stamp: Any) -> datetime.datetime:
    return datetime.datetime.fromisoformat(str(stamp).replace("Z", "+00:00"))


def tracked_from(
    namespace: str, name: str, uid: str, generation: int, status: Mapping[str, Any],
    *, created: str | None = None,
) -> Tracked | None:  # fmt: skip
    """The index entry for a resource, or None when there is no job in flight to track."""
    if not status.get("trainingJobArn") or status.get("trainingJobStatus") in END_STATES:
        return None
    return Tracked(
        ResourceRef(namespace, name, uid),
        str(status["region"]),
        str(status["trainingJobName"]),
        generation,
        dict(status),
        created,
    )


class Tracker:
    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self._since: dict[str, datetime.datetime] = {}
        self._known: dict[str, set[str]] = {}
        # Jobs whose end state is written: the index may hold them a moment longer (until
        # it sees the status patch), but they must not be described again.
        self._finished: dict[str, set[str]] = {}
        # The last list's summaries of jobs the index did not hold (yet): a job created just
        # before a tick is listed before its resource shows the ARN. When it joins the
        # index, that summary is its state, and the list need not go back for it.
        self._unclaimed: dict[str, dict[str, Mapping[str, Any]]] = {}
        # The jobs the last tick tried (when it failed, they are not known yet): the quick
        # look at an idle index must not retry a failing tick every second.
        self._attempted: dict[str, set[str]] = {}
        # When the last tick ended (time.monotonic()), well or not: liveness reads it.
        self.last_finished = time.monotonic()

    def stalled(self, now: float | None = None) -> str | None:
        """Why the tracker looks stuck, or None while it finishes its ticks."""
        limit = max(STALL_INTERVALS * self.runtime.settings.poll_interval, STALL_MINIMUM)
        idle = (time.monotonic() if now is None else now) - self.last_finished
        if idle > limit:
            return (f"the tracker has not finished a tick for {idle:.0f} s (limit {limit:.0f} s:"
                    f" {STALL_INTERVALS} poll intervals); a call is stuck")  # fmt: skip
        return None

    async def run(self, inflight: Mapping[str, Iterable[Tracked]]) -> None:
        loop = asyncio.get_running_loop()
        while True:
            started = loop.time()
            standing_by = False
            try:
                standing_by = await self.runtime.standing_by()
                if not standing_by:
                    await self.tick(inflight)
            except Exception:  # a bug or an outage must not end tracking for good
                logger.exception("tracking tick failed; trying again next tick")
            self.last_finished = time.monotonic()
            metrics.TRACKER_LAST_TICK.set_to_current_time()
            if standing_by:
                await asyncio.sleep(self.runtime.settings.poll_interval)
            else:
                await self._next_tick(inflight, started)

    async def _next_tick(self, inflight: Mapping[str, Iterable[Tracked]], started: float) -> None:
        """Wait for the next tick: a poll interval after this one started (a long tick does
        not push every later one back), but at least MIN_GAP after it ended. While nothing
        was tracked (just started, or idle), look at the index every second, so the first
        jobs (after a restart: all of them) do not wait a whole interval. Looking at the
        index costs no call."""
        loop = asyncio.get_running_loop()
        idle = not any(self._known.values())
        deadline = max(started + self.runtime.settings.poll_interval, loop.time() + MIN_GAP)
        while (remaining := deadline - loop.time()) > 0:
            await asyncio.sleep(min(remaining, IDLE_CHECK) if idle else remaining)
            if idle and self._untracked(inflight):
                return

    def _untracked(self, inflight: Mapping[str, Iterable[Tracked]]) -> bool:
        """Whether the index holds a job in flight that no tick has looked at yet."""
        for region in list(inflight):
            seen = (self._known.get(region, set()) | self._finished.get(region, set())
                    | self._attempted.get(region, set()))  # fmt: skip
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
        self._attempted[region] = set(jobs)
        unclaimed = self._unclaimed.get(region, {})
        new = [tracked for name, tracked in jobs.items() if name not in known]
        # A new job the last list returned already (before its resource showed the ARN):
        # that summary is its state then, and a later change is later than that list
        # began, where the list below starts; no need to go back to its creation.
        catch_up = {tracked.job_name: unclaimed[tracked.job_name] for tracked in new
                    if tracked.job_name in unclaimed}  # fmt: skip
        since = self._since.get(region)
        unseen = [tracked for tracked in new if tracked.job_name not in catch_up]
        if unseen:  # changes of a job the index did not hold yet may lie before `since`
            earliest = min(tracked.last_change for tracked in unseen)
            since = earliest if since is None else min(since, earliest)
        assert since is not None
        slots = asyncio.Semaphore(CONCURRENT_UPDATES)

        async def update(tracked: Tracked, summary: Mapping[str, Any]) -> None:
            async with slots:
                await self._update(tracked, summary)

        began = time.monotonic()
        with metrics.TICK_DURATION.labels(region).time():
            # Every page first, then the writes: pages read while writes compete for the
            # CPU take seconds, and every change made meanwhile is listed again next tick.
            pages = [page async for page in
                     self.runtime.gateway.jobs_modified_after(region, since - OVERLAP)]  # fmt: skip
            summaries = [summary for page in pages for summary in page.summaries]
            latest = {summary["TrainingJobName"]: summary for summary in summaries}
            # The longest waiting first (the semaphore lets them through in that order).
            ours = sorted((summary for name, summary in (catch_up | latest).items()
                           if name in jobs), key=_modified)  # fmt: skip
            outcomes = await asyncio.gather(
                *(update(jobs[summary["TrainingJobName"]], summary) for summary in ours),
                return_exceptions=True,
            )
        failed = [outcome for outcome in outcomes if isinstance(outcome, BaseException)]
        logger.log(logging.INFO if ours else logging.DEBUG,
                   "tracked %s: %d jobs changed since %s (%d pages), %d of ours, in %.1f s",
                   region, len(summaries), (since - OVERLAP).isoformat(timespec="seconds"),
                   len(pages), len(ours), time.monotonic() - began)  # fmt: skip
        if failed:  # the others are written; `since` stays, so the next tick sees these again
            raise failed[0]
        # Every change up to the first page's reading was seen; a later one (possibly to a
        # job on a page read before it) is found by listing from there.
        # Only now, all written: a failed tick is tried again from the same point.
        self._since[region] = max(since, pages[0].read_at)
        known.clear()
        known.update(jobs)
        self._unclaimed[region] = {name: summary for name, summary in latest.items()
                                   if name not in jobs}  # fmt: skip

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


def _modified(summary: Mapping[str, Any]) -> datetime.datetime:
    stamp = summary.get("LastModifiedTime")
    return (
        stamp
        if isinstance(stamp, datetime.datetime)
        else datetime.datetime.max.replace(tzinfo=datetime.UTC)
    )


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
