"""SageMaker's answers as a TrainingJob status, and that status as kstatus conditions.

Flux (kstatus) and Argo CD read three conditions:

| the job                         | Ready | Reconciling        | Stalled              |
|---------------------------------|-------|--------------------|----------------------|
| InProgress, Stopping            | False | True (secondary)   | False                |
| Completed                       | True  | False              | False                |
| Failed, Stopped                 | False | False              | True (reason, AWS's message) |
| a retryable AWS error           | False | True (error code)  | False                |
| a terminal AWS error or refusal | False | False              | True (reason)        |

A condition's ``lastTransitionTime`` changes only when its status does.
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from sagemaker_operator.api.base import api_name
from sagemaker_operator.api.trainingjob import Condition, Status

READY, RECONCILING, STALLED = "Ready", "Reconciling", "Stalled"
END_STATES = frozenset({"Completed", "Failed", "Stopped"})
# The reason of a resource whose status names a job not created for it (its UID tag).
NOT_OWNED = "NotOwned"
# What still changes after a job's end: Debugger and Profiler rule evaluations usually end
# after the job does, and a warm pool stays Available (or InUse) until its keep-alive ends
# (DescribeTrainingJob's DebugRuleEvaluationStatuses, ProfilerRuleEvaluationStatuses and
# WarmPoolStatus in the API reference).
_RULES_RUNNING = frozenset({"InProgress", "Stopping"})
_WARM_POOL_HELD = frozenset({"Available", "InUse"})


def settling(status: Mapping[str, Any]) -> bool:
    """Whether an ended job's status (as the resource holds it) may still change."""
    for member in ("debugRuleEvaluationStatuses", "profilerRuleEvaluationStatuses"):
        for rule in status.get(member) or []:
            if rule.get("ruleEvaluationStatus") in _RULES_RUNNING:
                return True
    return (status.get("warmPoolStatus") or {}).get("status") in _WARM_POOL_HELD


def not_owned(status: Mapping[str, Any]) -> bool:
    """Whether the resource was found to name a job of someone else (never tracked again)."""
    return any(condition.get("type") == STALLED and condition.get("status") == "True"
               and condition.get("reason") == NOT_OWNED
               for condition in status.get("conditions") or [])  # fmt: skip


_STATUS_API_NAMES = {api_name(field.alias or name) for name, field in Status.model_fields.items()}


def status_from_sagemaker(answer: Mapping[str, Any]) -> Status:
    """A Status from a DescribeTrainingJob answer or a TrainingJobSummary (API names)."""
    return Status.model_validate({
        key: value for key, value in answer.items() if key in _STATUS_API_NAMES
    })  # fmt: skip


@dataclass(frozen=True)
class Verdict:
    """What the resource's conditions must say, before times are attached."""

    ready: bool
    reconciling: bool
    stalled: bool
    reason: str
    message: str


def verdict_for_job(status: Status) -> Verdict:
    job_status = status.training_job_status or "Unknown"
    secondary = status.secondary_status or job_status
    message = _last_transition_message(status) or f"{job_status} / {secondary}"
    if job_status == "Completed":
        return Verdict(True, False, False, "Completed", message)
    if job_status == "Failed":
        return Verdict(False, False, True, "Failed", status.failure_reason or message)
    if job_status == "Stopped":
        # MaxRuntimeExceeded and the like say more than "Stopped" does.
        return Verdict(False, False, True, secondary, message)
    return Verdict(False, True, False, secondary, message)


def verdict_for_problem(reason: str, message: str, *, retrying: bool) -> Verdict:
    """A problem before or beside the job: an AWS error, a policy refusal, a name conflict."""
    if retrying:
        return Verdict(False, True, False, reason, message)
    return Verdict(False, False, True, reason, message)


def conditions(
    verdict: Verdict,
    generation: int,
    previous: Sequence[Condition],
    now: datetime.datetime,
) -> list[Condition]:
    """Ready, Reconciling and Stalled for this verdict, keeping unchanged transition times."""
    earlier = {condition.type: condition for condition in previous}

    def condition(kind: str, holds: bool) -> Condition:
        status: Literal["True", "False"] = "True" if holds else "False"
        before = earlier.get(kind)
        moment = before.last_transition_time if before and before.status == status else now
        # The message on Ready (what most tools show) and on the condition that holds;
        # one that does not hold keeps the reason only (kubectl describe shows it once).
        message = verdict.message if holds or kind == READY else ""
        return Condition(
            type=kind, status=status, reason=verdict.reason, message=message,
            last_transition_time=moment, observed_generation=generation,
        )  # fmt: skip

    return [
        condition(READY, verdict.ready),
        condition(RECONCILING, verdict.reconciling),
        condition(STALLED, verdict.stalled),
    ]


def _last_transition_message(status: Status) -> str | None:
    transitions = status.secondary_status_transitions or []
    return transitions[-1].status_message if transitions else None
