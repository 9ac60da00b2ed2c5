"""Tracking: one ListTrainingJobs per region and tick, not one Describe per job.

The jobs in flight come from a kopf index of the resources (built from their status, so
a restarted operator resumes without describing anything). Every ``poll_interval`` the
tracker lists, per region, the jobs modified since its previous list began, and updates
each resource of ours from its summary. A job that reached an end state is described
once, for what a summary cannot carry (failure reason, model artifacts, billable time).
Status is patched only when it changed.

AWS is not as kind as that sounds, and each of these is bounded:

- a list may read every job of the region and filter after: it is bounded to the jobs
  created since the oldest job in flight (``CreationTimeAfter``), and a list cut short
  (throttled) goes on from its NextToken next tick, keeping what it read;
- a change may be listed late (index lag): a job in flight that no list has shown for
  ``resync_after`` is described (at most ``resync_batch`` per region and tick);
- an ended job's rule evaluations and warm pool settle later: it is described again after
  ``follow_interval``, doubling up to 300 s, until they settle or ``follow_for`` after its
  end (with the defaults at most 28 describes per job, typically 1-3), then never again;
- one job's failure (describe refused, status patch refused) is that job's alone: it
  gets a condition naming the problem or is tried again next tick, and the others go on;
  a region's failure is that region's alone;
- a job is tracked only when its UID tag names the resource (controller/ownership.py).
"""

from __future__ import annotations

import asyncio
import datetime
import logging
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, TypeVar

import kubernetes
import urllib3
from botocore.exceptions import BotoCoreError, ClientError

from sagemaker_operator import metrics
from sagemaker_operator.aws.accounts import OWN, Account
from sagemaker_operator.aws.errors import ASSUME_ROLE_FAILED, AwsError, classify
from sagemaker_operator.aws.gateway import Page
from sagemaker_operator.controller.ownership import Ownership, ownership
from sagemaker_operator.controller.runtime import NoAccountError, ResourceRef, Runtime
from sagemaker_operator.controller.writes import WriteQueue, modified
from sagemaker_operator.status.conditions import (
    END_STATES,
    NOT_OWNED,
    Verdict,
    not_owned,
    settling,
    status_from_sagemaker,
    verdict_for_job,
    verdict_for_problem,
)
from sagemaker_operator.status.fields import changed, current_update, status_fields, with_update

logger = logging.getLogger(__name__)
T = TypeVar("T")
R = TypeVar("R")

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
# The list goes back this much before the oldest job's creation (CreationTimeAfter):
# the resource's creationTimestamp is Kubernetes' clock, CreationTime SageMaker's.
CREATION_MARGIN = datetime.timedelta(minutes=1)
FOLLOW_CEILING = 300.0  # seconds: the longest wait between describes of an ended job


@dataclass(frozen=True)
class Scope:
    """Where a list runs: an account (its role, or the operator's own) and a region. The
    account acts with the credentials of ``account`` (the namespaces of one role share a
    list, whatever their session names)."""

    key: str  # the role ARN, or "own"
    region: str
    account: Account = field(compare=False, default=OWN)

    def __str__(self) -> str:
        return self.region if self.key == "own" else f"{self.region} of account {self.account.id}"


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
    # The namespace's account (the tracker sets it from the policy each tick).
    account: Account = OWN

    @property
    def scope(self) -> Scope:
        return Scope(self.account.role_arn or "own", self.region, self.account)

    @property
    def ended(self) -> bool:
        return self.status.get("trainingJobStatus") in END_STATES

    @property
    def created_after(self) -> datetime.datetime:
        """A moment before the job's creation: what bounds the list to the jobs created since."""
        stamp = self.status.get("creationTime") or self.created
        if stamp is not None:
            return _parse(stamp) - CREATION_MARGIN
        return self.last_change - CREATION_MARGIN

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
    *, created: str | None = None, follow_for: float = 7200.0,
) -> Tracked | None:  # fmt: skip
    """The index entry for a resource, or None when there is nothing to track: no job, a
    job of someone else, or an ended job that settled (or ended ``follow_for`` ago)."""
    if not status.get("trainingJobArn") or not_owned(status):
        return None
    if status.get("trainingJobStatus") in END_STATES:
        ended = status.get("trainingEndTime") or status.get("lastModifiedTime")
        age = datetime.datetime.now(datetime.UTC) - _parse(ended) if ended else None
        if not settling(status) or (age is not None and age.total_seconds() > follow_for):
            return None
    return Tracked(
        ResourceRef(namespace, name, uid),
        str(status["region"]),
        str(status["trainingJobName"]),
        int(status.get("observedGeneration") or generation),
        dict(status),
        created,
    )


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


