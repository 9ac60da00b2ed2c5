"""Adopt: a new resource annotated ``sagemaker-operator.dev/adopt: "true"`` takes over the
job of its name that already runs (started with the SDK, a notebook, a pipeline), with no
CreateTrainingJob.

It is adopted only when (each refusal Stalled with its reason, and a warning event):

- the namespace policy allows the spec (role, S3 prefixes, region…), and the spec
  matches the job: a namespace cannot take over, or later stop, a job it could not have
  created (``PolicyDenied``), and a manifest in Git must describe the job truly
  (``AdoptMismatch``, naming each differing field; SageMaker's documented defaults are
  no difference);
- the job exists (``JobNotFound``);
- no other live resource owns it (``AdoptConflict``): its UID tag names none, or names a
  resource that is gone (a job retained when its resource was deleted).

Then the job gets this resource's ownership tags (AddTags) and the status is written;
the tracker follows it like any other. Crash-safe as a create: every attempt is one
DescribeTrainingJob and one ListTags, and one AddTags only while the job's tags do not
name this resource yet; the status is written last, so an attempt cut short anywhere is
simply made again.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import kubernetes
import urllib3
from botocore.exceptions import ClientError

from sagemaker_operator.api import GROUP
from sagemaker_operator.aws.accounts import Account
from sagemaker_operator.aws.errors import classify
from sagemaker_operator.controller.requests import (
    NAME_TAG,
    NAMESPACE_TAG,
    UID_TAG,
    Owner,
    mismatches,
    ownership_tags,
)
from sagemaker_operator.controller.runtime import Runtime

ADOPT_ANNOTATION = f"{GROUP}/adopt"


def adopting(annotations: Mapping[str, str]) -> bool:
    return annotations.get(ADOPT_ANNOTATION, "").strip().lower() == "true"


class AdoptRefusedError(Exception):
    """The job may not be adopted: ``reason`` is the condition's reason."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(f"{reason}: {message}")
        self.reason = reason
        self.message = message


async def adopt(
    runtime: Runtime, region: str, name: str, request: Mapping[str, Any], owner: Owner, *,
    account: Account,
) -> dict[str, Any]:  # fmt: skip
    """The job's description once it is this resource's (tagged); AdoptRefusedError when
    it may not be adopted. AWS errors propagate (a missing job as the gateway raises it)."""
    try:
        described = await runtime.gateway.describe_training_job(region, name, account=account)
    except ClientError as error:
        if not classify(error).not_found:
            raise
        raise AdoptRefusedError("JobNotFound", (
            f"there is no training job named {name} in {region} to adopt (the adopt "
            f"annotation {ADOPT_ANNOTATION} asks to take over an existing job, never to "
            "create one)")) from error  # fmt: skip
    arn = str(described["TrainingJobArn"])
    tags = await runtime.gateway.list_tags(region, arn, account=account)
    values = {tag["Key"]: tag.get("Value", "") for tag in tags}
    holder = values.get(UID_TAG)
    if holder not in (None, owner.uid) and await _alive(
        runtime, values.get(NAMESPACE_TAG, ""), values.get(NAME_TAG, ""), holder or ""
    ):
        owner_name = f"{values.get(NAMESPACE_TAG)}/{values.get(NAME_TAG)}"
        message = (f"training job {name} in {region} belongs to TrainingJob {owner_name} (UID "
                   f"{holder}), which exists: delete it (deletion policy retain) to adopt "
                   "the job here")  # fmt: skip
        raise AdoptRefusedError("AdoptConflict", message)
    differing = mismatches(request, described, tags)
    if differing:
        raise AdoptRefusedError("AdoptMismatch", (
            f"the spec does not describe training job {name} in {region}: "
            f"{', '.join(differing)} differ (kubectl sagemaker adopt {name} --region {region} "
            "writes a manifest that does)"))  # fmt: skip
    if holder != owner.uid:
        await runtime.gateway.add_tags(region, arn, ownership_tags(owner), account=account)
    runtime.owned.add((owner.uid, arn))
    return described


async def _alive(runtime: Runtime, namespace: str, name: str, uid: str) -> bool:
    """Whether the TrainingJob a job's tags name still exists (with that UID). One that
    cannot be read (no permission in that namespace, an error) counts as alive: a job is
    never taken from a resource that may still own it."""
    if not namespace or not name:
        return True
    try:
        found = await runtime.read_resource(namespace, name)
    except (kubernetes.client.ApiException, urllib3.exceptions.HTTPError):
        return True
    return found is not None and found.get("metadata", {}).get("uid") == uid
