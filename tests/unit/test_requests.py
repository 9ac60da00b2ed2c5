"""A TrainingJob becomes the exact CreateTrainingJob request, with ownership tags."""

from __future__ import annotations

import datetime
import re

import pytest

from sagemaker_operator.api.trainingjob import Spec
from sagemaker_operator.controller.ownership import Ownership, judge
from sagemaker_operator.controller.requests import (
    InvalidRequestError,
    Owner,
    create_request,
    default_job_name,
)
from tests.api.manifests import typical_spec

OWNER = Owner(uid="0b6f93c2-5d1e-4c8a-9f3e-2b7d1a6c4e80", namespace="ml", name="xgboost",
              cluster="cluster-7f3c")  # fmt: skip


def test_the_request_is_the_spec_in_api_names_plus_the_name_and_ownership_tags() -> None:
    request = create_request(Spec.model_validate(typical_spec()), OWNER)
    assert request["TrainingJobName"] == "xgboost-0b6f93c2"  # metadata.name, the UID's start
    assert request["RoleArn"] == "arn:aws:iam::123456789012:role/SageMakerRole"
    assert request["Tags"] == [
        {"Key": "team", "Value": "ml"},
        {"Key": "sagemaker-operator.dev/uid", "Value": OWNER.uid},
        {"Key": "sagemaker-operator.dev/namespace", "Value": "ml"},
        {"Key": "sagemaker-operator.dev/name", "Value": "xgboost"},
        {"Key": "sagemaker-operator.dev/cluster", "Value": "cluster-7f3c"},
    ]
    assert "Region" not in request


@pytest.mark.parametrize(("name", "uid", "expected"), [
    ("train", "0b6f93c2-5d1e", "train-0b6f93c2"),
    ("nightly.v2", "a1b2c3d4-0000", "nightly-v2-a1b2c3d4"),  # dots are no job name's
    ("a-" * 40 + "z", "a1b2c3d4-0000", ("a-" * 27)[:-1] + "-a1b2c3d4"),  # 63 at most
    ("x" * 70, "ffffffff-0000", "x" * 54 + "-ffffffff"),
])  # fmt: skip
def test_a_default_job_name_is_the_resources_name_and_its_uids_start_within_63_characters(
    name: str, uid: str, expected: str
) -> None:
    found = default_job_name(Owner(uid, "ml", name))
    assert found == expected
    assert len(found) <= 63
    assert re.fullmatch(r"[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}", found)


def test_the_same_manifest_applied_twice_or_in_two_namespaces_names_two_jobs() -> None:
    spec = Spec.model_validate(typical_spec())
    names = {create_request(spec, Owner(uid, namespace, "xgboost"))["TrainingJobName"]
             for uid, namespace in (("11111111-a", "team-a"), ("22222222-b", "team-a"),
                                    ("33333333-c", "team-b"))}  # fmt: skip
    assert len(names) == 3


def test_an_explicit_job_name_wins_over_metadata_name() -> None:
    spec = Spec.model_validate(typical_spec(trainingJobName="nightly-2026-11-28"))
    assert create_request(spec, OWNER)["TrainingJobName"] == "nightly-2026-11-28"


def test_user_tags_leave_room_for_the_ownership_tags() -> None:
    tags = [{"key": f"k{i}", "value": "v"} for i in range(47)]
    with pytest.raises(InvalidRequestError, match=r"spec.tags has 47 tags; at most 46"):
        create_request(Spec.model_validate(typical_spec(tags=tags)), OWNER)
    fits = [{"key": f"k{i}", "value": "v"} for i in range(46)]
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
    ours = [{"Key": "sagemaker-operator.dev/uid", "Value": OWNER.uid}]
    other = [{"Key": "sagemaker-operator.dev/uid", "Value": "other"}]
    assert judge(ours, OWNER.uid, minutes[1], now) is Ownership.OURS
    assert judge(other, OWNER.uid, minutes[0], now) is Ownership.NOT_OURS
    # Tags lag a create (SageMaker Python SDK #3662, #4600): none yet on a young job.
    assert judge([], OWNER.uid, minutes[0], now) is Ownership.NOT_LISTED_YET
    assert judge([], OWNER.uid, None, now) is Ownership.NOT_LISTED_YET
    assert judge([], OWNER.uid, minutes[1], now) is Ownership.NOT_OURS
