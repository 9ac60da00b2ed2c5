"""Which Kubernetes Event a job's state change tells, and whether a status still owes one.

``status.announced`` names the last state (``trainingJobStatus/secondaryStatus``) whose
Event the operator posted. The tracker posts a transition's Event before the status write
that shows it, and writes ``announced`` with the state only once the Event is posted: a
status that shows a state it has not announced (the post failed, or the process stopped
between the two) is announced by a later tick, after a restart too. An Event can so be
posted twice (a stop between the post and the write), never lost.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

ANNOUNCED = "announced"


@dataclass(frozen=True)
class Announcement:
    reason: str
    message: str
    warning: bool = False


def state_key(status: Mapping[str, Any]) -> str | None:
    """The state an Event tells, as ``status.announced`` writes it (None: no job state)."""
    job_status = status.get("trainingJobStatus")
    if not job_status:
        return None
    return f"{job_status}/{status.get('secondaryStatus') or ''}"


def told(status: Mapping[str, Any]) -> str | None:
    """The state last announced: ``announced``, or for a resource written before the field
    existed, the state it shows (taken as told: an upgrade posts no Event of the past)."""
    announced = status.get(ANNOUNCED)
    return str(announced) if announced else state_key(status)


def unannounced(status: Mapping[str, Any]) -> bool:
    """Whether the status shows a state whose Event is not known to be posted."""
    announced = status.get(ANNOUNCED)
    return bool(announced) and state_key(status) not in (None, announced)


def announcement(since: str | None, fields: Mapping[str, Any]) -> Announcement | None:
    """The Event for the state ``fields`` show, told since the state ``since`` (a
    ``state_key``), or None when there is nothing new to tell (a condition changed, or the
    rules or warm pool after the end)."""
    before_status, _, before = (since or "/").partition("/")
    job_status = fields.get("trainingJobStatus")
    after = fields.get("secondaryStatus") or ""
    if not job_status or (job_status == before_status and after == before):
        return None
    if job_status == "Failed":
        return Announcement("Failed", str(fields.get("failureReason") or ""), warning=True)
    if job_status in {"Completed", "Stopped"}:
        return Announcement(str(job_status), _ended(str(job_status), before, after))
    if after != before:
        return Announcement(after, f"{before or 'Pending'} → {after}")
    return None


def _ended(job_status: str, before: str, after: str) -> str:
    """A completion's or a stop's message: the secondary status said when it adds
    something (MaxRuntimeExceeded, MaxWaitTimeExceeded, the transition)."""
    ended = f"the training job {job_status.lower()}"
    if not after or after == before:
        return ended
    if after != job_status:
        return f"{ended}: {after}"
    return f"{ended} ({before or 'Pending'} → {after})"
