"""What is checked before any SageMaker call, the same way at admission and at create.

The schema (from B) refuses most bad input at `kubectl apply`; what it cannot express
is checked here: botocore's validator on the exact request (instance types, and every
constraint on the translated request), and the namespace policy. The admission webhook
and the create handler share this function, so a refusal reads the same in both places.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from sagemaker_operator.api.trainingjob import Spec
from sagemaker_operator.aws import regions
from sagemaker_operator.aws.accounts import OWN, Account
from sagemaker_operator.controller.requests import (
    InvalidRequestError,
    Owner,
    create_request,
    job_name,
)
from sagemaker_operator.policy import Policy


@dataclass(frozen=True)
class Planned:
    """A CreateTrainingJob request that passed every check, and where it goes."""

    request: dict[str, Any]
    region: str
    name: str
    account: Account = OWN  # whose credentials every call for the job uses
    labels: Mapping[str, str] | None = None  # the namespace's, when the policy reads them


class RefusedError(Exception):
    """A spec the operator will not send: ``reason`` is the condition's reason."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(f"{reason}: {message}")
        self.reason = reason
        self.message = message


def plan_job(
    spec: Mapping[str, Any], owner: Owner, policy: Policy, default_region: str,
    labels: Mapping[str, str] | None = None,
) -> Planned:  # fmt: skip
    """The request for this resource's job, or RefusedError (InvalidSpec, PolicyDenied).
    ``labels`` are the namespace's (needed when the policy selects namespaces by label)."""
    try:
        parsed = Spec.model_validate(dict(spec))
        request = create_request(parsed, owner)
    except (ValidationError, InvalidRequestError) as error:
        raise RefusedError("InvalidSpec", str(error)) from error
    region = parsed.region or default_region
    try:
        regions.check(region, default_region)
    except regions.UnknownRegionForPartitionError as error:
        raise RefusedError("InvalidSpec", str(error)) from error
    denied = policy.violations(owner.namespace, region, request, labels)
    if denied:
        raise RefusedError("PolicyDenied", "; ".join(denied))
    account = policy.account_for(owner.namespace, labels)
    assert account is not None  # a rule covers the namespace: it allowed the request
    return Planned(request, region, job_name(parsed, owner), account, labels)
