"""The tracker's lists: one ListTrainingJobs per scope (account and region) and tick.

A list asks for the jobs modified since the previous list began (minus OVERLAP), created
since the oldest job in flight; a list cut short goes on from its NextToken next tick;
what it reads goes to the writer queue, the longest waiting first, while the next list
is read. What bounds a list is what this process read from AWS, or the resource's
creationTimestamp: never a status a tenant may write."""

from __future__ import annotations

import datetime
import logging
import time
from collections.abc import Mapping
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from sagemaker_operator import metrics
from sagemaker_operator.aws.errors import classify
from sagemaker_operator.aws.gateway import Page
from sagemaker_operator.controller.tracked import JobKey, Scope, Tracked, status_time
from sagemaker_operator.controller.trackstate import (
    EVENT_GRACE,
    OLD_RESOURCE,
    OVERLAP,
    Resume,
    TrackerState,
    Write,
)
from sagemaker_operator.controller.writes import EARLIEST, digest, modified

logger = logging.getLogger(__name__)


class Listing(TrackerState):
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
                    self._resume[scope] = Resume(since, created_after, token, first)
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
                self.writes.offer((scope, tracked.job.key), Write(tracked, summary),
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
