"""The admission webhook refuses at `kubectl apply` what the schema cannot express."""

from __future__ import annotations

import json
from typing import Any

import pytest
import yaml

from sagemaker_lab import Emulator, EmulatorControl, KubeCluster, wait_until
from sagemaker_lab.operator import OperatorProcess
from tests.controller.test_lifecycle import EXAMPLES, resource

pytestmark = pytest.mark.cluster

CONFIGURATION = "sagemaker-operator.dev"


@pytest.fixture
def operator_settings() -> dict[str, str]:
    return {"poll_interval": "1", "webhook_port": "0"}


def registered(cluster: KubeCluster) -> bool:
    found = cluster.kubectl("get", "validatingwebhookconfiguration", CONFIGURATION, check=False)
    return found.returncode == 0


def minimal(**spec: Any) -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load((EXAMPLES / "minimal.yaml").read_text())
    document["spec"].update(spec)
    return document


def test_the_webhook_refuses_at_apply_what_the_operator_would_stall(
    kube_cluster: KubeCluster, namespace: str, emulator: Emulator,
    operator_process: OperatorProcess,
) -> None:  # fmt: skip
    operator_process.wait_ready()
    wait_until(operator_process.guard(lambda: registered(kube_cluster)), timeout=30,
               description="the webhook registered")  # fmt: skip

    def apply(document: dict[str, Any], *flags: str) -> tuple[int, str]:
        result = kube_cluster.kubectl("apply", "-n", namespace, *flags, "-f", "-",
                                      input=json.dumps(document), check=False)  # fmt: skip
        return result.returncode, result.stderr

    foreign = minimal(roleArn="arn:aws:iam::999999999999:role/Admin")
    for flags in ([], ["--dry-run=server"]):
        code, error = apply(foreign, *flags)
        assert code != 0
        assert "denied the request: PolicyDenied: spec.roleArn " \
               "arn:aws:iam::999999999999:role/Admin is not allowed" in error  # fmt: skip

    # The CRD's pattern admits any ml.* name; SageMaker's enum does not know this one.
    unknown = minimal(resourceConfig={"instanceType": "ml.x99.huge", "instanceCount": 1,
                                      "volumeSizeInGB": 10})  # fmt: skip
    code, error = apply(unknown)
    assert code != 0
    assert "denied the request: InvalidSpec:" in error
    assert "Value 'ml.x99.huge' at 'resourceConfig.instanceType' failed to satisfy" in error
    assert "closest: " in error

    # Each region has clients of its own, never freed: a made-up one is refused at apply.
    code, error = apply(minimal(region="xx-fake-9"))
    assert code != 0
    assert "denied the request: InvalidSpec: spec.region 'xx-fake-9' is not a SageMaker " \
           "region of the aws partition" in error  # fmt: skip

    assert EmulatorControl(emulator.endpoint_url).stats()["calls"].get(
        "CreateTrainingJob", 0) == 0  # fmt: skip
    assert kube_cluster.kubectl("get", "trainingjobs", "-n", namespace, "-o", "name").stdout == ""

    code, error = apply(minimal())  # a good one is admitted, and created
    assert code == 0, error
    wait_until(operator_process.guard(lambda: resource(kube_cluster, namespace, "minimal")
                                      .get("status", {}).get("trainingJobArn")),
               timeout=30, description="ARN")  # fmt: skip

    operator_process.stop()  # a local run's registration leaves with the operator
    assert not registered(kube_cluster)
