"""The emulator as unkind as AWS is documented or reported to be, each behaviour a switch.

Every switch is off by default (the emulator answers as the kind reading of the API
reference); a test turns on the ones it needs with EmulatorControl.set_faults.
"""

from __future__ import annotations

import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from botocore.exceptions import ClientError

from sagemaker_emulator import Emulator, EmulatorControl
from tests.requests import ROLE, typical

if TYPE_CHECKING:
    from mypy_boto3_sagemaker import SageMakerClient


@pytest.fixture
def control(emulator: Emulator) -> EmulatorControl:
    control = EmulatorControl(emulator.endpoint_url)
    control.pause_clock()
    return control


def names(answer: Any) -> list[str]:
    return [summary["TrainingJobName"] for summary in answer["TrainingJobSummaries"]]


def at(seconds: float) -> datetime.datetime:
    return datetime.datetime.fromtimestamp(seconds, datetime.UTC)


def test_a_seeded_account_holds_years_of_finished_jobs(
    sagemaker: SageMakerClient, control: EmulatorControl
) -> None:
    assert control.seed(2000, years=3) == 2000
    page = sagemaker.list_training_jobs(MaxResults=100)
    assert len(page["TrainingJobSummaries"]) == 100
    assert "NextToken" in page
    oldest = page["TrainingJobSummaries"][0]
    assert oldest["TrainingJobStatus"] == "Completed"
    age = datetime.datetime.now(datetime.UTC) - oldest["CreationTime"]
    assert datetime.timedelta(days=3 * 365 - 2) < age < datetime.timedelta(days=3 * 365 + 2)


def test_filtering_after_paging_answers_empty_pages_with_a_next_token(
    sagemaker: SageMakerClient, control: EmulatorControl
) -> None:
    """ListTrainingJobs' reference: with StatusEquals the page of MaxResults is read first
    and filtered after; reported of LastModifiedTimeAfter too (aws-cli #7596)."""
    control.seed(450)
    now = control.advance_clock(1)
    sagemaker.create_training_job(**typical("fresh"))
    kind = sagemaker.list_training_jobs(LastModifiedTimeAfter=at(now - 1), MaxResults=100)
    assert names(kind) == ["fresh"]
    assert "NextToken" not in kind

    control.set_faults(filter_after_paging=True)
    pages, found, token = 0, [], dict[str, str]()
    while True:
        answer = sagemaker.list_training_jobs(LastModifiedTimeAfter=at(now - 1), MaxResults=100,
                                              **token)  # type: ignore[arg-type]  # fmt: skip
        pages += 1
        found += names(answer)
        if "NextToken" not in answer:
            break
        token = {"NextToken": answer["NextToken"]}
    assert found == ["fresh"]
    assert pages == 5  # 451 jobs read, 100 a page, to find one
    # CreationTime bounds are SageMaker's index: applied before paging.
    bounded = sagemaker.list_training_jobs(LastModifiedTimeAfter=at(now - 1), MaxResults=100,
                                           CreationTimeAfter=at(now - 1))  # fmt: skip
    assert names(bounded) == ["fresh"]
    assert "NextToken" not in bounded


def test_a_change_lists_only_after_the_listing_delay_while_describe_shows_it_at_once(
    sagemaker: SageMakerClient, control: EmulatorControl
) -> None:
    control.set_faults(listing_delay=5)
    start = control.advance_clock(0)
    sagemaker.create_training_job(**typical("lagging"))
    control.advance_clock(3)  # Completed at 2.5 s (fast profile)
    assert sagemaker.describe_training_job(TrainingJobName="lagging")["TrainingJobStatus"] == (
        "Completed"
    )
    assert names(sagemaker.list_training_jobs(LastModifiedTimeAfter=at(start))) == []
    control.advance_clock(5)
    assert names(sagemaker.list_training_jobs(LastModifiedTimeAfter=at(start))) == ["lagging"]


def test_tags_list_only_after_the_tag_listing_delay(
    sagemaker: SageMakerClient, control: EmulatorControl
) -> None:
    control.set_faults(tag_listing_delay=10)
    arn = sagemaker.create_training_job(**typical("tagged", Tags=[{"Key": "k", "Value": "v"}]))[
        "TrainingJobArn"
    ]
    assert sagemaker.list_tags(ResourceArn=arn)["Tags"] == []
    control.advance_clock(10)
    assert sagemaker.list_tags(ResourceArn=arn)["Tags"] == [{"Key": "k", "Value": "v"}]


