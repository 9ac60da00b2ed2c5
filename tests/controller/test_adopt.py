"""Adoption end to end: `kubectl sagemaker adopt` writes the manifest, the operator takes the
job over without creating one, and refuses what it must (the real kubectl and plugin, the
operator process, a real apiserver, the emulator)."""

from __future__ import annotations

import json
from typing import Any

import pytest
import yaml

from sagemaker_emulator.samples import typical
from sagemaker_lab import Emulator, EmulatorControl, KubeCluster, wait_until
from sagemaker_lab.operator import OperatorProcess
from sagemaker_operator.kubectl import adopt
from tests.controller.test_crashes import kill_at_random_moments
from tests.controller.test_lifecycle import apply, conditions, events, gone, resource
from tests.kube import arn, condition, job_name, stalled, trainingjobs
from tests.kubectl.test_plugin import kubectl_sagemaker

pytestmark = pytest.mark.cluster

UID_TAG = "sagemaker-operator.dev/uid"


def started_elsewhere(emulator: Emulator, name: str, **overrides: Any) -> str:
    """A job started with the SDK (straight to SageMaker): its ARN."""
    request = typical(name, **overrides)
    return str(emulator.sagemaker_client().create_training_job(**request)["TrainingJobArn"])


def adopt_manifest(cluster: KubeCluster, emulator: Emulator, namespace: str, job: str,
                   *extra: str) -> dict[str, Any]:  # fmt: skip
    result = kubectl_sagemaker(cluster, emulator, "adopt", job, "--region", "us-east-1",
                               "-n", namespace, *extra)  # fmt: skip
    assert result.returncode == 0, result.stderr
    document: dict[str, Any] = yaml.safe_load(result.stdout)
    return document


def manifest_of(emulator: Emulator, namespace: str, job: str,
                name: str | None = None) -> dict[str, Any]:  # fmt: skip
    """What `kubectl sagemaker adopt` prints (the same function, in this process: the
    first test runs the plugin itself; a subprocess per job costs over a second)."""
    sagemaker = emulator.sagemaker_client()
    described = sagemaker.describe_training_job(TrainingJobName=job)
    tags = sagemaker.list_tags(ResourceArn=described["TrainingJobArn"])["Tags"]
    return adopt.manifest(dict(described), [{"Key": tag["Key"], "Value": tag.get("Value", "")}
                                            for tag in tags],
                          region="us-east-1", namespace=namespace, name=name)  # fmt: skip


def calls(emulator: Emulator) -> dict[str, int]:
    return dict(EmulatorControl(emulator.endpoint_url).stats()["calls"])


def test_an_adopted_job_is_tracked_without_a_create_and_kept_when_its_resource_goes(
    kube_cluster: KubeCluster, namespace: str, emulator: Emulator,
    operator_process: OperatorProcess,
) -> None:  # fmt: skip
    EmulatorControl(emulator.endpoint_url).set_profile("fast", {"Training": 8})
    arn = started_elsewhere(emulator, "From-A-Notebook")
    document = adopt_manifest(kube_cluster, emulator, namespace, "From-A-Notebook")
    assert document["metadata"] == {
        "name": "from-a-notebook", "namespace": namespace,
        "annotations": {"sagemaker-operator.dev/adopt": "true"}}  # fmt: skip
    assert document["spec"]["trainingJobName"] == "From-A-Notebook"
    assert document["spec"]["region"] == "us-east-1"
    assert document["spec"]["tags"] == [{"key": "team", "value": "ml"}]
    # Describe's defaults come along: the manifest describes the job as AWS reports it.
    assert document["spec"]["outputDataConfig"]["compressionType"] == "GZIP"
    apply(kube_cluster, namespace, document)

    adopted = wait_until(operator_process.guard(lambda: resource(
        kube_cluster, namespace, "from-a-notebook").get("status", {}).get("trainingJobArn")),
        timeout=30, description="the ARN")  # fmt: skip
    assert adopted == arn
    tags = emulator.sagemaker_client().list_tags(ResourceArn=arn)["Tags"]
    uid = resource(kube_cluster, namespace, "from-a-notebook")["metadata"]["uid"]
    assert {"Key": UID_TAG, "Value": uid} in tags
    wait_until(operator_process.guard(lambda: resource(kube_cluster, namespace, "from-a-notebook")
                                      ["status"].get("trainingJobStatus") == "Completed"),
               timeout=30, description="tracked to Completed")  # fmt: skip
    made = calls(emulator)
    assert made["CreateTrainingJob"] == 1  # the notebook's, none by the operator
    assert made["AddTags"] == 1
    assert ("Normal", "Adopted") in events(kube_cluster, namespace, "from-a-notebook")


