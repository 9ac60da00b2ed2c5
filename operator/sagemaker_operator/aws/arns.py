"""A training job's ARN: the one identity of a job the operator acts on.

``arn:PARTITION:sagemaker:REGION:ACCOUNT:training-job/NAME`` names the job's partition,
region, account and name at once; the operator derives each of them from the ARN it
created or adopted (the resource's ``status.trainingJobArn``, verified against the job's
UID tag), never from status fields a tenant may write beside it.

SageMaker writes the name into its ARNs in lower case, and not always the same way: the
sagemaker-experiments fix "lowercase source arn before listing trial components"
(aws/sagemaker-experiments#172) followed a backend change of ARN casing for jobs whose
names have upper-case letters, and boto3#4606 reports a list answering lower-case ARNs
where Describe answers the name's own case. Names are unique in an account and region
regardless of case (CreateTrainingJob refuses ``Job`` beside ``job``), so two ARNs are
the same job when they are equal ignoring case, and the name the calls use is the one
the resource was created with when it is that ARN's name ignoring case (the emulator's
switch ``mixed_case_arns`` plays the unkind half).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

_ARN = re.compile(
    r"^arn:(?P<partition>aws[a-z-]*):sagemaker:(?P<region>[a-z]{2}(?:-[a-z]+)+-\d+):"
    r"(?P<account>\d{12}):training-job/(?P<name>[a-zA-Z0-9](?:-*[a-zA-Z0-9]){0,62})$"
)


class NotAJobArnError(ValueError):
    """A value that is not a training job's ARN (the message says which value)."""


@dataclass(frozen=True)
class JobArn:
    arn: str
    partition: str
    region: str
    account: str
    name: str  # as the ARN writes it (lower case, mostly)

    @classmethod
    def parse(cls, value: Any) -> JobArn:
        match = _ARN.match(str(value)) if isinstance(value, str) else None
        if match is None:
            raise NotAJobArnError(
                f"{value!r} is not a SageMaker training job ARN "
                "(arn:aws:sagemaker:REGION:ACCOUNT:training-job/NAME)"
            )
        return cls(value, match["partition"], match["region"], match["account"], match["name"])

    @property
    def key(self) -> str:
        """What tells one job from another: the ARN, case ignored."""
        return self.arn.lower()

    def same(self, other: Any) -> bool:
        """Whether ``other`` (an ARN from an answer) names this job."""
        return isinstance(other, str) and other.lower() == self.key

    def name_for(self, hint: Any = None) -> str:
        """The job's name for calls: ``hint`` (the name it was created with) when it is this
        ARN's name ignoring case, else the ARN's own."""
        if isinstance(hint, str) and hint.lower() == self.name.lower():
            return hint
        return self.name
