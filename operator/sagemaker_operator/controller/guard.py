"""The tracker's ownership guard: a job is tracked only when its UID tag names the resource.

Whoever may patch ``trainingjobs/status`` can point a resource at any job's ARN. Each
(resource, job) pair is checked once per process with ListTags (none for a job this
process created or adopted); a pair found to be someone else's is Stalled ``NotOwned``
and never tracked, and the other resource that truly owns the job goes on being tracked
(jobs are keyed by ARN and resource UID, so two resources naming one ARN never collide).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable
from typing import TypeVar

from botocore.exceptions import BotoCoreError, ClientError

from sagemaker_operator.aws.errors import ASSUME_ROLE_FAILED, classify
from sagemaker_operator.controller.memory import JobMemory
from sagemaker_operator.controller.ownership import EARLY, Ownership, ownership
from sagemaker_operator.controller.runtime import Runtime
from sagemaker_operator.controller.tracked import JobKey, Tracked
from sagemaker_operator.status.conditions import NOT_OWNED, verdict_for_problem
from sagemaker_operator.status.fields import status_fields

logger = logging.getLogger(__name__)
T = TypeVar("T")
R = TypeVar("R")

CONCURRENT_CALLS = 16  # calls (and status patches) in flight per tick and purpose


async def each(items: Iterable[T], work: Callable[[T], Awaitable[R]]) -> list[R]:
    """``work`` on each item, CONCURRENT_CALLS at a time (in order: the semaphore lets them
    through as they come); its results in the same order."""
    slots = asyncio.Semaphore(CONCURRENT_CALLS)

    async def one(item: T) -> R:
        async with slots:
            return await work(item)

    return list(await asyncio.gather(*(one(item) for item in items)))


class OwnershipGuard:
    def __init__(self, runtime: Runtime, memory: JobMemory) -> None:
        self.runtime = runtime
        self.memory = memory
        # (resource UID, job ARN) pairs found to be the resource's own job, and not.
        self.verified: set[tuple[str, str]] = set()
        self.refused: set[tuple[str, str]] = set()

    def release(self, tracked: Tracked) -> None:
        """Forget a pair that will never be called again (its job settled)."""
        pair = _pair(tracked)
        self.runtime.owned.discard(pair)
        self.verified.discard(pair)

    async def ours(self, jobs: dict[JobKey, Tracked]) -> dict[JobKey, Tracked]:
        """The jobs whose UID tag names their resource (one ListTags for each pair this
        process did not create or check yet); a job of someone else's is refused, once."""
        jobs = {key: tracked for key, tracked in jobs.items() if _pair(tracked) not in self.refused}
        unverified = [tracked for tracked in jobs.values() if _pair(tracked) not in self.verified]
        if not unverified:
            return jobs
        # At most a poll interval's worth of ListTags a tick (the rest wait for the next):
        # after a restart every job is checked, and 2000 checks at the tags limit would
        # hold the tick past liveness's limit. Those left over are not tracked this tick;
        # a job this process created or adopted costs no call and is never held back.
        calling = [tracked for tracked in unverified if _pair(tracked) not in self.runtime.owned]
        if calling:
            budget = max(1, int(self.runtime.gateway.limits.tags
                                * self.runtime.settings.poll_interval))  # fmt: skip
            waiting = {tracked.key for tracked in calling[budget:]}
            unverified = [tracked for tracked in unverified if tracked.key not in waiting]
            jobs = {key: tracked for key, tracked in jobs.items() if key not in waiting}

        async def check(tracked: Tracked) -> Ownership | None:
            try:
                # The tag lag is bounded by the job's creation as AWS answered it, else by
                # its resource's (no tenant writes either): a job without tags is judged
                # within TAG_LAG of it. An adopted job's tags were added before its status
                # was written: without them, it is not this resource's.
                created = (self.memory.created.get(tracked.job.key)
                           or tracked.created_bound() or EARLY)  # fmt: skip
                return await ownership(
                    self.runtime,
                    tracked.region,
                    tracked.job.arn,
                    tracked.ref.uid,
                    created,
                    account=tracked.account,
                )
            except (ClientError, BotoCoreError) as error:
                if classify(error).code == ASSUME_ROLE_FAILED:
                    raise  # the account's, not the job's: its jobs say so (Tracker.tick)
                logger.warning("cannot read the tags of %s: %s", tracked.job.arn, classify(error))
                return None

        found = await each(unverified, check)
        kept = dict(jobs)
        for tracked, owner in zip(unverified, found, strict=True):
            if owner is Ownership.OURS:
                self.verified.add(_pair(tracked))
                continue
            kept.pop(tracked.key)  # not this tick: not ours, or not known yet
            if owner is Ownership.NOT_OURS:
                self.refused.add(_pair(tracked))
                await self._refuse(tracked)
        return kept

    async def _refuse(self, tracked: Tracked) -> None:
        message = (f"status.trainingJobArn {tracked.job.arn} names a job whose tags do not "
                   "name this resource's UID: it was not created for this resource, and the "
                   "operator neither tracks, updates nor stops it")  # fmt: skip
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


def _pair(tracked: Tracked) -> tuple[str, str]:
    return tracked.ref.uid, tracked.job.key
