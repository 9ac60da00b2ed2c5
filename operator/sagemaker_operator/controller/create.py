"""Create: a new TrainingJob resource becomes exactly one SageMaker training job.

Safe to run again after a crash at any point: a resource that has an ARN is never
created again, and a ``ResourceInUse`` for a job tagged with this resource's UID is the
job an earlier attempt created, adopted silently.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Mapping, Sequence
from typing import Any

import kopf
from botocore.exceptions import BotoCoreError, ClientError
from pydantic import ValidationError

from sagemaker_operator.api.trainingjob import Spec
from sagemaker_operator.aws.errors import classify
from sagemaker_operator.controller.requests import (
    InvalidRequestError,
    Owner,
    create_request,
    job_name,
    owned_by,
)
from sagemaker_operator.controller.runtime import ResourceRef, Runtime, status_fields
from sagemaker_operator.status.conditions import (
    status_from_sagemaker,
    verdict_for_job,
    verdict_for_problem,
)

logger = logging.getLogger(__name__)

RETRY_DELAY = 15.0  # seconds, after botocore's own retries are spent; doubles per retry
MAX_RETRY_DELAY = 300.0


def retry_delay(retry: int) -> float:
    """Exponential backoff with full jitter over kopf's retries of the handler."""
    ceiling = min(MAX_RETRY_DELAY, RETRY_DELAY * 2**retry)
    return random.uniform(RETRY_DELAY / 2, ceiling)  # noqa: S311 - jitter, not secrecy


async def create_job(
    runtime: Runtime,
    ref: ResourceRef,
    *,
    spec: Mapping[str, Any],
    status: Mapping[str, Any],
    generation: int,
    patch: kopf.Patch,
    retry: int = 0,
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

    try:
        parsed = Spec.model_validate(dict(spec))
        owner = Owner(ref.uid, ref.namespace, ref.name)
        request = create_request(parsed, owner)
    except (ValidationError, InvalidRequestError) as error:
        await stall("InvalidSpec", str(error))
        return
    region = parsed.region or runtime.default_region
    name = job_name(parsed, owner)
    denied = runtime.policy.violations(ref.namespace, region, request)
    if denied:
        await stall("PolicyDenied", "; ".join(denied))
        return

    try:
        arn = await runtime.gateway.create_training_job(region, request)
        described: Mapping[str, Any] | None = None
    except (ClientError, BotoCoreError) as error:
        failure = classify(error)
        if failure.code == "ResourceInUse":
            described = await _adoptable(runtime, region, name, owner)
            if described is None:
                await stall("NameConflict", f"a training job named {name} already exists in "
                      f"{region} and was not created for this resource ({ref.namespace}/"
                      f"{ref.name}); set spec.trainingJobName to another name")  # fmt: skip
                return
            arn = described["TrainingJobArn"]
        elif failure.retryable:
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
            raise kopf.TemporaryError(str(failure), delay=retry_delay(retry)) from error
        else:
            await stall(failure.code, failure.message)
            return

    job = status_from_sagemaker(
        described or {"TrainingJobStatus": "InProgress", "SecondaryStatus": "Starting"}
    )
    fields = status_fields(job, verdict_for_job(job), generation, conditions)
    fields.update(trainingJobArn=arn, trainingJobName=name, region=region,
                  cloudWatchLogsUrl=logs_url(region, name))  # fmt: skip
    patch.status.update(fields)
    runtime.last_error.pop(ref.uid, None)
    await runtime.event(ref, "Adopted" if described else "Created",
                  f"training job {name} in {region}: {arn}")  # fmt: skip


async def _adoptable(
    runtime: Runtime, region: str, name: str, owner: Owner
) -> Mapping[str, Any] | None:
    """The existing job's description if an earlier attempt created it for this resource."""
    described = await runtime.gateway.describe_training_job(region, name)
    tags = await runtime.gateway.list_tags(region, described["TrainingJobArn"])
    return described if owned_by(tags, owner) else None


def logs_url(region: str, name: str) -> str:
    return (
        f"https://{region}.console.aws.amazon.com/cloudwatch/home?region={region}"
        f"#logsV2:log-groups/log-group/$252Faws$252Fsagemaker$252FTrainingJobs"
        f"$3FlogStreamNameFilter$3D{name}$252F"
    )
