"""The operator against AWS as it really behaves and tenants who push: errors that pass,
tags that lag, jobs that are not the resource's, and names reused. Each test turns on the
emulator switch it needs (emulator/README.md, "The emulator's switches")."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Coroutine, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest

from sagemaker_emulator.samples import typical
from sagemaker_lab import Emulator, EmulatorControl, KubeCluster, wait_until
from sagemaker_lab.operator import OperatorProcess, operator_environment
from sagemaker_operator.aws.gateway import SageMakerGateway
from sagemaker_operator.controller.requests import UID_TAG, Owner, default_job_name
from sagemaker_operator.controller.runtime import ResourceRef, Runtime
from sagemaker_operator.kube import KubeApiError, KubeClient
from sagemaker_operator.policy import Policy
from sagemaker_operator.settings import OperatorSettings
from tests.api.manifests import manifest, typical_spec
from tests.controller.test_lifecycle import apply, conditions, events, gone, resource

T = TypeVar("T")

pytestmark = pytest.mark.cluster


@pytest.fixture
def operator_settings() -> dict[str, str]:
    # A waited-out error (a quota, IAM propagation) is retried after 1-2 s, not minutes.
    return {"poll_interval": "1", "create_rate": "50", "describe_rate": "50",
            "wait_retry_delay": "1", "max_wait_retry_delay": "2"}  # fmt: skip


@pytest.fixture
def later(
    kube_cluster: KubeCluster, trainingjob_crd: str, emulator: Emulator, namespace: str,
    tmp_path: Path, operator_settings: dict[str, str],
) -> Iterator[OperatorProcess]:  # fmt: skip
    """The operator, not started yet: the test sets the scene first."""
    environment = operator_environment(kube_cluster, emulator, **operator_settings)
    process = OperatorProcess(environment, namespace, tmp_path / "operator.log")
    yield process
    process.stop()


def reason(cluster: KubeCluster, namespace: str, name: str, kind: str) -> str | None:
    state, why = conditions(resource(cluster, namespace, name)).get(kind, ("False", ""))
    return why if state == "True" else None


def job_status(emulator: Emulator, name: str) -> str:
    return str(emulator.sagemaker_client().describe_training_job(TrainingJobName=name)[
        "TrainingJobStatus"])  # fmt: skip


@pytest.mark.slow
def test_creates_refused_by_the_concurrent_jobs_quota_wait_and_then_run(
    kube_cluster: KubeCluster, namespace: str, emulator: Emulator,
    operator_process: OperatorProcess,
) -> None:  # fmt: skip
    """ResourceLimitExceeded passes as other jobs end: Reconciling, retried, never Stalled
    (before: Stalled for good, the spec being immutable)."""
    control = EmulatorControl(emulator.endpoint_url)
    control.set_profile("fast", {"Training": 4})
    control.set_faults(max_concurrent_jobs=2)
    names = [f"queued-{index}" for index in range(4)]
    kube_cluster.kubectl("apply", "-n", namespace, "-f", "-", input="\n---\n".join(
        json.dumps(manifest(name, typical_spec())) for name in names))  # fmt: skip
    wait_until(
        operator_process.guard(
            lambda: any(
                reason(kube_cluster, namespace, name, "Reconciling") == "ResourceLimitExceeded"
                for name in names
            )
        ),
        timeout=30,
        description="a resource Reconciling on the quota",
    )
    wait_until(
        operator_process.guard(
            lambda: all(
                resource(kube_cluster, namespace, name).get("status", {}).get("trainingJobStatus")
                == "Completed"
                for name in names
            )
        ),
        timeout=90,
        description="all four Completed",
    )
    assert control.stats()["outcomes"]["CreateTrainingJob"]["ResourceLimitExceeded"] >= 1
    assert all(reason(kube_cluster, namespace, name, "Stalled") is None for name in names)


@pytest.mark.slow
def test_a_role_iam_has_not_propagated_yet_is_waited_for(
    kube_cluster: KubeCluster, namespace: str, emulator: Emulator,
    operator_process: OperatorProcess,
) -> None:  # fmt: skip
    control = EmulatorControl(emulator.endpoint_url)
    control.set_faults(role_propagation_delay=6)
    apply(kube_cluster, namespace, manifest("fresh-role", typical_spec()))
    wait_until(
        operator_process.guard(
            lambda: (
                reason(kube_cluster, namespace, "fresh-role", "Reconciling")
                == "ValidationException"
            )
        ),
        timeout=30,
        description="Reconciling: could not assume",
    )
    message = next(c["message"] for c in resource(kube_cluster, namespace, "fresh-role")[
        "status"]["conditions"] if c["type"] == "Reconciling")  # fmt: skip
    assert "Could not assume role" in message
    assert "a new role may not have propagated in IAM yet: retried until 20" in message
    wait_until(operator_process.guard(lambda: resource(kube_cluster, namespace, "fresh-role")
               .get("status", {}).get("trainingJobStatus") == "Completed"), timeout=60,
               description="Completed once the role propagated")  # fmt: skip


@pytest.mark.parametrize("operator_settings", [{
    "poll_interval": "1", "wait_retry_delay": "1", "max_wait_retry_delay": "2",
    "role_wait_for": "4"}])  # fmt: skip
def test_a_role_still_refused_when_the_wait_ends_is_stalled_saying_what_to_check(
    kube_cluster: KubeCluster, namespace: str, emulator: Emulator, later: OperatorProcess,
) -> None:  # fmt: skip
    """Issue M: a wrong or untrusted role was taken for IAM propagation for an hour, as
    Reconciling, and the message never said until when."""
    EmulatorControl(emulator.endpoint_url).set_faults(role_propagation_delay=3600)
    later.start()
    apply(kube_cluster, namespace, manifest("untrusted", typical_spec()))
    wait_until(later.guard(lambda: reason(kube_cluster, namespace, "untrusted", "Stalled")
                           == "ValidationException"), timeout=30,
               description="Stalled once the role wait ended")  # fmt: skip
    found = resource(kube_cluster, namespace, "untrusted")
    message = next(c["message"] for c in found["status"]["conditions"] if c["type"] == "Stalled")
    assert "still refused 4 s after the first attempt, so not IAM propagation" in message
    assert "trust policy lets sagemaker.amazonaws.com assume it" in message
    assert found["status"]["reason"] == "ValidationException"


@pytest.mark.slow
def test_a_job_an_earlier_attempt_created_is_adopted_though_its_tags_list_late(
    kube_cluster: KubeCluster, namespace: str, emulator: Emulator, later: OperatorProcess,
) -> None:  # fmt: skip
    """ResourceInUse, and ListTags shows no tags yet (SageMaker Python SDK #3662, #4600):
    not a NameConflict (before: Stalled NameConflict for the resource's own job)."""
    control = EmulatorControl(emulator.endpoint_url)
    control.set_faults(tag_listing_delay=8)
    apply(kube_cluster, namespace, manifest("crashed", typical_spec()))
    uid = resource(kube_cluster, namespace, "crashed")["metadata"]["uid"]
    # The create an earlier operator made before it died (its answer lost).
    emulator.sagemaker_client().create_training_job(**typical(
        default_job_name(Owner(uid, namespace, "crashed")), Tags=[
            {"Key": UID_TAG, "Value": uid}]))  # fmt: skip
    later.start()
    wait_until(later.guard(lambda: resource(kube_cluster, namespace, "crashed")
               .get("status", {}).get("trainingJobArn")), timeout=60,
               description="the job adopted")  # fmt: skip
    assert ("Normal", "Adopted") in events(kube_cluster, namespace, "crashed")
    assert reason(kube_cluster, namespace, "crashed", "Stalled") is None
    assert control.stats()["outcomes"]["CreateTrainingJob"].get("ok") == 1  # the earlier one


@pytest.mark.slow
def test_a_resource_deleted_before_its_status_had_the_arn_stops_its_own_job(
    kube_cluster: KubeCluster, namespace: str, emulator: Emulator, later: OperatorProcess,
) -> None:  # fmt: skip
    """A crash between the create call and the status write: the job is found by name and
    stopped (its UID tag is the resource's) before the resource goes (before: released at
    once, the job ran on unmanaged)."""
    control = EmulatorControl(emulator.endpoint_url)
    control.set_profile("fast", {"Training": 120, "Stopping": 1})
    apply(kube_cluster, namespace, manifest("orphan", typical_spec()))
    found = resource(kube_cluster, namespace, "orphan")
    uid = found["metadata"]["uid"]
    # What the create handler does before its call: the finalizer; then the job exists.
    kube_cluster.kubectl("patch", "trainingjob", "orphan", "-n", namespace, "--type=merge",
                         "-p", json.dumps({"metadata": {"finalizers": [
                             "sagemaker-operator.dev/finalizer"]}}))  # fmt: skip
    job = default_job_name(Owner(uid, namespace, "orphan"))
    emulator.sagemaker_client().create_training_job(**typical(job, Tags=[
        {"Key": UID_TAG, "Value": uid}]))  # fmt: skip
    kube_cluster.kubectl("delete", "trainingjob", "orphan", "-n", namespace, "--wait=false")
    later.start()
    wait_until(later.guard(lambda: gone(kube_cluster, namespace, "orphan")), timeout=60,
               description="the resource gone")  # fmt: skip
    assert job_status(emulator, job) == "Stopped"


def test_a_status_pointed_at_another_teams_job_never_stops_or_copies_it(
    kube_cluster: KubeCluster, namespace: str, emulator: Emulator,
    operator_process: OperatorProcess,
) -> None:  # fmt: skip
    """Whoever may patch trainingjobs/status can name any job there; only a job whose UID
    tag is the resource's is tracked or stopped (before: the other team's job was stopped
    when the resource was deleted, and its results copied in)."""
    control = EmulatorControl(emulator.endpoint_url)
    control.set_profile("fast", {"Training": 300})
    theirs = emulator.sagemaker_client().create_training_job(**typical("theirs", Tags=[
        {"Key": UID_TAG, "Value": "uid-of-another-teams-resource"}]))["TrainingJobArn"]  # fmt: skip
    control.set_profile("fast")
    apply(kube_cluster, namespace, manifest("mine", typical_spec()))
    wait_until(operator_process.guard(lambda: resource(kube_cluster, namespace, "mine")
               .get("status", {}).get("trainingJobStatus") == "Completed"), timeout=60,
               description="its own job Completed")  # fmt: skip
    kube_cluster.kubectl("patch", "trainingjob", "mine", "-n", namespace, "--subresource=status",
                         "--type=merge", "-p", json.dumps({"status": {
                             "trainingJobArn": theirs, "trainingJobName": "theirs",
                             "trainingJobStatus": "InProgress"}}))  # fmt: skip
    wait_until(operator_process.guard(
        lambda: reason(kube_cluster, namespace, "mine", "Stalled") == "NotOwned"),
        timeout=30, description="Stalled: NotOwned")  # fmt: skip
    kube_cluster.kubectl("delete", "trainingjob", "mine", "-n", namespace, "--wait=false")
    wait_until(operator_process.guard(lambda: gone(kube_cluster, namespace, "mine")),
               timeout=30, description="the resource gone")  # fmt: skip
    assert control.calls("StopTrainingJob") == 0
    assert job_status(emulator, "theirs") == "InProgress"


def test_a_status_write_for_a_deleted_resource_never_lands_on_its_successor(
    kube_cluster: KubeCluster, namespace: str, trainingjob_crd: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    """The tracker's status patch (Runtime.patch_status) carries the UID it was meant for:
    a resource deleted and made again under the same name refuses it (before: the new one
    inherited the old one's job)."""
    apply(kube_cluster, namespace, manifest("reused", typical_spec()))
    old_uid = resource(kube_cluster, namespace, "reused")["metadata"]["uid"]
    kube_cluster.kubectl("delete", "trainingjob", "reused", "-n", namespace)
    apply(kube_cluster, namespace, manifest("reused", typical_spec()))
    assert resource(kube_cluster, namespace, "reused")["metadata"]["uid"] != old_uid
    runtime = Runtime(OperatorSettings(), SageMakerGateway(), "us-east-1",
                      Policy.own_account("123456789012"))  # fmt: skip
    monkeypatch.setenv("KUBECONFIG", str(kube_cluster.kubeconfig))
    runtime._kube = KubeClient(15)  # as the operator logs in: the kubeconfig here

    def run(call: Coroutine[Any, Any, T]) -> T:
        async def closing() -> T:
            try:
                return await call
            finally:
                await runtime.kube.close()

        return asyncio.run(closing())

    stale = ResourceRef(namespace, "reused", old_uid)
    with pytest.raises(KubeApiError) as refused:
        run(runtime.patch_status(stale, {"trainingJobStatus": "Completed"}))
    assert refused.value.status == 422
    assert run(runtime.replaced(stale))
    assert "trainingJobStatus" not in resource(kube_cluster, namespace, "reused").get("status", {})
    # Its own status (the create handler's, once its job exists) takes the write.
    kube_cluster.kubectl(
        "patch",
        "trainingjob",
        "reused",
        "-n",
        namespace,
        "--type=merge",
        "--subresource=status",
        "-p",
        '{"status": {"region": "us-east-1"}}',
    )
    current = ResourceRef(namespace, "reused", resource(kube_cluster, namespace, "reused")[
        "metadata"]["uid"])  # fmt: skip
    run(runtime.patch_status(current, {"trainingJobStatus": "InProgress"}))
    assert resource(kube_cluster, namespace, "reused")["status"]["trainingJobStatus"] == (
        "InProgress"
    )


@pytest.mark.slow
def test_a_resource_deleted_while_its_creates_are_throttled_gets_no_job(
    kube_cluster: KubeCluster, namespace: str, emulator: Emulator,
    operator_process: OperatorProcess,
) -> None:  # fmt: skip
    """Deleted before a create got through: no job, ever (before: the create's retries went
    on after the delete, and most such resources got a job, started and billed, then
    stopped)."""
    control = EmulatorControl(emulator.endpoint_url)
    control.set_faults(throttle_rate=1.0, throttle_operations=["CreateTrainingJob"])
    names = [f"deleted-{index}" for index in range(5)]
    kube_cluster.kubectl("apply", "-n", namespace, "-f", "-", input="\n---\n".join(
        json.dumps(manifest(name, typical_spec())) for name in names))  # fmt: skip
    wait_until(operator_process.guard(lambda: (control.stats()["outcomes"].get(
        "CreateTrainingJob", {}).get("ThrottlingException", 0)) >= len(names)), timeout=30,
        description="every create throttled")  # fmt: skip
    kube_cluster.kubectl("delete", "trainingjob", *names, "-n", namespace, "--wait=false")
    control.set_faults(throttle_rate=0.0, throttle_operations=[])
    wait_until(operator_process.guard(lambda: all(gone(kube_cluster, namespace, name)
                                                  for name in names)), timeout=90,
               description="the resources gone")  # fmt: skip
    assert control.stats()["outcomes"]["CreateTrainingJob"].get("ok", 0) == 0
    assert emulator.sagemaker_client().list_training_jobs()["TrainingJobSummaries"] == []


@pytest.mark.slow
def test_an_outage_is_said_in_the_log_and_by_the_delete_handler(
    kube_cluster: KubeCluster, namespace: str, emulator: Emulator,
    operator_process: OperatorProcess,
) -> None:  # fmt: skip
    """SageMaker refuses connections: the polls say so, naming the region and the error,
    and a resource deleted meanwhile says its stop was not sent (before: "waiting for
    training job … to stop", as if the stop had gone through)."""
    control = EmulatorControl(emulator.endpoint_url)
    control.set_profile("fast", {"Training": 600})
    apply(kube_cluster, namespace, manifest("outage", typical_spec()))
    wait_until(operator_process.guard(lambda: resource(kube_cluster, namespace, "outage").get(
        "status", {}).get("secondaryStatus") == "Training"), timeout=30,
        description="Training")  # fmt: skip
    control.set_faults(refuse_connections_for=20)
    kube_cluster.kubectl("delete", "trainingjob", "outage", "-n", namespace, "--wait=false")
    wait_until(operator_process.guard(lambda: "StopTrainingJob was not sent" in
                                      operator_process.output()), timeout=30,
               description="the delete handler saying the stop was not sent")  # fmt: skip
    wait_until(operator_process.guard(lambda: re.search(
        r"tracking jobs in us-east-1 failed: .*(Connection|connect)", operator_process.output())),
        timeout=30, description="the polls' warning naming the region and the error")  # fmt: skip
    wait_until(operator_process.guard(lambda: gone(kube_cluster, namespace, "outage")),
               timeout=90, description="stopped once SageMaker answers, then gone")  # fmt: skip
    assert control.calls("StopTrainingJob") >= 1