def test_deleting_an_adopted_resource_leaves_the_job_running_unless_asked(
    kube_cluster: KubeCluster, namespace: str, emulator: Emulator,
    operator_process: OperatorProcess,
) -> None:  # fmt: skip
    EmulatorControl(emulator.endpoint_url).set_profile("fast", {"Training": 600})
    sagemaker = emulator.sagemaker_client()
    for job in ("kept", "stopped"):
        started_elsewhere(emulator, job)
        document = manifest_of(emulator, namespace, job)
        if job == "stopped":
            document["metadata"]["annotations"]["sagemaker-operator.dev/deletion-policy"] = (
                "delete")  # fmt: skip
        apply(kube_cluster, namespace, document)
    wait_until(operator_process.guard(lambda: all(
        item.get("status", {}).get("trainingJobArn")
        for item in trainingjobs(kube_cluster, namespace).values())),
        timeout=30, description="both adopted")  # fmt: skip
    kube_cluster.kubectl("delete", "trainingjob", "kept", "stopped", "-n", namespace,
                         "--wait=false")  # fmt: skip
    wait_until(operator_process.guard(lambda: gone(kube_cluster, namespace, "kept")),
               timeout=30, description="kept: resource gone")  # fmt: skip
    assert sagemaker.describe_training_job(TrainingJobName="kept")["TrainingJobStatus"] == (
        "InProgress")  # fmt: skip
    wait_until(lambda: sagemaker.describe_training_job(TrainingJobName="stopped")[
        "TrainingJobStatus"] in {"Stopping", "Stopped"}, timeout=30,
        description="stopped: asked for with the annotation")  # fmt: skip


def test_a_manifest_that_does_not_describe_the_job_is_an_adopt_mismatch_naming_each_field(
    kube_cluster: KubeCluster, namespace: str, emulator: Emulator,
    operator_process: OperatorProcess,
) -> None:  # fmt: skip
    started_elsewhere(emulator, "drifted")
    document = manifest_of(emulator, namespace, "drifted")
    document["spec"]["hyperParameters"]["max_depth"] = "9"
    document["spec"]["resourceConfig"]["instanceCount"] = 2
    del document["spec"]["outputDataConfig"]["compressionType"]  # a default: no difference
    apply(kube_cluster, namespace, document)
    found = wait_until(operator_process.guard(lambda: stalled(kube_cluster, namespace,
                                                              "drifted")),
                       timeout=30, description="Stalled")  # fmt: skip
    assert conditions(found)["Stalled"] == ("True", "AdoptMismatch")
    message = condition(found, "Stalled")["message"]
    assert "spec.hyperParameters, spec.resourceConfig.instanceCount differ" in message
    assert "trainingJobArn" not in found["status"]
    assert calls(emulator).get("AddTags", 0) == 0
    assert ("Warning", "AdoptMismatch") in events(kube_cluster, namespace, "drifted")


