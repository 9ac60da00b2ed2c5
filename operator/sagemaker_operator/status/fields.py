"""The status to write: SageMaker's fields, the conditions, and what an update left.

Everything the status should say is decided here, from pure inputs (a job's answer, the
resource's current status, a spec update's outcome); ``controller/`` only reads and
writes it.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from sagemaker_operator.api.trainingjob import Condition, SpecUpdate, Status
from sagemaker_operator.aws.arns import JobArn
from sagemaker_operator.status.conditions import Verdict, conditions

PENDING, APPLIED, REFUSED = "Pending", "Applied", "Refused"
UPDATE_PENDING = "UpdatePending"  # the Reconciling reason while an update is not reflected


def status_fields(
    status: Status | None,
    verdict: Verdict,
    generation: int,
    previous: Sequence[Mapping[str, Any]],
    now: datetime.datetime | None = None,
    *,
    observed: bool = True,
) -> dict[str, Any]:
    """The status JSON to write: SageMaker's fields and conditions, and observedGeneration
    (``observed``: the generation SageMaker answered; the tracker, which only reports the
    job, leaves it as it is)."""
    earlier = [Condition.model_validate(item) for item in previous]
    moment = now or datetime.datetime.now(datetime.UTC)
    fields = status.to_kubernetes() if status is not None else {}
    if observed:
        fields["observedGeneration"] = generation
    fields["conditions"] = [
        condition.to_kubernetes() for condition in conditions(verdict, generation, earlier, moment)
    ]
    fields["reason"] = reason(status, verdict)
    return fields


def reason(status: Status | None, verdict: Verdict) -> str | None:
    """The REASON column: SageMaker's failureReason, else why the resource is stalled or
    waits (not a running job's secondary status, which has a column of its own); None
    (removed) while the job runs or once it completed."""
    if status is not None and status.failure_reason:
        return status.failure_reason
    if verdict.stalled:
        return verdict.reason
    if verdict.reconciling and (status is None or verdict.reason != status.secondary_status):
        return verdict.reason
    return None


def identity_fields(job: JobArn, name: str) -> dict[str, Any]:
    """The status fields that name the job, all from its ARN (``name``: the ARN's name in
    the case the job was created with): what the create handler writes, and what the
    tracker puts right when a status says otherwise."""
    return {"trainingJobArn": job.arn, "trainingJobName": name, "region": job.region,
            "cloudWatchLogsUrl": logs_url(job.region, name)}  # fmt: skip


def logs_url(region: str, name: str) -> str:
    """The job's log streams in the CloudWatch console."""
    return (
        f"https://{region}.console.aws.amazon.com/cloudwatch/home?region={region}"
        f"#logsV2:log-groups/log-group/$252Faws$252Fsagemaker$252FTrainingJobs"
        f"$3FlogStreamNameFilter$3D{name}$252F"
    )


def current_update(status: Mapping[str, Any]) -> SpecUpdate | None:
    """The resource's last spec update, when it is for the generation its status shows."""
    found = status.get("update")
    if not found:
        return None
    update = SpecUpdate.model_validate(found)
    return update if update.generation == status.get("observedGeneration") else None


def with_update(verdict: Verdict, update: SpecUpdate | None) -> Verdict:
    """The job's verdict, as an update of its spec changes it: while SageMaker has not
    reflected an accepted update the resource is Reconciling; a refused one stalls it (the
    spec asks what the job cannot be). A job that failed or stopped says more than either."""
    if update is None or verdict.stalled or update.state == APPLIED:
        return verdict
    message = update.message or ", ".join(update.fields)
    if update.state == PENDING:
        return Verdict(False, True, False, UPDATE_PENDING, message)
    return Verdict(False, False, True, update.reason or "UpdateRefused", message)


def update_fields(update: SpecUpdate) -> dict[str, Any]:
    return {"update": update.to_kubernetes()}


def changed(current: Mapping[str, Any], fields: Mapping[str, Any]) -> bool:
    """Whether writing ``fields`` would change the status (conditions compared without times)."""
    for key, value in fields.items():
        if key == "conditions":
            if _without_times(current.get(key) or []) != _without_times(value):
                return True
        elif current.get(key) != value:
            return True
    return False


def _without_times(items: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    return [{k: v for k, v in c.items() if k != "lastTransitionTime"} for c in items]
