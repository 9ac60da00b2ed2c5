"""Deleting many running jobs at once, at the operator's default settings.

A job this process created is its own without asking AWS (its UID tag was written by the
create): deleting its resource sends one StopTrainingJob and nothing else, and the end of
the job is read from the tracker's next list (hurried by the stop), not from a describe
per job. Only what the default rate limits and the emulator's stopping time allow is
waited for; the figures at 100 jobs are ``make bench``'s (bench/operator_scale.py).
"""

from __future__ import annotations

import json
from typing import Any

import pytest
import yaml

from sagemaker_lab import Emulator, EmulatorControl, KubeCluster, wait_until
from sagemaker_lab.operator import OperatorProcess
from tests.controller.test_lifecycle import EXAMPLES

pytestmark = pytest.mark.cluster

JOBS = 20


@pytest.fixture
def operator_settings() -> dict[str, str]:
    return {}  # the defaults: 10 s poll interval, 5 describes/s, the stop ceiling


def statuses(cluster: KubeCluster, namespace: str) -> dict[str, str]:
    listed = json.loads(cluster.kubectl("get", "trainingjobs", "-n", namespace, "-o",
                                        "json").stdout)  # fmt: skip
    return {item["metadata"]["name"]: item.get("status", {}).get("trainingJobStatus", "")
            for item in listed["items"]}  # fmt: skip


def manifests(count: int) -> str:
    template: dict[str, Any] = yaml.safe_load((EXAMPLES / "minimal.yaml").read_text())
    items = []
    for index in range(count):
        document = json.loads(json.dumps(template))
        document["metadata"]["name"] = f"job-{index}"
        items.append(document)
    return json.dumps({"apiVersion": "v1", "kind": "List", "items": items})


def running_jobs(cluster: KubeCluster, namespace: str, emulator: Emulator,
                 operator: OperatorProcess) -> EmulatorControl:  # fmt: skip
    """JOBS jobs applied and InProgress (training for 10 minutes); the emulator's controls."""
    control = EmulatorControl(emulator.endpoint_url)
    control.set_profile("fast", {"Starting": 0.1, "Downloading": 0.1, "Training": 600})
    cluster.kubectl("apply", "-n", namespace, "-f", "-", input=manifests(JOBS))
    wait_until(lambda: set(statuses(cluster, namespace).values()) == {"InProgress"},
               timeout=60, description=f"{JOBS} jobs InProgress\n{operator.output()}")  # fmt: skip
    return control


def delete_all(cluster: KubeCluster, namespace: str, operator: OperatorProcess,
               timeout: float) -> None:  # fmt: skip
    """Every resource deleted at once, and gone within ``timeout`` seconds."""
    cluster.kubectl("delete", "trainingjobs", "--all", "-n", namespace, "--wait=false")
    wait_until(lambda: not statuses(cluster, namespace), timeout=timeout,
               description=f"every resource gone\n{operator.output()}")  # fmt: skip


def job_statuses(emulator: Emulator) -> set[str]:
    listed = emulator.sagemaker_client().list_training_jobs(MaxResults=100)
    return {job["TrainingJobStatus"] for job in listed["TrainingJobSummaries"]}


def test_deleting_running_jobs_it_created_sends_one_stop_each_and_nothing_else(
    kube_cluster: KubeCluster, namespace: str, emulator: Emulator,
    operator_process: OperatorProcess,
) -> None:  # fmt: skip
    control = running_jobs(kube_cluster, namespace, emulator, operator_process)
    before = control.stats()["calls"]

    delete_all(kube_cluster, namespace, operator_process, timeout=60)

    after = control.stats()["calls"]
    made = {operation: after.get(operation, 0) - before.get(operation, 0) for operation in after}
    assert made.get("StopTrainingJob") == JOBS, made
    assert made.get("ListTags", 0) == 0, made
    assert made.get("DescribeTrainingJob", 0) == 0, made
    assert job_statuses(emulator) == {"Stopped"}


def test_stops_sagemaker_throttles_are_retried_until_each_job_is_stopped_once(
    kube_cluster: KubeCluster, namespace: str, emulator: Emulator,
    operator_process: OperatorProcess,
) -> None:  # fmt: skip
    """The stop limit is only a ceiling: when SageMaker throttles StopTrainingJob (half the
    calls here), botocore's adaptive retry mode slows the stops down and retries them, and
    every job is still stopped by exactly one accepted call."""
    control = running_jobs(kube_cluster, namespace, emulator, operator_process)
    control.set_faults(throttle_rate=0.5, throttle_operations=["StopTrainingJob"])

    delete_all(kube_cluster, namespace, operator_process, timeout=120)

    stops = control.stats()["outcomes"]["StopTrainingJob"]
    assert stops["ok"] == JOBS, stops
    assert stops.get("ThrottlingException", 0) > 0, stops  # the fault did bite
    assert job_statuses(emulator) == {"Stopped"}
