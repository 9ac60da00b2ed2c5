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
import datetime
import logging
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from sagemaker_operator import metrics
from sagemaker_operator.aws.accounts import Account
from sagemaker_operator.aws.errors import ASSUME_ROLE_FAILED, AwsError, classify
from sagemaker_operator.aws.gateway import Page
from sagemaker_operator.controller.guard import CONCURRENT_CALLS, OwnershipGuard, each
from sagemaker_operator.controller.runtime import NoAccountError, Runtime
from sagemaker_operator.controller.tracked import (
    JobKey,
    Scope,
    Tracked,
    owes_event,
    status_time,
)
from sagemaker_operator.controller.writes import EARLIEST, WriteQueue, digest, modified
from sagemaker_operator.kube import KubeApiError
from sagemaker_operator.status.announcements import (
    ANNOUNCED,
    announcement,
    state_key,
    told,
    unannounced,
)
from sagemaker_operator.status.conditions import (
    END_STATES,
    Verdict,
    settling,
    status_from_sagemaker,
    verdict_for_job,
    verdict_for_problem,
)
from sagemaker_operator.status.fields import (
    changed,
    current_update,
    identity_fields,
    status_fields,
    with_update,
)

logger = logging.getLogger(__name__)

# Lists start this long before the previous list began: SageMaker's clock (its Date
# header, to the second, rounded down) and the moment a change becomes listable may
# differ by that much.
OVERLAP = datetime.timedelta(seconds=1)
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
FOLLOW_CEILING = 300.0  # seconds: the longest wait between describes of an ended job
# Seconds before a state's Event that could not be posted is tried again (then doubling,
# up to FOLLOW_CEILING).
ANNOUNCE_RETRY = 5.0
# Seconds within which a change's event reaches the queue (EventBridge delivers in near
# real time): a change a list finds that is older, and was not written, no event brought.
EVENT_GRACE = datetime.timedelta(seconds=10)
# A resource this much older than its job may be (a restart found it in flight): its job
# is described before its creation bounds any list.
OLD_RESOURCE = datetime.timedelta(days=1)


@dataclass(frozen=True)
class _Resume:
    """A list cut short: where it goes on, with the filters it was asked with."""

    since: datetime.datetime
    created_after: datetime.datetime | None
    token: str
    read_at: datetime.datetime  # its first page's reading


@dataclass(frozen=True)
class _Write:
    """A job's state to write: a list's summary, or a describe's (or an event's) answer."""

    tracked: Tracked
    answer: Mapping[str, Any]
    described: bool = False
    # Told whether the state is written (an event's message is deleted only then).
    done: asyncio.Future[bool] | None = field(default=None, compare=False)


def _settled(write: _Write, done: bool) -> None:
    if write.done is not None and not write.done.done():
        write.done.set_result(done)


class _DroppedError(Exception):
    """A job's update gave up for good (its resource is gone or now another)."""


class WrongJobError(Exception):
    """An answer about another job than the resource's ARN names: nothing is written."""


