"""Each emulated operation, called through real boto3, answers as SageMaker does."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
from botocore.exceptions import ClientError

from sagemaker_emulator import Emulator
from tests.requests import minimal, typical

if TYPE_CHECKING:
    from mypy_boto3_sagemaker import SageMakerClient


def test_create_returns_an_arn_with_the_region_account_and_lowercased_name(
    sagemaker: SageMakerClient,
) -> None:
    answer = sagemaker.create_training_job(**typical("My-Job-1"))
    assert answer["TrainingJobArn"] == (
        "arn:aws:sagemaker:us-east-1:123456789012:training-job/my-job-1"
    )


def test_a_request_with_only_the_three_required_members_is_accepted(
    sagemaker: SageMakerClient,
) -> None:
    sagemaker.create_training_job(**minimal("bare"))
    described = sagemaker.describe_training_job(TrainingJobName="bare")
    assert described["TrainingJobStatus"] == "InProgress"
    assert described["SecondaryStatus"] == "Starting"
    assert described["StoppingCondition"] == {"MaxRuntimeInSeconds": 86400}


def test_describe_echoes_the_request_with_defaults_and_adds_status(
    sagemaker: SageMakerClient,
) -> None:
    request = typical("echo")
    sagemaker.create_training_job(**request)
    described = sagemaker.describe_training_job(TrainingJobName="echo")
    # SageMaker's documented defaults fill what the request left out (emulator/defaults.py).
    request["AlgorithmSpecification"]["EnableSageMakerMetricsTimeSeries"] = False
    request["InputDataConfig"][0]["CompressionType"] = "None"
    request["OutputDataConfig"]["CompressionType"] = "GZIP"
    for member in (
        "AlgorithmSpecification",
        "HyperParameters",
        "InputDataConfig",
        "ResourceConfig",
        "RoleArn",
        "OutputDataConfig",
        "StoppingCondition",
    ):
        assert described[member] == request[member], member
    assert "Tags" not in described  # tags are read with ListTags, as in AWS
    assert described["ModelArtifacts"]["S3ModelArtifacts"] == (
        "s3://my-bucket/output/echo/output/model.tar.gz"
    )
    assert described["CreationTime"] == described["LastModifiedTime"]


def test_a_duplicate_name_in_the_same_region_is_resource_in_use(
    sagemaker: SageMakerClient,
) -> None:
    sagemaker.create_training_job(**typical("twice"))
    with pytest.raises(ClientError) as raised:
        sagemaker.create_training_job(**typical("TWICE"))
    error = raised.value.response["Error"]
    assert error["Code"] == "ResourceInUse"
    assert "training-job/twice" in error["Message"]
    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400


def test_the_same_name_in_another_region_is_another_job(emulator: Emulator) -> None:
    def client(region: str) -> SageMakerClient:
        return emulator.sagemaker_client(region)

    east = client("us-east-1").create_training_job(**typical("shared-name"))
    west = client("eu-west-1").create_training_job(**typical("shared-name"))
    assert east["TrainingJobArn"].startswith("arn:aws:sagemaker:us-east-1:")
    assert west["TrainingJobArn"].startswith("arn:aws:sagemaker:eu-west-1:")
    assert [
        s["TrainingJobName"]
        for s in client("eu-west-1").list_training_jobs()["TrainingJobSummaries"]
    ] == ["shared-name"]


def test_an_unknown_job_is_a_validation_exception_not_found(sagemaker: SageMakerClient) -> None:
    for call in (sagemaker.describe_training_job, sagemaker.stop_training_job):
        with pytest.raises(ClientError) as raised:
            call(TrainingJobName="never-created")
        assert raised.value.response["Error"] == {
            "Code": "ValidationException",
            "Message": "Requested resource not found.",
        }


def test_stop_moves_a_running_job_to_stopping(sagemaker: SageMakerClient) -> None:
    sagemaker.create_training_job(**typical("halt"))
    sagemaker.stop_training_job(TrainingJobName="halt")
    described = sagemaker.describe_training_job(TrainingJobName="halt")
    assert (described["TrainingJobStatus"], described["SecondaryStatus"]) == (
        "Stopping",
        "Stopping",
    )
    with pytest.raises(ClientError, match="is in status Stopping"):
        sagemaker.stop_training_job(TrainingJobName="halt")


def test_tags_can_be_listed_added_and_deleted(sagemaker: SageMakerClient) -> None:
    arn = sagemaker.create_training_job(**typical("tagged"))["TrainingJobArn"]
    assert sagemaker.list_tags(ResourceArn=arn)["Tags"] == [{"Key": "team", "Value": "ml"}]

    added = sagemaker.add_tags(
        ResourceArn=arn,
        Tags=[{"Key": "owner", "Value": "ana"}, {"Key": "team", "Value": "platform"}],
    )
    assert added["Tags"] == [{"Key": "owner", "Value": "ana"}, {"Key": "team", "Value": "platform"}]
    assert sagemaker.list_tags(ResourceArn=arn)["Tags"] == [
        {"Key": "owner", "Value": "ana"},
        {"Key": "team", "Value": "platform"},
    ]

    sagemaker.delete_tags(ResourceArn=arn, TagKeys=["owner"])
    assert sagemaker.list_tags(ResourceArn=arn)["Tags"] == [{"Key": "team", "Value": "platform"}]


def test_list_tags_answers_all_fifty_tags_of_a_full_job_in_one_page(
    sagemaker: SageMakerClient,
) -> None:
    # ListTags pages hold at least 50 tags and a job holds at most 50: never a second page.
    tags = [{"Key": f"k{index:02}", "Value": str(index)} for index in range(50)]
    arn = sagemaker.create_training_job(**typical("many-tags", Tags=tags))["TrainingJobArn"]
    answer = sagemaker.list_tags(ResourceArn=arn, MaxResults=50)
    assert answer["Tags"] == tags
    assert "NextToken" not in answer


def test_more_than_fifty_tags_on_a_job_are_refused(sagemaker: SageMakerClient) -> None:
    tags = [{"Key": f"k{index}", "Value": "v"} for index in range(50)]
    arn = sagemaker.create_training_job(**typical("full", Tags=tags))["TrainingJobArn"]
    with pytest.raises(ClientError, match="the limit is 50"):
        sagemaker.add_tags(ResourceArn=arn, Tags=[{"Key": "one-more", "Value": "v"}])


def test_tags_of_an_unknown_arn_are_not_found(sagemaker: SageMakerClient) -> None:
    with pytest.raises(ClientError, match="Requested resource not found"):
        sagemaker.list_tags(
            ResourceArn="arn:aws:sagemaker:us-east-1:123456789012:training-job/ghost"
        )


def test_sts_get_caller_identity_answers_on_the_same_endpoint(emulator: Emulator) -> None:
    sts = emulator.sts_client()
    identity = sts.get_caller_identity()
    assert identity["Account"] == "123456789012"
    assert identity["Arn"] == "arn:aws:iam::123456789012:user/sagemaker-emulator"


def test_an_unknown_operation_is_answered_like_aws_not_with_a_crash(
    sagemaker: SageMakerClient,
) -> None:
    with pytest.raises(ClientError) as raised:
        sagemaker.create_endpoint(EndpointName="e", EndpointConfigName="c")
    assert raised.value.response["Error"]["Code"] == "UnknownOperationException"
    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    # The emulator still serves afterwards.
    sagemaker.create_training_job(**minimal("after-unknown"))


def test_an_unsupported_sts_action_is_invalid_action(emulator: Emulator) -> None:
    sts = emulator.sts_client()
    with pytest.raises(ClientError) as raised:
        sts.get_session_token()
    assert raised.value.response["Error"]["Code"] == "InvalidAction"
