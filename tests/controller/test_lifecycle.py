"""End to end: kubectl apply → a SageMaker job → the resource's status, conditions, events."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from sagemaker_lab import Emulator, EmulatorControl, KubeCluster, wait_until
from sagemaker_lab.operator import OperatorProcess
from sagemaker_operator.api.trainingjob import Spec
from sagemaker_operator.controller.requests import Owner, create_request
from tests.kube import job_name

pytestmark = pytest.mark.cluster

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def apply(cluster: KubeCluster, namespace: str, document: dict[str, Any]) -> None:
    cluster.kubectl("apply", "-n", namespace, "-f", "-", input=json.dumps(document))


def manifest_for(example: str) -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load((EXAMPLES / f"{example}.yaml").read_text())
    return document


def resource(cluster: KubeCluster, namespace: str, name: str) -> dict[str, Any]:
    result = cluster.kubectl("get", "trainingjob", name, "-n", namespace, "-o", "json")
    document: dict[str, Any] = json.loads(result.stdout)
    return document


def conditions(document: dict[str, Any]) -> dict[str, tuple[str, str]]:
    return {c["type"]: (c["status"], c.get("reason", ""))
            for c in document.get("status", {}).get("conditions", [])}  # fmt: skip


def events(cluster: KubeCluster, namespace: str, name: str) -> list[tuple[str, str]]:
    listed = json.loads(cluster.kubectl(
        "get", "events", "-n", namespace, "-o", "json",
        f"--field-selector=involvedObject.name={name}").stdout)  # fmt: skip
    # Timestamps have whole seconds; the resource version (etcd's revision here) orders the
    # events of one second as they were written.
    ordered = sorted(
        listed["items"],
        key=lambda e: (
            e.get("lastTimestamp") or e["eventTime"],
            int(e["metadata"]["resourceVersion"]),
        ),
    )
    return [(event["type"], event["reason"]) for event in ordered]


def gone(cluster: KubeCluster, namespace: str, name: str) -> bool:
    return cluster.kubectl("get", "trainingjob", name, "-n", namespace, check=False).returncode != 0


def test_the_seed_example_runs_to_completion_with_one_create_and_one_describe(
    kube_cluster: KubeCluster, namespace: str, emulator: Emulator,
    operator_process: OperatorProcess,
) -> None:  # fmt: skip
    seed = yaml.safe_load((EXAMPLES / "seed-training-job.yaml").read_text())
    name = seed["metadata"]["name"]
    operator_process.wait_ready()
    warm_up = manifest_for("minimal")  # the operator's first object: watches now running
    apply(kube_cluster, namespace, warm_up)
    wait_until(operator_process.guard(lambda: resource(kube_cluster, namespace, "minimal")
                                      .get("status", {}).get("trainingJobArn")),
               timeout=30, description="the warm-up job's ARN")  # fmt: skip
    applied = time.monotonic()
    apply(kube_cluster, namespace, seed)

    created = wait_until(
        operator_process.guard(lambda: resource(kube_cluster, namespace, name)
                               .get("status", {}).get("trainingJobArn")),
        timeout=30, interval=0.05, description=f"ARN in status\n{operator_process.output()}",
    )  # fmt: skip
    latency = time.monotonic() - applied
    assert created.endswith("training-job/seed-xgboost-2026-11-28")
    print(f"apply → ARN: {latency:.2f} s")
    assert latency < 2.0

    def completed() -> dict[str, Any] | None:
        document = resource(kube_cluster, namespace, name)
        finished = document.get("status", {}).get("trainingJobStatus") == "Completed"
        return document if finished else None

    done = wait_until(operator_process.guard(completed), timeout=30, interval=0.2,
                      description=f"job Completed\n{operator_process.output()}")  # fmt: skip
    status = done["status"]
    assert status["trainingJobName"] == "seed-xgboost-2026-11-28"
    assert status["region"] == "us-east-1"
    assert status["secondaryStatus"] == "Completed"
    assert status["modelArtifacts"]["s3ModelArtifacts"].endswith("/output/model.tar.gz")
    for field in ("creationTime", "trainingStartTime", "trainingEndTime", "lastModifiedTime",
                  "trainingTimeInSeconds", "billableTimeInSeconds",
                  "secondaryStatusTransitions", "cloudWatchLogsUrl"):  # fmt: skip
        assert field in status, field
    assert status["observedGeneration"] == done["metadata"]["generation"]
    assert conditions(done) == {"Ready": ("True", "Completed"),
                                "Reconciling": ("False", "Completed"),
                                "Stalled": ("False", "Completed")}  # fmt: skip
    stats = EmulatorControl(emulator.endpoint_url).stats()["calls"]
    assert stats["CreateTrainingJob"] == 2  # the warm-up job and this one
    assert stats["DescribeTrainingJob"] == 2  # once per finished job; never while running

    def completed_event() -> list[str] | None:
        reasons = [reason for _, reason in events(kube_cluster, namespace, name)]
        return reasons if reasons and reasons[-1] == "Completed" else None

    reasons = wait_until(completed_event, timeout=10, description="the Completed event")
    assert reasons[0] == "Created"
    assert reasons[-1] == "Completed"
    assert "Training" in reasons


def test_a_failed_job_is_stalled_with_the_failure_reason(
    kube_cluster: KubeCluster, namespace: str, emulator: Emulator,
    operator_process: OperatorProcess,
) -> None:  # fmt: skip
    control = EmulatorControl(emulator.endpoint_url)
    control.set_profile("fast", {"Training": 30})
    minimal = yaml.safe_load((EXAMPLES / "minimal.yaml").read_text())
    apply(kube_cluster, namespace, minimal)
    wait_until(lambda: resource(kube_cluster, namespace, "minimal").get("status", {})
               .get("trainingJobArn"), timeout=30,
               description=f"ARN\n{operator_process.output()}")  # fmt: skip
    control.fail_job(job_name(kube_cluster, namespace, "minimal"), "AlgorithmError: out of memory")

    def stalled() -> dict[str, Any] | None:
        document = resource(kube_cluster, namespace, "minimal")
        return document if conditions(document).get("Stalled", ("",))[0] == "True" else None

    document = wait_until(stalled, timeout=30, description="Stalled")
    assert conditions(document)["Stalled"] == ("True", "Failed")
    assert conditions(document)["Ready"][0] == "False"
    assert document["status"]["failureReason"] == "AlgorithmError: out of memory"
    message = next(c["message"] for c in document["status"]["conditions"]
                   if c["type"] == "Stalled")  # fmt: skip
    assert message == "AlgorithmError: out of memory"


def test_deleting_a_running_job_stops_it_before_the_resource_goes(
    kube_cluster: KubeCluster, namespace: str, emulator: Emulator,
    operator_process: OperatorProcess,
) -> None:  # fmt: skip
    control = EmulatorControl(emulator.endpoint_url)
    control.set_profile("fast", {"Training": 60, "Stopping": 2})
    apply(kube_cluster, namespace, yaml.safe_load((EXAMPLES / "minimal.yaml").read_text()))
    wait_until(lambda: resource(kube_cluster, namespace, "minimal").get("status", {})
               .get("trainingJobArn"), timeout=30,
               description=f"ARN\n{operator_process.output()}")  # fmt: skip
    job = job_name(kube_cluster, namespace, "minimal")
    kube_cluster.kubectl("delete", "trainingjob", "minimal", "-n", namespace, "--wait=false")
    sagemaker = emulator.sagemaker_client()
    wait_until(lambda: sagemaker.describe_training_job(TrainingJobName=job)[
        "TrainingJobStatus"] in {"Stopping", "Stopped"}, timeout=30,
        description=f"the job stopping\n{operator_process.output()}")  # fmt: skip
    assert not gone(kube_cluster, namespace, "minimal")  # the finalizer waits for Stopped
    wait_until(lambda: gone(kube_cluster, namespace, "minimal"), timeout=60,
               description=f"the resource gone\n{operator_process.output()}")  # fmt: skip
    assert sagemaker.describe_training_job(TrainingJobName=job)["TrainingJobStatus"] == "Stopped"


def test_the_operator_never_writes_spec_labels_or_annotations(
    kube_cluster: KubeCluster, namespace: str, emulator: Emulator,
    operator_process: OperatorProcess,
) -> None:  # fmt: skip
    document = yaml.safe_load((EXAMPLES / "minimal.yaml").read_text())
    apply(kube_cluster, namespace, document)
    wait_until(lambda: resource(kube_cluster, namespace, "minimal").get("status", {})
               .get("trainingJobStatus") == "Completed", timeout=30,
               description=f"Completed\n{operator_process.output()}")  # fmt: skip
    stored = json.loads(kube_cluster.kubectl(
        "get", "trainingjob", "minimal", "-n", namespace, "-o", "json",
        "--show-managed-fields").stdout)  # fmt: skip
    assert stored["spec"] == document["spec"]
    assert stored["metadata"].get("labels") is None
    annotations = stored["metadata"].get("annotations", {})
    assert [key for key in annotations if "kopf" in key] == []
    assert stored["metadata"]["finalizers"] == ["sagemaker-operator.dev/finalizer"]
    managers = {entry["manager"]: entry for entry in stored["metadata"]["managedFields"]}
    operator_fields = [
        entry for name, entry in managers.items() if name != "kubectl-client-side-apply"
    ]
    for entry in operator_fields:
        assert "f:spec" not in json.dumps(entry.get("fieldsV1", {})), entry["manager"]


def test_a_role_of_another_account_is_policy_denied_without_any_sagemaker_call(
    kube_cluster: KubeCluster, namespace: str, emulator: Emulator,
    operator_process: OperatorProcess,
) -> None:  # fmt: skip
    document = yaml.safe_load((EXAMPLES / "minimal.yaml").read_text())
    document["spec"]["roleArn"] = "arn:aws:iam::999999999999:role/Admin"
    apply(kube_cluster, namespace, document)

    def stalled() -> dict[str, Any] | None:
        found = resource(kube_cluster, namespace, "minimal")
        return found if conditions(found).get("Stalled", ("",))[0] == "True" else None

    found = wait_until(operator_process.guard(stalled), timeout=30, description="Stalled")
    assert conditions(found)["Stalled"] == ("True", "PolicyDenied")
    message = next(c["message"] for c in found["status"]["conditions"] if c["type"] == "Stalled")
    assert "spec.roleArn arn:aws:iam::999999999999:role/Admin is not allowed" in message
    assert "trainingJobArn" not in found["status"]
    calls = EmulatorControl(emulator.endpoint_url).stats()["calls"]
    assert {operation: count for operation, count in calls.items()
            if not operation.startswith("sts:")} == {}  # fmt: skip
    assert ("Warning", "PolicyDenied") in events(kube_cluster, namespace, "minimal")
    # Issue M: the REASON column read failureReason only, blank for a job never started.
    wide = kube_cluster.kubectl("get", "trainingjob", "minimal", "-n", namespace, "-o", "wide",
                                "--no-headers").stdout  # fmt: skip
    assert wide.split()[-1] == "PolicyDenied", wide


def test_a_job_past_its_max_runtime_is_stopped_and_stalled(
    kube_cluster: KubeCluster, namespace: str, emulator: Emulator,
    operator_process: OperatorProcess,
) -> None:  # fmt: skip
    EmulatorControl(emulator.endpoint_url).set_profile("fast", {"Training": 60})
    document = yaml.safe_load((EXAMPLES / "minimal.yaml").read_text())
    document["spec"]["stoppingCondition"] = {"maxRuntimeInSeconds": 2}
    apply(kube_cluster, namespace, document)

    def stalled() -> dict[str, Any] | None:
        found = resource(kube_cluster, namespace, "minimal")
        return found if conditions(found).get("Stalled", ("",))[0] == "True" else None

    found = wait_until(operator_process.guard(stalled), timeout=30,
                       description=f"Stalled\n{operator_process.output()}")  # fmt: skip
    assert found["status"]["trainingJobStatus"] == "Stopped"
    assert conditions(found)["Stalled"] == ("True", "MaxRuntimeExceeded")
    assert conditions(found)["Ready"][0] == "False"


@pytest.mark.parametrize("annotated", ["resource", "namespace"])
def test_a_retained_job_runs_on_after_its_resource_is_deleted(
    kube_cluster: KubeCluster, namespace: str, emulator: Emulator,
    operator_process: OperatorProcess, annotated: str,
) -> None:  # fmt: skip
    EmulatorControl(emulator.endpoint_url).set_profile("fast", {"Training": 120})
    document = manifest_for("minimal")
    retain = "sagemaker-operator.dev/deletion-policy=retain"
    if annotated == "resource":
        document["metadata"]["annotations"] = dict([retain.split("=")])
    else:
        kube_cluster.kubectl("annotate", "namespace", namespace, retain)
    apply(kube_cluster, namespace, document)
    wait_until(operator_process.guard(lambda: resource(kube_cluster, namespace, "minimal")
                                      .get("status", {}).get("trainingJobArn")),
               timeout=30, description="ARN")  # fmt: skip

    job = job_name(kube_cluster, namespace, "minimal")
    kube_cluster.kubectl("delete", "trainingjob", "minimal", "-n", namespace, "--wait=false")
    wait_until(operator_process.guard(lambda: gone(kube_cluster, namespace, "minimal")),
               timeout=30, description="the resource gone")  # fmt: skip
    described = emulator.sagemaker_client().describe_training_job(TrainingJobName=job)
    assert described["TrainingJobStatus"] == "InProgress"
    assert EmulatorControl(emulator.endpoint_url).calls("StopTrainingJob") == 0
    assert ("Normal", "Retained") in events(kube_cluster, namespace, "minimal")


@pytest.mark.slow
def test_a_job_of_the_same_name_made_for_another_resource_is_a_name_conflict(
    kube_cluster: KubeCluster, namespace: str, emulator: Emulator,
    operator_process: OperatorProcess,
) -> None:  # fmt: skip
    document = manifest_for("minimal")
    document["spec"]["trainingJobName"] = "minimal"  # a default name is the resource's own
    elsewhere = Owner("0000-another-cluster", namespace, "minimal")
    emulator.sagemaker_client().create_training_job(
        **create_request(Spec.model_validate(document["spec"]), elsewhere)
    )
    control = EmulatorControl(emulator.endpoint_url)
    # The check of the existing job's tags meets throttling first: retried, not a verdict.
    control.set_faults(throttle_rate=1.0, throttle_operations=["DescribeTrainingJob"])
    apply(kube_cluster, namespace, document)

    def reason(kind: str) -> str | None:
        found = conditions(resource(kube_cluster, namespace, "minimal"))
        state, why = found.get(kind, ("False", ""))
        return why if state == "True" else None

    wait_until(operator_process.guard(lambda: reason("Reconciling") == "ThrottlingException"),
               timeout=60, description="Reconciling with the throttling error")  # fmt: skip
    assert reason("Stalled") is None
    control.set_faults(throttle_rate=0.0, throttle_operations=[])

    wait_until(operator_process.guard(lambda: reason("Stalled") == "NameConflict"),
               timeout=60, description="Stalled: NameConflict")  # fmt: skip
    found = resource(kube_cluster, namespace, "minimal")
    message = next(c["message"] for c in found["status"]["conditions"] if c["type"] == "Stalled")
    assert "a training job named minimal already exists in us-east-1" in message
    assert "trainingJobArn" not in found["status"]
    # The other resource's, then one per attempt of ours: refused, its check throttled and
    # retried once later (kopf's retry comes ≥ 7.5 s after the faults were lifted).
    assert control.calls("CreateTrainingJob") == 3
    assert ("Warning", "NameConflict") in events(kube_cluster, namespace, "minimal")

    # Its finalizer went on before the create call; deleting the resource lets it go at
    # once, with no call for the other resource's job.
    assert found["metadata"]["finalizers"] == ["sagemaker-operator.dev/finalizer"]
    kube_cluster.kubectl("delete", "trainingjob", "minimal", "-n", namespace, "--wait=false")
    wait_until(operator_process.guard(lambda: gone(kube_cluster, namespace, "minimal")),
               timeout=30, description="the resource gone")  # fmt: skip
    assert control.calls("StopTrainingJob") == 0
