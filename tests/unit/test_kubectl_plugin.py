"""The plugin's pure parts: the describe summary, and reading logs once each while following."""

from __future__ import annotations

import datetime
from collections.abc import Iterator
from typing import Any

import pytest

from sagemaker_operator.api.trainingjob import Spec, Status
from sagemaker_operator.kubectl import describe
from sagemaker_operator.kubectl.cli import since
from sagemaker_operator.kubectl.logs import LogReader
from sagemaker_operator.status.conditions import status_from_sagemaker

NOW = datetime.datetime(2026, 11, 28, 19, 0, tzinfo=datetime.UTC)


def minutes_ago(minutes: float) -> datetime.datetime:
    return NOW - datetime.timedelta(minutes=minutes)


def test_describe_shows_durations_metrics_spot_savings_and_links() -> None:
    spec = Spec.model_validate({
        "roleArn": "arn:aws:iam::123456789012:role/R", "enableManagedSpotTraining": True,
        "outputDataConfig": {"s3OutputPath": "s3://b/o"}, "checkpointConfig": {"s3Uri": "s3://b/c"},
    })  # fmt: skip
    resource = Status.model_validate({"region": "eu-west-1", "trainingJobName": "j",
                                      "cloudWatchLogsUrl": "https://logs.example"})  # fmt: skip
    job = status_from_sagemaker({
        "TrainingJobName": "j", "TrainingJobArn": "arn:aws:sagemaker:eu-west-1:1:training-job/j",
        "TrainingJobStatus": "Completed", "SecondaryStatus": "Completed",
        "SecondaryStatusTransitions": [
            {"Status": "Starting", "StartTime": minutes_ago(60), "EndTime": minutes_ago(58),
             "StatusMessage": "Launching"},
            {"Status": "Training", "StartTime": minutes_ago(58), "EndTime": minutes_ago(3),
             "StatusMessage": "Training"},
            {"Status": "Completed", "StartTime": minutes_ago(3), "StatusMessage": "done"}],
        "FinalMetricDataList": [{"MetricName": "validation:rmse", "Value": 0.25,
                                 "Timestamp": minutes_ago(3)}],
        "TrainingTimeInSeconds": 3300, "BillableTimeInSeconds": 990,
    })  # fmt: skip
    text = describe.render("j", "ml", spec, resource, job, now=NOW)
    rows = text.split("Transitions:\n")[1].split("\n\n")[0].splitlines()
    assert [row.split()[3] for row in rows[1:]] == ["2m00s", "55m00s", "-"]
    assert "  validation:rmse = 0.25" in text
    assert "  checkpoints:  s3://b/c" in text
    assert "  billable:     16m30s (managed spot saved 70 %)" in text
    assert "console:      https://eu-west-1.console.aws.amazon.com/sagemaker/home" \
           "?region=eu-west-1#/jobs/j" in text  # fmt: skip


def test_a_running_transition_counts_so_far_and_a_resource_without_job_says_so() -> None:
    spec = Spec.model_validate({"roleArn": "arn:aws:iam::123456789012:role/R",
                                "outputDataConfig": {"s3OutputPath": "s3://b/o"}})  # fmt: skip
    running = {"Status": "Training", "StartTime": minutes_ago(2), "StatusMessage": "Training"}
    job = status_from_sagemaker(
        {"TrainingJobStatus": "InProgress", "SecondaryStatusTransitions": [running]}
    )
    assert "2m00s so far" in describe.render("j", "ml", spec, Status(), job, now=NOW)
    assert "Training job:  none yet" in describe.render("j", "ml", spec, Status(), None, now=NOW)


def test_describe_prints_each_conditions_reason_and_message_also_without_a_job() -> None:
    """Issue M: a refused job's reasons were printed, not what they meant."""
    spec = Spec.model_validate({"roleArn": "arn:aws:iam::123456789012:role/R",
                                "outputDataConfig": {"s3OutputPath": "s3://b/o"}})  # fmt: skip
    said = "spec.roleArn arn:aws:iam::9:role/Admin is not allowed"
    refused = Status.model_validate({"conditions": [
        {"type": type_, "status": state, "reason": "PolicyDenied", "message": message,
         "lastTransitionTime": NOW}
        for type_, state, message in [("Ready", "False", said), ("Reconciling", "False", ""),
                                      ("Stalled", "True", said)]]})  # fmt: skip
    text = describe.render("j", "ml", spec, refused, None, now=NOW)
    assert f"  Stalled=True (PolicyDenied): {said}\n" in text
    assert "  Reconciling=False (PolicyDenied)\n" in text
    assert "Training job:  none yet" in text


def test_a_status_that_says_it_all_is_not_repeated() -> None:
    """Issue M: "Completed (Completed)"."""
    spec = Spec.model_validate({"roleArn": "arn:aws:iam::123456789012:role/R",
                                "outputDataConfig": {"s3OutputPath": "s3://b/o"}})  # fmt: skip
    done = status_from_sagemaker({"TrainingJobStatus": "Completed", "SecondaryStatus": "Completed"})
    assert "Status:        Completed\n" in describe.render("j", "ml", spec, done, done, now=NOW)
    stopped = status_from_sagemaker({"TrainingJobStatus": "Stopped",
                                     "SecondaryStatus": "MaxRuntimeExceeded"})  # fmt: skip
    assert "Status:        Stopped (MaxRuntimeExceeded)\n" in describe.render(
        "j", "ml", spec, stopped, stopped, now=NOW
    )


class Pages:
    """FilterLogEvents answers, one list of events per read (the client is AWS's side)."""

    def __init__(self, reads: list[list[dict[str, Any]]]) -> None:
        self.reads = reads
        self.starts: list[int | None] = []

    def get_paginator(self, name: str) -> Pages:
        assert name == "filter_log_events"
        return self

    def paginate(self, **parameters: Any) -> Iterator[dict[str, Any]]:
        self.starts.append(parameters.get("startTime"))
        yield {"events": self.reads.pop(0)}


def event(event_id: str, timestamp: int, host: int = 1) -> dict[str, Any]:
    return {"eventId": event_id, "timestamp": timestamp, "message": f"line {event_id}\n",
            "logStreamName": f"job/algo-{host}-1700000000"}  # fmt: skip


def test_following_returns_each_line_once_and_reads_back_over_late_lines() -> None:
    pages = Pages([
        [event("a", 1000), event("b", 2000, host=2)],
        [event("b", 2000, host=2), event("c", 2000), event("late", 1500)],
        [event("c", 2000), event("d", 9000)],
    ])  # fmt: skip
    reader = LogReader(pages, "job")  # type: ignore[arg-type]
    assert [line.event_id for line in reader.new_lines()] == ["a", "b"]
    assert [line.event_id for line in reader.new_lines()] == ["late", "c"]
    assert [line.event_id for line in reader.new_lines()] == ["d"]
    assert pages.starts == [None, 2000 - LogReader.LOOKBACK_MS, 2000 - LogReader.LOOKBACK_MS]
    first = LogReader(Pages([[event("a", 1000, host=2)]]), "job").new_lines()[0]  # type: ignore[arg-type]
    assert (first.host, first.render(hosts=True), first.render(hosts=False)) == (
        "algo-2", "[algo-2] line a", "line a")  # fmt: skip


@pytest.mark.parametrize(("text", "seconds"), [("30s", 30), ("10m", 600), ("2h", 7200),
                                               ("1d", 86400)])  # fmt: skip
def test_since_reads_kubectl_style_durations(text: str, seconds: int) -> None:
    assert since(text).total_seconds() == seconds
