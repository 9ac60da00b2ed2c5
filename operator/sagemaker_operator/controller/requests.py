"""A TrainingJob resource becomes the exact CreateTrainingJob request the operator sends.

The job name is ``spec.trainingJobName`` when set, else ``metadata.name`` with a short
suffix from the resource's UID: SageMaker's job names are unique in an account and region
for good, so a resource deleted and applied again, or the same manifest in two
namespaces, each get a job of their own, and nobody can take the name another team's
resource will ask for. The operator's ownership tags (the resource's UID, namespace and
name, and the cluster's identity, under a key prefix the CRD forbids in ``spec.tags``) go
next to the user's, so a job found after a crash can be told apart from someone else's.
The request is then checked against botocore's model (its validator plus the constraints
it leaves to the service), which also covers what the CRD leaves to the operator.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from botocore.model import StructureShape

from sagemaker_operator.api import RESERVED_TAG_PREFIX
from sagemaker_operator.api.base import kubernetes_name
from sagemaker_operator.api.trainingjob import Spec
from sagemaker_operator.aws import servicemodel
from sagemaker_operator.aws.defaults import with_defaults

UID_TAG = f"{RESERVED_TAG_PREFIX}uid"
NAMESPACE_TAG = f"{RESERVED_TAG_PREFIX}namespace"
NAME_TAG = f"{RESERVED_TAG_PREFIX}name"
CLUSTER_TAG = f"{RESERVED_TAG_PREFIX}cluster"
OWNERSHIP_TAGS = (UID_TAG, NAMESPACE_TAG, NAME_TAG, CLUSTER_TAG)
MAX_TAGS = 50  # SageMaker's limit per resource, ownership tags included
NAME_SUFFIX = 8  # characters of the resource's UID a default job name ends with
MAX_JOB_NAME = 63


@dataclass(frozen=True)
class Owner:
    """The resource a job belongs to, and the cluster it lives in (the operator's
    ``--cluster-id``: empty where no job is made, as at admission)."""

    uid: str
    namespace: str
    name: str
    cluster: str = ""


class InvalidRequestError(ValueError):
    """The request SageMaker would refuse; the message names each field."""


def job_name(spec: Spec, owner: Owner) -> str:
    return spec.training_job_name or default_job_name(owner)


def default_job_name(owner: Owner) -> str:
    """``metadata.name`` (its dots as dashes), cut to fit, a dash and the first
    NAME_SUFFIX hex digits of the resource's UID: unique to the resource, and the same
    every time it is asked (a create retried after a crash finds its own job)."""
    suffix = owner.uid.replace("-", "")[:NAME_SUFFIX]
    base = re.sub(r"[^a-zA-Z0-9]+", "-", owner.name).strip("-")
    base = base[: MAX_JOB_NAME - len(suffix) - 1].rstrip("-")
    return f"{base}-{suffix}" if base else suffix


def ownership_tags(owner: Owner) -> dict[str, str]:
    """The tags that say whose a job is (controller/ownership.py reads them)."""
    tags = {UID_TAG: owner.uid, NAMESPACE_TAG: owner.namespace, NAME_TAG: owner.name}
    if owner.cluster:
        tags[CLUSTER_TAG] = owner.cluster
    return tags


def create_request(spec: Spec, owner: Owner) -> dict[str, Any]:
    """The CreateTrainingJob parameters for this resource, checked as SageMaker would."""
    request = spec.to_api()
    request["TrainingJobName"] = job_name(spec, owner)
    user_tags = request.get("Tags", [])
    if len(user_tags) + len(OWNERSHIP_TAGS) > MAX_TAGS:
        raise InvalidRequestError(
            f"spec.tags has {len(user_tags)} tags; at most {MAX_TAGS - len(OWNERSHIP_TAGS)} "
            f"fit beside the operator's {len(OWNERSHIP_TAGS)} ownership tags "
            f"(SageMaker allows {MAX_TAGS})"
        )
    request["Tags"] = [
        *user_tags,
        *({"Key": key, "Value": value} for key, value in ownership_tags(owner).items()),
    ]
    problems = servicemodel.validate_request("CreateTrainingJob", request)
    if problems:
        raise InvalidRequestError("; ".join(problems))
    return request


def update_request(wanted: Mapping[str, Any], described: Mapping[str, Any]) -> Update:
    """What of ``wanted`` (the CreateTrainingJob request the spec makes now) UpdateTrainingJob
    must still send, judged against what DescribeTrainingJob reports: its members (and a
    ``…ForUpdate`` structure's sub-members) that the spec sets and SageMaker does not report.

    A field left out of the spec asks for nothing (SageMaker's defaults stay): to stop
    profiling set ``profilerConfig.disableProfiler``, to end a warm pool set
    ``resourceConfig.keepAlivePeriodInSeconds: 0``.
    """
    request: dict[str, Any] = {}
    fields: list[str] = []
    for member, subs in servicemodel.updatable().items():
        if member not in wanted:
            continue
        value = wanted[member]
        reported = described.get(member)
        if subs is not None:  # only some sub-fields can change: send those that differ
            changing = {key: item for key, item in value.items() if key in subs
                        and not _reported(item, (reported or {}).get(key))}  # fmt: skip
            if changing:
                request[member] = changing
                fields += [f"spec.{kubernetes_name(member)}.{kubernetes_name(key)}"
                           for key in changing]  # fmt: skip
        elif not _reported(value, reported):
            request[member] = value
            fields.append(f"spec.{kubernetes_name(member)}")
    return Update(request, fields)


@dataclass(frozen=True)
class Update:
    """An UpdateTrainingJob request (without the job's name) and the spec fields it sends."""

    request: dict[str, Any]
    fields: list[str]


def _reported(wanted: Any, reported: Any) -> bool:
    """Whether SageMaker's answer shows ``wanted``: every member the spec sets, equal (the
    answer may carry more, such as defaults); every item of a list, in some item of the
    answer; false where the answer leaves a boolean out."""
    if isinstance(wanted, dict):
        reported = {} if reported is None else reported
        return isinstance(reported, dict) and all(
            _reported(item, reported.get(key)) for key, item in wanted.items()
        )
    if isinstance(wanted, list):
        return isinstance(reported, list) and all(
            any(_reported(item, candidate) for candidate in reported) for item in wanted
        )
    if wanted is False and reported is None:
        return True
    return bool(wanted == reported)


def adopted_request(described: Mapping[str, Any], tags: list[dict[str, str]]) -> dict[str, Any]:
    """The CreateTrainingJob request a job was made with, as far as AWS reports it: every
    CreateTrainingJob member DescribeTrainingJob answers (cut to the request's shapes, so
    members only a newer model knows are left out), and its tags but AWS's own (``aws:``)
    and the operator's ownership tags."""
    create = servicemodel.operation_model("CreateTrainingJob").input_shape
    assert isinstance(create, StructureShape)
    request = servicemodel.conform(create, {key: value for key, value in described.items()
                                            if key in create.members})  # fmt: skip
    kept = [{"Key": tag["Key"], "Value": tag.get("Value", "")} for tag in tags
            if not tag["Key"].startswith(("aws:", RESERVED_TAG_PREFIX))]  # fmt: skip
    request.pop("Tags", None)
    if kept:
        request["Tags"] = kept
    return request


def mismatches(
    spec_request: Mapping[str, Any], described: Mapping[str, Any], tags: list[dict[str, str]]
) -> list[str]:
    """The spec fields (``spec.resourceConfig.instanceCount``) whose value differs from the
    job's, SageMaker's documented defaults (aws/defaults.py) filled in on both sides; the
    operator's ownership tags are not compared."""
    job = with_defaults(adopted_request(described, tags))
    ours = dict(spec_request)
    ours["Tags"] = [tag for tag in ours.get("Tags") or []
                    if not tag["Key"].startswith(RESERVED_TAG_PREFIX)]  # fmt: skip
    if not ours["Tags"]:
        del ours["Tags"]
    wanted = with_defaults(ours)
    found: list[str] = []
    for member in sorted(set(wanted) | set(job)):
        if member == "TrainingJobName":
            continue
        mine, theirs = wanted.get(member), job.get(member)
        if member == "Tags":
            mine, theirs = _tag_map(mine), _tag_map(theirs)
        found += _differences(f"spec.{kubernetes_name(member)}", mine, theirs)
    return found


def _tag_map(tags: Any) -> dict[str, str]:
    return {tag["Key"]: tag.get("Value", "") for tag in tags or []}


def _differences(path: str, mine: Any, theirs: Any) -> list[str]:
    if (
        isinstance(mine, dict)
        and isinstance(theirs, dict)
        and not path.endswith((".hyperParameters", ".environment", ".tags"))
    ):  # structures: member by member (maps are compared whole)
        return [difference for key in sorted(set(mine) | set(theirs))
                for difference in _differences(f"{path}.{kubernetes_name(key)}", mine.get(key),
                                               theirs.get(key))]  # fmt: skip
    if isinstance(mine, list) and isinstance(theirs, list) and len(mine) == len(theirs):
        return [difference for index, (one, other) in enumerate(zip(mine, theirs, strict=True))
                for difference in _differences(f"{path}[{index}]", one, other)]  # fmt: skip
    return [] if mine == theirs else [path]
