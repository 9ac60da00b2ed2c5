"""ListTrainingJobs: every filter botocore offers, sorting, and pagination."""

from __future__ import annotations

import datetime
import email.utils
from typing import TYPE_CHECKING, Any

import pytest

from sagemaker_emulator import Emulator, EmulatorControl
from tests.requests import typical

if TYPE_CHECKING:
    from mypy_boto3_sagemaker import SageMakerClient

UTC = datetime.UTC


@pytest.fixture
def control(emulator: Emulator) -> EmulatorControl:
    control = EmulatorControl(emulator.endpoint_url)
    control.set_profile("realistic")
    control.pause_clock()
    return control


def names(answer: Any) -> list[str]:
    return [summary["TrainingJobName"] for summary in answer["TrainingJobSummaries"]]


def at(seconds: float) -> datetime.datetime:
    return datetime.datetime.fromtimestamp(seconds, UTC)


def create_spaced(
    sagemaker: SageMakerClient, control: EmulatorControl, count: int, prefix: str = "job"
) -> list[float]:
    """Create jobs one emulated minute apart; return each creation time."""
    times = []
    for index in range(count):
        times.append(control.advance_clock(60))
        sagemaker.create_training_job(**typical(f"{prefix}-{index:02}"))
    return times


def test_an_empty_account_lists_nothing(sagemaker: SageMakerClient) -> None:
    answer = sagemaker.list_training_jobs()
    assert answer["TrainingJobSummaries"] == []
    assert "NextToken" not in answer


def test_summaries_carry_status_secondary_status_and_times(
    sagemaker: SageMakerClient, control: EmulatorControl
) -> None:
    sagemaker.create_training_job(**typical("summarised"))
    control.advance_clock(100)
    (summary,) = sagemaker.list_training_jobs()["TrainingJobSummaries"]
    assert summary["TrainingJobStatus"] == "InProgress"
    assert summary["SecondaryStatus"] == "Downloading"
    assert summary["TrainingJobArn"].endswith("training-job/summarised")
    assert summary["LastModifiedTime"] > summary["CreationTime"]
    assert "TrainingEndTime" not in summary


def test_the_default_page_is_ten_by_creation_time_ascending(
    sagemaker: SageMakerClient, control: EmulatorControl
) -> None:
    create_spaced(sagemaker, control, 12)
    answer = sagemaker.list_training_jobs()
    assert names(answer) == [f"job-{index:02}" for index in range(10)]
    assert "NextToken" in answer


def test_pages_follow_next_token_to_the_end_without_gaps_or_repeats(
    sagemaker: SageMakerClient, control: EmulatorControl
) -> None:
    create_spaced(sagemaker, control, 23)
    seen: list[str] = []
    token: dict[str, str] = {}
    pages = 0
    while True:
        answer = sagemaker.list_training_jobs(MaxResults=5, **token)  # type: ignore[arg-type]
        seen += names(answer)
        pages += 1
        if "NextToken" not in answer:
            break
        token = {"NextToken": answer["NextToken"]}
    assert pages == 5
    assert seen == [f"job-{index:02}" for index in range(23)]
    paginated = [
        summary["TrainingJobName"]
        for page in sagemaker.get_paginator("list_training_jobs").paginate(
            PaginationConfig={"PageSize": 100}
        )
        for summary in page["TrainingJobSummaries"]
    ]
    assert paginated == seen


def test_creation_time_after_and_before_are_exclusive(
    sagemaker: SageMakerClient, control: EmulatorControl
) -> None:
    times = create_spaced(sagemaker, control, 5)
    assert names(sagemaker.list_training_jobs(CreationTimeAfter=at(times[1]))) == [
        "job-02",
        "job-03",
        "job-04",
    ]
    assert names(sagemaker.list_training_jobs(CreationTimeBefore=at(times[1]))) == ["job-00"]
    assert names(
        sagemaker.list_training_jobs(
            CreationTimeAfter=at(times[0]), CreationTimeBefore=at(times[3])
        )
    ) == ["job-01", "job-02"]


