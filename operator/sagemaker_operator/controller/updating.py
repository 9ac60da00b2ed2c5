"""A job's state, written: from a list's summary, a describe's answer or an event.

Each job's newest state goes through the writer queue (controller/writes.py) to
``_update``: an ended job is described first (under its own limiter, none for a resource
being deleted), the transition's Event is posted, then the status is patched, on the
resource with this very UID and only when it changed. An event's end state is a hint,
confirmed by a describe. One job's failure is that job's alone."""

from __future__ import annotations

import asyncio
import datetime
import logging
import time
from collections.abc import Iterable, Mapping
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from sagemaker_operator import metrics
from sagemaker_operator.aws.errors import AwsError, classify
from sagemaker_operator.controller.guard import each
from sagemaker_operator.controller.tracked import Tracked, status_time
from sagemaker_operator.controller.trackstate import (
    DroppedError,
    TrackerState,
    Write,
    WrongJobError,
)
from sagemaker_operator.controller.writes import digest, modified
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


class Updating(TrackerState):
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
            key, Write(tracked, answer, described=True, done=done), moment, digest(answer)
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
                if not self.writes.offer(key, Write(tracked, answer, described=True,
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

    async def _write(self, write: Write) -> bool:
        """Write a job's state (the writer queue's work); a failure is the job's alone: its
        summary is tried again next tick (kept in _retry), or dropped when its resource is
        gone."""
        tracked = write.tracked
        try:
            await self._update(tracked, write.answer, described=write.described)
        except DroppedError:
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
        except DroppedError:
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
            except DroppedError:
                return
            except Exception as error:  # the job's alone: said again at its next resync
                logger.warning("could not write %s/%s's problem: %s", tracked.ref.namespace,
                               tracked.ref.name, error)  # fmt: skip
        await self.runtime.error_event(tracked.ref, failure.code, message)

    async def _patch(self, tracked: Tracked, fields: dict[str, Any]) -> None:
        """Write the status; DroppedError when the resource is gone or is now another one."""
        try:
            await self.runtime.patch_status(tracked.ref, fields, _decided_from(tracked.status))
        except KubeApiError as error:
            # 422: a test failed (the UID is another's, or an update handler wrote since
            # the index's copy: decided again next tick), or the status was refused.
            if error.status == 404 or (error.status == 422 and await self.runtime.replaced(
                    tracked.ref)):  # fmt: skip
                logger.info("%s/%s is gone (or another resource now): not updated",
                            tracked.ref.namespace, tracked.ref.name)  # fmt: skip
                raise DroppedError from error
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
