"""Only regions botocore knows SageMaker in, in the operator's partition, get clients."""

from __future__ import annotations

import pytest

from sagemaker_operator.aws import regions
from sagemaker_operator.controller.checks import RefusedError, plan_job
from sagemaker_operator.controller.requests import Owner
from sagemaker_operator.policy import Policy

SPEC = {"roleArn": "arn:aws:iam::123456789012:role/SageMakerRole",
        "outputDataConfig": {"s3OutputPath": "s3://my-bucket/output"}}  # fmt: skip


def test_the_partitions_regions_pass_and_made_up_or_other_partitions_regions_do_not() -> None:
    regions.check("eu-west-1", "us-east-1")
    regions.check("cn-north-1", "cn-northwest-1")
    for region, home in (("xx-fake-9", "us-east-1"), ("cn-north-1", "us-east-1"),
                         ("us-east-1", "cn-north-1"), ("US-EAST-1", "us-east-1")):  # fmt: skip
        with pytest.raises(regions.UnknownRegionForPartitionError, match=region):
            regions.check(region, home)


def test_a_spec_naming_a_made_up_region_is_refused_before_any_call() -> None:
    policy = Policy.own_account("123456789012")
    owner = Owner("uid", "ns", "job")
    assert plan_job(SPEC, owner, policy, "us-east-1").region == "us-east-1"
    with pytest.raises(RefusedError, match=r"spec.region .mars-north-1. is not a SageMaker"):
        plan_job(SPEC | {"region": "mars-north-1"}, owner, policy, "us-east-1")
