"""SageMaker's answers become a status, and the status becomes the conditions kstatus reads."""

from __future__ import annotations

import datetime
from typing import Any

import pytest

from sagemaker_operator.api.trainingjob import Status
from sagemaker_operator.status.conditions import (
    conditions,
    status_from_sagemaker,
    verdict_for_job,
    verdict_for_problem,
)
from sagemaker_operator.status.fields import status_fields

T0 = datetime.datetime(2026, 11, 28, 12, 0, tzinfo=datetime.UTC)
T1 = T0 + datetime.timedelta(minutes=5)


def answer(status: str, secondary: str, **extra: Any) -> dict[str, Any]:
    return {
        "TrainingJobName": "j",
        "TrainingJobArn": "arn:aws:sagemaker:us-east-1:123456789012:training-job/j",
        "TrainingJobStatus": status,
        "SecondaryStatus": secondary,
        "CreationTime": T0,
        "LastModifiedTime": T1,
        "HyperParameters": {"a": "1"},  # Describe echoes the request: not status
        "ResponseMetadata": {"HTTPStatusCode": 200},
        "SecondaryStatusTransitions": [
            {"Status": "Starting", "StartTime": T0, "StatusMessage": "Starting the job"},
            {"Status": secondary, "StartTime": T1, "StatusMessage": f"now {secondary}"},
        ],
        **extra,
    }


def table(status: Status) -> dict[str, tuple[str, str | None]]:
    verdict = verdict_for_job(status)
    return {c.type: (c.status, c.reason) for c in conditions(verdict, 3, [], T1)}


def test_only_status_members_of_a_describe_answer_are_kept() -> None:
    status = status_from_sagemaker(answer("InProgress", "Training"))
    assert status.training_job_status == "InProgress"
    assert status.creation_time == T0
    assert "hyperParameters" not in status.to_kubernetes()


def test_a_summary_from_list_training_jobs_is_a_status_too() -> None:
    summary = {"TrainingJobName": "j", "TrainingJobArn": "arn", "CreationTime": T0,
               "TrainingJobStatus": "InProgress", "SecondaryStatus": "Downloading",
               "WarmPoolStatus": {"Status": "Available"}}  # fmt: skip
    status = status_from_sagemaker(summary)
    assert status.warm_pool_status is not None
    assert status.warm_pool_status.status == "Available"


@pytest.mark.parametrize(("job", "secondary", "expected"), [
    ("InProgress", "Training", {"Ready": ("False", "Training"),
                                "Reconciling": ("True", "Training"),
                                "Stalled": ("False", "Training")}),
    ("Stopping", "Stopping", {"Ready": ("False", "Stopping"),
                              "Reconciling": ("True", "Stopping"),
                              "Stalled": ("False", "Stopping")}),
    ("Completed", "Completed", {"Ready": ("True", "Completed"),
                                "Reconciling": ("False", "Completed"),
                                "Stalled": ("False", "Completed")}),
    ("Failed", "Failed", {"Ready": ("False", "Failed"), "Reconciling": ("False", "Failed"),
                          "Stalled": ("True", "Failed")}),
    ("Stopped", "MaxRuntimeExceeded", {"Ready": ("False", "MaxRuntimeExceeded"),
                                       "Reconciling": ("False", "MaxRuntimeExceeded"),
                                       "Stalled": ("True", "MaxRuntimeExceeded")}),
])  # fmt: skip
def test_each_job_status_gives_the_conditions_kstatus_expects(
    job: str, secondary: str, expected: dict[str, tuple[str, str]]
) -> None:
    assert table(status_from_sagemaker(answer(job, secondary))) == expected


def test_a_failure_carries_sagemakers_failure_reason() -> None:
    status = status_from_sagemaker(answer("Failed", "Failed", FailureReason="AlgorithmError: OOM"))
    stalled = conditions(verdict_for_job(status), 1, [], T1)[2]
    assert (stalled.type, stalled.message) == ("Stalled", "AlgorithmError: OOM")


