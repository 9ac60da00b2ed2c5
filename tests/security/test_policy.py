"""What a namespace may name, spend and open (attacks 5 and 6 of the threat model): the
policy checks shared file systems' directories, images, experiments, remote debugging,
session tag chaining and costs, and a strict policy denies what a rule does not list."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from sagemaker_lab import Emulator, KubeCluster, wait_until
from sagemaker_lab.operator import OperatorProcess, operator_environment
from tests.api.manifests import manifest, typical_spec
from tests.security.conftest import Tenant
from tests.security.teams import ACCOUNT, Platform, platform, team_job, team_spec

pytestmark = pytest.mark.cluster

FSX = "fs-0123456789abcdef0"
TEAM_A_IMAGE = f"{ACCOUNT}.dkr.ecr.us-east-1.amazonaws.com/team-a/train:1"
NETWORK = {"securityGroupIds": ["sg-0a1b2c3d"], "subnets": ["subnet-0a1b2c3d"]}


def strict_rules(a: Tenant, b: Tenant) -> dict[str, Any]:
    """Team A: its role, bucket, directory of the shared FSx, images, experiments and
    budget. Team B: a rule that lists no file systems (strict: none allowed)."""
    a_rule = {"namespaces": [a.namespace],
              "roles": [f"arn:aws:iam::{ACCOUNT}:role/team-a-*"],
              "s3Prefixes": ["s3://team-a-data/"],
              "fileSystems": [FSX], "fileSystemPaths": ["/fsx/team-a"],
              "subnets": ["subnet-0a1b2c3d"], "securityGroups": ["sg-0a1b2c3d"],
              "images": [f"{ACCOUNT}.dkr.ecr.*.amazonaws.com/team-a/**",
                         "683313688378.dkr.ecr.us-east-1.amazonaws.com/xgboost"],
              "experiments": ["team-a-*"], "instanceTypes": ["ml.m5.*"],
              "maxInstanceCount": 2, "maxVolumeSizeInGB": 50,
              "maxRuntimeInSeconds": 7200, "maxKeepAliveInSeconds": 600,
              "regions": ["us-east-1"]}  # fmt: skip
    b_rule = {key: value for key, value in a_rule.items()
              if key not in ("fileSystems", "fileSystemPaths")}  # fmt: skip
    b_rule.update(namespaces=[b.namespace], roles=[f"arn:aws:iam::{ACCOUNT}:role/team-b-*"],
                  s3Prefixes=["s3://team-b-data/"])  # fmt: skip
    return {"strict": True, "rules": [a_rule, b_rule]}


@pytest.fixture(scope="module")
def strict(
    kube_cluster: KubeCluster, tenants: tuple[Tenant, Tenant],
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Platform]:  # fmt: skip
    folder = tmp_path_factory.mktemp("strict")
    with platform(kube_cluster, tenants, folder, strict_rules(*tenants)) as running:
        yield running


def fsx(path: str) -> list[dict[str, Any]]:
    return [{"channelName": "train", "dataSource": {"fileSystemDataSource": {
        "fileSystemId": FSX, "fileSystemAccessMode": "ro", "fileSystemType": "FSxLustre",
        "directoryPath": path}}}]  # fmt: skip


# Each: what the job asks, and the field its refusal must name.
REFUSED: dict[str, tuple[dict[str, Any], str]] = {
    "other-directory": ({"inputDataConfig": fsx("/fsx/team-b/private"), "vpcConfig": NETWORK},
                        "spec.inputDataConfig[0].dataSource.fileSystemDataSource.directoryPath"),
    "climbing-out": ({"inputDataConfig": fsx("/fsx/team-a/../team-b"), "vpcConfig": NETWORK},
                     "spec.inputDataConfig[0].dataSource.fileSystemDataSource.directoryPath"),
    "foreign-image": ({"algorithmSpecification": {
        "trainingImage": "999999999999.dkr.ecr.us-east-1.amazonaws.com/team-a/train:1",
        "trainingInputMode": "File"}}, "spec.algorithmSpecification.trainingImage"),
    "foreign-rule-image": ({"debugRuleConfigurations": [{
        "ruleConfigurationName": "Loss",
        "ruleEvaluatorImage": "999999999999.dkr.ecr.us-east-1.amazonaws.com/rules:1"}]},
        "spec.debugRuleConfigurations[0].ruleEvaluatorImage"),
    "their-experiment": ({"experimentConfig": {"experimentName": "team-b-churn"}},
                         "spec.experimentConfig.experimentName"),
    "remote-debug": ({"remoteDebugConfig": {"enableRemoteDebug": True}},
                     "spec.remoteDebugConfig.enableRemoteDebug"),
    "tag-chaining": ({"sessionChainingConfig": {"enableSessionTagChaining": True}},
                     "spec.sessionChainingConfig.enableSessionTagChaining"),
    "big-instance": ({"resourceConfig": {"instanceType": "ml.p4d.24xlarge",
                                         "instanceCount": 1, "volumeSizeInGB": 5}},
                     "spec.resourceConfig.instanceType"),
    "many-instances": ({"resourceConfig": {"instanceType": "ml.m5.large",
                                           "instanceCount": 8, "volumeSizeInGB": 5}},
                       "spec.resourceConfig.instanceCount"),
    "big-volume": ({"resourceConfig": {"instanceType": "ml.m5.large", "instanceCount": 1,
                                       "volumeSizeInGB": 500}},
                   "spec.resourceConfig.volumeSizeInGB"),
    "long-run": ({"stoppingCondition": {"maxRuntimeInSeconds": 86400}},
                 "spec.stoppingCondition.maxRuntimeInSeconds"),
    "long-pool": ({"resourceConfig": {"instanceType": "ml.m5.large", "instanceCount": 1,
                                      "volumeSizeInGB": 5, "keepAlivePeriodInSeconds": 3600}},
                  "spec.resourceConfig.keepAlivePeriodInSeconds"),
}  # fmt: skip


def test_what_a_rule_does_not_allow_is_refused_naming_the_field(strict: Platform) -> None:
    a = strict.a
    tag = uuid.uuid4().hex[:4]
    creates = strict.control.calls("CreateTrainingJob")
    a.apply(*(team_job("team-a", f"{name}-{tag}", **overrides)
              for name, (overrides, _) in REFUSED.items()))  # fmt: skip
    for name, (_, field) in REFUSED.items():
        found = wait_until(strict.operator.guard(lambda name=name: a.stalled(f"{name}-{tag}")),  # type: ignore[misc]
                           timeout=30, description=f"{name} refused")  # fmt: skip
        assert found["reason"] == "PolicyDenied", (name, found)
        assert field in found["message"], (name, found["message"])
    assert strict.control.calls("CreateTrainingJob") == creates


def test_within_its_rule_a_job_runs(strict: Platform) -> None:
    a = strict.a
    name = f"within-{uuid.uuid4().hex[:4]}"
    a.apply(team_job("team-a", name, inputDataConfig=fsx("/fsx/team-a/train"),
                     vpcConfig=NETWORK,
                     algorithmSpecification={"trainingImage": TEAM_A_IMAGE,
                                             "trainingInputMode": "File"},
                     experimentConfig={"experimentName": "team-a-churn"},
                     resourceConfig={"instanceType": "ml.m5.xlarge", "instanceCount": 2,
                                     "volumeSizeInGB": 50}))  # fmt: skip
    wait_until(strict.operator.guard(lambda: a.status(name).get("trainingJobStatus")
                                     == "Completed" or a.stalled(name)), timeout=60,
               description="Completed")  # fmt: skip
    assert a.stalled(name) is None, a.stalled(name)


def test_in_a_strict_policy_a_file_system_no_rule_lists_is_refused(strict: Platform) -> None:
    """Team B's rule lists no file systems: before strict mode, an unset list meant "*",
    and team B could mount team A's FSx."""
    b = strict.b
    name = f"borrowed-fsx-{uuid.uuid4().hex[:4]}"
    spec = team_spec("team-b", inputDataConfig=fsx("/fsx/team-a/train"), vpcConfig=NETWORK)
    b.apply({"apiVersion": "sagemaker-operator.dev/v1alpha1", "kind": "TrainingJob",
             "metadata": {"name": name}, "spec": spec})  # fmt: skip
    found = wait_until(strict.operator.guard(lambda: b.stalled(name)), timeout=30,
                       description="refused")  # fmt: skip
    assert found["reason"] == "PolicyDenied"
    assert f"fileSystemId {FSX} is not allowed" in found["message"]
    assert "no fileSystems listed" in found["message"]


def test_the_log_says_when_the_default_policy_serves_a_second_namespace(
    kube_cluster: KubeCluster, tenants: tuple[Tenant, Tenant], tmp_path: Path
) -> None:
    """The default policy (no file) is one team's: every namespace may use every role of
    the account. Serving a second namespace, the operator says so."""
    a, b = tenants
    with Emulator(profile="fast") as emulator:
        environment = operator_environment(kube_cluster, emulator, poll_interval="1")
        with OperatorProcess(environment, a.namespace, tmp_path / "operator.log",
                             also=[b.namespace]) as operator:  # fmt: skip
            operator.wait_ready()
            name = f"shared-{uuid.uuid4().hex[:4]}"
            for tenant in (a, b):
                tenant.apply(manifest(name, typical_spec()))
            warning = wait_until(operator.guard(lambda: re.search(
                r"policy rule 1 \(namespaces \['\*'\]\) serves namespaces (\S+) and (\S+):",
                operator.output())), timeout=30, description="the warning")  # fmt: skip
            assert {warning[1], warning[2]} == {a.namespace, b.namespace}
