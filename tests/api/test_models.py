"""The generated models map a spec to the exact CreateTrainingJob parameters, and back."""

from __future__ import annotations

import datetime

import pytest
from pydantic import ValidationError

from sagemaker_emulator.samples import typical
from sagemaker_operator.api import trainingjob
from tests.api.manifests import typical_spec


def test_a_spec_becomes_the_boto3_request_with_api_names_and_map_keys_untouched() -> None:
    spec = trainingjob.Spec.model_validate(
        typical_spec(trainingJobName="job-1", hyperParameters={"max_depth": "5"})
    )
    request = spec.to_api()
    assert request == {
        "TrainingJobName": "job-1",
        "HyperParameters": {"max_depth": "5"},
        "AlgorithmSpecification": {
            "TrainingImage": "683313688378.dkr.ecr.us-east-1.amazonaws.com/xgboost:1.7-1",
            "TrainingInputMode": "File",
        },
        "RoleArn": "arn:aws:iam::123456789012:role/SageMakerRole",
        "InputDataConfig": [{
            "ChannelName": "train",
            "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix",
                                             "S3Uri": "s3://my-bucket/train"}},
        }],
        "OutputDataConfig": {"S3OutputPath": "s3://my-bucket/output"},
        "ResourceConfig": {"InstanceType": "ml.m5.large", "InstanceCount": 1,
                           "VolumeSizeInGB": 5},
        "StoppingCondition": {"MaxRuntimeInSeconds": 3600},
        "Tags": [{"Key": "team", "Value": "ml"}],
    }  # fmt: skip


def test_a_boto3_request_parses_into_the_same_spec() -> None:
    request = typical("job-1")
    spec = trainingjob.Spec.model_validate(request)
    assert spec.to_api() == request
    assert spec.resource_config is not None
    assert spec.resource_config.volume_size_in_gb == 5
    assert spec.to_kubernetes()["resourceConfig"] == {
        "instanceType": "ml.m5.large",
        "instanceCount": 1,
        "volumeSizeInGB": 5,
    }


def test_region_is_a_spec_field_but_not_a_request_member() -> None:
    spec = trainingjob.Spec.model_validate(typical_spec(region="eu-west-1"))
    assert spec.region == "eu-west-1"
    assert spec.to_kubernetes()["region"] == "eu-west-1"
    assert "Region" not in spec.to_api()


def test_the_spec_refuses_unknown_fields_and_wrong_enums() -> None:
    with pytest.raises(ValidationError, match="roleARN"):
        trainingjob.Spec.model_validate({**typical_spec(), "roleARN": "x"})
    with pytest.raises(ValidationError, match="trainingInputMode"):
        trainingjob.Spec.model_validate(
            typical_spec(
                algorithmSpecification={"trainingImage": "i", "trainingInputMode": "Stream"}
            )
        )


def test_a_describe_answer_becomes_a_status() -> None:
    moment = datetime.datetime(2026, 11, 28, 12, 0, tzinfo=datetime.UTC)
    status = trainingjob.Status.model_validate(
        {
            "TrainingJobArn": "arn:aws:sagemaker:us-east-1:123456789012:training-job/j",
            "TrainingJobStatus": "InProgress",
            "SecondaryStatus": "SomethingNew",  # status accepts values newer than the model
            "CreationTime": moment,
            "ModelArtifacts": {"S3ModelArtifacts": "s3://b/j/output/model.tar.gz"},
            "SecondaryStatusTransitions": [{"Status": "Starting", "StartTime": moment}],
        }
    )
    assert status.to_kubernetes() == {
        "trainingJobArn": "arn:aws:sagemaker:us-east-1:123456789012:training-job/j",
        "trainingJobStatus": "InProgress",
        "secondaryStatus": "SomethingNew",
        "creationTime": "2026-11-28T12:00:00Z",
        "modelArtifacts": {"s3ModelArtifacts": "s3://b/j/output/model.tar.gz"},
        "secondaryStatusTransitions": [{"status": "Starting",
                                        "startTime": "2026-11-28T12:00:00Z"}],
    }  # fmt: skip
