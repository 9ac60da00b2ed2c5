"""A TrainingJob resource becomes the exact CreateTrainingJob request the operator sends.

The job name defaults to ``metadata.name``; the operator's ownership tags (the resource's
UID, namespace and name, under a key prefix the CRD forbids in ``spec.tags``) go next to
the user's, so a job found after a crash can be told apart from someone else's. The
request is then checked against botocore's model (its validator plus the constraints it
leaves to the service), which also covers what the CRD leaves to the operator.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sagemaker_operator.api import RESERVED_TAG_PREFIX
from sagemaker_operator.api.trainingjob import Spec
from sagemaker_operator.aws import servicemodel

UID_TAG = f"{RESERVED_TAG_PREFIX}uid"
NAMESPACE_TAG = f"{RESERVED_TAG_PREFIX}namespace"
NAME_TAG = f"{RESERVED_TAG_PREFIX}name"
OWNERSHIP_TAGS = (UID_TAG, NAMESPACE_TAG, NAME_TAG)
MAX_TAGS = 50  # SageMaker's limit per resource, ownership tags included


@dataclass(frozen=True)
class Owner:
    """The resource a job belongs to."""

    uid: str
    namespace: str
    name: str


class InvalidRequestError(ValueError):
    """The request SageMaker would refuse; the message names each field."""


def job_name(spec: Spec, owner: Owner) -> str:
    return spec.training_job_name or owner.name


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
        {"Key": UID_TAG, "Value": owner.uid},
        {"Key": NAMESPACE_TAG, "Value": owner.namespace},
        {"Key": NAME_TAG, "Value": owner.name},
    ]
    problems = servicemodel.validate_request("CreateTrainingJob", request)
    if problems:
        raise InvalidRequestError("; ".join(problems))
    return request
