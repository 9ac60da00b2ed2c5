"""Two teams sharing one operator and one AWS account: the platform the attacks run on."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from sagemaker_lab import Emulator, EmulatorControl, KubeCluster
from sagemaker_lab.operator import OperatorProcess, operator_environment
from tests.api.manifests import manifest, typical_spec
from tests.security.conftest import Tenant

ACCOUNT = "123456789012"
CLUSTER_ID = "cluster-under-test"


def team_spec(team: str, **overrides: Any) -> dict[str, Any]:
    """A typical spec with the team's own role and bucket."""
    spec = typical_spec(
        roleArn=f"arn:aws:iam::{ACCOUNT}:role/{team}-training",
        inputDataConfig=[{"channelName": "train", "dataSource": {"s3DataSource": {
            "s3DataType": "S3Prefix", "s3Uri": f"s3://{team}-data/train"}}}],
        outputDataConfig={"s3OutputPath": f"s3://{team}-data/output"},
    )  # fmt: skip
    spec.update(overrides)
    return spec


def team_job(team: str, name: str, **overrides: Any) -> dict[str, Any]:
    return manifest(name, team_spec(team, **overrides))


def team_rules(a: Tenant, b: Tenant) -> list[dict[str, Any]]:
    """Each team its own namespace, role and bucket (what a policy before strict mode and
    its new fields could say)."""
    return [{"namespaces": [tenant.namespace],
             "roles": [f"arn:aws:iam::{ACCOUNT}:role/{team}-*"],
             "s3Prefixes": [f"s3://{team}-data/"]}
            for team, tenant in (("team-a", a), ("team-b", b))]  # fmt: skip


@dataclass
class Platform:
    cluster: KubeCluster
    emulator: Emulator
    operator: OperatorProcess
    a: Tenant
    b: Tenant

    @property
    def control(self) -> EmulatorControl:
        return EmulatorControl(self.emulator.endpoint_url)

    def describe(self, job: str) -> dict[str, Any]:
        found = self.emulator.sagemaker_client().describe_training_job(TrainingJobName=job)
        return dict(found)

    def tags(self, job: str) -> dict[str, str]:
        sagemaker = self.emulator.sagemaker_client()
        arn = sagemaker.describe_training_job(TrainingJobName=job)["TrainingJobArn"]
        return {tag["Key"]: tag.get("Value", "")
                for tag in sagemaker.list_tags(ResourceArn=arn)["Tags"]}  # fmt: skip


@contextmanager
def platform(
    cluster: KubeCluster, tenants: tuple[Tenant, Tenant], folder: Path,
    policy: dict[str, Any] | None = None, **settings: str,
) -> Iterator[Platform]:  # fmt: skip
    """An emulator and the operator watching both teams' namespaces with ``policy`` (by
    default each team its own rule)."""
    a, b = tenants
    folder.mkdir(parents=True, exist_ok=True)
    policy_file = folder / f"policy-{uuid.uuid4().hex[:6]}.yaml"
    policy_file.write_text(yaml.safe_dump(policy or {"rules": team_rules(a, b)}))
    with Emulator(profile="fast") as emulator:
        environment = operator_environment(
            cluster, emulator, **({"poll_interval": "1", "create_rate": "50",
                                   "describe_rate": "50", "policy_file": str(policy_file),
                                   "cluster_id": CLUSTER_ID} | settings))  # fmt: skip
        with OperatorProcess(environment, a.namespace, folder / "operator.log",
                             also=[b.namespace]) as running:  # fmt: skip
            running.wait_ready()
            yield Platform(cluster, emulator, running, a, b)


def patch_spec(tenant: Tenant, name: str, spec: dict[str, Any]) -> None:
    tenant.kubectl("patch", "trainingjob", name, "--type=merge", "-p",
                   json.dumps({"spec": spec}))  # fmt: skip
