"""TrainingJobs in every state a GitOps tool must read, made by the real operator."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from sagemaker_operator.testing import Emulator, EmulatorControl, KubeCluster, wait_until
from sagemaker_operator.testing.operator import OperatorProcess
from tests.kube import trainingjobs

SPEC = {"roleArn": "arn:aws:iam::123456789012:role/SageMakerRole",
        "outputDataConfig": {"s3OutputPath": "s3://my-bucket/output"}}  # fmt: skip


def document(name: str, **spec: Any) -> str:
    return yaml.safe_dump({"apiVersion": "sagemaker-operator.dev/v1alpha1", "kind": "TrainingJob",
                           "metadata": {"name": name}, "spec": {**SPEC, **spec}})  # fmt: skip


def job_status(cluster: KubeCluster, namespace: str, name: str) -> str | None:
    status: str | None = (
        trainingjobs(cluster, namespace).get(name, {}).get("status", {}).get("trainingJobStatus")
    )
    return status


@pytest.fixture
def every_state(
    kube_cluster: KubeCluster, namespace: str, emulator: Emulator,
    operator_process: OperatorProcess,
) -> dict[str, dict[str, Any]]:  # fmt: skip
    """running, completed, failed, stalled (policy) and deleting: the live objects."""
    control = EmulatorControl(emulator.endpoint_url)
    cluster, guard = kube_cluster, operator_process.guard

    def apply(text: str) -> None:
        cluster.kubectl("apply", "-n", namespace, "-f", "-", input=text)

    apply(document("completed"))
    wait_until(guard(lambda: job_status(cluster, namespace, "completed") == "Completed"),
               timeout=30, description="completed")  # fmt: skip
    control.set_profile("fast", {"Training": 600, "Stopping": 600})  # for the jobs below
    for name in ("running", "failed", "deleting"):
        apply(document(name))
    apply(document("denied", roleArn="arn:aws:iam::999999999999:role/Admin"))
    wait_until(guard(lambda: all(job_status(cluster, namespace, name) == "InProgress"
                                 for name in ("running", "failed", "deleting"))),
               timeout=30, description="three jobs InProgress")  # fmt: skip
    control.fail_job("failed", "AlgorithmError: loss is NaN")
    wait_until(guard(lambda: job_status(cluster, namespace, "failed") == "Failed"),
               timeout=30, description="failed")  # fmt: skip
    cluster.kubectl("delete", "trainingjob", "deleting", "-n", namespace, "--wait=false")
    sagemaker = emulator.sagemaker_client()

    def stopping() -> bool:
        described = sagemaker.describe_training_job(TrainingJobName="deleting")
        return described["TrainingJobStatus"] == "Stopping"

    wait_until(guard(stopping), timeout=30, description="deleting: Stopping")

    def denied() -> bool:
        conditions = (
            trainingjobs(cluster, namespace)["denied"].get("status", {}).get("conditions", [])
        )
        return any(c["type"] == "Stalled" and c["status"] == "True" for c in conditions)

    wait_until(guard(denied), timeout=30, description="denied: Stalled")
    objects = trainingjobs(cluster, namespace)
    assert objects["deleting"]["metadata"].get("deletionTimestamp")  # the finalizer holds it
    return objects
