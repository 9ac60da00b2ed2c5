"""Through an outage and heavy throttling, every resource converges, with bounded calls."""

from __future__ import annotations

import json
from typing import Any

import pytest

from sagemaker_lab import Emulator, EmulatorControl, KubeCluster, wait_until
from sagemaker_lab.operator import OperatorProcess
from tests.api.manifests import manifest
from tests.kube import trainingjobs

pytestmark = [pytest.mark.cluster, pytest.mark.slow]

RESOURCES = 20
OUTAGE = 30  # seconds
# After the outage botocore's retry quota is spent (each call is one attempt), and under
# throttling that no pace avoids, its adaptive limiter sends about 0.5 creates a second:
# 20 jobs at 50 % throttling need about 40 attempts, 80 s, and a job that draws a run of
# throttles waits kopf's backoff (up to 8 s) between attempts. Measured: 64-113 s; two
# clean-clone runs went past 120 s (one with a job throttled 11 times in a row).
DEADLINE = 180


@pytest.fixture
def operator_settings() -> dict[str, str]:
    # The backoff of kopf-level retries starts at 2 s and stops doubling at 8 s (AWS
    # defaults: 15 s and 300 s), so convergence after the outage takes seconds, not minutes.
    return {"poll_interval": "1", "create_rate": "50", "describe_rate": "50",
            "retry_delay": "2", "max_retry_delay": "8"}  # fmt: skip


def statuses(cluster: KubeCluster, namespace: str) -> list[str | None]:
    return [item.get("status", {}).get("trainingJobStatus")
            for item in trainingjobs(cluster, namespace).values()]  # fmt: skip


def test_every_job_completes_through_a_30_second_outage_and_50_percent_throttling(
    kube_cluster: KubeCluster, namespace: str, emulator: Emulator,
    operator_process: OperatorProcess,
) -> None:  # fmt: skip
    operator_process.wait_ready()
    control = EmulatorControl(emulator.endpoint_url)
    control.set_faults(throttle_rate=0.5, refuse_connections_for=OUTAGE)
    spec: dict[str, Any] = {
        "roleArn": "arn:aws:iam::123456789012:role/SageMakerRole",
        "outputDataConfig": {"s3OutputPath": "s3://my-bucket/output"},
    }
    documents = [manifest(f"job-{index:02}", spec) for index in range(RESOURCES)]
    kube_cluster.kubectl("apply", "-n", namespace, "-f", "-",
                         input="\n---\n".join(json.dumps(d) for d in documents))  # fmt: skip

    try:
        wait_until(
            operator_process.guard(
                lambda: statuses(kube_cluster, namespace) == ["Completed"] * RESOURCES),
            timeout=DEADLINE, interval=1, description="every job Completed",
        )  # fmt: skip
    except TimeoutError as error:
        raise AssertionError(f"{error}\n{operator_process.stacks()}") from error
    stats = control.stats()
    calls, outcomes = stats["calls"], stats["outcomes"]
    print(f"calls through the outage and throttling: {calls}; outcomes: {outcomes}")
    assert outcomes["CreateTrainingJob"]["ok"] == RESOURCES
    # Bounds: botocore makes at most 5 attempts a call, half of them throttled; the
    # operator retries a spent call after 15 s, not in a loop; one list per tick.
    assert calls["CreateTrainingJob"] <= 4 * RESOURCES
    assert outcomes["DescribeTrainingJob"]["ok"] == RESOURCES  # once per finished job
    assert calls["ListTrainingJobs"] <= 200
