"""Which Event a state change tells, and when a status still owes one (issue L: a
``Stopped`` posted only after its status write was lost when that write failed or the
process stopped between the two)."""

from __future__ import annotations

from sagemaker_operator.controller.tracked import tracked_from
from sagemaker_operator.status.announcements import (
    Announcement,
    announcement,
    state_key,
    told,
    unannounced,
)

ARN = "arn:aws:sagemaker:us-east-1:123456789012:training-job/train"


def shown(job_status: str, secondary: str, **more: str) -> dict[str, str]:
    return {"trainingJobStatus": job_status, "secondaryStatus": secondary, **more}


def test_a_secondary_status_change_is_told_from_the_state_last_announced() -> None:
    assert announcement("InProgress/Starting", shown("InProgress", "Training")) == (
        Announcement("Training", "Starting → Training"))  # fmt: skip


def test_an_end_is_told_by_its_status_and_a_failure_as_a_warning_with_its_reason() -> None:
    """Issue M: a completion read "Completed (Completed)"; the secondary status is said only
    when it adds something."""
    assert announcement("InProgress/Training", shown("Completed", "Completed")) == (
        Announcement("Completed", "the training job completed (Training → Completed)")
    )
    assert announcement("InProgress/Training", shown("Stopped", "MaxRuntimeExceeded")) == (
        Announcement("Stopped", "the training job stopped: MaxRuntimeExceeded"))  # fmt: skip
    assert announcement("InProgress/Training", shown("Failed", "Failed",
                                                     failureReason="OOM")) == (
        Announcement("Failed", "OOM", warning=True))  # fmt: skip


def test_the_same_state_again_tells_nothing() -> None:
    assert announcement("Completed/Completed", shown("Completed", "Completed")) is None
    assert announcement("InProgress/Training", {"conditions": []}) is None


def test_a_status_owes_an_event_only_when_it_says_what_it_announced() -> None:
    assert unannounced({**shown("Stopped", "Stopped"), "announced": "InProgress/Training"})
    assert not unannounced({**shown("Stopped", "Stopped"), "announced": "Stopped/Stopped"})
    # Written before the field existed: its state counts as told (an upgrade posts no
    # Event of the past).
    assert not unannounced(shown("Stopped", "Stopped"))
    assert told(shown("Stopped", "Stopped")) == "Stopped/Stopped"
    assert state_key({}) is None


def test_an_ended_job_that_owes_its_event_stays_in_the_index_until_announced() -> None:
    ended = {**shown("Completed", "Completed"), "trainingJobArn": ARN}
    assert tracked_from("ns", "train", "uid", 1, ended) is None
    owing = {**ended, "announced": "InProgress/Training"}
    assert tracked_from("ns", "train", "uid", 1, owing) is not None
    long_ago = {**owing, "trainingEndTime": "2026-01-01T00:00:00Z"}
    assert tracked_from("ns", "train", "uid", 1, long_ago, follow_for=3600) is None
