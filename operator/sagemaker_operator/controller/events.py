"""Event mode: status from SageMaker's state-change events, read from an SQS queue.

Receivers long-poll the queue; each event is matched to its resource by the job's ARN
and UID tag (a job of someone else's, or of no resource in flight, is deleted unread),
and its state is offered to the tracker's writer queue like a list's summary, newest by
LastModifiedTime first: a duplicate, or an event older than the state written, is
dropped. Whoever may send to the queue could write an event, so each is a hint: its
envelope must agree with the job's ARN, a time in the future counts as now, and an end
state is written only as a describe of the job answers it (Tracker.offer_event). A
message is deleted only once its state is written (or known stale); one
whose write failed comes back after the queue's visibility timeout. An event for a job
whose resource does not show it yet (the create handler's write still on its way) is
kept and offered again every second until it does (while its job is young), and left in
the queue meanwhile.

The tracker's lists go on as the safety net, every ``events_poll_interval`` while the
queue is read, and every ``poll_interval`` while it cannot be (a warning is logged and
``sagemaker_operator_events_mode`` is 0): a queue gone or misconfigured costs the
latency of polling, never a stuck job.
"""

from __future__ import annotations

import asyncio
import datetime
import logging
import time
from collections.abc import Iterable, Mapping
from dataclasses import replace

from botocore.exceptions import BotoCoreError, ClientError

from sagemaker_operator import metrics
from sagemaker_operator.aws import accounts
from sagemaker_operator.aws.arns import JobArn, NotAJobArnError
from sagemaker_operator.aws.errors import classify
from sagemaker_operator.aws.events import (
    BATCH,
    EventQueue,
    Message,
    NotAStateChangeError,
    StateChange,
    parse,
)
from sagemaker_operator.controller.requests import UID_TAG
from sagemaker_operator.controller.runtime import NoAccountError, Runtime
from sagemaker_operator.controller.tracked import JobKey, Tracked
from sagemaker_operator.controller.tracking import EVENT_GRACE, Tracker
from sagemaker_operator.kube import KubeApiError

logger = logging.getLogger(__name__)

# Long polls in flight: one while the queue is quiet (at most 3 calls a minute: each waits
# 20 s), up to RECEIVERS while it answers full batches.
RECEIVERS = 4
FIRST_BACKOFF = 5.0  # seconds before reading a failing queue again; doubles…
MAX_BACKOFF = 60.0  # …up to this
# Liveness fails when no receive has finished (well or not) for this long: every call
# has a deadline (aws/events.py), so a longer silence is a stuck operator.
STALL_AFTER = 180.0
YOUNG = datetime.timedelta(minutes=5)  # a job no resource shows, this young, may get one
EARLY_RETRY = 1.0  # seconds between tries of the events that came before their resource
MAX_EARLY = 10_000  # such events kept at most (beyond: the queue brings them back)
WRITE_PATIENCE = 25.0  # seconds a batch waits for its writes (within the visibility timeout)
# A list that finds this many changes no event brought (and over half of what it found)
# shows a rule that does not deliver: a few lost events are the lists' to catch.
MISSED_AT_LEAST = 3


