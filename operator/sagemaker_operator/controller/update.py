"""Update: a change of the spec's updatable fields becomes one UpdateTrainingJob.

The CRD refuses every other change (codegen/crd.py). What is sent is what the new spec
sets and DescribeTrainingJob does not report yet, so running again after a crash, or
for a spec changed back, sends nothing twice. The outcome goes in ``status.update``:

- accepted: ``observedGeneration`` becomes the new generation and the resource is
  Reconciling (``UpdatePending``) until Describe reports every field sent; looked at every
  ``UPDATE_CHECK`` seconds, for ``UPDATE_PATIENCE`` at most;
- refused by SageMaker for good (a keep-alive after the warm pool ended, a profiler
  change after the job ended), or by the namespace policy: Stalled with the reason and
  message, a warning event, and no call until the spec changes again;
- retryable (throttled, a 5xx, a quota): retried with backoff, ``observedGeneration``
  still the old one (Flux and Argo CD show it in progress).

Refused is written with ``observedGeneration`` too: SageMaker's answer for that generation
is known and final, and kstatus reads an unobserved generation as InProgress before any
condition, so Flux would otherwise wait out its timeout instead of reporting the refusal.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

import kopf
from botocore.exceptions import BotoCoreError, ClientError

from sagemaker_operator.api.trainingjob import SpecUpdate
from sagemaker_operator.aws import accounts
from sagemaker_operator.aws.accounts import OWN
from sagemaker_operator.aws.arns import JobArn, NotAJobArnError
from sagemaker_operator.aws.errors import AwsError, classify
from sagemaker_operator.controller.checks import RefusedError
from sagemaker_operator.controller.create import plan, retry_delay
from sagemaker_operator.controller.ownership import Ownership, creation_time, ownership
from sagemaker_operator.controller.requests import Update, update_request
from sagemaker_operator.controller.runtime import ResourceRef, Runtime
from sagemaker_operator.status.conditions import (
    NOT_OWNED,
    Verdict,
    status_from_sagemaker,
    verdict_for_job,
    verdict_for_problem,
)
from sagemaker_operator.status.fields import (
    APPLIED,
    PENDING,
    REFUSED,
    UPDATE_PENDING,
    status_fields,
    update_fields,
    with_update,
)

logger = logging.getLogger(__name__)

UPDATE_CHECK = 5.0  # seconds between looks at whether an accepted update shows
# The secondary statuses in which SageMaker takes a RemoteDebugConfig ("You can update the
# remote debugging configuration when the SecondaryStatus of the job is Downloading or
# Training": UpdateTrainingJob's API reference), and those past them.
REMOTE_DEBUG_PHASES = frozenset({"Downloading", "Training"})
PAST_TRAINING = frozenset(
    {
        "Uploading",
        "Stopping",
        "Stopped",
        "Completed",
        "Failed",
        "MaxRuntimeExceeded",
        "MaxWaitTimeExceeded",
        "Interrupted",
    }
)
UPDATE_PATIENCE = 900.0  # seconds an accepted update may take to show in Describe


async def update_job(
    runtime: Runtime,
    ref: ResourceRef,
    *,
    spec: Mapping[str, Any],
    status: Mapping[str, Any],
    generation: int,
    patch: kopf.Patch,
    retry: int = 0,
    elapsed: float = 0.0,
) -> None:
    """Send the spec's change of what SageMaker can update; kopf.TemporaryError to be
    called again (retrying, or waiting for an accepted update to show)."""
    last = status.get("update")
    update = SpecUpdate.model_validate(last) if last else None
    if not status.get("trainingJobArn") or (
        update is not None and update.generation == generation and update.state != PENDING
    ):
        # No job yet (the create handler sends the spec as it is then), or answered
        # already (this handler ran to the end before a restart).
        return
    updating = _Updating(runtime, ref, status, generation, patch)
    wanted = await updating.checked(spec)
    change: Update | None = None
    try:
        # Neither when the checks refused the spec, nor when the job is not its own.
        described = await updating.describe_own() if wanted is not None else None
        if wanted is None or described is None:
            return
        change = update_request(wanted, described)
        if update is not None and update.generation == generation:
            await updating.follow(update, change, described, elapsed)
            return
        if not change.request:  # nothing SageMaker does not have already (changed back)
            updating.write(described, SpecUpdate(generation=generation, state=APPLIED))
            return
        if not await updating.in_its_phase(change, described):
            return
        await runtime.gateway.update_training_job(
            updating.region,
            {"TrainingJobName": updating.name, **change.request},
            account=updating.account,
        )
    except (ClientError, BotoCoreError) as error:
        failure = classify(error)
        failure = replace(failure, message=accounts.said(failure.message, updating.account))
        await updating.failed(failure, change.fields if change else [], retry)
        return
    updating.write(described, SpecUpdate(
        generation=generation, state=PENDING, fields=change.fields,
        message=f"UpdateTrainingJob accepted ({', '.join(change.fields)}); waiting for "
        "SageMaker to report it",
    ))  # fmt: skip
    await runtime.event(ref, "UpdateAccepted", f"UpdateTrainingJob {updating.name}: "
                        f"{', '.join(change.fields)}")  # fmt: skip
    raise kopf.TemporaryError("waiting for SageMaker to report the update", delay=UPDATE_CHECK)


class _Updating:
    """One run of the update handler: the resource, and how it writes an outcome."""

    def __init__(self, runtime: Runtime, ref: ResourceRef, status: Mapping[str, Any],
                 generation: int, patch: kopf.Patch) -> None:  # fmt: skip
        self.runtime, self.ref, self.generation, self.patch = runtime, ref, generation, patch
        # The job is the one its ARN names: its region and name come from it (status's
        # name, which a tenant may write, only for its letter case).
        try:
            self.job: JobArn | None = JobArn.parse(status["trainingJobArn"])
        except NotAJobArnError:
            self.job = None
        self.arn = str(status["trainingJobArn"])
        self.name = self.job.name_for(status.get("trainingJobName")) if self.job else ""
        self.region = self.job.region if self.job else ""
        self.conditions: Sequence[Mapping[str, Any]] = status.get("conditions") or []
        self.account = OWN  # the namespace's (checked() reads it from the policy)

    def write(self, answer: Mapping[str, Any] | None, outcome: SpecUpdate) -> None:
        job = status_from_sagemaker(answer) if answer is not None else None
        base = (verdict_for_job(job) if job is not None
                else verdict_for_problem("Unknown", "", retrying=True))  # fmt: skip
        fields = status_fields(job, with_update(base, outcome), self.generation, self.conditions)
        fields.update(update_fields(outcome))
        self.patch.status.update(fields)

    async def refuse(self, reason: str, message: str, fields: list[str] | None = None) -> None:
        self.write(None, SpecUpdate(generation=self.generation, state=REFUSED,
                                    fields=fields or [], reason=reason,
                                    message=message))  # fmt: skip
        await self.runtime.error_event(self.ref, reason, message)

    async def checked(self, spec: Mapping[str, Any]) -> dict[str, Any] | None:
        """The request the new spec makes, or None when the checks refuse it (written).
        The profiler's S3 output path and rule images are the namespace policy's too."""
        try:
            planned = await plan(self.runtime, self.ref, spec)
        except RefusedError as refused:
            await self.refuse(refused.reason, refused.message)
            return None
        self.account = planned.account
        return planned.request

    async def describe_own(self) -> dict[str, Any] | None:
        """The job's description, or None when its tags do not name this resource
        (refused, written). AWS errors propagate."""
        if self.job is None:
            await self.refuse(NOT_OWNED, f"status.trainingJobArn {self.arn!r} names no "
                              "training job: not updated")  # fmt: skip
            return None
        if not accounts.holds(self.account, self.arn):
            await self.refuse(NOT_OWNED, f"training job {self.arn} is not in the namespace's "
                              f"{self.account}: not updated")  # fmt: skip
            return None
        described = await self.runtime.gateway.describe_training_job(
            self.region, self.name, account=self.account)  # fmt: skip
        if not self.job.same(described.get("TrainingJobArn")):
            await self.refuse(NOT_OWNED, f"DescribeTrainingJob {self.name} answered another job "
                              f"than {self.arn}: not updated")  # fmt: skip
            return None
        found = await ownership(self.runtime, self.region, self.arn, self.ref.uid,
                                creation_time(described), account=self.account)  # fmt: skip
        if found is Ownership.OURS:
            return described
        await self.refuse(NOT_OWNED, f"training job {self.name} in {self.region} is not this "
                          "resource's (its tags do not name it): not updated")  # fmt: skip
        return None

    async def in_its_phase(self, change: Update, described: Mapping[str, Any]) -> bool:
        """Whether SageMaker takes the change now. RemoteDebugConfig is taken only while
        the job is Downloading or Training (UpdateTrainingJob's API reference): before
        that the resource waits, Reconciling (UpdatePending), and kopf.TemporaryError calls
        again after UPDATE_CHECK; after that it is refused for good (False, written)."""
        if "RemoteDebugConfig" not in change.request:
            return True
        secondary = str(described.get("SecondaryStatus"))
        if secondary in REMOTE_DEBUG_PHASES:
            return True
        if described.get("TrainingJobStatus") == "InProgress" and secondary not in PAST_TRAINING:
            message = (f"waiting for training job {self.name} to be Downloading or Training "
                       f"to update spec.remoteDebugConfig (SageMaker takes it only then; it "
                       f"is {secondary})")  # fmt: skip
            job = status_from_sagemaker(described)
            self.patch.status.update(status_fields(
                job, Verdict(False, True, False, UPDATE_PENDING, message), self.generation,
                self.conditions, observed=False))  # fmt: skip
            raise kopf.TemporaryError(message, delay=UPDATE_CHECK)
        await self.refuse("ValidationException", (
            "UpdateTrainingJob refused: RemoteDebugConfig can be updated only while the "
            f"training job is Downloading or Training; training job {self.name} is past "
            f"Training ({secondary})"), change.fields)  # fmt: skip
        return False

    async def follow(self, update: SpecUpdate, change: Update, described: Mapping[str, Any],
                     elapsed: float) -> None:  # fmt: skip
        """An accepted update: Applied once Describe reports it; given up after
        UPDATE_PATIENCE; else looked at again after UPDATE_CHECK."""
        if not change.request:
            self.write(described, update.model_copy(update={"state": APPLIED, "message": None}))
            await self.runtime.event(self.ref, "Updated", "SageMaker reports "
                                     f"{', '.join(update.fields)} as the spec says")  # fmt: skip
            return
        if elapsed > UPDATE_PATIENCE:
            await self.refuse("UpdateNotReflected", "UpdateTrainingJob was accepted, but after "
                              f"{UPDATE_PATIENCE:.0f} s DescribeTrainingJob still does not "
                              f"report {', '.join(change.fields)}", update.fields)  # fmt: skip
            return
        raise kopf.TemporaryError("waiting for SageMaker to report the update",
                                  delay=UPDATE_CHECK)  # fmt: skip

    async def failed(self, failure: AwsError, fields: list[str], retry: int) -> None:
        """A call failed: retried with backoff when it may pass, refused (written) if not."""
        if failure.retryable or failure.passes:
            logger.warning("updating %s in %s failed, will retry: %s", self.name, self.region,
                           failure)  # fmt: skip
            await self.runtime.error_event(self.ref, failure.code, failure.message)
            settings = self.runtime.settings
            raise kopf.TemporaryError(str(failure), delay=retry_delay(
                retry, settings.retry_delay, settings.max_retry_delay))  # fmt: skip
        await self.refuse(failure.code, f"UpdateTrainingJob refused: {failure.message}", fields)