class Tracker:
    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.memory = runtime.memory
        self.guard = OwnershipGuard(runtime, self.memory)
        self._since: dict[Scope, datetime.datetime] = {}
        self._known: dict[Scope, set[JobKey]] = {}
        # The last list's summaries of jobs the index did not hold (yet), by ARN (case
        # ignored): a job created just before a tick is listed before its resource shows
        # the ARN. When it joins the index, that summary is its state, and the list need
        # not go back for it.
        self._unclaimed: dict[Scope, dict[str, Mapping[str, Any]]] = {}
        # The jobs the last tick tried (when it failed, they are not known yet): the quick
        # look at an idle index must not retry a failing tick every second.
        self._attempted: dict[Scope, set[JobKey]] = {}
        # Updates that failed (a status patch refused, a describe throttled): tried again
        # next tick from the same summary, without listing back for them.
        self._retry: dict[Scope, dict[JobKey, Mapping[str, Any]]] = {}
        self._resume: dict[Scope, _Resume] = {}
        # When each job's state was last read (a list or a describe; time.monotonic()).
        self._seen: dict[tuple[Scope, JobKey], float] = {}
        # Ended jobs still settling: when to describe them next, and the wait after that.
        self._follow: dict[tuple[Scope, JobKey], tuple[float, float]] = {}
        # When the last tick ended (time.monotonic()), well or not: liveness reads it.
        self.last_finished = time.monotonic()
        # What lists (and events) read is written from here, while the next list is read:
        # 32 at a time (a write is the transition's Event, then the status patch; 16 left
        # the apiserver idle between them: bench/operator_scale.py's drain).
        self.writes: WriteQueue[tuple[Scope, str], _Write] = WriteQueue(
            self._write, 2 * CONCURRENT_CALLS, _settled
        )
        # Whether events bring the status now, and what to tell of the changes a list found
        # that no event had brought (controller/events.py sets both).
        self.events_flowing: Callable[[], bool] = lambda: False
        self.events_missed: Callable[[int, int], None] = lambda missed, found: None
        # Jobs whose end an event told, being confirmed by a describe: one call a job (the
        # tasks are held here, as asyncio wants).
        self._confirming: dict[tuple[Scope, str], asyncio.Future[bool]] = {}
        self._confirmations: set[asyncio.Task[None]] = set()
        # The state whose Event this process posted for each resource (by UID): a status
        # write that failed after it is tried again without a second Event.
        self._told: dict[str, str] = {}
        # Resources whose status owes an Event: when to try next, and the wait after that.
        self._owed: dict[str, tuple[float, float]] = {}
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

    def offer_event(
        self, tracked: Tracked, answer: Mapping[str, Any]
    ) -> asyncio.Future[bool] | None:
        """Offer a job's state an event told (a DescribeTrainingJob answer, its
        LastModifiedTime no later than now); the future says whether it was written. None:
        it is no newer than the state written or shown. An end state is only a hint: the
        job is described (once, however many events tell it) and that answer written."""
        moment = modified(answer)
        shown = status_time(tracked.status.get("lastModifiedTime"))
        if shown is not None and moment < min(shown, datetime.datetime.now(datetime.UTC)):
            return None
        if answer.get("TrainingJobStatus") in END_STATES:
            return self._confirm_end(tracked)
        done: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        key = (tracked.scope, tracked.job.key)
        if not self.writes.offer(
            key, _Write(tracked, answer, described=True, done=done), moment, digest(answer)
        ):
            return None
        self._seen[(tracked.scope, tracked.key)] = time.monotonic()
        return done

    def _confirm_end(self, tracked: Tracked) -> asyncio.Future[bool] | None:
        """Describe a job an event says ended, and offer that answer (its own future)."""
        if tracked.job.key in self.memory.ended:
            return None  # AWS said so already: written, or being written
        key = (tracked.scope, tracked.job.key)
        confirming = self._confirming.get(key)
        if confirming is not None:
            return confirming
        done: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._confirming[key] = done

        async def confirm() -> None:
            try:
                answer = await self._described(tracked, "event", ended=True)
                if isinstance(answer, AwsError):
                    logger.warning("confirming the end of %s failed: %s", tracked.job.arn, answer)
                    done.set_result(False)
                    return
                written: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
                if not self.writes.offer(key, _Write(tracked, answer, described=True,
                                                     done=written), modified(answer),
                                         digest(answer)):  # fmt: skip
                    done.set_result(True)  # what AWS says is written already
                    return
                done.set_result(await written)
            finally:
                self._confirming.pop(key, None)
                if not done.done():
                    done.set_result(False)

        task = asyncio.get_running_loop().create_task(confirm(), name=f"confirm {tracked.job.arn}")
        self._confirmations.add(task)
        task.add_done_callback(self._confirmations.discard)
        return done

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

    def _unread(self, tracked: Tracked) -> bool:
        """Whether a job's creation, as far as this process knows, cannot bound a list: AWS
        never answered it to this process, and its resource is no bound (adopted, or over a
        day old: a status may say a job ended long ago is in flight)."""
        if tracked.job.key in self.memory.created:
            return False
        bound = tracked.created_bound()
        return bound is None or bound < datetime.datetime.now(datetime.UTC) - OLD_RESOURCE

    def _created_after(self, tracked: Tracked) -> datetime.datetime:
        """A moment before the job's creation: AWS's word for it, else its resource's."""
        created = self.memory.created.get(tracked.job.key)
        if created is not None:
            return created - OVERLAP
        bound = tracked.created_bound()
        assert bound is not None  # else it is described first (_unread)
        return bound

    def _since_for(self, scope: Scope, unseen: list[Tracked]) -> datetime.datetime:
        """Where the scope's next list starts: where the last began, or earlier for the
        changes of a job the index did not hold yet (each no earlier than its creation as
        far as it is known: a status cannot make a list go back further)."""
        since = self._since.get(scope)
        if unseen:
            now = datetime.datetime.now(datetime.UTC)
            earliest = min(tracked.last_change(self._created_after(tracked), now)
                           for tracked in unseen)  # fmt: skip
            since = earliest if since is None else min(since, earliest)
        assert since is not None  # a scope's first list has every job unseen
        return since

    async def _list_region(self, scope: Scope, jobs: dict[JobKey, Tracked]) -> None:
        known = self._known.setdefault(scope, set())
        self._attempted[scope] = set(jobs)
        unclaimed = self._unclaimed.get(scope, {})
        by_arn = {tracked.job.key: tracked for tracked in jobs.values()}
        new = [tracked for key, tracked in jobs.items() if key not in known]
        # A new job the last list returned already (before its resource showed the ARN):
        # that summary is its state then, and a later change is later than that list
        # began, where the list below starts; no need to go back to its creation.
        catch_up = {tracked.key: unclaimed[tracked.job.key] for tracked in new
                    if tracked.job.key in unclaimed}  # fmt: skip
        retry = {key: summary for key, summary in self._retry.pop(scope, {}).items()
                 if key in jobs}  # fmt: skip
        since = self._since_for(scope, [t for t in new if t.key not in catch_up])
        # Only jobs created since the oldest in flight can be ours: the rest of the
        # scope's history is never read, however the list filters.
        created_after = min(self._created_after(tracked) for tracked in jobs.values())
        resume = self._resume.pop(scope, None)
        if resume is not None and (
            resume.since > since
            or (resume.created_after is not None and resume.created_after > created_after)
        ):
            resume = None  # a job joined that the cut list would not cover: list afresh
        if resume is not None:
            since, created_after = resume.since, resume.created_after or created_after
        moment = time.monotonic()
        for key in jobs:
            self._seen.setdefault((scope, key), moment)

        began = time.monotonic()
        pages: list[Page] = []
        cut: BaseException | None = None
        with metrics.TICK_DURATION.labels(scope.region, scope.account.label).time():
            # Every page first, then the writes: pages read while writes compete for the
            # CPU take seconds, and every change made meanwhile is listed again next tick.
            try:
                async for page in self.runtime.gateway.jobs_modified_after(
                    scope.region, since - OVERLAP, account=scope.account,
                    created_after=created_after,
                    token=resume.token if resume else None,
                ):  # fmt: skip
                    pages.append(page)
            except (ClientError, BotoCoreError) as error:
                cut = error
                token = pages[-1].next_token if pages else (resume.token if resume else None)
                refused_token = not pages and resume is not None and not classify(error).retryable
                if token is not None and not refused_token:
                    first = resume.read_at if resume else pages[0].read_at
                    self._resume[scope] = _Resume(since, created_after, token, first)
            metrics.LIST_PAGES.observe(len(pages))
            summaries = [summary for page in pages for summary in page.summaries]
            latest = {str(summary.get("TrainingJobArn", "")).lower(): summary
                      for summary in summaries}  # fmt: skip
            listed = time.monotonic()
            ours = {by_arn[arn].key: summary for arn, summary in latest.items() if arn in by_arn}
            for key in ours:
                self._seen[(scope, key)] = listed
            self._check_delivery(scope, jobs, ours)
            # The longest waiting first; written while the next list is read.
            for key, summary in sorted((retry | catch_up | ours).items(),
                                       key=lambda item: modified(item[1])):  # fmt: skip
                tracked = jobs[key]
                self.writes.offer((scope, tracked.job.key), _Write(tracked, summary),
                                  modified(summary), digest(summary))  # fmt: skip
        logger.log(logging.INFO if ours else logging.DEBUG,
                   "tracked %s: %d jobs changed since %s (%d pages), %d of ours, in %.1f s",
                   scope, len(summaries), (since - OVERLAP).isoformat(timespec="seconds"),
                   len(pages), len(ours), time.monotonic() - began)  # fmt: skip
        if cut is not None:  # what was read is written; the list goes on next tick
            raise cut
        # Every change up to the first page's reading was seen; a later one (possibly to a
        # job on a page read before it) is found by listing from there.
        first_read = resume.read_at if resume else pages[0].read_at
        self._since[scope] = max(since, first_read)
        known.clear()
        known.update(jobs)
        self._unclaimed[scope] = {arn: summary for arn, summary in latest.items()
                                   if arn not in by_arn}  # fmt: skip

    def _check_delivery(self, scope: Scope, jobs: Mapping[JobKey, Tracked],
                        listed: Mapping[JobKey, Mapping[str, Any]]) -> None:  # fmt: skip
        """While events bring the status, tell ``events_missed`` how many of the changes a
        list found no event had brought, though made over EVENT_GRACE ago (and how many it
        found): a rule that delivers nothing shows there."""
        if not self.events_flowing():
            return
        now = datetime.datetime.now(datetime.UTC)
        missed = 0
        for key, summary in listed.items():
            tracked, moment = jobs[key], modified(summary)
            shown = max(filter(None, (self.writes.written((scope, tracked.job.key)),
                                      status_time(tracked.status.get("lastModifiedTime")))),
                        default=EARLIEST)  # fmt: skip
            if shown < moment < now - EVENT_GRACE:
                missed += 1
        self.events_missed(missed, len(listed))

    async def _write(self, write: _Write) -> bool:
        """Write a job's state (the writer queue's work); a failure is the job's alone: its
        summary is tried again next tick (kept in _retry), or dropped when its resource is
        gone."""
        tracked = write.tracked
        try:
            await self._update(tracked, write.answer, described=write.described)
        except _DroppedError:
            pass
        except WrongJobError as error:
            logger.warning("%s/%s: %s", tracked.ref.namespace, tracked.ref.name, error)
        except Exception as error:
            if not write.described:
                self._retry.setdefault(tracked.scope, {})[tracked.key] = write.answer
            reason = (classify(error).code if isinstance(error, ClientError | BotoCoreError)
                      else type(error).__name__)  # fmt: skip
            metrics.RECONCILE_ERRORS.labels(reason).inc()
            logger.warning("updating %s/%s failed (tried again next tick): %s",
                           tracked.ref.namespace, tracked.ref.name, error)  # fmt: skip
            return False
        return True

    async def _resync(self, scope: Scope, jobs: Mapping[JobKey, Tracked], *,
                      first: Mapping[JobKey, Tracked]) -> None:  # fmt: skip
        """Describe the jobs in flight no list has shown for ``resync_after`` (a change
        listed late, or never), the longest unseen first, at most ``resync_batch``; and
        before them, the jobs whose creation no list may count on yet (``first``), at most
        a poll interval's worth of describes."""
        settings = self.runtime.settings
        now = time.monotonic()
        seen = {key: self._seen.get((scope, key), now) for key in jobs}
        stale = sorted((moment, key) for key, moment in seen.items()
                       if now - moment > settings.resync_after)  # fmt: skip
        # A job described first is described again (its describe failed) a resync later.
        unread = [tracked for key, tracked in first.items()
                  if (scope, key) not in self._seen
                  or now - self._seen[(scope, key)] > settings.resync_after]  # fmt: skip
        if unread:
            budget = self.runtime.gateway.limits.describe * settings.poll_interval
            unread = unread[: max(settings.resync_batch, int(budget))]
        due = [*unread, *(jobs[key] for _, key in stale[: settings.resync_batch])]

        async def resync(tracked: Tracked) -> None:
            answer = await self._described(tracked, "resync")
            self._seen[(scope, tracked.key)] = time.monotonic()
            if isinstance(answer, AwsError):
                await self._describe_failed(tracked, answer)
            else:
                await self._guarded(tracked, answer)

        await each(due, resync)

    async def _follow_ended(self, scope: Scope, jobs: Mapping[JobKey, Tracked]) -> None:
        """Describe the ended jobs still settling when their time comes, for ``follow_for``
        at most after this process first saw them ended."""
        settings = self.runtime.settings
        now = time.monotonic()
        due = []
        for key, tracked in jobs.items():
            until = self.memory.follow_until.setdefault(tracked.job.key, now + settings.follow_for)
            if now > until:
                continue
            when, wait = self._follow.get((scope, key), (now, settings.follow_interval))
            if when <= now:
                self._follow[(scope, key)] = (now + wait, min(wait * 2, FOLLOW_CEILING))
                due.append(tracked)

        async def follow(tracked: Tracked) -> None:
            answer = await self._described(tracked, "follow")
            if isinstance(answer, AwsError):
                logger.warning("following %s (ended) failed: %s", tracked.job_name, answer)
            else:
                await self._guarded(tracked, answer)

        await each(due, follow)

    async def _described(
        self, tracked: Tracked, purpose: str, *, ended: bool = False
    ) -> Mapping[str, Any] | AwsError:
        """The job's DescribeTrainingJob answer (a tracker's poll: ``purpose`` counts it in
        the metrics; ``ended``: an end to confirm, ahead of other describes), or why AWS
        refused it."""
        metrics.TRACKER_DESCRIBES.labels(purpose).inc()
        try:
            return await self.runtime.gateway.describe_training_job(
                tracked.region, tracked.job_name, account=tracked.account,
                polling=True, ended=ended)  # fmt: skip
        except (ClientError, BotoCoreError) as error:
            return classify(error)

    async def _guarded(self, tracked: Tracked, answer: Mapping[str, Any]) -> None:
        """Update the job from a describe's answer; a failure is logged, and the job's alone."""
        try:
            await self._update(tracked, answer, described=True)
        except _DroppedError:
            pass
        except Exception as error:
            metrics.RECONCILE_ERRORS.labels(type(error).__name__).inc()
            logger.warning("updating %s/%s failed: %s", tracked.ref.namespace, tracked.ref.name,
                           error)  # fmt: skip

    async def _update(
        self, tracked: Tracked, summary: Mapping[str, Any], *, described: bool = False
    ) -> None:
        _same_job(tracked, summary)
        answer: Mapping[str, Any] = summary
        problem: AwsError | None = None
        # An ended job is described for what a summary lacks (failure reason, artifacts,
        # billable time), ahead of other describes; not when its resource is being deleted
        # (its delete handler waits for the end, and the details are gone with it).
        if (
            summary.get("TrainingJobStatus") in END_STATES
            and not described
            and (not tracked.deleting)
        ):
            metrics.TRACKER_DESCRIBES.labels("ended").inc()
            try:
                answer = await self.runtime.gateway.describe_training_job(
                    tracked.region,
                    tracked.job_name,
                    account=tracked.account,
                    polling=True,
                    ended=True,
                )
                _same_job(tracked, answer)
            except (ClientError, BotoCoreError) as error:
                problem = classify(error)
                if problem.retryable:
                    raise
                # Refused for good (deleted, or denied by a tag condition): the summary
                # still says how it ended; the details are missing, and the status says why.
        job = status_from_sagemaker(answer)
        verdict = with_update(verdict_for_job(job), current_update(tracked.status))
        if problem is not None:
            verdict = Verdict(verdict.ready, verdict.reconciling, verdict.stalled, verdict.reason,
                              f"{verdict.message} (DescribeTrainingJob refused: {problem}; the "
                              "status shows the list's summary only)")  # fmt: skip
            await self.runtime.error_event(tracked.ref, problem.code, problem.message)
        fields = status_fields(job, verdict, tracked.generation,
                               tracked.status.get("conditions") or [], observed=False)  # fmt: skip
        # The job's identity as its ARN says (and in the answer's own letter case for the
        # name): a status that said otherwise is put right.
        fields.update(identity_fields(tracked.job, tracked.job.name_for(answer.get(
            "TrainingJobName", tracked.job_name))))  # fmt: skip
        if changed(tracked.status, fields):
            # The transition's Event first: a status that shows a state has announced it,
            # or shows it has not (``announced`` behind), and a later tick posts it.
            if await self._tell(tracked, fields):
                fields[ANNOUNCED] = state_key(fields)
            await self._patch(tracked, fields)
            metrics.observe_status_lag(summary.get("LastModifiedTime"))
        elif unannounced(tracked.status) and await self._tell(tracked, fields):
            await self._patch(tracked, {ANNOUNCED: state_key(fields)})
        self.memory.learn(
            tracked.job.key, answer, tracked.ref.uid
        )  # written: what it says holds from now
        if job.training_job_status in END_STATES and not settling(fields):
            self.guard.release(tracked)  # never called again: its ownership need not be kept

    async def _unreachable(self, jobs: Iterable[Tracked], failure: AwsError) -> None:
        """Each job's conditions say its account cannot be reached (its role cannot be
        assumed): Reconciling, with the rule and role."""

        async def say(tracked: Tracked) -> None:
            await self._describe_failed(tracked, failure, f"not tracked: {failure.message}")

        await each(jobs, say)

    async def _describe_failed(
        self, tracked: Tracked, failure: AwsError, message: str | None = None
    ) -> None:
        """A describe of a job in flight refused (or, ``message``, its account unreachable):
        the job's conditions say so (Reconciling: the job runs on, as far as anyone knows)."""
        metrics.RECONCILE_ERRORS.labels(failure.code).inc()
        if failure.retryable:
            return
        message = message or f"DescribeTrainingJob {tracked.job_name} refused: {failure}"
        verdict = verdict_for_problem(failure.code, message, retrying=True)
        fields = status_fields(None, verdict, tracked.generation,
                               tracked.status.get("conditions") or [], observed=False)  # fmt: skip
        if changed(tracked.status, fields):
            try:
                await self._patch(tracked, fields)
            except _DroppedError:
                return
            except Exception as error:  # the job's alone: said again at its next resync
                logger.warning("could not write %s/%s's problem: %s", tracked.ref.namespace,
                               tracked.ref.name, error)  # fmt: skip
        await self.runtime.error_event(tracked.ref, failure.code, message)

    async def _patch(self, tracked: Tracked, fields: dict[str, Any]) -> None:
        """Write the status; _DroppedError when the resource is gone or is now another one."""
        try:
            await self.runtime.patch_status(tracked.ref, fields, _decided_from(tracked.status))
        except KubeApiError as error:
            # 422: a test failed (the UID is another's, or an update handler wrote since
            # the index's copy: decided again next tick), or the status was refused.
            if error.status == 404 or (error.status == 422 and await self.runtime.replaced(
                    tracked.ref)):  # fmt: skip
                logger.info("%s/%s is gone (or another resource now): not updated",
                            tracked.ref.namespace, tracked.ref.name)  # fmt: skip
                raise _DroppedError from error
            raise

    async def _tell(self, tracked: Tracked, fields: Mapping[str, Any]) -> bool:
        """Post the Event of the state ``fields`` show, since the state the resource last
        announced: whether it is told (posted now, by this process before, or nothing new
        to tell). A failure is tried again by later ticks (``_announce_owed``)."""
        key = state_key(fields)
        since = told(tracked.status)
        if key is None or key == since or self._told.get(tracked.ref.uid) == key:
            return True
        event = announcement(since, fields)
        if event is None:
            return True
        if not await self.runtime.tell(tracked.ref, event.reason, event.message,
                                       warning=event.warning):  # fmt: skip
            return False
        self._told[tracked.ref.uid] = key
        return True

    async def _announce_owed(self, scope: Scope, jobs: Mapping[JobKey, Tracked]) -> None:
        """Announce the states the resources show but have not announced: from what AWS
        said to this process, else from a describe (a status is a tenant's to write, and
        no Event tells a state AWS did not). Each job tried again with backoff."""
        now = time.monotonic()
        due = []
        for tracked in jobs.values():
            if not owes_event(tracked.status):
                continue
            when, wait = self._owed.get(tracked.ref.uid, (now, ANNOUNCE_RETRY))
            if when <= now:
                self._owed[tracked.ref.uid] = (now + wait, min(wait * 2, FOLLOW_CEILING))
                due.append(tracked)

        async def announce(tracked: Tracked) -> None:
            if self.memory.said.get(tracked.job.key) == state_key(tracked.status):
                if await self._tell(tracked, tracked.status):
                    try:
                        await self._patch(tracked, {ANNOUNCED: state_key(tracked.status)})
                    except _DroppedError:
                        return
                return
            answer = await self._described(tracked, "announce")
            if isinstance(answer, AwsError):
                logger.warning("describing %s to announce its state failed: %s",
                               tracked.job_name, answer)  # fmt: skip
            else:
                await self._guarded(tracked, answer)

        await each(due, announce)


def _same_job(tracked: Tracked, answer: Mapping[str, Any]) -> None:
    """WrongJobError unless ``answer`` is about the job the resource's ARN names."""
    if not tracked.job.same(answer.get("TrainingJobArn")):
        raise WrongJobError(f"an answer for {answer.get('TrainingJobArn')!r}, not "
                            f"{tracked.job.arn}: not written")  # fmt: skip


def _decided_from(status: Mapping[str, Any]) -> dict[str, Any]:
    """What the tracker's conditions were decided from, beside SageMaker's answer: the
    generation and spec update the index showed. The write is refused if either moved."""
    expect: dict[str, Any] = {}
    if "observedGeneration" in status:
        expect["observedGeneration"] = status["observedGeneration"]
    if status.get("update"):
        expect["update"] = status["update"]
    return expect
