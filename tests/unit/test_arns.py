"""A training job's ARN is its identity: its region, account and name come from it."""

from __future__ import annotations

import pytest

from sagemaker_operator.aws.arns import JobArn, NotAJobArnError

ARN = "arn:aws:sagemaker:eu-west-1:111122223333:training-job/xgboost-a1b2c3d4"


def test_an_arn_names_the_jobs_partition_region_account_and_name() -> None:
    job = JobArn.parse(ARN)
    assert (job.partition, job.region, job.account, job.name) == (
        "aws", "eu-west-1", "111122223333", "xgboost-a1b2c3d4")  # fmt: skip
    china = JobArn.parse("arn:aws-cn:sagemaker:cn-north-1:111122223333:training-job/a")
    assert (china.partition, china.region) == ("aws-cn", "cn-north-1")


@pytest.mark.parametrize("value", [
    "arn:aws:sagemaker:eu-west-1:111122223333:processing-job/x",
    "arn:aws:iam::111122223333:role/x",
    "arn:aws:sagemaker:eu-west-1:1111:training-job/x",
    "arn:aws:sagemaker:eu-west-1:111122223333:training-job/has_underscore",
    "arn:aws:sagemaker:xx:111122223333:training-job/x",
    "", None, 42,
])  # fmt: skip
def test_anything_else_is_refused_naming_the_value(value: object) -> None:
    with pytest.raises(NotAJobArnError, match="is not a SageMaker training job ARN"):
        JobArn.parse(value)


def test_arns_are_the_same_job_whatever_their_case() -> None:
    """SageMaker writes names in lower case in ARNs, not always the same way (boto3#4606,
    aws/sagemaker-experiments#172)."""
    job = JobArn.parse(ARN)
    assert job.same(ARN.replace("xgboost", "XGBoost"))
    assert not job.same(ARN.replace("a1b2", "ffff"))
    assert not job.same(None)


def test_the_name_for_calls_is_the_arns_whatever_status_says_but_its_letter_case() -> None:
    job = JobArn.parse(ARN)
    assert job.name_for("XGBoost-A1B2C3D4") == "XGBoost-A1B2C3D4"
    assert job.name_for("another-teams-job") == "xgboost-a1b2c3d4"
    assert job.name_for(None) == "xgboost-a1b2c3d4"
