"""Adopt: a new resource annotated ``sagemaker-operator.dev/adopt: "true"`` takes over the
job of its name that already runs (started with the SDK, a notebook, a pipeline), with no
CreateTrainingJob.

It is adopted only when (each refusal Stalled with its reason, and a warning event):

- the job exists, and what it uses (role, S3 data, network, images, costs: everything
  the namespace policy checks, read from Describe) is within the namespace's policy: a
  namespace cannot take over, or later stop, a job it could not have created. Both
  refusals read the same (``JobNotFound``, "no training job … that this namespace may
  adopt"): an answer must not tell a tenant whether another team's job of that name
  exists. The operator's log says which it was;
- no other live resource owns it (``AdoptConflict``, naming neither the resource nor its
  UID): its UID tag names none, or names a resource of this cluster that is gone (a job
  retained when its resource was deleted). A job whose tags name another cluster (or
  none: tagged by an operator before cluster tags) is another cluster's, whatever this
  apiserver holds, unless the resource's annotation
  ``sagemaker-operator.dev/adopt-from-cluster`` names that cluster (``none`` for no tag);
- the spec matches the job (``AdoptMismatch``, naming each differing field but no value;
  SageMaker's documented defaults are no difference): a manifest in Git must describe
  the job truly.

Then the job gets this resource's ownership tags (AddTags) and the status is written;
the tracker follows it like any other. Crash-safe as a create: every attempt is one
DescribeTrainingJob and one ListTags, and one AddTags only while the job's tags do not
name this resource yet; the status is written last, so an attempt cut short anywhere is
simply made again.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from botocore.exceptions import ClientError

from sagemaker_operator.api import ADOPT_ANNOTATION, ADOPT_FROM_CLUSTER_ANNOTATION
from sagemaker_operator.aws.errors import classify
from sagemaker_operator.controller.checks import Planned, RefusedError
from sagemaker_operator.controller.ownership import owned_pair
from sagemaker_operator.controller.requests import (
    CLUSTER_TAG,
    NAME_TAG,
    NAMESPACE_TAG,
    UID_TAG,
    Owner,
    adopted_request,
    mismatches,
    ownership_tags,
)
from sagemaker_operator.controller.runtime import Runtime
from sagemaker_operator.kube import KubeApiError

UNTAGGED = "none"  # the annotation's value for a job without a cluster tag
logger = logging.getLogger(__name__)


def adopting(annotations: Mapping[str, str]) -> bool:
    return annotations.get(ADOPT_ANNOTATION, "").strip().lower() == "true"


async def adopt(
    runtime: Runtime, planned: Planned, owner: Owner, annotations: Mapping[str, str]
) -> dict[str, Any]:
    """The job's description once it is this resource's (tagged); RefusedError when
    it may not be adopted. AWS errors propagate (a missing job as the gateway raises it)."""
    region, name, account = planned.region, planned.name, planned.account
    unadoptable = RefusedError("JobNotFound", (
        f"there is no training job named {name} in {region} that namespace {owner.namespace} "
        "may adopt: none exists, or what it uses is outside the namespace's policy (the "
        f"adopt annotation {ADOPT_ANNOTATION} takes over an existing job, and never creates "
        "one)"))  # fmt: skip
    try:
        described = await runtime.gateway.describe_training_job(region, name, account=account)
    except ClientError as error:
        if not classify(error).not_found:
            raise
        raise unadoptable from error
    arn = str(described["TrainingJobArn"])
    tags = await runtime.gateway.list_tags(region, arn, account=account)
    job = adopted_request(described, tags)
    outside = runtime.policy.violations(owner.namespace, region, job, planned.labels)
    if outside:
        logger.warning("%s/%s may not adopt %s: %s", owner.namespace, owner.name, arn,
                       "; ".join(outside))  # fmt: skip
        raise unadoptable
    values = {tag["Key"]: tag.get("Value", "") for tag in tags}
    holder = values.get(UID_TAG)
    if holder not in (None, owner.uid):
        await _held(runtime, values, annotations, f"training job {name} in {region}")
    differing = mismatches(planned.request, described, tags)
    if differing:
        raise RefusedError("AdoptMismatch", (
            f"the spec does not describe training job {name} in {region}: "
            f"{', '.join(differing)} differ (kubectl sagemaker adopt {name} --region {region} "
            "writes a manifest that does)"))  # fmt: skip
    if holder != owner.uid or values.get(CLUSTER_TAG) != (owner.cluster or None):
        await runtime.gateway.add_tags(region, arn, ownership_tags(owner), account=account)
    runtime.owned.add(owned_pair(owner.uid, arn))
    return described


async def _held(runtime: Runtime, tags: Mapping[str, str], annotations: Mapping[str, str],
                job: str) -> None:  # fmt: skip
    """RefusedError when the resource the job's tags name may still own it: one of this
    cluster that exists, or one of another cluster (unless the annotation names it)."""
    cluster = tags.get(CLUSTER_TAG)
    if cluster != runtime.cluster_id:
        if annotations.get(ADOPT_FROM_CLUSTER_ANNOTATION, "").strip() == (cluster or UNTAGGED):
            return
        raise RefusedError("AdoptConflict", (
            f"{job} belongs to a TrainingJob of another cluster that shares this account (or "
            "of an operator before cluster tags): taking it over would take it from that "
            f"cluster. To do so on purpose, set the annotation {ADOPT_FROM_CLUSTER_ANNOTATION} to "
            f"that cluster's id (its operator's --cluster-id; {UNTAGGED!r} for a job "
            "tagged before cluster tags)"))  # fmt: skip
    if await _alive(runtime, tags.get(NAMESPACE_TAG, ""), tags.get(NAME_TAG, ""),
                    tags.get(UID_TAG, "")):  # fmt: skip
        raise RefusedError("AdoptConflict", (
            f"{job} belongs to another TrainingJob resource, which exists: it can be adopted "
            "once that resource is deleted with deletion policy retain"))  # fmt: skip


async def _alive(runtime: Runtime, namespace: str, name: str, uid: str) -> bool:
    """Whether the TrainingJob a job's tags name still exists (with that UID). One that
    cannot be read (no permission in that namespace, an error) counts as alive: a job is
    never taken from a resource that may still own it."""
    if not namespace or not name:
        return True
    try:
        found = await runtime.read_resource(namespace, name)
    except KubeApiError:
        return True
    return found is not None and found.get("metadata", {}).get("uid") == uid
