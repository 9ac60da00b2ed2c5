"""The namespace policy: which roles, S3 prefixes and regions a namespace's jobs may use."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from sagemaker_operator.policy import Policy
from tests.emulator.requests import typical

ROLE = "arn:aws:iam::123456789012:role/SageMakerRole"


def test_the_default_allows_the_operators_own_account_only() -> None:
    policy = Policy.own_account("123456789012")
    assert policy.violations("any-namespace", "us-east-1", typical()) == []
    foreign = typical(RoleArn="arn:aws:iam::999999999999:role/Admin")
    (problem,) = policy.violations("any-namespace", "us-east-1", foreign)
    assert problem.startswith("spec.roleArn arn:aws:iam::999999999999:role/Admin is not allowed")


def test_the_first_matching_rule_applies_and_no_rule_denies(tmp_path: Path) -> None:
    file = tmp_path / "policy.yaml"
    file.write_text(
        "rules:\n"
        "  - namespaces: ['team-a-*']\n"
        "    roles: ['arn:aws:iam::123456789012:role/Sage*']\n"
        "    s3Prefixes: ['s3://my-bucket/']\n"
        "    regions: ['us-east-1']\n"
        "  - namespaces: ['shared']\n"
        "    roles: ['arn:aws:iam::123456789012:role/Shared']\n"
    )
    policy = Policy.load(file)
    assert policy.violations("team-a-dev", "us-east-1", typical()) == []
    assert policy.violations("team-a-dev", "eu-west-1", typical()) == [
        "region eu-west-1 is not allowed in namespace team-a-dev (allowed: us-east-1)"
    ]
    elsewhere = typical(OutputDataConfig={"S3OutputPath": "s3://other-bucket/out"},
                        CheckpointConfig={"S3Uri": "s3://other-bucket/ckpt"})  # fmt: skip
    problems = policy.violations("team-a-dev", "us-east-1", elsewhere)
    assert [problem.split()[0] for problem in problems] == [
        "spec.outputDataConfig.s3OutputPath",
        "spec.checkpointConfig.s3Uri",
    ]
    assert policy.violations("shared", "us-east-1", typical())[0].startswith("spec.roleArn")
    assert policy.violations("team-b", "us-east-1", typical()) == [
        "no policy rule covers namespace team-b"
    ]


def test_a_policy_file_with_a_typo_is_refused(tmp_path: Path) -> None:
    file = tmp_path / "policy.yaml"
    file.write_text("rules:\n  - namespaces: ['*']\n    role: ['x']\n")
    with pytest.raises(ValidationError, match="role"):
        Policy.load(file)
