"""A TrainingJob becomes the exact CreateTrainingJob request, with ownership tags."""

from __future__ import annotations

import datetime

import pytest

from sagemaker_operator.api.trainingjob import Spec
from sagemaker_operator.controller.ownership import Ownership, judge
from sagemaker_operator.controller.requests import (
    InvalidRequestError,
    Owner,
    create_request,
)
from tests.api.manifests import typical_spec

OWNER = Owner(uid="0b6f-uid", namespace="ml", name="xgboost")


def test_the_request_is_the_spec_in_api_names_plus_the_name_and_ownership_tags() -> None:
    request = create_request(Spec.model_validate(typical_spec()), OWNER)
    assert request["TrainingJobName"] == "xgboost"  # metadata.name
    assert request["RoleArn"] == "arn:aws:iam::123456789012:role/SageMakerRole"
    assert request["Tags"] == [
        {"Key": "team", "Value": "ml"},
        {"Key": "sagemaker-operator.dev/uid", "Value": "0b6f-uid"},
        {"Key": "sagemaker-operator.dev/namespace", "Value": "ml"},
        {"Key": "sagemaker-operator.dev/name", "Value": "xgboost"},
    ]
    assert "Region" not in request


def test_an_explicit_job_name_wins_over_metadata_name() -> None:
    spec = Spec.model_validate(typical_spec(trainingJobName="nightly-2026-11-28"))
    assert create_request(spec, OWNER)["TrainingJobName"] == "nightly-2026-11-28"


def test_user_tags_leave_room_for_the_ownership_tags() -> None:
    tags = [{"key": f"k{i}", "value": "v"} for i in range(48)]
    with pytest.raises(InvalidRequestError, match=r"spec.tags has 48 tags; at most 47"):
        create_request(Spec.model_validate(typical_spec(tags=tags)), OWNER)
    fits = [{"key": f"k{i}", "value": "v"} for i in range(47)]
    assert len(create_request(Spec.model_validate(typical_spec(tags=fits)), OWNER)["Tags"]) == 50


def test_what_the_crd_leaves_to_the_operator_is_refused_here() -> None:
    spec = Spec.model_validate(
        typical_spec(
            resourceConfig={
                "instanceType": "ml.p9-next.96xlarge",
                "instanceCount": 1,
                "volumeSizeInGB": 5,
            }
        )
    )
    with pytest.raises(InvalidRequestError, match=r"'resourceConfig.instanceType'.*enum"):
        create_request(spec, OWNER)


def test_a_job_is_ours_only_when_its_uid_tag_matches_and_young_untagged_ones_are_unknown() -> None:
    now = datetime.datetime(2026, 12, 2, 12, 0, tzinfo=datetime.UTC)
    minutes = [now - datetime.timedelta(minutes=m) for m in (1, 10)]
    ours = [{"Key": "sagemaker-operator.dev/uid", "Value": "0b6f-uid"}]
    other = [{"Key": "sagemaker-operator.dev/uid", "Value": "other"}]
    assert judge(ours, OWNER.uid, minutes[1], now) is Ownership.OURS
    assert judge(other, OWNER.uid, minutes[0], now) is Ownership.NOT_OURS
    # Tags lag a create (SageMaker Python SDK #3662, #4600): none yet on a young job.
    assert judge([], OWNER.uid, minutes[0], now) is Ownership.NOT_LISTED_YET
    assert judge([], OWNER.uid, None, now) is Ownership.NOT_LISTED_YET
    assert judge([], OWNER.uid, minutes[1], now) is Ownership.NOT_OURS
