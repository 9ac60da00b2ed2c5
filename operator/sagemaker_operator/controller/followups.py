"""The tracker's safety nets, each bounded: jobs no list has shown for a while are
described (resyncs), ended jobs still settling are described again with backoff
(follow-ups), and states a status shows but has not announced get their Event."""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping

from sagemaker_operator.aws.errors import AwsError
from sagemaker_operator.controller.guard import each
from sagemaker_operator.controller.tracked import JobKey, Scope, Tracked, owes_event
from sagemaker_operator.controller.trackstate import ANNOUNCE_RETRY, FOLLOW_CEILING, DroppedError
from sagemaker_operator.controller.updating import Updating
from sagemaker_operator.status.announcements import ANNOUNCED, state_key

logger = logging.getLogger(__name__)


class FollowUps(Updating):
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
                    except DroppedError:
                        return
                return
            answer = await self._described(tracked, "announce")
            if isinstance(answer, AwsError):
                logger.warning("describing %s to announce its state failed: %s",
                               tracked.job_name, answer)  # fmt: skip
            else:
                await self._guarded(tracked, answer)

        await each(due, announce)
