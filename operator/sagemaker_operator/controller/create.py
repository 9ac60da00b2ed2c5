"""Create: a new TrainingJob resource becomes exactly one SageMaker training job (or, with
the adopt annotation, takes over an existing one: controller/adopt.py).

The operator's finalizer goes on the resource before the create call, so no job outlives a
resource deleted meanwhile. Safe to run again after a crash at any point: a resource that
has an ARN is never created again, and a ``ResourceInUse`` for a job tagged with this
resource's UID is the job an earlier attempt created, adopted silently.
"""

from __future__ import annotations

import datetime
import logging
import random
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from typing import Any

import kopf
from botocore.exceptions import BotoCoreError, ClientError

from sagemaker_operator.aws.accounts import Account, said
from sagemaker_operator.aws.arns import JobArn, NotAJobArnError
from sagemaker_operator.aws.errors import AwsError, classify
from sagemaker_operator.aws.gateway import CreateAbandonedError
from sagemaker_operator.controller.adopt import adopt, adopting
from sagemaker_operator.controller.checks import Planned, RefusedError, plan_job
from sagemaker_operator.controller.finalizer import hold
from sagemaker_operator.controller.ownership import Ownership, creation_time, judge, owned_pair
from sagemaker_operator.controller.requests import Owner
from sagemaker_operator.controller.runtime import ResourceRef, Runtime
from sagemaker_operator.kube import KubeApiError
from sagemaker_operator.settings import OperatorSettings
from sagemaker_operator.status.announcements import ANNOUNCED, state_key
from sagemaker_operator.status.conditions import (
    status_from_sagemaker,
    verdict_for_job,
    verdict_for_problem,
)
from sagemaker_operator.status.fields import identity_fields, status_fields

logger = logging.getLogger(__name__)


def retry_delay(retry: int, first: float, ceiling: float) -> float:
    """Exponential backoff with jitter over kopf's retries of the handler: the n-th retry
    waits between first/2 and min(ceiling, first·2ⁿ) seconds."""
    upper = min(ceiling, first * 2**retry)
    return random.uniform(min(first, upper) / 2, upper)  # noqa: S311 - jitter, not secrecy


async def plan(runtime: Runtime, ref: ResourceRef, spec: Mapping[str, Any]) -> Planned:
    """The resource's request, region, name and account, checked as at admission (the
    namespace's labels read when the policy selects by them): RefusedError when the checks
    refuse it, kopf.TemporaryError when the labels cannot be read."""
    try:
        labels = await runtime.namespace_labels(ref.namespace)
    except KubeApiError as error:
        raise kopf.TemporaryError(
            f"cannot read namespace {ref.namespace}'s labels for the policy: {error}",
            delay=runtime.settings.retry_delay,
        ) from error
    owner = Owner(ref.uid, ref.namespace, ref.name, runtime.cluster_id)
    runtime.note_served(ref.namespace, labels)
    return plan_job(spec, owner, runtime.policy, runtime.default_region, labels)


