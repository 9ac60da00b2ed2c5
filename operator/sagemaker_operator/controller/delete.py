"""Delete: stop the job, and keep the resource until it has stopped, unless told to retain it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import kopf
from botocore.exceptions import BotoCoreError, ClientError
from pydantic import ValidationError

from sagemaker_operator.api import DELETION_POLICY_ANNOTATION
from sagemaker_operator.api.trainingjob import Spec
from sagemaker_operator.aws import accounts
from sagemaker_operator.aws.accounts import Account
from sagemaker_operator.aws.arns import JobArn, NotAJobArnError
from sagemaker_operator.aws.errors import AwsError, classify
from sagemaker_operator.controller.adopt import adopting
from sagemaker_operator.controller.ownership import (
    Ownership,
    creation_time,
    owned_pair,
    ownership,
)
from sagemaker_operator.controller.requests import Owner, job_name
from sagemaker_operator.controller.runtime import NoAccountError, ResourceRef, Runtime
from sagemaker_operator.kube import KubeApiError
from sagemaker_operator.status.conditions import END_STATES

STOP_CHECK_DELAY = 10.0  # seconds between checks while SageMaker stops the job
# Seconds a stopped job's end is waited for from the tracker (its lists and events, no
# call) before the job is described.
END_WAIT = 60.0
HURRY = 2.0  # seconds after a stop before its first look at the tracker's news


POLICIES = ("delete", "retain")


class InvalidDeletionPolicyError(ValueError):
    pass


def deletion_policy(resource: Mapping[str, str], namespace: Mapping[str, str], default: str) -> str:
    """The resource's annotation, else its namespace's, else the operator's setting."""
    for where, found in (("resource", resource), ("namespace", namespace)):
        value = found.get(DELETION_POLICY_ANNOTATION)
        if value is None:
            continue
        if value.strip().lower() not in POLICIES:
            raise InvalidDeletionPolicyError(
                f"the {where} annotation {DELETION_POLICY_ANNOTATION}={value!r} is neither "
                f"{' nor '.join(POLICIES)}"
            )
        return value.strip().lower()
    return default


@dataclass(frozen=True)
class _Stopping:
    """The job a deletion stops: where, as whom, for which resource."""

    runtime: Runtime
    ref: ResourceRef
    region: str
    name: str
    account: Account

    async def stop(self, arn: str, *, tracked: bool) -> bool:
        """Send the stop (once: remembered, said) and, for a job the tracker follows (its
        ARN in the resource's status), wait for the end from the tracker, hurried: whether
        it ended within END_WAIT. A job the tracker does not follow (found by its name) is
        described again by the caller."""
        runtime = self.runtime
        await runtime.gateway.stop_training_job(self.region, self.name, account=self.account)
        runtime.stops_sent.add(owned_pair(self.ref.uid, arn))
        await runtime.event(self.ref, "Stopping",
                            f"stopping training job {self.name} in {self.region}")  # fmt: skip
        return tracked and await ended(runtime, arn.lower(), self.ref.uid)

    def refused(self, failure: AwsError, call: str) -> None:
        """kopf.TemporaryError for an outage or throttling (botocore retried already): the
        stop did not get through, and the message must not read as if it had."""
        if failure.retryable:
            raise kopf.TemporaryError(
                f"StopTrainingJob was not sent to training job {self.name} in {self.region}: "
                f"{call} failed: {accounts.said(str(failure), self.account)}; trying again",
                delay=STOP_CHECK_DELAY,
            )


async def delete_job(
    runtime: Runtime,
    ref: ResourceRef,
    status: Mapping[str, Any],
    annotations: Mapping[str, str],
    spec: Mapping[str, Any] | None = None,
) -> None:
    """Return when the resource may go; raise kopf.TemporaryError to be called again.

    Only a job whose UID tag is this resource's is ever stopped. The job is the one the
    status's ARN names (its region and name from the ARN); a status that says the job
    ended is taken at its word only when AWS said so to this process (a tenant may write
    status): else the job is described first. A job this process created (or whose tags
    it read) is stopped with one call, nothing else. Without an ARN in status (a crash
    between create and the status write, or a create whose answer was lost), the job is
    looked for by the name the create handler would have used, and the resource goes only
    once no job of its own can be running. Once the stop is sent, the tracker's next list
    (hurried) tells the end; the job is described only when that takes over END_WAIT.
    """
    runtime.last_error.pop(ref.uid, None)
    target = _target(runtime, ref, status, spec or {})
    if target is None:
        return  # no job could have been created for it
    region, name, job = target
    if job is not None and runtime.memory.ended.get(job.key) == ref.uid:
        return  # AWS answered it ended: nothing to stop
    if await _policy(runtime, ref, annotations) == "retain":
        await runtime.event(ref, "Retained", f"training job {name} in {region} left running")
        return
    # The namespace's account: a job in another (its ARN) is not its own (ownership()).
    stopping = _Stopping(runtime, ref, region, name, await _account(runtime, ref))
    if job is not None and await _known(stopping, job):
        return
    await _describe_and_stop(stopping, job)


async def ended(runtime: Runtime, key: str, uid: str) -> bool:
    """Whether the tracker sees the job ended within END_WAIT: it is asked to list soon,
    and again after 2, 4, 8, … seconds while the job is stopping (no call is made here)."""
    waited, pause = 0.0, HURRY
    while waited < END_WAIT:
        runtime.tick_soon()
        if await runtime.memory.ended_within(key, uid, pause):
            return True
        waited += pause
        pause = min(2 * pause, END_WAIT - waited)
    return False


