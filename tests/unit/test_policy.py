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


def rules(tmp_path: Path, text: str) -> Policy:
    file = tmp_path / "policy.yaml"
    file.write_text(text)
    return Policy.load(file)


def test_a_namespace_glob_matches_namespaces_tenants_create_and_exact_names_do_not(
    tmp_path: Path,
) -> None:
    globbed = rules(tmp_path, "rules:\n  - namespaces: ['team-a-*']\n")
    assert globbed.violations("team-a-hijack", "us-east-1", typical()) == []  # documented
    exact = rules(tmp_path, "rules:\n  - namespaces: ['team-a-dev', 'team-a-prod']\n")
    assert exact.violations("team-a-dev", "us-east-1", typical()) == []
    assert exact.violations("team-a-hijack", "us-east-1", typical()) == [
        "no policy rule covers namespace team-a-hijack"
    ]


def test_a_namespace_selector_matches_by_label(tmp_path: Path) -> None:
    policy = rules(tmp_path, (
        "rules:\n"
        "  - namespaceSelector:\n"
        "      matchLabels: {tenant: team-a}\n"
        "      matchExpressions: [{key: frozen, operator: DoesNotExist}]\n"
    ))  # fmt: skip
    assert policy.needs_labels
    assert policy.violations("anything", "us-east-1", typical(), {"tenant": "team-a"}) == []
    for labels in ({"tenant": "team-b"}, {"tenant": "team-a", "frozen": "yes"}, {}, None):
        assert policy.violations("anything", "us-east-1", typical(), labels) == [
            "no policy rule covers namespace anything"
        ]
    with pytest.raises(ValidationError, match="namespaces, a namespaceSelector"):
        rules(tmp_path, "rules:\n  - roles: ['*']\n")


def test_role_patterns_match_segment_by_segment(tmp_path: Path) -> None:
    policy = rules(tmp_path, (
        "rules:\n  - namespaces: ['*']\n"
        "    roles: ['arn:aws:iam::123456789012:role/team-a-*', "
        "'arn:aws:iam::123456789012:role/paths/**']\n"
    ))  # fmt: skip

    def allowed(role: str) -> bool:
        return policy.violations("ns", "us-east-1", typical(RoleArn=role)) == []

    assert allowed("arn:aws:iam::123456789012:role/team-a-train")
    assert not allowed("arn:aws:iam::123456789012:role/team-a-x/Admin"), "* crossed a /"
    assert allowed("arn:aws:iam::123456789012:role/paths/deep/ly/nested")
    assert not allowed("arn:aws:iam::999999999999:role/team-a-train")


def test_s3_prefixes_match_at_slash_boundaries(tmp_path: Path) -> None:
    policy = rules(tmp_path, "rules:\n  - namespaces: ['*']\n    s3Prefixes: ['s3://team-a']\n")

    def allowed(uri: str) -> bool:
        request = typical(OutputDataConfig={"S3OutputPath": uri})
        request["InputDataConfig"][0]["DataSource"]["S3DataSource"]["S3Uri"] = "s3://team-a/in"
        return policy.violations("ns", "us-east-1", request) == []

    assert allowed("s3://team-a/out")
    assert allowed("s3://team-a")
    assert not allowed("s3://team-a-other/out"), "a sibling bucket"


def test_every_member_naming_an_arn_an_s3_uri_or_a_file_system_is_checked(
    tmp_path: Path,
) -> None:
    """Derived from botocore's model: inputs, rules' outputs, KMS keys, VPC, plans, MLflow."""
    policy = rules(tmp_path, (
        "rules:\n  - namespaces: ['*']\n"
        "    s3Prefixes: ['s3://mine/']\n"
        "    arns: ['arn:aws:*:*:123456789012:*/mine-*']\n"
        "    fileSystems: ['fs-0000000a']\n"
        "    subnets: ['subnet-mine']\n"
        "    securityGroups: ['sg-mine']\n"
    ))  # fmt: skip
    request = typical(
        OutputDataConfig={"S3OutputPath": "s3://mine/out", "KmsKeyId": "arn:aws:kms:us-east-1:"
                          "111111111111:key/theirs"},
        VpcConfig={"Subnets": ["subnet-theirs"], "SecurityGroupIds": ["sg-theirs"]},
        ResourceConfig={"InstanceType": "ml.m5.xlarge", "InstanceCount": 1, "VolumeSizeInGB": 10,
                        "TrainingPlanArn": "arn:aws:sagemaker:us-east-1:111111111111:"
                        "training-plan/x"},
        DebugRuleConfigurations=[{"RuleConfigurationName": "r", "RuleEvaluatorImage": "i",
                                  "S3OutputPath": "s3://theirs/rules"}],
        MlflowConfig={"MlflowResourceArn": "arn:aws:sagemaker:us-east-1:111111111111:"
                      "mlflow-tracking-server/theirs"},
        ModelPackageConfig={"ModelPackageGroupArn": "arn:aws:sagemaker:us-east-1:111111111111:"
                            "model-package-group/theirs"},
    )  # fmt: skip
    request["InputDataConfig"] = [
        {"ChannelName": "s3", "DataSource": {"S3DataSource": {
            "S3DataType": "S3Prefix", "S3Uri": "s3://theirs/train"}}},
        {"ChannelName": "efs", "DataSource": {"FileSystemDataSource": {
            "FileSystemId": "fs-0000000b", "FileSystemAccessMode": "ro",
            "FileSystemType": "EFS", "DirectoryPath": "/data"}}},
    ]  # fmt: skip
    refused = {problem.split()[0] for problem in policy.violations("ns", "us-east-1", request)}
    assert refused == {
        "spec.outputDataConfig.kmsKeyId",
        "spec.vpcConfig.subnets[0]",
        "spec.vpcConfig.securityGroupIds[0]",
        "spec.resourceConfig.trainingPlanArn",
        "spec.debugRuleConfigurations[0].s3OutputPath",
        "spec.mlflowConfig.mlflowResourceArn",
        "spec.modelPackageConfig.modelPackageGroupArn",
        "spec.inputDataConfig[0].dataSource.s3DataSource.s3Uri",
        "spec.inputDataConfig[1].dataSource.fileSystemDataSource.fileSystemId",
    }


def test_the_default_policy_keeps_every_arn_in_the_operators_account() -> None:
    policy = Policy.own_account("123456789012")
    own_key = typical(OutputDataConfig={"S3OutputPath": "s3://b/o", "KmsKeyId": "alias/mine"})
    assert policy.violations("ns", "us-east-1", own_key) == []  # a name: the own account's
    foreign = typical(OutputDataConfig={"S3OutputPath": "s3://b/o", "KmsKeyId": (
        "arn:aws:kms:us-east-1:999999999999:key/theirs")})  # fmt: skip
    (problem,) = policy.violations("ns", "us-east-1", foreign)
    assert problem.startswith("spec.outputDataConfig.kmsKeyId arn:aws:kms:us-east-1:999999999999")
    service_role = typical(RoleArn="arn:aws:iam::123456789012:role/service-role/SageMaker")
    assert policy.violations("ns", "us-east-1", service_role) == []
