"""End to end: a change of what UpdateTrainingJob changes reaches SageMaker, and the status
says where it stands (the operator process, a real apiserver, the emulator)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from sagemaker_lab import Emulator, EmulatorControl, KubeCluster, wait_until
from sagemaker_lab.operator import OperatorProcess
from tests.controller.test_lifecycle import apply, conditions, events, resource
from tests.kube import arn, condition, stalled

pytestmark = pytest.mark.cluster

POLICY = {"rules": [{"namespaces": ["*"], "roles": ["arn:aws:iam::123456789012:role/**"],
                     "s3Prefixes": ["s3://my-bucket/"]}]}  # fmt: skip


@pytest.fixture
def operator_settings(tmp_path: Path) -> dict[str, str]:
    policy = tmp_path / "policy.yaml"
    policy.write_text(yaml.safe_dump(POLICY))
    return {"poll_interval": "1", "create_rate": "50", "describe_rate": "50",
            "policy_file": str(policy)}  # fmt: skip


def job(name: str, **spec: Any) -> dict[str, Any]:
    """A TrainingJob whose job has its name (the tests look the job up by it)."""
    return {"apiVersion": "sagemaker-operator.dev/v1alpha1", "kind": "TrainingJob",
            "metadata": {"name": name},
            "spec": {"trainingJobName": name,
                     "roleArn": "arn:aws:iam::123456789012:role/SageMakerRole",
                     "outputDataConfig": {"s3OutputPath": "s3://my-bucket/output"},
                     "resourceConfig": {"instanceType": "ml.m5.large", "instanceCount": 1,
                                        "volumeSizeInGB": 5},
                     **spec}}  # fmt: skip


def update_calls(emulator: Emulator) -> int:
    return int(EmulatorControl(emulator.endpoint_url).stats()["calls"].get("UpdateTrainingJob", 0))


def test_a_keep_alive_change_is_reconciling_until_sagemaker_reports_it(
    kube_cluster: KubeCluster, namespace: str, emulator: Emulator,
    operator_process: OperatorProcess,
) -> None:  # fmt: skip
    control = EmulatorControl(emulator.endpoint_url)
    control.set_profile("fast", {"Training": 600})
    control.set_faults(update_delay=2)  # Describe shows an accepted update 2 s later
    document = job("warm")
    document["spec"]["resourceConfig"]["keepAlivePeriodInSeconds"] = 60
    apply(kube_cluster, namespace, document)
    wait_until(operator_process.guard(lambda: arn(kube_cluster, namespace, "warm")),
               timeout=30, description="ARN")  # fmt: skip
    document["spec"]["resourceConfig"]["keepAlivePeriodInSeconds"] = 1800
    apply(kube_cluster, namespace, document)

    def update_state(state: str) -> dict[str, Any] | None:
        found = resource(kube_cluster, namespace, "warm")
        return found if found["status"].get("update", {}).get("state") == state else None

    pending = wait_until(operator_process.guard(lambda: update_state("Pending")), timeout=30,
                         description="the update Pending")  # fmt: skip
    assert pending["status"]["observedGeneration"] == pending["metadata"]["generation"] == 2
    assert conditions(pending)["Reconciling"] == ("True", "UpdatePending")
    assert pending["status"]["update"]["fields"] == ["spec.resourceConfig.keepAlivePeriodInSeconds"]
    applied = wait_until(operator_process.guard(lambda: update_state("Applied")), timeout=30,
                         description="the update Applied")  # fmt: skip
    assert conditions(applied)["Reconciling"][1] != "UpdatePending"  # the job's own again
    described = emulator.sagemaker_client().describe_training_job(TrainingJobName="warm")
    assert described["ResourceConfig"]["KeepAlivePeriodInSeconds"] == 1800
    assert update_calls(emulator) == 1
    assert {("Normal", "UpdateAccepted"), ("Normal", "Updated")} <= set(
        events(kube_cluster, namespace, "warm"))  # fmt: skip


def test_a_profiler_change_after_the_end_is_stalled_with_sagemakers_reason_once(
    kube_cluster: KubeCluster, namespace: str, emulator: Emulator,
    operator_process: OperatorProcess,
) -> None:  # fmt: skip
    document = job("ended")
    apply(kube_cluster, namespace, document)
    wait_until(operator_process.guard(lambda: resource(kube_cluster, namespace, "ended")
                                      .get("status", {}).get("trainingJobStatus") == "Completed"),
               timeout=30, description="Completed")  # fmt: skip
    document["spec"]["profilerConfig"] = {"profilingIntervalInMilliseconds": 1000}
    apply(kube_cluster, namespace, document)

    found = wait_until(operator_process.guard(lambda: stalled(kube_cluster, namespace,
                                                              "ended")),
                       timeout=30, description="Stalled")  # fmt: skip
    assert conditions(found)["Stalled"] == ("True", "ValidationException")
    assert conditions(found)["Ready"][0] == "False"
    assert "only while the training job is InProgress" in condition(found, "Stalled")["message"]
    assert found["status"]["update"] == {
        "generation": 2, "state": "Refused", "fields": ["spec.profilerConfig"],
        "reason": "ValidationException",
        "message": condition(found, "Stalled")["message"]}  # fmt: skip
    assert found["status"]["observedGeneration"] == 2  # answered: Flux reads it as Failed
    assert ("Warning", "ValidationException") in events(kube_cluster, namespace, "ended")
    # No retry until the spec changes; taking the change back asks SageMaker nothing.
    del document["spec"]["profilerConfig"]
    apply(kube_cluster, namespace, document)

    def ready() -> dict[str, Any] | None:
        found = resource(kube_cluster, namespace, "ended")
        return found if conditions(found).get("Ready", ("",))[0] == "True" else None

    back = wait_until(operator_process.guard(ready), timeout=30, description="Ready again")
    assert back["status"]["update"]["state"] == "Applied"
    assert back["status"]["observedGeneration"] == 3
    assert update_calls(emulator) == 1


def test_a_keep_alive_change_after_the_warm_pool_ended_is_refused(
    kube_cluster: KubeCluster, namespace: str, emulator: Emulator,
    operator_process: OperatorProcess,
) -> None:  # fmt: skip
    document = job("cold")
    document["spec"]["resourceConfig"]["keepAlivePeriodInSeconds"] = 1
    apply(kube_cluster, namespace, document)
    sagemaker = emulator.sagemaker_client()
    wait_until(operator_process.guard(lambda: arn(kube_cluster, namespace, "cold")),
               timeout=30, description="ARN")  # fmt: skip
    wait_until(lambda: sagemaker.describe_training_job(TrainingJobName="cold").get(
        "WarmPoolStatus", {}).get("Status") == "Terminated", timeout=30,
        description="the warm pool ended")  # fmt: skip
    document["spec"]["resourceConfig"]["keepAlivePeriodInSeconds"] = 600
    apply(kube_cluster, namespace, document)

    def refused() -> dict[str, Any] | None:
        found = resource(kube_cluster, namespace, "cold")
        return found if found["status"].get("update", {}).get("state") == "Refused" else None

    found = wait_until(operator_process.guard(refused), timeout=30, description="Refused")
    assert (
        "only while its warm pool is Available; it is Terminated"
        in condition(found, "Stalled")["message"]
    )
    assert update_calls(emulator) == 1


def test_an_update_outside_the_namespace_policy_makes_no_call(
    kube_cluster: KubeCluster, namespace: str, emulator: Emulator,
    operator_process: OperatorProcess,
) -> None:  # fmt: skip
    EmulatorControl(emulator.endpoint_url).set_profile("fast", {"Training": 600})
    document = job("profiled")
    apply(kube_cluster, namespace, document)
    wait_until(operator_process.guard(lambda: arn(kube_cluster, namespace, "profiled")),
               timeout=30, description="ARN")  # fmt: skip
    document["spec"]["profilerConfig"] = {"s3OutputPath": "s3://someone-elses-bucket/profiles"}
    apply(kube_cluster, namespace, document)

    found = wait_until(operator_process.guard(lambda: stalled(kube_cluster, namespace,
                                                              "profiled")),
                       timeout=30, description="Stalled")  # fmt: skip
    assert conditions(found)["Stalled"] == ("True", "PolicyDenied")
    assert "spec.profilerConfig.s3OutputPath" in condition(found, "Stalled")["message"]
    assert update_calls(emulator) == 0
    assert json.dumps(found["status"]["update"]["state"]) == '"Refused"'


@pytest.mark.slow
def test_a_remote_debug_change_waits_for_downloading_or_training(
    kube_cluster: KubeCluster, namespace: str, emulator: Emulator,
    operator_process: OperatorProcess,
) -> None:  # fmt: skip
    """SageMaker takes RemoteDebugConfig only while the job is Downloading or Training: a
    change made while it starts waits (Reconciling, UpdatePending), then is sent (before:
    sent at once, refused, and the resource Stalled for good though it would pass a minute
    later)."""
    control = EmulatorControl(emulator.endpoint_url)
    control.set_profile("fast", {"Starting": 6, "Training": 600})
    document = job("debugged")
    apply(kube_cluster, namespace, document)
    wait_until(operator_process.guard(lambda: arn(kube_cluster, namespace, "debugged")),
               timeout=30, description="ARN")  # fmt: skip
    document["spec"]["remoteDebugConfig"] = {"enableRemoteDebug": True}
    apply(kube_cluster, namespace, document)

    def waiting() -> dict[str, Any] | None:
        found = resource(kube_cluster, namespace, "debugged")
        return found if conditions(found).get("Reconciling") == ("True", "UpdatePending") else None

    found = wait_until(operator_process.guard(waiting), timeout=30, description="waiting")
    assert emulator.sagemaker_client().describe_training_job(TrainingJobName="debugged")[
        "SecondaryStatus"] == "Starting"  # fmt: skip
    assert update_calls(emulator) == 0
    assert "Downloading or Training" in condition(found, "Reconciling")["message"]

    def applied() -> dict[str, Any] | None:
        found = resource(kube_cluster, namespace, "debugged")
        return found if found["status"].get("update", {}).get("state") == "Applied" else None

    wait_until(operator_process.guard(applied), timeout=60, description="Applied")
    described = emulator.sagemaker_client().describe_training_job(TrainingJobName="debugged")
    assert described["RemoteDebugConfig"] == {"EnableRemoteDebug": True}
    assert stalled(kube_cluster, namespace, "debugged") is None
