"""An ended job is let go once what follows its end has settled: the real operator and
kopf's real index (the tracker's unit tests rebuild the index each tick, which hid that
kopf kept an entry the index handler no longer gave)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from sagemaker_lab import Emulator, EmulatorControl, KubeCluster, wait_until
from sagemaker_lab.operator import OperatorProcess, operator_environment
from tests.api.manifests import manifest, typical_spec
from tests.controller.test_events import metric
from tests.kube import trainingjob

pytestmark = pytest.mark.cluster


@pytest.fixture
def operator(
    kube_cluster: KubeCluster, trainingjob_crd: str, emulator: Emulator, namespace: str,
    tmp_path: Path,
) -> Iterator[OperatorProcess]:  # fmt: skip
    environment = operator_environment(kube_cluster, emulator, poll_interval="1",
                                       follow_interval="0.5", metrics_port="0")  # fmt: skip
    with OperatorProcess(environment, namespace, tmp_path / "operator.log") as running:
        running.wait_ready()
        yield running


def calls(emulator: Emulator) -> tuple[int, int]:
    control = EmulatorControl(emulator.endpoint_url)
    return control.calls("DescribeTrainingJob"), control.calls("ListTags")


def test_a_job_whose_warm_pool_ended_costs_no_call_after_it_settles(
    kube_cluster: KubeCluster, namespace: str, emulator: Emulator, operator: OperatorProcess
) -> None:
    """Before: kopf kept the last entry the index handler gave (it returns None for a job
    settled), so the job was described again and again, its tags read again and again."""
    resources = {"instanceType": "ml.m5.large", "instanceCount": 1, "volumeSizeInGB": 5,
                 "keepAlivePeriodInSeconds": 2}  # fmt: skip
    pooled = typical_spec(resourceConfig=resources)
    kube_cluster.kubectl("apply", "-n", namespace, "-f", "-",
                         input=json.dumps(manifest("pooled", pooled)))  # fmt: skip

    def settled() -> bool:
        status = trainingjob(kube_cluster, namespace, "pooled").get("status", {})
        return (status.get("warmPoolStatus") or {}).get("status") == "Terminated"

    wait_until(operator.guard(settled), timeout=60, description="the warm pool ended")
    before = calls(emulator)
    ticked = metric(operator, "sagemaker_operator_tracker_last_tick_timestamp_seconds") or 0.0
    wait_until(operator.guard(lambda: (metric(
        operator, "sagemaker_operator_tracker_last_tick_timestamp_seconds") or 0.0) >= ticked + 6),
        timeout=30, description="six seconds of ticks")  # fmt: skip
    assert calls(emulator) == before
