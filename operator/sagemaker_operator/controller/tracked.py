"""A resource whose job is in flight, as the tracker's index holds it.

Its identity is the job's ARN (``status.trainingJobArn``, which the operator wrote and
checks against the job's UID tag): the job's region, account and name come from it
(aws/arns.py). Everything else in status is the tenant's to write too (whoever may patch
``trainingjobs/status``), so it is a hint at most: it may make the operator look at a job
of the resource's own, never at another's, and never decide how much is listed or called.
What bounds a list is the resource's ``metadata.creationTimestamp`` (the apiserver sets
it) or the job's CreationTime as AWS answered it to this process.
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sagemaker_operator.aws.accounts import OWN, Account
from sagemaker_operator.aws.arns import JobArn, NotAJobArnError
from sagemaker_operator.controller.runtime import ResourceRef
from sagemaker_operator.status.announcements import unannounced
from sagemaker_operator.status.conditions import END_STATES, not_owned, settling

# How far the Kubernetes apiserver's clock (a resource's creationTimestamp) may be ahead of
# SageMaker's (its job's CreationTime); both are NTP-synchronised in EKS and AWS.
CLOCK_SKEW = datetime.timedelta(seconds=2)
# How long before the create handler writes the conditions SageMaker may have created the
# job (the successful attempt of CreateTrainingJob, and the status patch after it).
CREATE_CALL = datetime.timedelta(seconds=5)
# The list goes back this much before the oldest job's creation (CreationTimeAfter):
# the resource's creationTimestamp is Kubernetes' clock, CreationTime SageMaker's.
CREATION_MARGIN = datetime.timedelta(minutes=1)

JobKey = tuple[str, str]  # the job's ARN (case ignored) and its resource's UID


# Seconds past a job's end during which an Event it could not post is still posted.
ANNOUNCE_FOR = 3600.0


@dataclass(frozen=True)
class Scope:
    """Where a list runs: an account, by everything that makes its credentials (the role,
    external id, session name: the namespaces of one policy rule share it, and two rules
    naming one role with other external ids never do), and a region."""

    account: Account
    region: str

    def __str__(self) -> str:
        if self.account.role_arn is None:
            return self.region
        return f"{self.region} of account {self.account.id} ({self.account.rule})"


@dataclass(frozen=True)
class Tracked:
    """A resource whose job is in flight, as the index holds it."""

    ref: ResourceRef
    job: JobArn
    generation: int
    status: Mapping[str, Any]
    # The resource's metadata.creationTimestamp: a job the operator created came later.
    created: str | None = None
    # Annotated for adoption: its job may be older than the resource.
    adopted: bool = False
    # The namespace's account (the tracker sets it from the policy each tick).
    account: Account = OWN
    # The resource is being deleted (its delete handler stops the job): its end needs no
    # describe, only to be known.
    deleting: bool = False

    @property
    def region(self) -> str:
        return self.job.region

    @property
    def scope(self) -> Scope:
        return Scope(self.account, self.region)

    @property
    def job_name(self) -> str:
        """The name calls use: the ARN's (status.trainingJobName only for its letter case)."""
        return self.job.name_for(self.status.get("trainingJobName"))

    @property
    def key(self) -> JobKey:
        return self.job.key, self.ref.uid

    @property
    def tampered(self) -> bool:
        """Whether the status's name or region disagree with its ARN (written by someone
        other than the operator): put right from AWS at the next describe."""
        return (self.status.get("trainingJobName") != self.job_name
                or self.status.get("region") != self.region)  # fmt: skip

    @property
    def ended(self) -> bool:
        return self.status.get("trainingJobStatus") in END_STATES

    def created_bound(self) -> datetime.datetime | None:
        """A moment before the job's creation, from what no tenant writes: the resource's
        creationTimestamp (None for an adopted job, which may be older)."""
        if self.adopted or self.created is None:
            return None
        return _parse(self.created) - CREATION_MARGIN

    def last_change(self, floor: datetime.datetime, now: datetime.datetime) -> datetime.datetime:
        """A moment no later than the job's last change SageMaker would list: the status's
        word for it, but never before ``floor`` (the job's creation, as far as it is known)
        nor after ``now``."""
        moment = status_time(self.status.get("lastModifiedTime") or self.status.get("creationTime"))
        if moment is None:
            # Just created: its status has no SageMaker time yet. The job was created after
            # its resource, and shortly before the create handler wrote the conditions.
            bounds = [status_time(condition.get("lastTransitionTime"))
                      for condition in self.status.get("conditions") or []
                      if isinstance(condition, Mapping)]  # fmt: skip
            found = [bound - CREATE_CALL for bound in bounds if bound is not None]
            if self.created is not None:
                found.append(_parse(self.created))
            moment = max(found) - CLOCK_SKEW if found else floor
        return min(max(moment, floor), now)


def _parse(stamp: Any) -> datetime.datetime:
    parsed = datetime.datetime.fromisoformat(str(stamp).replace("Z", "+00:00"))
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=datetime.UTC)


def status_time(stamp: Any) -> datetime.datetime | None:
    """A time a status gives, or None when it gives none it can read (a tenant's text)."""
    try:
        return _parse(stamp) if stamp else None
    except ValueError:
        return None


def owes_event(status: Mapping[str, Any]) -> bool:
    """Whether the status shows a state whose Event is still to be posted: one it has not
    announced, unless it is an end over ANNOUNCE_FOR ago (old news by then)."""
    if not unannounced(status):
        return False
    return status.get("trainingJobStatus") not in END_STATES or (
        _ended_for(status) <= ANNOUNCE_FOR)  # fmt: skip


def _ended_for(status: Mapping[str, Any]) -> float:
    """Seconds since an ended job's end, as its status says (0 when it cannot tell)."""
    ended = status_time(status.get("trainingEndTime") or status.get("lastModifiedTime"))
    if ended is None:
        return 0.0
    return (datetime.datetime.now(datetime.UTC) - ended).total_seconds()


def tracked_from(
    namespace: str, name: str, uid: str, generation: int, status: Mapping[str, Any],
    *, created: str | None = None, adopted: bool = False, follow_for: float = 7200.0,
    deleting: bool = False,
) -> Tracked | None:  # fmt: skip
    """The index entry for a resource, or None when there is nothing to track: no job (or
    a status whose ARN is no training job's), a job found to be someone else's, or an
    ended job that settled (or ended ``follow_for`` ago) and owes no Event. A status
    can only spare calls this way: how long an ended job is followed at most is the
    tracker's to bound, from its own memory."""
    if not status.get("trainingJobArn") or not_owned(status):
        return None
    try:
        job = JobArn.parse(status["trainingJobArn"])
    except NotAJobArnError:
        return None
    if status.get("trainingJobStatus") in END_STATES:
        age = _ended_for(status)
        if not ((settling(status) and age <= follow_for) or owes_event(status)):
            return None
    return Tracked(ResourceRef(namespace, name, uid), job,
                   int(status.get("observedGeneration") or generation), dict(status),
                   created, adopted, deleting=deleting)  # fmt: skip
