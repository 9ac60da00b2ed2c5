"""Pure logic of adoption: the manifest from Describe, and what differs from the job."""

from __future__ import annotations

import datetime
from typing import Any

from sagemaker_operator.controller.adopt import adopting
from sagemaker_operator.controller.requests import adopted_request, mismatches
from sagemaker_operator.kubectl.adopt import manifest

DESCRIBED: dict[str, Any] = {
    "TrainingJobName": "From-SDK",
    "TrainingJobArn": "arn:aws:sagemaker:us-east-1:123456789012:training-job/from-sdk",
    "TrainingJobStatus": "InProgress",
    "CreationTime": datetime.datetime(2026, 12, 1, tzinfo=datetime.UTC),
    "RoleArn": "arn:aws:iam::123456789012:role/SageMakerRole",
    "AlgorithmSpecification": {"TrainingImage": "image:1", "TrainingInputMode": "File",
                               "EnableSageMakerMetricsTimeSeries": False},
    "HyperParameters": {"epochs": "3"},
    "OutputDataConfig": {"S3OutputPath": "s3://bucket/out", "CompressionType": "GZIP"},
    "ResourceConfig": {"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 5},
    "StoppingCondition": {"MaxRuntimeInSeconds": 86400},
    "EnableNetworkIsolation": False, "EnableInterContainerTrafficEncryption": False,
    "EnableManagedSpotTraining": False,
    "EmulatorFutureMember": {"Detail": "a member only a newer model knows"},
}  # fmt: skip
TAGS = [{"Key": "team", "Value": "ml"}, {"Key": "aws:cloudformation:stack-name", "Value": "x"},
        {"Key": "sagemaker-operator.dev/uid", "Value": "someone"}]  # fmt: skip


def test_the_manifest_carries_every_create_member_describe_reports_and_the_users_tags() -> None:
    document = manifest(DESCRIBED, TAGS, region="us-east-1", namespace="ml")
    assert document["metadata"] == {
        "name": "from-sdk", "namespace": "ml",
        "annotations": {"sagemaker-operator.dev/adopt": "true"}}  # fmt: skip
    spec = document["spec"]
    assert spec["trainingJobName"] == "From-SDK"
    assert spec["region"] == "us-east-1"
    assert spec["tags"] == [{"key": "team", "value": "ml"}]  # neither aws: nor ours
    assert spec["hyperParameters"] == {"epochs": "3"}
    assert "trainingJobStatus" not in spec
    assert "creationTime" not in spec
    assert "emulatorFutureMember" not in spec


def test_a_spec_matches_its_job_whatever_defaults_it_leaves_out() -> None:
    request = {key: value for key, value in adopted_request(DESCRIBED, TAGS).items()
               if key not in {"EnableNetworkIsolation", "StoppingCondition"}}  # fmt: skip
    request["OutputDataConfig"] = {"S3OutputPath": "s3://bucket/out"}
    request["Tags"] = [*request["Tags"], {"Key": "sagemaker-operator.dev/uid", "Value": "me"}]
    assert mismatches(request, DESCRIBED, TAGS) == []


def test_each_differing_field_is_named() -> None:
    request = adopted_request(DESCRIBED, TAGS)
    request["HyperParameters"] = {"epochs": "4"}
    request["ResourceConfig"] = {**request["ResourceConfig"], "InstanceCount": 2}
    request["EnableManagedSpotTraining"] = True
    del request["Tags"]
    assert mismatches(request, DESCRIBED, TAGS) == [
        "spec.enableManagedSpotTraining", "spec.hyperParameters",
        "spec.resourceConfig.instanceCount", "spec.tags",
    ]  # fmt: skip


def test_only_a_true_annotation_adopts() -> None:
    assert adopting({"sagemaker-operator.dev/adopt": "true"})
    assert adopting({"sagemaker-operator.dev/adopt": " True "})
    assert not adopting({"sagemaker-operator.dev/adopt": "yes"})
    assert not adopting({})
