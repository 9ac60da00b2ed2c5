"""The namespace policy: which roles, S3 prefixes and regions a namespace's jobs may use."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from sagemaker_emulator.samples import typical
from sagemaker_lab.codegen import policy_table
from sagemaker_operator.policy import Policy
from sagemaker_operator.policy.locations import every_location

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


def fsx(path: str) -> list[dict[str, Any]]:
    return [{"ChannelName": "train", "DataSource": {"FileSystemDataSource": {
        "FileSystemId": "fs-0123456789abcdef0", "FileSystemAccessMode": "ro",
        "FileSystemType": "FSxLustre", "DirectoryPath": path}}}]  # fmt: skip


def test_a_shared_file_systems_directories_are_matched_at_slash_boundaries(
    tmp_path: Path,
) -> None:
    policy = rules(
        tmp_path, "rules:\n  - namespaces: ['*']\n    fileSystemPaths: ['/fsx/team-a']\n"
    )

    def allowed(path: str) -> bool:
        return policy.violations("ns", "us-east-1", typical(InputDataConfig=fsx(path))) == []

    assert allowed("/fsx/team-a")
    assert allowed("/fsx/team-a/train/")
    assert allowed("//fsx/team-a//train")
    assert not allowed("/fsx/team-a-other")
    assert not allowed("/fsx/team-a/../team-b"), "climbing out"
    assert not allowed("/fsx/team-a/./x"), "what . means is the file system's to say"
    assert not allowed("/fsx")


@pytest.mark.parametrize(("image", "allowed"), [
    ("111122223333.dkr.ecr.us-east-1.amazonaws.com/team-a/train:1", True),
    ("111122223333.dkr.ecr.eu-west-1.amazonaws.com/team-a/deep/train@sha256:" + "a" * 64, True),
    ("111122223333.dkr.ecr.us-east-1.amazonaws.com/team-a", True),  # ** spans none too
    ("111122223333.dkr.ecr.us-east-1.amazonaws.com/team-ab/train", False),
    ("111122223333.dkr.ecr.us-east-1.amazonaws.com/team-b/train:1", False),
    ("999999999999.dkr.ecr.us-east-1.amazonaws.com/team-a/train:1", False),
    ("683313688378.dkr.ecr.us-east-1.amazonaws.com/xgboost:1.7-1", True),
    ("683313688378.dkr.ecr.us-east-1.amazonaws.com/xgboost-evil:1", False),
    ("docker.io/library/python:3.11", False),
])  # fmt: skip
def test_images_are_matched_by_registry_and_repository_segment_by_segment(
    tmp_path: Path, image: str, allowed: bool
) -> None:
    policy = rules(tmp_path, (
        "rules:\n  - namespaces: ['*']\n"
        "    images: ['111122223333.dkr.ecr.*.amazonaws.com/team-a/**',"
        " '683313688378.dkr.ecr.us-east-1.amazonaws.com/xgboost']\n"
    ))  # fmt: skip
    request = typical(AlgorithmSpecification={"TrainingImage": image,
                                              "TrainingInputMode": "File"})  # fmt: skip
    assert (policy.violations("ns", "us-east-1", request) == []) is allowed
    rule = typical(DebugRuleConfigurations=[{"RuleConfigurationName": "r",
                                             "RuleEvaluatorImage": image}])  # fmt: skip
    problems = policy.violations("ns", "us-east-1", rule)
    assert any("ruleEvaluatorImage" in problem for problem in problems) is not allowed


def test_costs_are_limited_and_a_jobs_instance_groups_add_up(tmp_path: Path) -> None:
    policy = rules(tmp_path, (
        "rules:\n  - namespaces: ['*']\n"
        "    instanceTypes: ['ml.m5.*']\n    maxInstanceCount: 4\n    maxVolumeSizeInGB: 50\n"
        "    maxRuntimeInSeconds: 7200\n    maxKeepAliveInSeconds: 600\n"
    ))  # fmt: skip

    def refused(**overrides: Any) -> list[str]:
        problems = policy.violations("ns", "us-east-1", typical(**overrides))
        return [problem.split()[0] for problem in problems]

    assert refused() == []
    assert refused(
        ResourceConfig={"InstanceType": "ml.p4d.24xlarge", "InstanceCount": 1, "VolumeSizeInGB": 5}
    ) == ["spec.resourceConfig.instanceType"]
    assert refused(ResourceConfig={"InstanceType": "ml.m5.large", "InstanceCount": 5,
                                   "VolumeSizeInGB": 51, "KeepAlivePeriodInSeconds": 3600}) == [
        "spec.resourceConfig.instanceCount", "spec.resourceConfig.volumeSizeInGB",
        "spec.resourceConfig.keepAlivePeriodInSeconds", "spec.resourceConfig"]  # fmt: skip
    groups = [{"InstanceGroupName": f"g{n}", "InstanceType": "ml.m5.large", "InstanceCount": 2}
              for n in range(3)]  # fmt: skip
    assert refused(ResourceConfig={"InstanceGroups": groups, "VolumeSizeInGB": 5}) == [
        "spec.resourceConfig"]  # 6 instances in all  # fmt: skip
    # SageMaker's default when left out: a day, over the limit.
    assert refused(StoppingCondition={}) == ["spec.stoppingCondition.maxRuntimeInSeconds"]
    assert refused(StoppingCondition={"MaxRuntimeInSeconds": 7201}) == [
        "spec.stoppingCondition.maxRuntimeInSeconds"]  # fmt: skip


def test_switches_and_spot_only(tmp_path: Path) -> None:
    policy = rules(tmp_path, (
        "rules:\n  - namespaces: ['*']\n"
        "    remoteDebug: false\n    sessionTagChaining: false\n    spotOnly: true\n"
        "    experiments: ['team-a-*']\n"
    ))  # fmt: skip
    spot: dict[str, Any] = {
        "EnableManagedSpotTraining": True,
        "StoppingCondition": {"MaxRuntimeInSeconds": 3600, "MaxWaitTimeInSeconds": 7200},
    }
    assert policy.violations("ns", "us-east-1", typical(**spot)) == []
    assert policy.violations("ns", "us-east-1", typical())[0].startswith(
        "spec.enableManagedSpotTraining must be true")  # fmt: skip
    opened = typical(RemoteDebugConfig={"EnableRemoteDebug": True},
                     SessionChainingConfig={"EnableSessionTagChaining": True},
                     ExperimentConfig={"ExperimentName": "team-b-x", "TrialName": "team-a-y"},
                     **spot)  # fmt: skip
    assert [problem.split()[0] for problem in policy.violations("ns", "us-east-1", opened)] == [
        "spec.experimentConfig.experimentName", "spec.remoteDebugConfig.enableRemoteDebug",
        "spec.sessionChainingConfig.enableSessionTagChaining"]  # fmt: skip
    closed = typical(RemoteDebugConfig={"EnableRemoteDebug": False}, **spot)
    assert policy.violations("ns", "us-east-1", closed) == []


def test_without_strict_what_a_rule_leaves_out_is_allowed_and_with_it_denied(
    tmp_path: Path,
) -> None:
    """One team's policy may stay short; several teams' must be strict (before, team B's
    rule without fileSystems let it mount team A's FSx)."""
    loose = rules(tmp_path, "rules:\n  - namespaces: [team-b]\n    s3Prefixes: ['s3://']\n")
    request = typical(InputDataConfig=fsx("/fsx/team-a"),
                      RemoteDebugConfig={"EnableRemoteDebug": True})  # fmt: skip
    assert loose.violations("team-b", "us-east-1", request) == []
    strict = rules(tmp_path, (
        "strict: true\nrules:\n  - namespaces: [team-b]\n    roles: ['*']\n"
        "    s3Prefixes: ['s3://']\n    images: ['*']\n    instanceTypes: ['*']\n"
        "    maxInstanceCount: 1\n    maxVolumeSizeInGB: 5\n    maxRuntimeInSeconds: 3600\n"
        "    regions: [us-east-1]\n"
    ))  # fmt: skip
    assert strict.violations("team-b", "us-east-1", typical()) == []
    problems = strict.violations("team-b", "us-east-1", request)
    assert [problem.split()[0] for problem in problems] == [
        "spec.inputDataConfig[0].dataSource.fileSystemDataSource.fileSystemId",
        "spec.inputDataConfig[0].dataSource.fileSystemDataSource.directoryPath",
        "spec.remoteDebugConfig.enableRemoteDebug"]  # fmt: skip
    assert "no fileSystems listed" in problems[0]
    unlimited = rules(tmp_path, "strict: true\nrules:\n  - namespaces: [team-b]\n")
    assert any("sets no maxInstanceCount, and a strict policy denies" in problem
               for problem in unlimited.violations("team-b", "us-east-1", typical()))  # fmt: skip
    assert unlimited.violations("team-b", "eu-west-1", typical())[-1] == (
        "region eu-west-1 is not allowed in namespace team-b (allowed: none listed)")  # fmt: skip


def test_a_strict_policy_names_each_namespace(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match=r"rules\[1\].namespaces \['team-\*'\]: a strict"):
        rules(tmp_path, "strict: true\nrules:\n  - namespaces: [a]\n  - namespaces: ['team-*']\n")
    selected = rules(tmp_path, ("strict: true\nrules:\n  - namespaceSelector:\n"
                                "      matchLabels: {tenant: a}\n"))  # fmt: skip
    assert selected.strict


def test_the_readme_table_is_the_policys_own_walk_of_the_model() -> None:
    table = policy_table.markdown()
    readme = (Path(__file__).resolve().parents[2] / "docs" / "multi-tenancy.md").read_text()
    assert table in readme, f"paste this table into docs/multi-tenancy.md:\n{table}"
    for path, kind in every_location():
        assert f"`{path}`" in table
        assert f"`{kind.value}`" in table
