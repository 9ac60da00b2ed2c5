"""Whatever crashes, every resource gets exactly one job, and no job is without a resource."""

from __future__ import annotations

import json
import random
import time
from typing import Any

import pytest

from sagemaker_lab import Emulator, EmulatorControl, KubeCluster, wait_until
from sagemaker_lab.operator import OperatorProcess
from sagemaker_operator.controller.requests import Owner, default_job_name
from tests.api.manifests import manifest
from tests.kube import trainingjobs

pytestmark = [pytest.mark.cluster, pytest.mark.slow]

RESOURCES = 50
UID_TAG = "sagemaker-operator.dev/uid"


def minimal_spec() -> dict[str, Any]:
    return {"roleArn": "arn:aws:iam::123456789012:role/SageMakerRole",
            "outputDataConfig": {"s3OutputPath": "s3://my-bucket/output"}}  # fmt: skip


def arns(cluster: KubeCluster, namespace: str) -> dict[str, tuple[str, str | None]]:
    """Each resource's UID and ARN (None while it has none)."""
    return {name: (item["metadata"]["uid"], item.get("status", {}).get("trainingJobArn"))
            for name, item in trainingjobs(cluster, namespace).items()}  # fmt: skip


def kill_at_random_moments(
    operator: OperatorProcess, *, times: int, seed: int, latest: float
) -> None:
    """SIGKILL the operator ``times`` times, each 0.3 s to ``latest`` s after it (re)started
    (repeatable moments: the dice are seeded), starting it again each time."""
    dice = random.Random(seed)
    for _ in range(times):
        time.sleep(dice.uniform(0.3, latest))  # a crash moment, not a wait for a condition
        operator.kill()
        operator.start()


def test_sigkill_at_random_moments_loses_and_duplicates_nothing(
    kube_cluster: KubeCluster, namespace: str, emulator: Emulator,
    operator_process: OperatorProcess,
) -> None:  # fmt: skip
    control = EmulatorControl(emulator.endpoint_url)
    control.set_profile("fast", {"Training": 600})  # keep every job in flight
    control.set_faults(latency=0.05)  # widen the window between create and status write
    documents = [manifest(f"job-{index:02}", minimal_spec()) for index in range(RESOURCES)]
    kube_cluster.kubectl("apply", "-n", namespace, "-f", "-",
                         input="\n---\n".join(json.dumps(d) for d in documents))  # fmt: skip

    kill_at_random_moments(operator_process, times=4, seed=20261128, latest=2.0)

    def all_created() -> dict[str, tuple[str, str | None]] | None:
        found = arns(kube_cluster, namespace)
        return found if len(found) == RESOURCES and all(arn for _, arn in found.values()) else None

    final = wait_until(
        operator_process.guard(all_created), timeout=120, interval=0.5,
        description=f"every resource with an ARN\n{operator_process.output()}",
    )  # fmt: skip
    sagemaker = emulator.sagemaker_client()
    jobs = [summary for page in sagemaker.get_paginator("list_training_jobs").paginate()
            for summary in page["TrainingJobSummaries"]]  # fmt: skip
    assert len(jobs) == RESOURCES  # exactly one job per resource: no duplicate, no orphan
    by_name = {job["TrainingJobName"]: job["TrainingJobArn"] for job in jobs}
    for name, (uid, arn) in final.items():
        assert by_name[default_job_name(Owner(uid, namespace, name))] == arn
        tags = sagemaker.list_tags(ResourceArn=arn)["Tags"]
        assert {"Key": UID_TAG, "Value": uid} in tags
    outcomes = control.stats()["outcomes"]["CreateTrainingJob"]
    assert outcomes["ok"] == RESOURCES
    print(f"CreateTrainingJob outcomes over 4 crashes: {outcomes}")
