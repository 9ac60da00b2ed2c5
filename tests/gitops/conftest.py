"""TrainingJobs in every state a GitOps tool must read, made by the real operator."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from sagemaker_lab import Emulator, EmulatorControl, KubeCluster, wait_until
from sagemaker_lab.operator import OperatorProcess
from tests.kube import trainingjobs

SPEC = {"roleArn": "arn:aws:iam::123456789012:role/SageMakerRole",
        "outputDataConfig": {"s3OutputPath": "s3://my-bucket/output"}}  # fmt: skip


def document(name: str, **spec: Any) -> str:
    """A TrainingJob whose job has its name (the fixture looks the job up by it)."""
    return yaml.safe_dump({"apiVersion": "sagemaker-operator.dev/v1alpha1", "kind": "TrainingJob",
                           "metadata": {"name": name},
                           "spec": {"trainingJobName": name, **SPEC, **spec}})  # fmt: skip


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
    """running, completed, failed, stalled (policy), deleting, an update pending and an
    update refused: the live objects."""
    control = EmulatorControl(emulator.endpoint_url)
    cluster, guard = kube_cluster, operator_process.guard

    def apply(text: str) -> None:
        cluster.kubectl("apply", "-n", namespace, "-f", "-", input=text)

    apply(document("completed"))
    apply(document("update-refused"))
    wait_until(guard(lambda: all(job_status(cluster, namespace, name) == "Completed"
                                 for name in ("completed", "update-refused"))),
               timeout=30, description="completed")  # fmt: skip
    # A profiler change after the end: SageMaker refuses it.
    apply(document("update-refused", profilerConfig={"profilingIntervalInMilliseconds": 1000}))
    control.set_profile("fast", {"Training": 600, "Stopping": 600})  # for the jobs below
    for name in ("running", "failed", "deleting", "updating"):
        apply(document(name))
    apply(document("denied", roleArn="arn:aws:iam::999999999999:role/Admin"))
    wait_until(guard(lambda: all(job_status(cluster, namespace, name) == "InProgress"
                                 for name in ("running", "failed", "deleting", "updating"))),
               timeout=30, description="four jobs InProgress")  # fmt: skip
    # An update SageMaker accepted and does not report yet.
    control.set_faults(update_delay=600)
    apply(document("updating", remoteDebugConfig={"enableRemoteDebug": True}))

    def update_state(name: str) -> str | None:
        found = trainingjobs(cluster, namespace)[name].get("status", {})
        return str(found.get("update", {}).get("state")) if found.get("update") else None

    wait_until(guard(lambda: update_state("updating") == "Pending"
                     and update_state("update-refused") == "Refused"),
               timeout=30, description="one update Pending, one Refused")  # fmt: skip
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
