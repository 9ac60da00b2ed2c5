"""Tracking: one ListTrainingJobs per region and tick, not one Describe per job.

The jobs in flight come from a kopf index of the resources (built from their status, so
a restarted operator resumes without describing anything). Every ``poll_interval`` the
tracker lists, per region, the jobs modified since its previous list began, and updates
each resource of ours from its summary, matched by the job's ARN. A job that reached an
end state is described once, for what a summary cannot carry (failure reason, model
artifacts, billable time). Status is patched only when it changed.

AWS is not as kind as that sounds, and each of these is bounded:

- a list may read every job of the region and filter after: it is bounded to the jobs
  created since the oldest job in flight (``CreationTimeAfter``), and a list cut short
  (throttled) goes on from its NextToken next tick, keeping what it read;
- a change may be listed late (index lag): a job in flight that no list has shown for
  ``resync_after`` is described (at most ``resync_batch`` per region and tick);
- an ended job's rule evaluations and warm pool settle later: it is described again after
  ``follow_interval``, doubling up to 300 s, until they settle or ``follow_for`` after the
  tracker first saw it ended (with the defaults at most 28 describes per job, typically
  1-3), then never again;
- one job's failure (describe refused, status patch refused) is that job's alone: it
  gets a condition naming the problem or is tried again next tick, and the others go on;
  a region's failure is that region's alone.

Tenants may write status (``trainingjobs/status``), so nothing in it is proof
(controller/tracked.py): a job is identified by its ARN, tracked only when its UID tag
names the resource (controller/guard.py), and what bounds a list or a follow-up is what
this process read from AWS (controller/memory.py) or the resource's creationTimestamp.
A job this process has not read yet whose resource is over a day old, or was adopted,
is described before any list counts on its creation.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterable, Mapping
from dataclasses import replace

from botocore.exceptions import BotoCoreError, ClientError

from sagemaker_operator import metrics
from sagemaker_operator.aws.accounts import Account
from sagemaker_operator.aws.errors import ASSUME_ROLE_FAILED, classify
from sagemaker_operator.controller import allocator
from sagemaker_operator.controller.followups import FollowUps
from sagemaker_operator.controller.guard import CONCURRENT_CALLS
from sagemaker_operator.controller.listing import Listing
from sagemaker_operator.controller.runtime import NoAccountError, Runtime
from sagemaker_operator.controller.tracked import JobKey, Scope, Tracked
from sagemaker_operator.controller.trackstate import EVENT_GRACE, WrongJobError, settled
from sagemaker_operator.controller.writes import WriteQueue
from sagemaker_operator.kube import KubeApiError
from sagemaker_operator.status.conditions import settling

__all__ = ["EVENT_GRACE", "Tracker", "WrongJobError"]

logger = logging.getLogger(__name__)

IDLE_CHECK = 1.0  # seconds between looks at an empty index
MIN_GAP = 1.0  # seconds between the end of a tick and the start of the next, at least
# Seconds after a stop is sent that the next tick comes at the latest: the job's end is
# read from that list (SageMaker stops a job in seconds to minutes: its container gets
# SIGTERM, then SIGKILL 120 s later, per the StopTrainingJob API reference).
HURRY = 2.0
# Liveness fails when no tick has finished for this many poll intervals (and at least
# STALL_MINIMUM seconds): every call a tick makes has a deadline, so a tick that takes
# longer is stuck, and only a restart helps.
STALL_INTERVALS = 5
STALL_MINIMUM = 60.0


class Tracker(Listing, FollowUps):
    def __init__(self, runtime: Runtime) -> None:
        super().__init__(runtime)
        # What lists (and events) read is written from here, while the next list is read:
        # 32 at a time (a write is the transition's Event, then the status patch; 16 left
        # the apiserver idle between them: bench/operator_scale.py's drain).
        self.writes = WriteQueue(self._write, 2 * CONCURRENT_CALLS, settled)
        # Each scope's tick in progress (scopes tick side by side, each at most once).
        self._running: dict[Scope, asyncio.Task[None]] = {}
        # When the next tick is wanted sooner than its interval (loop time), or None.
        self._soon: float | None = None
        runtime.tick_soon = self.hurry

    def hurry(self) -> None:
        """Tick within HURRY seconds (a stop was sent): one list for every job stopped
        meanwhile, not a describe each."""
        soon = asyncio.get_running_loop().time() + HURRY
        self._soon = soon if self._soon is None else min(self._soon, soon)

    def stalled(self, now: float | None = None) -> str | None:
        """Why the tracker looks stuck, or None while it finishes its ticks."""
        limit = max(STALL_INTERVALS * self.interval(), STALL_MINIMUM)
        idle = (time.monotonic() if now is None else now) - self.last_finished
        if idle > limit:
            return (f"the tracker has not finished a tick for {idle:.0f} s (limit {limit:.0f} s:"
                    f" {STALL_INTERVALS} poll intervals); a call is stuck")  # fmt: skip
        waiting = self.writes.stalled(STALL_MINIMUM, now)
        if waiting is not None:
            return (f"no status write has finished for {waiting:.0f} s while {len(self.writes)} "
                    f"wait (limit {STALL_MINIMUM:.0f} s); a write is stuck")  # fmt: skip
        return None

    def interval(self) -> float:
        """Seconds between ticks: the poll interval (or, while events bring the status,
        the longer safety-net interval)."""
        settings = self.runtime.settings
        return settings.events_poll_interval if self.events_flowing() else settings.poll_interval

    async def run(self, inflight: Mapping[str, Iterable[Tracked]]) -> None:
        writer = asyncio.create_task(self.writes.run(), name="status writer")
        try:
            await self._ticks(inflight)
        finally:
            writer.cancel()
            for task in self._running.values():
                task.cancel()

    async def _ticks(self, inflight: Mapping[str, Iterable[Tracked]]) -> None:
        loop = asyncio.get_running_loop()
        while True:
            started = loop.time()
            standing_by = False
            try:
                standing_by = await self.runtime.standing_by()
                if not standing_by:
                    self._soon = None  # a hurry from now on asks for the next one
                    await self.tick(inflight)
            except Exception:  # a bug or an outage must not end tracking for good
                logger.exception("tracking tick failed; trying again next tick")
            self.last_finished = time.monotonic()
            metrics.TRACKER_LAST_TICK.set_to_current_time()
            allocator.release_free_memory()  # what the tick's writes freed
            if standing_by:
                await asyncio.sleep(self.interval())
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
        ended = loop.time()
        # The interval is read every second: events that stop coming shorten it at once,
        # and so does a hurry.
        while (remaining := max(min(started + self.interval(), self._soon or float("inf")),
                                ended + MIN_GAP) - loop.time()) > 0:  # fmt: skip
            await asyncio.sleep(min(remaining, IDLE_CHECK))
            if idle and self._untracked(inflight):
                return

    def _untracked(self, inflight: Mapping[str, Iterable[Tracked]]) -> bool:
        """Whether the index holds a job in flight that no tick has looked at yet."""
        for region in list(inflight):
            seen: set[JobKey] = set()
            for state in (self._known, self._attempted):
                for scope, keys in list(state.items()):
                    if scope.region == region:
                        seen |= keys
            if any(tracked.key not in seen and not tracked.ended
                   and tracked.job.key not in self.memory.ended
                   for tracked in inflight.get(region, [])):  # fmt: skip
                return True
        return False

    async def tick(self, inflight: Mapping[str, Iterable[Tracked]]) -> None:
        """One tick in every account and region, side by side: one that fails (AWS, an
        account whose role cannot be assumed, or a bug) is that one's failure alone,
        logged, and tried again next tick; one that takes longer than the interval (its
        STS or SageMaker not answering) goes on in the background, and is not started
        again until it ends, while the others tick on time."""
        indexed = {tracked.job.key for region in list(inflight) for tracked in inflight[region]}
        self.memory.forget(lambda arn: arn in indexed)  # their resources are gone
        uids = {tracked.ref.uid for region in list(inflight) for tracked in inflight[region]}
        for owing in (self._told, self._owed):
            for uid in [uid for uid in owing if uid not in uids]:
                del owing[uid]
        started = []
        for region in list(inflight):
            for scope, jobs in (await self._by_account(inflight.get(region, []))).items():
                running = self._running.get(scope)
                if running is not None and not running.done():
                    metrics.RECONCILE_ERRORS.labels("TrackingBusy").inc()
                    logger.warning("tracking jobs in %s: its last tick has not ended (its "
                                   "calls wait for AWS); the other accounts go on",
                                   scope)  # fmt: skip
                    continue
                task = asyncio.create_task(self._tick_scope(scope, jobs), name=f"tick {scope}")
                self._running[scope] = task
                started.append(task)
        if started:
            await asyncio.wait(started, timeout=self.interval())

    async def _tick_scope(self, scope: Scope, jobs: dict[JobKey, Tracked]) -> None:
        try:
            await self._tick_region(scope, jobs)
        except (ClientError, BotoCoreError) as error:
            # botocore has retried already; the next tick tries again.
            failure = classify(error)
            metrics.RECONCILE_ERRORS.labels(failure.code).inc()
            logger.warning("tracking jobs in %s failed: %s", scope, failure)
            if failure.code == ASSUME_ROLE_FAILED:  # a stuck account must look stuck
                await self._unreachable(jobs.values(), failure)
        except Exception:
            metrics.RECONCILE_ERRORS.labels("TrackingError").inc()
            logger.exception("tracking jobs in %s failed; the others go on", scope)

    async def _by_account(self, jobs: Iterable[Tracked]) -> dict[Scope, dict[JobKey, Tracked]]:
        """The region's jobs by the account their namespace's policy rule names. A job whose
        namespace has no account now (no rule covers it, its labels cannot be read) is
        left for this tick: no call is made for it with any account's credentials."""
        grouped: dict[Scope, dict[JobKey, Tracked]] = {}
        accounts: dict[str, Account | None] = {}
        for tracked in jobs:
            namespace = tracked.ref.namespace
            if namespace not in accounts:
                try:
                    accounts[namespace] = await self.runtime.account_for(namespace)
                except (NoAccountError, KubeApiError) as error:
                    logger.warning("not tracking the jobs of namespace %s: %s", namespace, error)
                    accounts[namespace] = None
            account = accounts[namespace]
            if account is None:
                continue
            placed = replace(tracked, account=account)
            grouped.setdefault(placed.scope, {})[placed.key] = placed
        return grouped

    async def _tick_region(self, scope: Scope, jobs: dict[JobKey, Tracked]) -> None:
        for key in [key for key in self._seen if key[0] == scope and key[1] not in jobs]:
            self._seen.pop(key, None)
            self._follow.pop(key, None)
        arns = {key[0] for key in jobs}
        self.writes.forget(lambda key: key[0] != scope or key[1] in arns)
        # AWS answered these ended, written for this very resource, and their status does not
        # say so yet (or no longer): never listed again, and their ownership known; described
        # at the resync's pace (a status put back is put right).
        told_ended = {key: tracked for key, tracked in jobs.items() if not tracked.ended
                      and self.memory.ended.get(tracked.job.key) == tracked.ref.uid}  # fmt: skip
        jobs = await self.guard.ours({key: tracked for key, tracked in jobs.items()
                                      if key not in told_ended})  # fmt: skip
        ended = {key: tracked for key, tracked in jobs.items() if tracked.ended}
        active = {key: tracked for key, tracked in jobs.items() if key not in ended}
        # Jobs whose creation no list may count on yet, or whose status names another job
        # than its ARN: described first (this tick), which puts the status right.
        unread = {key: tracked for key, tracked in active.items()
                  if self._unread(tracked) or tracked.tampered}  # fmt: skip
        listed = {key: tracked for key, tracked in active.items() if key not in unread}
        try:
            if listed:
                await self._list_region(scope, listed)
        finally:
            # The safety nets run whatever the list did (it may be what fails, for good).
            await self._resync(scope, listed | told_ended, first=unread)
            await self._follow_ended(scope, {key: tracked for key, tracked in ended.items()
                                             if settling(tracked.status)})  # fmt: skip
            await self._announce_owed(scope, jobs | told_ended)
