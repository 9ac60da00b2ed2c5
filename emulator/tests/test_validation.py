"""Every request is validated against SageMaker's service model, as AWS does on its side.

Bad requests are sent as raw JSON, as a client in another language would send them, so
what is refused is refused by the emulator, not by botocore on the client side.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from sagemaker_emulator import Emulator
from tests import wire
from tests.requests import corpus, minimal, typical

if TYPE_CHECKING:
    from mypy_boto3_sagemaker import SageMakerClient


@pytest.fixture
def unchecked(emulator: Emulator) -> SageMakerClient:
    return emulator.sagemaker_client(
        config=Config(parameter_validation=False, retries={"max_attempts": 1}),
    )


def refusal(emulator: Emulator, request: dict[str, Any]) -> str:
    status, body = wire.send(emulator.endpoint_url, "CreateTrainingJob", request)
    assert (status, body["__type"]) == (400, "ValidationException")
    message: str = body["message"]
    return message


def without(request: dict[str, Any], member: str) -> dict[str, Any]:
    return {key: value for key, value in request.items() if key != member}


BAD_REQUESTS: list[tuple[str, dict[str, Any], list[str]]] = [
    (
        "missing required member",
        without(typical(), "RoleArn"),
        ["Missing required parameter", "RoleArn"],
    ),
    (
        "missing required nested member",
        typical(OutputDataConfig={"KmsKeyId": "k"}),
        ["Missing required parameter", "OutputDataConfig", "S3OutputPath"],
    ),
    ("unknown member", {**typical(), "Region": "us-east-1"}, ["Unknown parameter", "Region"]),
    (
        "wrong type",
        typical(
            ResourceConfig={
                "InstanceType": "ml.m5.large",
                "InstanceCount": "two",
                "VolumeSizeInGB": 5,
            }
        ),
        ["Invalid type", "ResourceConfig.InstanceCount"],
    ),
    ("name too long", typical("a" * 64), ["'trainingJobName'", "length less than or equal to 63"]),
    (
        "name breaks the pattern",
        typical("under_score"),
        ["'trainingJobName'", "regular expression pattern"],
    ),
    (
        "bad enum",
        typical(
            ResourceConfig={
                "InstanceType": "ml.m5.enormous",
                "InstanceCount": 1,
                "VolumeSizeInGB": 5,
            }
        ),
        ["'resourceConfig.instanceType'", "enum value set"],
    ),
    (
        "too many tags",
        typical(Tags=[{"Key": f"k{i}", "Value": "v"} for i in range(51)]),
        ["'tags'", "length less than or equal to 50"],
    ),
    (
        "number below the minimum",
        typical(StoppingCondition={"MaxRuntimeInSeconds": 0}),
        ["StoppingCondition.MaxRuntimeInSeconds", "valid min value: 1"],
    ),
    (
        "number above the maximum",
        typical(
            ResourceConfig={
                "InstanceType": "ml.m5.large",
                "InstanceCount": 1,
                "VolumeSizeInGB": 5,
                "KeepAlivePeriodInSeconds": 21601,
            }
        ),
        ["'resourceConfig.keepAlivePeriodInSeconds'", "less than or equal to 21600"],
    ),
    ("string too short", typical(RoleArn="arn:aws:iam::1:r"), ["RoleArn", "valid min length: 20"]),
    (
        "role arn breaks the pattern",
        typical(RoleArn="arn:aws:iam::123456789012:user/someone"),
        ["'roleArn'", "regular expression pattern"],
    ),
    (
        "too many hyperparameters",
        typical(HyperParameters={f"p{i}": "1" for i in range(101)}),
        ["'hyperParameters'", "length less than or equal to 100"],
    ),
    (
        "map key too long",
        typical(HyperParameters={"k" * 257: "1"}),
        ["'hyperParameters.key'", "length less than or equal to 256"],
    ),
    (
        "list item breaks a pattern",
        typical(
            InputDataConfig=[
                {
                    "ChannelName": "train data",
                    "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": "s3://b/t"}},
                }
            ]
        ),
        ["'inputDataConfig.1.member.channelName'", "regular expression pattern"],
    ),
    (
        "s3 uri of another scheme",
        typical(OutputDataConfig={"S3OutputPath": "gs://bucket/out"}),
        ["'outputDataConfig.s3OutputPath'", "regular expression pattern"],
    ),
    (
        "tag key with a character outside the unicode classes",
        typical(Tags=[{"Key": "a#b", "Value": "v"}]),
        ["'tags.1.member.key'", "regular expression pattern"],
    ),
]


@pytest.mark.parametrize(
    ("request_", "expected"),
    [(request, expected) for _, request, expected in BAD_REQUESTS],
    ids=[case for case, _, _ in BAD_REQUESTS],
)
def test_a_bad_request_is_refused_naming_the_member(
    emulator: Emulator, request_: dict[str, Any], expected: list[str]
) -> None:
    message = refusal(emulator, request_)
    for fragment in expected:
        assert fragment in message


def test_every_problem_of_a_request_is_reported_at_once(emulator: Emulator) -> None:
    message = refusal(emulator, typical("under_score", RoleArn="arn:aws:iam::123456789012:x"))
    assert message.startswith("2 validation errors detected: ")
    assert "'trainingJobName'" in message
    assert "'roleArn'" in message


def test_a_refused_request_creates_nothing(emulator: Emulator, unchecked: SageMakerClient) -> None:
    refusal(
        emulator,
        typical(
            "bad-enum",
            ResourceConfig={"InstanceType": "ml.nope", "InstanceCount": 1, "VolumeSizeInGB": 5},
        ),
    )
    assert unchecked.list_training_jobs()["TrainingJobSummaries"] == []


def test_list_and_describe_requests_are_validated_too(unchecked: SageMakerClient) -> None:
    with pytest.raises(ClientError, match="'maxResults'"):
        unchecked.list_training_jobs(MaxResults=101)
    with pytest.raises(ClientError, match="'statusEquals'"):
        unchecked.list_training_jobs(StatusEquals="Running")  # type: ignore[arg-type]
    with pytest.raises(ClientError, match="'trainingJobName'"):
        unchecked.describe_training_job(TrainingJobName="no_underscores")
    with pytest.raises(ClientError, match="Invalid pagination token"):
        unchecked.list_training_jobs(NextToken="not-a-token")


@pytest.mark.parametrize(("name", "request_"), corpus("valid"), ids=lambda v: str(v)[:40])
def test_every_real_world_valid_request_is_accepted(
    unchecked: SageMakerClient, name: str, request_: dict[str, Any]
) -> None:
    arn = unchecked.create_training_job(**request_)["TrainingJobArn"]
    assert arn.endswith("/" + request_["TrainingJobName"].lower())


INVALID_CORPUS_FIELDS = {
    "12-legacy-helm-default-values-tags.json": "Tags",
    "21-ack-unit-invalid-job-name.json": "trainingJobName",
    "22-ack-unit-missing-job-name.json": "TrainingJobName",
    "35-sfn-sdk-pca-experiment-stand-in-role.json": "RoleArn",
    "39-pysdk-session-train-optional-params.json": "trainingRepositoryCredentialsProviderArn",
    "40-airflow-byo-pipe-spot-bad-tags.json": "Tags",
    "41-airflow-tf-pipe-checkpoint-bad-tags.json": "Tags",
}


@pytest.mark.parametrize(("name", "request_"), corpus("invalid"), ids=lambda v: str(v)[:40])
def test_every_real_world_invalid_request_is_refused_naming_its_field(
    emulator: Emulator, name: str, request_: dict[str, Any]
) -> None:
    assert refusal(emulator, request_).count(INVALID_CORPUS_FIELDS[name]) >= 1


def test_the_corpus_has_both_kinds_of_request() -> None:
    # Guards the two tests above against passing on an empty or moved corpus.
    assert len(corpus("valid")) >= 20
    assert {name for name, _ in corpus("invalid")} == set(INVALID_CORPUS_FIELDS)


def test_a_minimal_request_passes_validation(unchecked: SageMakerClient) -> None:
    assert unchecked.create_training_job(**minimal("tiny"))["TrainingJobArn"]


def test_a_body_that_is_not_a_json_object_is_a_serialization_exception(emulator: Emulator) -> None:
    status, body = wire.send(emulator.endpoint_url, "CreateTrainingJob", ["a", "list"])
    assert (status, body["__type"]) == (400, "SerializationException")