def test_last_modified_time_after_returns_only_jobs_that_changed(
    sagemaker: SageMakerClient, control: EmulatorControl
) -> None:
    sagemaker.create_training_job(**typical("early"))
    control.advance_clock(60)
    sagemaker.create_training_job(**typical("late"))
    checkpoint = control.advance_clock(1)
    assert names(sagemaker.list_training_jobs(LastModifiedTimeAfter=at(checkpoint))) == []
    control.advance_clock(30)  # early enters Downloading at 90 s; late still Starting
    assert names(sagemaker.list_training_jobs(LastModifiedTimeAfter=at(checkpoint))) == ["early"]
    assert names(sagemaker.list_training_jobs(LastModifiedTimeBefore=at(checkpoint))) == ["late"]


def test_name_contains_matches_any_case(
    sagemaker: SageMakerClient, control: EmulatorControl
) -> None:
    create_spaced(sagemaker, control, 2, prefix="resnet")
    create_spaced(sagemaker, control, 2, prefix="bert")
    assert names(sagemaker.list_training_jobs(NameContains="BERT")) == ["bert-00", "bert-01"]


def test_status_equals_filters_by_status(
    sagemaker: SageMakerClient, control: EmulatorControl
) -> None:
    create_spaced(sagemaker, control, 3)
    sagemaker.stop_training_job(TrainingJobName="job-01")
    assert names(sagemaker.list_training_jobs(StatusEquals="Stopping")) == ["job-01"]
    assert names(sagemaker.list_training_jobs(StatusEquals="InProgress")) == ["job-00", "job-02"]
    control.advance_clock(30)
    assert names(sagemaker.list_training_jobs(StatusEquals="Stopped")) == ["job-01"]


def test_warm_pool_status_equals_filters_by_warm_pool(
    sagemaker: SageMakerClient, control: EmulatorControl
) -> None:
    resources = {"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 5}
    sagemaker.create_training_job(**typical("cold", ResourceConfig=resources))
    sagemaker.create_training_job(
        **typical("warm", ResourceConfig={**resources, "KeepAlivePeriodInSeconds": 600})
    )
    control.advance_clock(1000)  # completed at 455 s, kept warm until 1055 s
    assert names(sagemaker.list_training_jobs(WarmPoolStatusEquals="Available")) == ["warm"]
    control.advance_clock(60)
    assert names(sagemaker.list_training_jobs(WarmPoolStatusEquals="Terminated")) == ["warm"]


def test_training_plan_arn_equals_filters_by_plan(
    sagemaker: SageMakerClient, control: EmulatorControl
) -> None:
    plan = "arn:aws:sagemaker:us-east-1:123456789012:training-plan/p1"
    resources = {"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 5}
    sagemaker.create_training_job(
        **typical("planned", ResourceConfig={**resources, "TrainingPlanArn": plan})
    )
    sagemaker.create_training_job(**typical("unplanned", ResourceConfig=resources))
    assert names(sagemaker.list_training_jobs(TrainingPlanArnEquals=plan)) == ["planned"]


@pytest.mark.parametrize(
    ("sort_by", "order", "expected"),
    [
        ("Name", "Ascending", ["a-job", "b-job", "c-job"]),
        ("Name", "Descending", ["c-job", "b-job", "a-job"]),
        ("CreationTime", "Ascending", ["b-job", "c-job", "a-job"]),
        ("CreationTime", "Descending", ["a-job", "c-job", "b-job"]),
        ("Status", "Ascending", ["b-job", "c-job", "a-job"]),  # InProgress < Stopping
        ("Status", "Descending", ["a-job", "c-job", "b-job"]),
    ],
)
def test_sort_by_and_sort_order(
    sagemaker: SageMakerClient,
    control: EmulatorControl,
    sort_by: str,
    order: str,
    expected: list[str],
) -> None:
    for name in ("b-job", "c-job", "a-job"):
        control.advance_clock(1)
        sagemaker.create_training_job(**typical(name))
    sagemaker.stop_training_job(TrainingJobName="a-job")
    answer = sagemaker.list_training_jobs(SortBy=sort_by, SortOrder=order)  # type: ignore[arg-type]
    assert names(answer) == expected


def test_the_date_header_is_the_emulated_clock_as_sagemakers_is_its_own(
    sagemaker: SageMakerClient, control: EmulatorControl
) -> None:
    now = control.advance_clock(86_400)  # a day ahead of the machine's clock
    answer = sagemaker.list_training_jobs()
    date = email.utils.parsedate_to_datetime(answer["ResponseMetadata"]["HTTPHeaders"]["date"])
    assert date == at(now).replace(microsecond=0)