def test_a_missing_job_a_job_owned_by_another_resource_and_a_forbidden_role_are_refused(
    kube_cluster: KubeCluster, namespace: str, emulator: Emulator,
    operator_process: OperatorProcess,
) -> None:  # fmt: skip
    EmulatorControl(emulator.endpoint_url).set_profile("fast", {"Training": 600})
    # Owned: a TrainingJob of this cluster created it.
    owner = {"apiVersion": "sagemaker-operator.dev/v1alpha1", "kind": "TrainingJob",
             "metadata": {"name": "owner"},
             "spec": {"roleArn": "arn:aws:iam::123456789012:role/SageMakerRole",
                      "outputDataConfig": {"s3OutputPath": "s3://my-bucket/output"}}}  # fmt: skip
    apply(kube_cluster, namespace, owner)
    wait_until(operator_process.guard(lambda: arn(kube_cluster, namespace, "owner")),
               timeout=30, description="the owner's job")  # fmt: skip
    owned = job_name(kube_cluster, namespace, "owner")
    taken = manifest_of(emulator, namespace, owned, "taker")
    missing = manifest_of(emulator, namespace, owned, "missing")
    missing["spec"]["trainingJobName"] = "never-started"
    started_elsewhere(emulator, "foreign", RoleArn="arn:aws:iam::999999999999:role/Admin")
    foreign = manifest_of(emulator, namespace, "foreign")
    before = calls(emulator)
    for document in (taken, missing, foreign):
        apply(kube_cluster, namespace, document)
    reasons = {}
    for name in ("taker", "missing", "foreign"):
        found = wait_until(operator_process.guard(lambda name=name: stalled(  # type: ignore[misc]
            kube_cluster, namespace, name)), timeout=30, description=f"{name} Stalled")  # fmt: skip
        reasons[name] = (
            condition(found, "Stalled")["reason"],
            condition(found, "Stalled")["message"],
        )
    assert reasons["taker"][0] == "AdoptConflict"
    # The owner is not named: a refusal tells no tenant of another's resources.
    assert "belongs to another TrainingJob resource, which exists" in reasons["taker"][1]
    assert "owner" not in reasons["taker"][1].replace(owned, "JOB")
    assert reasons["missing"][0] == "JobNotFound"
    assert (f"no training job named never-started in us-east-1 that namespace {namespace} "
            "may adopt") in reasons["missing"][1]  # fmt: skip
    assert reasons["foreign"][0] == "PolicyDenied"
    assert "spec.roleArn arn:aws:iam::999999999999:role/Admin" in reasons["foreign"][1]
    after = calls(emulator)
    assert after.get("AddTags", 0) == before.get("AddTags", 0) == 0
    assert after["CreateTrainingJob"] == before["CreateTrainingJob"]


ADOPTED = 12


@pytest.mark.slow
def test_sigkill_during_adoptions_tags_each_job_once_and_creates_none(
    kube_cluster: KubeCluster, namespace: str, emulator: Emulator,
    operator_process: OperatorProcess,
) -> None:  # fmt: skip
    control = EmulatorControl(emulator.endpoint_url)
    control.set_profile("fast", {"Training": 600})
    for index in range(ADOPTED):
        started_elsewhere(emulator, f"sdk-{index:02}")
    control.set_faults(latency=0.05)  # widen the windows between the calls and the write
    documents = [manifest_of(emulator, namespace, f"sdk-{index:02}")
                 for index in range(ADOPTED)]  # fmt: skip
    kube_cluster.kubectl("apply", "-n", namespace, "-f", "-",
                         input="\n---\n".join(json.dumps(d) for d in documents))  # fmt: skip
    kill_at_random_moments(operator_process, times=3, seed=20261202, latest=1.5)

    def all_adopted() -> dict[str, dict[str, Any]] | None:
        found = trainingjobs(kube_cluster, namespace)
        done = len(found) == ADOPTED and all(item.get("status", {}).get("trainingJobArn")
                                             for item in found.values())  # fmt: skip
        return found if done else None

    final = wait_until(operator_process.guard(all_adopted), timeout=120, interval=0.5,
                       description=f"every job adopted\n{operator_process.output()}")  # fmt: skip
    sagemaker = emulator.sagemaker_client()
    for item in final.values():
        tags = sagemaker.list_tags(ResourceArn=item["status"]["trainingJobArn"])["Tags"]
        assert [tag for tag in tags if tag["Key"] == UID_TAG] == [
            {"Key": UID_TAG, "Value": item["metadata"]["uid"]}]  # fmt: skip
    outcomes = control.stats()["outcomes"]
    assert outcomes["CreateTrainingJob"]["ok"] == ADOPTED  # the SDK's: the operator made none
    # AddTags only while the job's tags do not name the resource: once per job, whatever
    # was killed (the emulator lists tags at once; a lagging ListTags may add one more).
    assert outcomes["AddTags"]["ok"] == ADOPTED
    print(f"outcomes over 3 crashes: { {k: outcomes[k] for k in sorted(outcomes)} }")