async def create_job(
    runtime: Runtime,
    ref: ResourceRef,
    *,
    spec: Mapping[str, Any],
    status: Mapping[str, Any],
    generation: int,
    resource_version: str,
    finalizers: Sequence[str],
    patch: kopf.Patch,
    retry: int = 0,
    elapsed: float = 0.0,
    annotations: Mapping[str, str] | None = None,
    deleting: bool = False,
) -> None:
    if status.get("trainingJobArn"):
        return  # created before (an earlier run of this handler): never twice
    conditions: Sequence[Mapping[str, Any]] = status.get("conditions") or []

    async def stall(reason: str, message: str) -> None:
        patch.status.update(
            status_fields(
                None, verdict_for_problem(reason, message, retrying=False), generation, conditions
            )
        )
        await runtime.error_event(ref, reason, message)

    owner = Owner(ref.uid, ref.namespace, ref.name, runtime.cluster_id)
    try:
        planned = await plan(runtime, ref, spec)
    except RefusedError as refused:
        await stall(refused.reason, refused.message)
        return
    request, region, name, account = planned.request, planned.region, planned.name, planned.account
    backoff = retry_delay(retry, runtime.settings.retry_delay, runtime.settings.max_retry_delay)
    if deleting or not await hold(runtime, ref, resource_version, finalizers,
                                  retry_delay=backoff):  # fmt: skip
        return  # deleted before its job was created: no job for it, ever
    wanted = _still_wanted(runtime, ref)

    described: Mapping[str, Any] | None
    try:
        if adopting(annotations or {}):
            described = await adopt(runtime, planned, owner, annotations or {})
            arn = str(described["TrainingJobArn"])
        else:
            arn, described = await _create_or_adopt(runtime, region, name, request, owner,
                                                    account=account, wanted=wanted)  # fmt: skip
        identity = identity_fields(_job_arn(arn, name, region), name)
    except RefusedError as refused:  # adoption refused, a name conflict, an unknown ARN
        await stall(refused.reason, refused.message)
        return
    except TagsNotListedError as error:
        # The job was created for someone, moments ago; its tags will say whom.
        raise kopf.TemporaryError(str(error), delay=TAG_RETRY_DELAY) from error
    except CreateAbandonedError:
        # Deleted (or not to be told) before an attempt went out: no job was made by this
        # call; the delete handler looks for one by name before the resource goes.
        logger.info("%s/%s: not created, its resource is being deleted", ref.namespace,
                    ref.name)  # fmt: skip
        raise kopf.TemporaryError("the create was abandoned", delay=backoff) from None
    except (ClientError, BotoCoreError) as error:
        classified = classify(error)
        failure, waited = _waited(replace(classified, message=said(classified.message, account)),
                                  runtime.settings, retry, elapsed)  # fmt: skip
        if waited is not None:
            backoff = waited
        elif not failure.retryable:
            await stall(failure.code, failure.message)
            return
        logger.warning("creating %s in %s failed, will retry: %s", name, region, failure)
        patch.status.update(
            status_fields(
                None,
                verdict_for_problem(failure.code, failure.message, retrying=True),
                generation,
                conditions,
            )
        )
        await runtime.error_event(ref, failure.code, failure.message)
        raise kopf.TemporaryError(str(failure), delay=backoff) from error

    job = status_from_sagemaker(
        described or {"TrainingJobStatus": "InProgress", "SecondaryStatus": "Starting"}
    )
    fields = status_fields(job, verdict_for_job(job), generation, conditions)
    fields.update(identity)
    fields[ANNOUNCED] = state_key(fields)  # the Created (or Adopted) event tells it
    patch.status.update(fields)
    runtime.owned.add(owned_pair(ref.uid, arn))
    runtime.last_error.pop(ref.uid, None)
    await runtime.event(ref, "Adopted" if described else "Created",
                  f"training job {name} in {region}: {arn}")  # fmt: skip


def _job_arn(arn: str, name: str, region: str) -> JobArn:
    """The job's ARN, read; RefusedError when it is not SageMaker's format (nothing could
    track the job by it)."""
    try:
        return JobArn.parse(arn)
    except NotAJobArnError as error:
        raise RefusedError("UnknownArn", f"training job {name} in {region}: {error}") from error


class TagsNotListedError(Exception):
    """A job of that name was created moments ago, and ListTags does not show its tags yet."""


TAG_RETRY_DELAY = 5.0  # seconds between looks at a new job's tags