def test_a_running_job_says_what_it_is_doing() -> None:
    ready = conditions(verdict_for_job(status_from_sagemaker(answer("InProgress", "Training"))),
                       1, [], T1)[0]  # fmt: skip
    assert ready.message == "now Training"
    assert ready.observed_generation == 1


def test_the_message_is_on_ready_and_the_condition_that_holds_only() -> None:
    """Issue M: ``kubectl describe`` showed one message three times. Ready (what most tools
    show) and the condition that holds carry it; one that does not hold says nothing."""
    running = conditions(verdict_for_job(status_from_sagemaker(answer("InProgress", "Training"))),
                         1, [], T1)  # fmt: skip
    assert [(c.type, c.status, c.message) for c in running] == [
        ("Ready", "False", "now Training"), ("Reconciling", "True", "now Training"),
        ("Stalled", "False", "")]  # fmt: skip
    done = conditions(verdict_for_job(status_from_sagemaker(answer("Completed", "Completed"))),
                      1, [], T1)  # fmt: skip
    assert [c.message for c in done][1:] == ["", ""]


def test_problems_are_reconciling_while_retried_and_stalled_when_terminal() -> None:
    retry = conditions(verdict_for_problem("ThrottlingException", "Rate exceeded",
                                           retrying=True), 1, [], T1)  # fmt: skip
    assert [(c.type, c.status) for c in retry] == [
        ("Ready", "False"),
        ("Reconciling", "True"),
        ("Stalled", "False"),
    ]
    denied = conditions(verdict_for_problem("PolicyDenied", "role not allowed",
                                            retrying=False), 1, [], T1)  # fmt: skip
    assert [(c.type, c.status, c.reason) for c in denied][2] == ("Stalled", "True", "PolicyDenied")


def test_transition_times_change_only_when_a_condition_flips() -> None:
    running = verdict_for_job(status_from_sagemaker(answer("InProgress", "Downloading")))
    first = conditions(running, 1, [], T0)
    still = conditions(verdict_for_job(status_from_sagemaker(answer("InProgress", "Training"))),
                       1, first, T1)  # fmt: skip
    assert [c.last_transition_time for c in still] == [T0, T0, T0]
    assert still[1].reason == "Training"
    done = conditions(verdict_for_job(status_from_sagemaker(answer("Completed", "Completed"))),
                      1, still, T1)  # fmt: skip
    assert [c.last_transition_time for c in done] == [T1, T1, T0]  # Ready, Reconciling flipped


def test_the_reason_column_says_why_a_job_has_not_run_or_why_it_failed() -> None:
    """Issue M: ``kubectl get -o wide`` read failureReason only, and was blank for jobs that
    never started (a policy refusal, an invalid spec, a name conflict, a quota or role wait)."""
    denied = status_fields(None, verdict_for_problem("PolicyDenied", "spec.roleArn …",
                                                     retrying=False), 1, [])  # fmt: skip
    assert denied["reason"] == "PolicyDenied"
    waiting = status_fields(None, verdict_for_problem("ResourceLimitExceeded", "quota",
                                                      retrying=True), 1, [])  # fmt: skip
    assert waiting["reason"] == "ResourceLimitExceeded"
    failed = status_from_sagemaker(answer("Failed", "Failed", FailureReason="AlgorithmError: OOM"))
    assert status_fields(failed, verdict_for_job(failed), 1, [])["reason"] == "AlgorithmError: OOM"
    running = status_from_sagemaker(answer("InProgress", "Training"))
    assert status_fields(running, verdict_for_job(running), 1, [])["reason"] is None
    done = status_from_sagemaker(answer("Completed", "Completed"))
    assert status_fields(done, verdict_for_job(done), 1, [])["reason"] is None
    stopped = status_from_sagemaker(answer("Stopped", "MaxRuntimeExceeded"))
    assert status_fields(stopped, verdict_for_job(stopped), 1, [])["reason"] == (
        "MaxRuntimeExceeded"
    )