async def _known(stopping: _Stopping, job: JobArn) -> bool:
    """Whether the job ended, as far as what this process knows of it tells without a
    describe: its stop sent before (the tracker tells the end), or a job known to be the
    resource's own (stopped at once). False: the caller describes it."""
    runtime, uid = stopping.runtime, stopping.ref.uid
    pair = owned_pair(uid, job.arn)
    if pair in runtime.stops_sent:
        return await ended(runtime, job.key, uid)
    if pair not in runtime.owned or not accounts.holds(stopping.account, job.arn):
        return False
    try:
        return await stopping.stop(job.arn, tracked=True)
    except (ClientError, BotoCoreError) as error:
        failure = classify(error)
        if failure.not_found:
            return True  # no such job: nothing to stop
        stopping.refused(failure, "StopTrainingJob")
        return False  # not InProgress (ended, or stopping already), or refused: described


async def _describe_and_stop(stopping: _Stopping, job: JobArn | None) -> None:
    """Describe the job, check whose it is, stop it when it runs; return when the resource
    may go, else kopf.TemporaryError."""
    runtime, ref, name, region = stopping.runtime, stopping.ref, stopping.name, stopping.region
    call = "DescribeTrainingJob"
    try:
        described = await runtime.gateway.describe_training_job(
            region, name, account=stopping.account
        )
        arn = str(described["TrainingJobArn"])
        job_status = described["TrainingJobStatus"]
        if job_status in END_STATES:
            return
        found = Ownership.NOT_OURS if job is not None and not job.same(arn) else (
            await ownership(runtime, region, arn, ref.uid, creation_time(described),
                            account=stopping.account))  # fmt: skip
        if found is Ownership.NOT_LISTED_YET:
            raise kopf.TemporaryError(f"training job {name} is new; waiting for its tags to "
                                      "tell whose it is", delay=STOP_CHECK_DELAY)  # fmt: skip
        if found is Ownership.NOT_OURS:
            await runtime.event(ref, "NotOwned", f"training job {name} in {region} was not "
                                "created for this resource: left alone", warning=True)  # fmt: skip
            return
        if job_status == "InProgress":
            call = "StopTrainingJob"
            if await stopping.stop(arn, tracked=job is not None):
                return
            sent = "StopTrainingJob sent"
        else:
            sent = f"it is {job_status}"  # Stopping: the stop was sent before
    except (ClientError, BotoCoreError) as error:
        failure = classify(error)
        if failure.not_found:
            return  # no such job: nothing to stop
        stopping.refused(failure, call)
        if "is in status" not in failure.message:
            # Not a reason to let the resource go while its job may still run: say so,
            # and try again slowly. The retain annotation releases it.
            message = accounts.said(failure.message, stopping.account)
            await runtime.error_event(ref, failure.code, message)
            raise kopf.TemporaryError(message, delay=6 * STOP_CHECK_DELAY) from error
        sent = "it is stopping already"  # ValidationException: the job moved meanwhile
    raise kopf.TemporaryError(f"waiting for training job {name} in {region} to stop ({sent})",
                              delay=STOP_CHECK_DELAY)  # fmt: skip


async def _policy(runtime: Runtime, ref: ResourceRef, annotations: Mapping[str, str]) -> str:
    """The resource's deletion policy, or kopf.TemporaryError when it cannot be told."""
    try:
        # The namespace is read only when the resource does not say (its annotation wins).
        namespace_annotations = (
            {} if DELETION_POLICY_ANNOTATION in annotations
            else await runtime.namespace_annotations(ref.namespace)
        )  # fmt: skip
        # An adopted job was started by someone else: kept unless asked (annotations).
        default = "retain" if adopting(annotations) else runtime.settings.deletion_policy
        return deletion_policy(annotations, namespace_annotations, default)
    except KubeApiError as error:
        message = f"cannot read namespace {ref.namespace} for its deletion policy: {error.reason}"
        raise kopf.TemporaryError(message, delay=STOP_CHECK_DELAY) from error
    except InvalidDeletionPolicyError as error:
        # Neither stop a job the user may want kept, nor keep one they may want stopped.
        await runtime.error_event(ref, "InvalidDeletionPolicy", str(error))
        raise kopf.TemporaryError(str(error), delay=6 * STOP_CHECK_DELAY) from error


async def _account(runtime: Runtime, ref: ResourceRef) -> Account:
    """The namespace's account, or kopf.TemporaryError: without it no call is made (a job
    is never stopped with another account's credentials); the retain annotation releases
    the resource meanwhile."""
    try:
        return await runtime.account_for(ref.namespace)
    except KubeApiError as error:
        raise kopf.TemporaryError(f"cannot read namespace {ref.namespace}'s labels: {error}",
                                  delay=STOP_CHECK_DELAY) from error  # fmt: skip
    except NoAccountError as error:
        await runtime.error_event(ref, "NoAccount", str(error))
        raise kopf.TemporaryError(str(error), delay=6 * STOP_CHECK_DELAY) from error


def _target(
    runtime: Runtime, ref: ResourceRef, status: Mapping[str, Any], spec: Mapping[str, Any]
) -> tuple[str, str, JobArn | None] | None:
    """The region, name and ARN of the job this resource may have: from its status's ARN,
    or else as the create handler names it (None when its spec could never have made one)."""
    if status.get("trainingJobArn"):
        try:
            job = JobArn.parse(status["trainingJobArn"])
        except NotAJobArnError:
            pass  # not the operator's writing: the job is looked for by its name
        else:
            return job.region, job.name_for(status.get("trainingJobName")), job
    try:
        parsed = Spec.model_validate(dict(spec))
    except ValidationError:
        return None  # refused at create: no job
    owner = Owner(ref.uid, ref.namespace, ref.name)
    return parsed.region or runtime.default_region, job_name(parsed, owner), None
