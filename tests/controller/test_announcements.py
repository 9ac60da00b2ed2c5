"""Every transition's Event reaches the apiserver, even when it could not be posted at the
moment of the transition (issue L: the ``Stopped`` event was posted only after its status
write, and lost for good when the post failed or the process stopped between the two).

The apiserver refuses the namespace's Events with a ValidatingAdmissionPolicy (a real
admission refusal, as a quota or a policy engine gives) while the job ends; once Events
are taken again, the status's ``announced`` tells the operator what it still owes.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from sagemaker_lab import Emulator, EmulatorControl, KubeCluster, wait_until
from sagemaker_lab.operator import OperatorProcess
from tests.api.manifests import manifest, typical_spec
from tests.controller.test_lifecycle import apply, events, resource

pytestmark = pytest.mark.cluster

ADMISSION = "admissionregistration.k8s.io/v1"


@pytest.fixture
def events_refused(kube_cluster: KubeCluster, namespace: str) -> Iterator[Any]:
    """Events in the namespace refused until the returned function is called."""
    name = f"refuse-events-{namespace}"
    policy = {
        "apiVersion": ADMISSION, "kind": "ValidatingAdmissionPolicy", "metadata": {"name": name},
        "spec": {
            "failurePolicy": "Fail",
            "matchConstraints": {"resourceRules": [{
                "apiGroups": [""], "apiVersions": ["v1"], "operations": ["CREATE"],
                "resources": ["events"]}]},
            "validations": [{"expression": "false", "message": "no events in this test"}],
        },
    }  # fmt: skip
    binding = {
        "apiVersion": ADMISSION, "kind": "ValidatingAdmissionPolicyBinding",
        "metadata": {"name": name},
        "spec": {"policyName": name, "validationActions": ["Deny"], "matchResources": {
            "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": namespace}}}},
    }  # fmt: skip
    kube_cluster.kubectl("apply", "-f", "-", input=json.dumps(
        {"apiVersion": "v1", "kind": "List", "items": [policy, binding]}))  # fmt: skip
    probe = {"apiVersion": "v1", "kind": "Event", "metadata": {"generateName": "probe."},
             "involvedObject": {"kind": "Namespace", "name": namespace, "namespace": namespace},
             "reason": "Probe",
             "message": "can events be posted?"}  # fmt: skip

    def posted() -> bool:
        return kube_cluster.kubectl("create", "-n", namespace, "-f", "-", check=False,
                                    input=json.dumps(probe)).returncode == 0  # fmt: skip

    wait_until(lambda: not posted(), timeout=30, interval=0.5, description="events refused")

    def allow() -> None:
        kube_cluster.kubectl("delete", "validatingadmissionpolicybinding,"
                             "validatingadmissionpolicy", name, "--ignore-not-found")  # fmt: skip
        wait_until(posted, timeout=30, interval=0.5, description="events taken again")

    yield allow
    kube_cluster.kubectl("delete", "validatingadmissionpolicybinding,validatingadmissionpolicy",
                         name, "--ignore-not-found", check=False)  # fmt: skip


def ended_unannounced(kube_cluster: KubeCluster, namespace: str, name: str) -> dict[str, Any]:
    """The job's end, written while its Event was refused."""

    def completed() -> dict[str, Any] | None:
        status: dict[str, Any] = resource(kube_cluster, namespace, name).get("status", {})
        return status if status.get("trainingJobStatus") == "Completed" else None

    status = wait_until(completed, timeout=60, interval=0.5, description="Completed")
    assert status.get("announced") != "Completed/Completed"
    assert ("Normal", "Completed") not in events(kube_cluster, namespace, name)
    return status


def announced(kube_cluster: KubeCluster, namespace: str, name: str) -> bool:
    """The Completed event posted (then the status says so: nothing more is owed)."""
    if ("Normal", "Completed") not in events(kube_cluster, namespace, name):
        return False
    wait_until(lambda: resource(kube_cluster, namespace, name)["status"].get("announced")
               == "Completed/Completed", timeout=10, description="announced")  # fmt: skip
    return True


@pytest.mark.parametrize("restarted", [False, True], ids=["same-process", "after-a-restart"])
def test_an_end_whose_event_was_refused_is_announced_once_events_are_taken_again(
    kube_cluster: KubeCluster, namespace: str, emulator: Emulator, events_refused: Any,
    operator_process: OperatorProcess, restarted: bool,
) -> None:  # fmt: skip
    """By the process that could not post it, or (SIGKILLed meanwhile) the next one: what
    it owed is in the status, not in its memory."""
    EmulatorControl(emulator.endpoint_url).set_profile("fast", {"Training": 3})
    apply(kube_cluster, namespace, manifest("refused", typical_spec()))
    ended_unannounced(kube_cluster, namespace, "refused")
    if restarted:
        operator_process.kill()
    events_refused()
    if restarted:
        operator_process.start()
    wait_until(operator_process.guard(lambda: announced(kube_cluster, namespace, "refused")),
               timeout=60, interval=1, description="the Completed event")  # fmt: skip
    told = [event for event in events(kube_cluster, namespace, "refused")
            if event == ("Normal", "Completed")]  # fmt: skip
    assert len(told) == 1