def test_new_answer_members_reach_a_client_whose_model_knows_them(
    emulator: Emulator, control: EmulatorControl, future_model: Path
) -> None:
    """A newer SageMaker adds members; a newer botocore (here: AWS_DATA_PATH) parses them."""
    sagemaker = emulator.sagemaker_client()
    control.set_faults(new_answer_members=True)
    sagemaker.create_training_job(**typical("newer", ResourceConfig={
        "InstanceType": "ml.m5.xlarge", "InstanceCount": 1, "VolumeSizeInGB": 10,
        "KeepAlivePeriodInSeconds": 60}))  # fmt: skip
    control.advance_clock(3)
    answer: Any = sagemaker.describe_training_job(TrainingJobName="newer")
    assert answer["EmulatorFutureMember"] == {"Detail": "new"}
    assert answer["WarmPoolStatus"]["EmulatorFutureDetail"] == "new"
    assert answer["SecondaryStatusTransitions"][0]["EmulatorFutureDetail"] == "new"
    summary: Any = sagemaker.list_training_jobs()["TrainingJobSummaries"][0]
    assert summary["EmulatorFutureMember"] == {"Detail": "new"}


def test_the_concurrent_jobs_quota_refuses_creates_with_resource_limit_exceeded(
    sagemaker: SageMakerClient, control: EmulatorControl
) -> None:
    control.set_faults(max_concurrent_jobs=2)
    sagemaker.create_training_job(**typical("one"))
    sagemaker.create_training_job(**typical("two"))
    with pytest.raises(ClientError) as refused:
        sagemaker.create_training_job(**typical("three"))
    assert refused.value.response["Error"]["Code"] == "ResourceLimitExceeded"
    control.advance_clock(3)  # the first two completed: the quota is free again
    sagemaker.create_training_job(**typical("three"))


def test_a_new_role_cannot_be_assumed_until_iam_has_propagated_it(
    sagemaker: SageMakerClient, control: EmulatorControl
) -> None:
    control.set_faults(role_propagation_delay=30)
    with pytest.raises(ClientError) as refused:
        sagemaker.create_training_job(**typical("early"))
    assert refused.value.response["Error"]["Code"] == "ValidationException"
    assert f"Could not assume role {ROLE}" in refused.value.response["Error"]["Message"]
    control.advance_clock(30)
    sagemaker.create_training_job(**typical("early"))


def test_denied_operations_answer_access_denied_for_the_named_jobs_only(
    sagemaker: SageMakerClient, control: EmulatorControl
) -> None:
    control.set_faults(denied={"DescribeTrainingJob": ["secret"]})
    sagemaker.create_training_job(**typical("secret"))
    sagemaker.create_training_job(**typical("open"))
    with pytest.raises(ClientError) as refused:
        sagemaker.describe_training_job(TrainingJobName="secret")
    assert refused.value.response["Error"]["Code"] == "AccessDeniedException"
    assert sagemaker.describe_training_job(TrainingJobName="open")["TrainingJobName"] == "open"


def test_a_deleted_job_is_not_found_and_only_an_ended_one_can_be_deleted(
    sagemaker: SageMakerClient, control: EmulatorControl
) -> None:
    sagemaker.create_training_job(**typical("short-lived"))
    with pytest.raises(ClientError, match="InProgress"):
        sagemaker.delete_training_job(TrainingJobName="short-lived")
    control.advance_clock(3)
    sagemaker.delete_training_job(TrainingJobName="short-lived")
    with pytest.raises(ClientError, match="Requested resource not found"):
        sagemaker.describe_training_job(TrainingJobName="short-lived")


def test_rule_evaluations_end_after_the_job_does(
    sagemaker: SageMakerClient, control: EmulatorControl
) -> None:
    rules = [{"RuleConfigurationName": "LossNotDecreasing",
              "RuleEvaluatorImage": "503895931360.dkr.ecr.us-east-1.amazonaws.com/sagemaker-debugger-rules:latest"}]  # noqa: E501  # fmt: skip
    sagemaker.create_training_job(**typical("debugged", DebugRuleConfigurations=rules))
    control.advance_clock(3)  # the job Completed at 2.5 s; its rules run 1 s more
    answer = sagemaker.describe_training_job(TrainingJobName="debugged")
    assert answer["TrainingJobStatus"] == "Completed"
    assert answer["DebugRuleEvaluationStatuses"][0]["RuleEvaluationStatus"] == "InProgress"
    control.advance_clock(1)
    answer = sagemaker.describe_training_job(TrainingJobName="debugged")
    assert answer["DebugRuleEvaluationStatuses"][0]["RuleEvaluationStatus"] == "NoIssuesFound"