def _waited(
    failure: AwsError, settings: OperatorSettings, retry: int, elapsed: float
) -> tuple[AwsError, float | None]:
    """A create's failure that passes with time, told so, and the backoff before the next
    attempt; None when it is not waited for. A quota frees as other jobs end (waited for
    as long as it takes, a call per max_wait_retry_delay at most); a role IAM may not have
    propagated yet is retried for role_wait_for seconds (the last try when the wait ends)."""
    if not failure.passes:
        return failure, None
    backoff = retry_delay(retry, settings.wait_retry_delay, settings.max_wait_retry_delay)
    if failure.code == "ResourceLimitExceeded":
        return failure, backoff
    told = replace(failure, message=role_wait_message(failure.message, elapsed,
                                                      settings.role_wait_for))  # fmt: skip
    if elapsed >= settings.role_wait_for:
        return told, None
    return told, min(backoff, max(settings.role_wait_for - elapsed, 1.0))


def role_wait_message(message: str, elapsed: float, wait_for: float,
                      now: datetime.datetime | None = None) -> str:  # fmt: skip
    """SageMaker's "could not assume role", with what the operator does about it: retried
    until ``wait_for`` seconds after the first attempt (IAM propagates a new role within
    minutes: https://docs.aws.amazon.com/IAM/latest/UserGuide/troubleshoot_general.html
    #troubleshoot_general_eventual-consistency), then stalled."""
    if elapsed >= wait_for:
        return (f"{message}; still refused {wait_for:.0f} s after the first attempt, so not "
                "IAM propagation: check that the role exists and that its trust policy lets "
                "sagemaker.amazonaws.com assume it (sts:AssumeRole), then apply the resource "
                "again")  # fmt: skip
    until = (now or datetime.datetime.now(datetime.UTC)) + datetime.timedelta(
        seconds=wait_for - elapsed
    )
    return (f"{message}; a new role may not have propagated in IAM yet: retried until "
            f"{until:%Y-%m-%dT%H:%M:%SZ} ({wait_for:.0f} s after the first attempt), then "
            "Stalled")  # fmt: skip


def _still_wanted(runtime: Runtime, ref: ResourceRef) -> Callable[[bool], bool]:
    """What the gateway asks before each create attempt (in its worker thread): whether
    the resource still wants its job. It was just seen alive (its finalizer put on): the
    first attempt asks the apiserver only when the rate limiter held it over
    RECHECK_AFTER; every retry asks."""
    confirmed = time.monotonic()

    def wanted(retry: bool) -> bool:
        if not retry and time.monotonic() - confirmed < RECHECK_AFTER:
            return True
        return runtime.wanted(ref)

    return wanted


RECHECK_AFTER = 1.0  # seconds a resource seen alive is taken as still wanting its job


async def _create_or_adopt(
    runtime: Runtime, region: str, name: str, request: dict[str, Any], owner: Owner, *,
    account: Account, wanted: Callable[[bool], bool],
) -> tuple[str, Mapping[str, Any] | None]:  # fmt: skip
    """The job's ARN, and its description when an earlier attempt had created it.

    AWS errors from any of the calls (create, or describe and list-tags to adopt)
    propagate, for the caller to classify.
    """
    try:
        arn = await runtime.gateway.create_training_job(region, request, account=account,
                                                        wanted=wanted)  # fmt: skip
    except ClientError as error:
        if classify(error).code != "ResourceInUse":
            raise
    else:
        return arn, None
    described = await runtime.gateway.describe_training_job(region, name, account=account)
    arn = str(described["TrainingJobArn"])
    found = judge(await runtime.gateway.list_tags(region, arn, account=account), owner.uid,
                  creation_time(described))  # fmt: skip
    if found is Ownership.NOT_LISTED_YET:
        raise TagsNotListedError(f"training job {name} in {region} exists, created moments ago; "
                                 "its tags are not listed yet, to tell whose it is")  # fmt: skip
    if found is Ownership.NOT_OURS:
        raise RefusedError("NameConflict", (
            f"a training job named {name} already exists in {region} and was not created "
            f"for this resource ({owner.namespace}/{owner.name}); set spec.trainingJobName "
            "to another name"))  # fmt: skip
    return arn, described