class EventConsumer:
    def __init__(self, runtime: Runtime, tracker: Tracker, queue: EventQueue) -> None:
        self.runtime = runtime
        self.tracker = tracker
        self.queue = queue
        self._flowing = False  # the last receive answered
        # The lists found changes no event brought (the rule delivers nothing here).
        self._undelivered = False
        self._problem: str | None = None
        self.last_answer = time.monotonic()  # the last receive that finished, well or not
        self._receivers = 0
        # Events of jobs whose resource did not show them yet, by (region, job name): tried
        # again every EARLY_RETRY until it does, or until they have waited
        # events_early_for (by the clock, since first kept): then they are deleted.
        self._early: dict[tuple[str, str], tuple[Message, StateChange]] = {}
        self._waiting_since: dict[tuple[str, str], float] = {}

    def flowing(self) -> bool:
        """Whether the status comes from the queue now (else lists poll as usual): it can
        be read, and the lists do not find what its events should have brought."""
        return self._flowing and not self._undelivered

    def missed(self, missed: int, found: int) -> None:
        """A list found ``found`` changes of jobs in flight, ``missed`` of them older than
        an event takes and brought by none: past MISSED_AT_LEAST and half of them, the
        rule delivers nothing to this queue (or too little): lists poll at the usual
        interval, a warning names the queue, until an event brings a change again."""
        if not missed:
            return
        metrics.EVENTS_MISSED.inc(missed)
        if self._undelivered or missed < MISSED_AT_LEAST or 2 * missed <= found:
            return
        self._undelivered = True
        metrics.EVENTS_MODE.set(0)
        logger.warning(
            "a list found %d job changes, over %d s old, and no event brought them: is the "
            "rule sending to %s (deploy/sagemaker-events.cfn.yaml: its state, its region, the "
            "queue's encryption key letting EventBridge use it)? Lists poll every %g s "
            "until events bring changes again", missed, EVENT_GRACE.total_seconds(),
            self.queue.url, self.runtime.settings.poll_interval,
        )  # fmt: skip

    def stalled(self, now: float | None = None) -> str | None:
        idle = (time.monotonic() if now is None else now) - self.last_answer
        if idle > STALL_AFTER:
            return (f"no ReceiveMessage on the events queue has finished for {idle:.0f} s "
                    f"(limit {STALL_AFTER:.0f} s); a call is stuck")  # fmt: skip
        return None

    async def run(self, inflight: Mapping[str, Iterable[Tracked]]) -> None:
        """The receivers, until cancelled."""
        try:
            arn = await self.queue.check()
            logger.info("status comes from the events queue %s; lists poll every %g s",
                        arn, self.runtime.settings.events_poll_interval)  # fmt: skip
            self._healthy()
        except (ClientError, BotoCoreError) as error:
            self._failed(error)
        try:
            async with asyncio.TaskGroup() as group:
                group.create_task(self._receive(inflight, group, helper=False))
                group.create_task(self._retry_early(inflight))
        finally:
            self.queue.close()

    async def _retry_early(self, inflight: Mapping[str, Iterable[Tracked]]) -> None:
        """Offer the events that came before their job's resource showed it, again; delete
        those that have waited events_early_for (each tried once more just before: a
        resource that shows its job by then gets the event)."""
        while True:
            await asyncio.sleep(EARLY_RETRY)
            if not self._early:
                continue
            waiting = [message for message, _ in self._early.values()]
            self._early = {}
            try:
                await self.handle(waiting, inflight)
                await self._expire_early()
            except Exception:  # the queue brings them back
                logger.exception("handling %d early events failed", len(waiting))

    async def _expire_early(self) -> None:
        now, patience = time.monotonic(), self.runtime.settings.events_early_for
        self._waiting_since = {key: since for key, since in self._waiting_since.items()
                               if key in self._early}  # fmt: skip
        expired = [key for key, since in self._waiting_since.items() if now - since > patience]
        if not expired:
            return
        receipts = [self._early.pop(key)[0].receipt for key in expired]
        for key in expired:
            del self._waiting_since[key]
        metrics.EVENTS_RECEIVED.labels("expired").inc(len(receipts))
        names = ", ".join(name for _, name in expired[:5])
        logger.info("deleting %d events of jobs no resource shows after %g s (%s)",
                    len(receipts), patience, names)  # fmt: skip
        await self.queue.delete(receipts)

    async def _receive(
        self, inflight: Mapping[str, Iterable[Tracked]], group: asyncio.TaskGroup, *,
        helper: bool,
    ) -> None:  # fmt: skip
        """Receive and handle messages until cancelled; a helper (started while batches
        come full) ends at the first batch that is not."""
        self._receivers += 1
        try:
            await self._receiving(inflight, group, helper=helper)
        finally:
            self._receivers -= 1

    async def _receiving(
        self, inflight: Mapping[str, Iterable[Tracked]], group: asyncio.TaskGroup, *,
        helper: bool,
    ) -> None:  # fmt: skip
        backoff = FIRST_BACKOFF
        while True:
            try:
                messages = await self.queue.receive()
            except (ClientError, BotoCoreError) as error:
                self.last_answer = time.monotonic()
                self._failed(error)
                if helper:
                    return
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, MAX_BACKOFF)
                continue
            self.last_answer = time.monotonic()
            metrics.EVENTS_LAST_RECEIVE.set_to_current_time()
            self._healthy()
            backoff = FIRST_BACKOFF
            if len(messages) == BATCH and self._receivers < RECEIVERS:
                group.create_task(self._receive(inflight, group, helper=True))
            if messages:
                try:
                    await self.handle(messages, inflight)
                except Exception:  # a bug must not end the receiver: the messages come back
                    logger.exception("handling %d events failed", len(messages))
            if helper and len(messages) < BATCH:
                return

    async def handle(self, messages: list[Message], inflight: Mapping[str, Iterable[Tracked]]
                     ) -> None:  # fmt: skip
        """Offer each message's state to the writer; delete those written or not needed."""
        lookups: dict[str, dict[JobKey, Tracked]] = {}
        waiting: list[tuple[str, asyncio.Future[bool]]] = []
        finished: list[str] = []
        for message in messages:
            outcome, done = await self._offer(message, inflight, lookups)
            metrics.EVENTS_RECEIVED.labels(outcome).inc()
            if outcome == "written" and self._undelivered:
                self._delivered()
            if done is not None:
                waiting.append((message.receipt, done))
            elif outcome != "early":  # an early one is kept (_keep_early) and left in the queue
                finished.append(message.receipt)
        if waiting:
            await asyncio.wait([done for _, done in waiting], timeout=WRITE_PATIENCE)
        finished += [receipt for receipt, done in waiting if done.done() and done.result()]
        try:
            failed = await self.queue.delete(finished)
        except (ClientError, BotoCoreError) as error:  # they come back, and are dropped then
            logger.warning("deleting %d events failed: %s", len(finished), classify(error))
            return
        if failed:
            logger.warning("SQS did not delete %d of %d events (they come back)", failed,
                           len(finished))  # fmt: skip

    def _keep_early(self, message: Message, change: StateChange) -> None:
        key = (change.region, change.job_name)
        kept = self._early.get(key)
        if kept is not None:
            older = kept[1]
            if older.modified and change.modified and older.modified > change.modified:
                return  # the newer one is kept (the older comes back from the queue)
        if len(self._early) < MAX_EARLY:
            self._early[key] = (message, change)
            self._waiting_since.setdefault(key, time.monotonic())

    async def _offer(
        self, message: Message, inflight: Mapping[str, Iterable[Tracked]],
        lookups: dict[str, dict[JobKey, Tracked]],
    ) -> tuple[str, asyncio.Future[bool] | None]:  # fmt: skip
        """What became of the message: its outcome, and the future of its write.

        A message is a hint, not proof: whoever may send to the queue can write one. It is
        matched to a resource by the job's ARN and UID tag; its envelope must agree with
        the job's ARN (account, region) and come from an account the queue serves; its
        LastModifiedTime is never later than now; and an end state is confirmed by a
        describe before anything is written (Tracker.offer_event)."""
        try:
            change = parse(message.body)
            job = JobArn.parse(change.answer.get("TrainingJobArn"))
        except (NotAStateChangeError, NotAJobArnError) as error:
            logger.warning("a message of the events queue is dropped: %s", error)
            return "malformed", None
        if job.region not in lookups:
            lookups[job.region] = {tracked.key: tracked
                                   for tracked in inflight.get(job.region, [])}  # fmt: skip
        uid = change.tags.get(UID_TAG)
        tracked = lookups[job.region].get((job.key, uid or ""))
        if tracked is None:
            # A young job of some resource (the operator's tag) whose resource does not
            # show it yet: kept to be offered again, and left in the queue meanwhile.
            early = uid is not None and _young(change)
            if early:
                self._keep_early(message, change)
            return ("early" if early else "foreign"), None
        refused = self._refused(change, job)
        if refused is not None:
            logger.warning("an event for %s is dropped: %s", job.arn, refused)
            return "refused", None
        try:
            account = await self.runtime.account_for(tracked.ref.namespace)
        except (NoAccountError, KubeApiError):
            return "foreign", None  # no account now: the lists decide, when there is one
        if not accounts.holds(account, job.arn):
            return "foreign", None
        answer = dict(change.answer)
        now = datetime.datetime.now(datetime.UTC)
        if change.modified is not None and change.modified > now:
            answer["LastModifiedTime"] = now  # a future time would outrank every later state
        done = self.tracker.offer_event(replace(tracked, account=account), answer)
        return ("written", done) if done is not None else ("stale", None)

    def _refused(self, change: StateChange, job: JobArn) -> str | None:
        """Why an event's envelope cannot be the job's (None: it can)."""
        if (change.account, change.region) != (job.account, job.region):
            return (f"its envelope says account {change.account}, region {change.region}; the "
                    "job's ARN another")  # fmt: skip
        if not job.same(f"arn:{job.partition}:sagemaker:{job.region}:{job.account}:"
                        f"training-job/{change.job_name}"):  # fmt: skip
            return f"its detail names job {change.job_name!r}, its ARN another"
        served = self.queue.account
        if served is not None and change.account not in {served, *self.runtime.policy.accounts}:
            return (f"account {change.account} is neither the queue's nor one the namespace "
                    "policy assumes a role in")  # fmt: skip
        return None

    def _delivered(self) -> None:
        """An event brought a change again: the long interval is back."""
        self._undelivered = False
        if self._flowing:
            metrics.EVENTS_MODE.set(1)
        logger.warning("an event brought a change again: lists poll every %g s",
                       self.runtime.settings.events_poll_interval)  # fmt: skip

    def _healthy(self) -> None:
        if not self._flowing:
            if self._problem is not None:
                logger.warning("the events queue can be read again: lists poll every %g s",
                               self.runtime.settings.events_poll_interval)  # fmt: skip
            self._flowing, self._problem = True, None
            metrics.EVENTS_MODE.set(0 if self._undelivered else 1)

    def _failed(self, error: BaseException) -> None:
        problem = str(classify(error)) if isinstance(error, ClientError | BotoCoreError) else (
            repr(error))  # fmt: skip
        if self._flowing or self._problem != problem:
            logger.warning("the events queue %s cannot be read (%s): lists poll every %g s "
                           "until it can", self.queue.url, problem,
                           self.runtime.settings.poll_interval)  # fmt: skip
        self._flowing, self._problem = False, problem
        metrics.EVENTS_MODE.set(0)
        metrics.RECONCILE_ERRORS.labels("EventsQueueUnreadable").inc()


def _young(change: StateChange) -> bool:
    """A job created within YOUNG of now (by the clock, not the event's own times): its
    resource may show it soon."""
    created = change.answer.get("CreationTime")
    return isinstance(created, datetime.datetime) and (
        datetime.datetime.now(datetime.UTC) - created < YOUNG)  # fmt: skip