class Tracker:
    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self._since: dict[Scope, datetime.datetime] = {}
        self._known: dict[Scope, set[str]] = {}
        # Jobs whose end state is written: the index may hold them a moment longer (until
        # it sees the status patch), but they must not be listed again.
        self._finished: dict[Scope, set[str]] = {}
        # The last list's summaries of jobs the index did not hold (yet): a job created just
        # before a tick is listed before its resource shows the ARN. When it joins the
        # index, that summary is its state, and the list need not go back for it.
        self._unclaimed: dict[Scope, dict[str, Mapping[str, Any]]] = {}
        # The jobs the last tick tried (when it failed, they are not known yet): the quick
        # look at an idle index must not retry a failing tick every second.
        self._attempted: dict[Scope, set[str]] = {}
        # Updates that failed (a status patch refused, a describe throttled): tried again
        # next tick from the same summary, without listing back for them.
        self._retry: dict[Scope, dict[str, Mapping[str, Any]]] = {}
        self._resume: dict[Scope, _Resume] = {}
        # When each job's state was last read (a list or a describe; time.monotonic()).
        self._seen: dict[tuple[Scope, str], float] = {}
        # Ended jobs still settling: when to describe them next, and the wait after that.
        self._follow: dict[tuple[Scope, str], tuple[float, float]] = {}
        # (resource UID, job ARN) pairs found to be the resource's own job, and not.
        self._verified: set[tuple[str, str]] = set()
        self._refused: set[tuple[str, str]] = set()
        # When the last tick ended (time.monotonic()), well or not: liveness reads it.
        self.last_finished = time.monotonic()
        # What lists (and events) read is written from here, while the next list is read.
        self.writes: WriteQueue[tuple[Scope, str], _Write] = WriteQueue(
            self._write, CONCURRENT_UPDATES, _settled
        )
        # Whether events bring the status now (controller/events.py sets it).
        self.events_flowing: Callable[[], bool] = lambda: False

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
        """Offer a job's state an event told (a DescribeTrainingJob answer); the future says
        whether it was written. None: it is no newer than the state written or shown."""
        moment = modified(answer)
        shown = tracked.status.get("lastModifiedTime")
        if shown and moment < _parse(shown):
            return None
        done: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        key = (tracked.scope, tracked.job_name)
        if not self.writes.offer(key, _Write(tracked, answer, described=True, done=done), moment):
            return None
        self._seen[key] = time.monotonic()
        return done

    async def run(self, inflight: Mapping[str, Iterable[Tracked]]) -> None:
        writer = asyncio.create_task(self.writes.run(), name="status writer")
        try:
            await self._ticks(inflight)
        finally:
            writer.cancel()

    async def _ticks(self, inflight: Mapping[str, Iterable[Tracked]]) -> None:
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
        # The interval is read every second: events that stop coming shorten it at once.
        while (remaining := max(started + self.interval(), ended + MIN_GAP) - loop.time()) > 0:
            await asyncio.sleep(min(remaining, IDLE_CHECK))
            if idle and self._untracked(inflight):
                return

    def _untracked(self, inflight: Mapping[str, Iterable[Tracked]]) -> bool:
        """Whether the index holds a job in flight that no tick has looked at yet."""
        for region in list(inflight):
            seen: set[str] = set()
            for state in (self._known, self._finished, self._attempted):
                for scope, names in list(state.items()):
                    if scope.region == region:
                        seen |= names
            if any(tracked.job_name not in seen and not tracked.ended
                   for tracked in inflight.get(region, [])):  # fmt: skip
                return True
        return False

    async def tick(self, inflight: Mapping[str, Iterable[Tracked]]) -> None:
        """One tick in every account and region; one that fails (AWS, an account whose role
        cannot be assumed, or a bug) is that one's failure alone, logged, and tried again
        next tick."""
        for region in list(inflight):
            for scope, jobs in (await self._by_account(inflight.get(region, []))).items():
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

    async def _by_account(self, jobs: Iterable[Tracked]) -> dict[Scope, dict[str, Tracked]]:
        """The region's jobs by the account their namespace's policy rule names. A job whose
        namespace has no account now (no rule covers it, its labels cannot be read) is
        left for this tick: no call is made for it with any account's credentials."""
        grouped: dict[Scope, dict[str, Tracked]] = {}
        accounts: dict[str, Account | None] = {}
        for tracked in jobs:
            namespace = tracked.ref.namespace
            if namespace not in accounts:
                try:
                    accounts[namespace] = await self.runtime.account_for(namespace)
                except (
                    NoAccountError,
                    kubernetes.client.ApiException,
                    OSError,
                    urllib3.exceptions.HTTPError,
                ) as error:
                    logger.warning("not tracking the jobs of namespace %s: %s", namespace, error)
                    accounts[namespace] = None
            account = accounts[namespace]
            if account is None:
                continue
            placed = replace(tracked, account=account)
            grouped.setdefault(placed.scope, {})[placed.job_name] = placed
        return grouped

    async def _tick_region(self, scope: Scope, jobs: dict[str, Tracked]) -> None:
        finished = self._finished.setdefault(scope, set())
        finished.intersection_update(jobs)  # forget those the index has let go
        for key in [key for key in self._seen if key[0] == scope and key[1] not in jobs]:
            self._seen.pop(key, None)
            self._follow.pop(key, None)
        self.writes.forget(lambda key: key[0] != scope or key[1] in jobs)
        ended = {name: tracked for name, tracked in jobs.items() if tracked.ended}
        active = {name: tracked for name, tracked in jobs.items()
                  if name not in finished and not tracked.ended}  # fmt: skip
        active = await self._ours(scope, active)
        ended = await self._ours(scope, ended)
        try:
            if active:
                await self._list_region(scope, active)
        finally:
            # The safety nets run whatever the list did (it may be what fails, for good).
            await self._resync(scope, active)
            await self._follow_ended(scope, ended)

    async def _ours(self, scope: Scope, jobs: dict[str, Tracked]) -> dict[str, Tracked]:
        """The jobs whose UID tag names their resource (one ListTags for each job this run
        did not create or check yet); a job of someone else's is refused, once."""

        def key(tracked: Tracked) -> tuple[str, str]:
            return tracked.ref.uid, str(tracked.status["trainingJobArn"])

        jobs = {
            name: tracked for name, tracked in jobs.items() if key(tracked) not in self._refused
        }
        unverified = [tracked for tracked in jobs.values() if key(tracked) not in self._verified]
        if not unverified:
            return jobs
        # At most a poll interval's worth of ListTags a tick (the rest wait for the next):
        # after a restart every job is checked, and 2000 checks at the tags limit would
        # hold the tick past liveness's limit. Those left over are not tracked this tick;
        # a job this process created or adopted costs no call and is never held back.
        calling = [tracked for tracked in unverified if key(tracked) not in self.runtime.owned]
        if calling:
            tags_rate = self.runtime.gateway.limits.tags
            budget = max(1, int(tags_rate * self.runtime.settings.poll_interval))
            waiting = {tracked.job_name for tracked in calling[budget:]}
            unverified = [tracked for tracked in unverified if tracked.job_name not in waiting]
            jobs = {name: tracked for name, tracked in jobs.items() if name not in waiting}

        async def check(tracked: Tracked) -> Ownership | None:
            arn = str(tracked.status["trainingJobArn"])
            try:
                # No creationTime yet (just created): its create handler's time, which
                # ages like the job, so a job without tags is judged within TAG_LAG.
                created = _stamp(tracked.status.get("creationTime")) or tracked.last_change
                return await ownership(self.runtime, scope.region, arn, tracked.ref.uid,
                                       created, account=scope.account)  # fmt: skip
            except (ClientError, BotoCoreError) as error:
                logger.warning("cannot read the tags of %s: %s", arn, classify(error))
                return None

        found = await self._each(unverified, check)
        kept = dict(jobs)
        for tracked, owner in zip(unverified, found, strict=True):
            if owner is Ownership.OURS:
                self._verified.add(key(tracked))
                continue
            kept.pop(tracked.job_name)  # not this tick: not ours, or not known yet
            if owner is Ownership.NOT_OURS:
                self._refused.add(key(tracked))
                await self._refuse(tracked)
        return kept

    async def _refuse(self, tracked: Tracked) -> None:
        arn = tracked.status["trainingJobArn"]
        message = (f"status.trainingJobArn {arn} names a job whose tags do not name this "
                   "resource's UID: it was not created for this resource, and the operator "
                   "neither tracks nor stops it")  # fmt: skip
        logger.warning("%s/%s: %s", tracked.ref.namespace, tracked.ref.name, message)
        verdict = verdict_for_problem(NOT_OWNED, message, retrying=False)
        fields = status_fields(None, verdict, tracked.generation,
                               tracked.status.get("conditions") or [], observed=False)  # fmt: skip
        try:
            await self.runtime.patch_status(tracked.ref, fields)
        except Exception as error:  # tried again after a restart; logged meanwhile
            logger.warning("could not mark %s/%s %s: %s", tracked.ref.namespace,
                           tracked.ref.name, NOT_OWNED, error)  # fmt: skip
        await self.runtime.error_event(tracked.ref, NOT_OWNED, message)

    async def _list_region(self, scope: Scope, jobs: dict[str, Tracked]) -> None:
        known = self._known.setdefault(scope, set())
        self._attempted[scope] = set(jobs)
        unclaimed = self._unclaimed.get(scope, {})
        new = [tracked for name, tracked in jobs.items() if name not in known]
        # A new job the last list returned already (before its resource showed the ARN):
        # that summary is its state then, and a later change is later than that list
        # began, where the list below starts; no need to go back to its creation.
        catch_up = {tracked.job_name: unclaimed[tracked.job_name] for tracked in new
                    if tracked.job_name in unclaimed}  # fmt: skip
        retry = {name: summary for name, summary in self._retry.pop(scope, {}).items()
                 if name in jobs}  # fmt: skip
        since = self._since.get(scope)
        unseen = [tracked for tracked in new if tracked.job_name not in catch_up]
        if unseen:  # changes of a job the index did not hold yet may lie before `since`
            earliest = min(tracked.last_change for tracked in unseen)
            since = earliest if since is None else min(since, earliest)
        assert since is not None
        # Only jobs created since the oldest in flight can be ours: the rest of the
        # scope's history is never read, however the list filters.
        created_after = min(tracked.created_after for tracked in jobs.values())
        resume = self._resume.pop(scope, None)
        if resume is not None and (
            resume.since > since
            or (resume.created_after is not None and resume.created_after > created_after)
        ):
            resume = None  # a job joined that the cut list would not cover: list afresh
        if resume is not None:
            since, created_after = resume.since, resume.created_after or created_after
        now = time.monotonic()
        for name in jobs:
            self._seen.setdefault((scope, name), now)

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
            latest = {summary["TrainingJobName"]: summary for summary in summaries}
            listed = time.monotonic()
            for name in latest:
                if name in jobs:
                    self._seen[(scope, name)] = listed
            # The longest waiting first; written while the next list is read.
            ours = sorted((summary for name, summary in (retry | catch_up | latest).items()
                           if name in jobs), key=modified)  # fmt: skip
            for summary in ours:
                tracked = jobs[summary["TrainingJobName"]]
                self.writes.offer((scope, tracked.job_name), _Write(tracked, summary),
                                  modified(summary))  # fmt: skip
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
        self._unclaimed[scope] = {name: summary for name, summary in latest.items()
                                   if name not in jobs}  # fmt: skip

    async def _write(self, write: _Write) -> bool:
        """Write a job's state (the writer queue's work); a failure is the job's alone: its
        summary is tried again next tick (kept in _retry), or dropped when its resource is
        gone."""
        tracked = write.tracked
        try:
            await self._update(tracked, write.answer, described=write.described)
        except _DroppedError:
            pass
        except Exception as error:
            if not write.described:
                self._retry.setdefault(tracked.scope, {})[tracked.job_name] = write.answer
            reason = (classify(error).code if isinstance(error, ClientError | BotoCoreError)
                      else type(error).__name__)  # fmt: skip
            metrics.RECONCILE_ERRORS.labels(reason).inc()
            logger.warning("updating %s/%s failed (tried again next tick): %s",
                           tracked.ref.namespace, tracked.ref.name, error)  # fmt: skip
            return False
        return True

    async def _resync(self, scope: Scope, jobs: Mapping[str, Tracked]) -> None:
        """Describe the jobs in flight no list has shown for ``resync_after`` (a change
        listed late, or never), the longest unseen first, at most ``resync_batch``."""
        settings = self.runtime.settings
        now = time.monotonic()
        seen = {name: self._seen.get((scope, name), now) for name in jobs}
        stale = sorted((moment, name) for name, moment in seen.items()
                       if now - moment > settings.resync_after)  # fmt: skip

        async def resync(tracked: Tracked) -> None:
            answer = await self._described(tracked, "resync")
            self._seen[(scope, tracked.job_name)] = time.monotonic()
            if isinstance(answer, AwsError):
                await self._describe_failed(tracked, answer)
            else:
                await self._guarded(tracked, answer)

        await self._each([jobs[name] for _, name in stale[: settings.resync_batch]], resync)

    async def _follow_ended(self, scope: Scope, jobs: Mapping[str, Tracked]) -> None:
        """Describe the ended jobs still settling when their time comes."""
        now = time.monotonic()
        due = []
        for name, tracked in jobs.items():
            key = (scope, name)
            when, wait = self._follow.get(key, (now, self.runtime.settings.follow_interval))
            if when <= now:
                self._follow[key] = (now + wait, min(wait * 2, FOLLOW_CEILING))
                due.append(tracked)

        async def follow(tracked: Tracked) -> None:
            answer = await self._described(tracked, "follow")
            if isinstance(answer, AwsError):
                logger.warning("following %s (ended) failed: %s", tracked.job_name, answer)
            else:
                await self._guarded(tracked, answer)

        await self._each(due, follow)

    @staticmethod
    async def _each(items: Iterable[T], work: Callable[[T], Awaitable[R]]) -> list[R]:
        """``work`` on each item, CONCURRENT_UPDATES at a time (in order: the semaphore
        lets them through as they come); its results in the same order."""
        slots = asyncio.Semaphore(CONCURRENT_UPDATES)

        async def one(item: T) -> R:
            async with slots:
                return await work(item)

        return list(await asyncio.gather(*(one(item) for item in items)))

    async def _described(self, tracked: Tracked, purpose: str) -> Mapping[str, Any] | AwsError:
        """The job's DescribeTrainingJob answer (a tracker's poll: ``purpose`` counts it in
        the metrics), or why AWS refused it."""
        metrics.TRACKER_DESCRIBES.labels(purpose).inc()
        try:
            return await self.runtime.gateway.describe_training_job(
                tracked.region, tracked.job_name, account=tracked.account,
                polling=True)  # fmt: skip
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
        answer: Mapping[str, Any] = summary
        problem: AwsError | None = None
        if summary.get("TrainingJobStatus") in END_STATES and not described:
            metrics.TRACKER_DESCRIBES.labels("ended").inc()
            try:
                answer = await self.runtime.gateway.describe_training_job(
                    tracked.region, tracked.job_name, account=tracked.account, polling=True
                )
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
        if changed(tracked.status, fields):
            await self._patch(tracked, fields)
            metrics.observe_status_lag(summary.get("LastModifiedTime"))
            await self._announce(tracked, fields)
        key = (tracked.scope, tracked.job_name)
        if job.training_job_status in END_STATES:  # written: never listed again
            self._finished.setdefault(tracked.scope, set()).add(tracked.job_name)
            if not settling(fields):  # never called again: its ownership need not be kept
                pair = (tracked.ref.uid, str(tracked.status.get("trainingJobArn")))
                self.runtime.owned.discard(pair)
                self._verified.discard(pair)
            elif key not in self._follow:
                wait = self.runtime.settings.follow_interval
                self._follow[key] = (time.monotonic() + wait, min(wait * 2, FOLLOW_CEILING))

    async def _unreachable(self, jobs: Iterable[Tracked], failure: AwsError) -> None:
        """Each job's conditions say its account cannot be reached (its role cannot be
        assumed): Reconciling, with the rule and role."""

        async def say(tracked: Tracked) -> None:
            await self._describe_failed(tracked, failure, f"not tracked: {failure.message}")

        await self._each(jobs, say)

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
        except kubernetes.client.ApiException as error:
            # 422: a test failed (the UID is another's, or an update handler wrote since
            # the index's copy: decided again next tick), or the status was refused.
            if error.status == 404 or (error.status == 422 and await self.runtime.replaced(
                    tracked.ref)):  # fmt: skip
                logger.info("%s/%s is gone (or another resource now): not updated",
                            tracked.ref.namespace, tracked.ref.name)  # fmt: skip
                raise _DroppedError from error
            raise

    async def _announce(self, tracked: Tracked, fields: Mapping[str, Any]) -> None:
        before = tracked.status.get("secondaryStatus")
        after = fields.get("secondaryStatus")
        job_status = fields.get("trainingJobStatus")
        if job_status == tracked.status.get("trainingJobStatus") and after == before:
            return  # after the end (rules, warm pool), or a condition: no new state to tell
        if job_status == "Failed":
            await self.runtime.event(tracked.ref, "Failed", str(fields.get("failureReason", "")),
                               warning=True)  # fmt: skip
        elif job_status in {"Completed", "Stopped"}:
            await self.runtime.event(tracked.ref, str(job_status), f"{job_status} ({after})")
        elif after != before:
            await self.runtime.event(tracked.ref, str(after), f"{before} → {after}")


def _stamp(value: Any) -> datetime.datetime | None:
    return _parse(value) if value else None


def _decided_from(status: Mapping[str, Any]) -> dict[str, Any]:
    """What the tracker's conditions were decided from, beside SageMaker's answer: the
    generation and spec update the index showed. The write is refused if either moved."""
    expect: dict[str, Any] = {}
    if "observedGeneration" in status:
        expect["observedGeneration"] = status["observedGeneration"]
    if status.get("update"):
        expect["update"] = status["update"]
    return expect
