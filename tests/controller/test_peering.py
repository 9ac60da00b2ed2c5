"""Two replicas with kopf peering: only the higher-priority one creates and polls."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from sagemaker_lab import Emulator, EmulatorControl, KubeCluster, wait_until
from sagemaker_lab.operator import OperatorProcess, operator_environment
from tests.api.manifests import manifest
from tests.kube import trainingjobs

pytestmark = pytest.mark.cluster

PEERING_CRDS = Path(__file__).resolve().parents[2] / "helm" / "sagemaker-operator" / "crds" / (
    "kopf-peering.yaml")  # fmt: skip
JOBS = 5


@pytest.fixture
def replicas(
    kube_cluster: KubeCluster, trainingjob_crd: str, emulator: Emulator, namespace: str,
    tmp_path: Path,
) -> Iterator[list[OperatorProcess]]:  # fmt: skip
    kube_cluster.kubectl("apply", "--server-side", "-f", str(PEERING_CRDS))
    kube_cluster.kubectl("wait", "--for=condition=Established", "--timeout=30s",
                         "crd/kopfpeerings.kopf.dev")  # fmt: skip
    # One cluster-scoped peering object, whatever namespaces the replicas watch.
    kube_cluster.kubectl("apply", "-f", "-", input=json.dumps({
        "apiVersion": "kopf.dev/v1", "kind": "ClusterKopfPeering",
        "metadata": {"name": f"operators-{namespace}"}}))  # fmt: skip
    environment = operator_environment(kube_cluster, emulator, poll_interval="1",
                                       create_rate="50",
                                       peering=f"operators-{namespace}")  # fmt: skip
    started = [OperatorProcess(environment, namespace, tmp_path / f"replica-{n}.log")
               for n in range(2)]  # fmt: skip
    for replica in started:
        replica.start()
    try:
        yield started
    finally:
        for replica in started:
            replica.stop()


def test_only_one_replica_creates_and_polls(
    kube_cluster: KubeCluster, namespace: str, emulator: Emulator,
    replicas: list[OperatorProcess],
) -> None:  # fmt: skip
    for replica in replicas:
        replica.wait_ready()

    def peers() -> int:
        found = json.loads(kube_cluster.kubectl("get", "clusterkopfpeering",
                                                f"operators-{namespace}", "-o",
                                                "json").stdout)  # fmt: skip
        return len(found.get("status") or {})

    wait_until(lambda: peers() == 2, timeout=60, description="both replicas in the peering")
    control = EmulatorControl(emulator.endpoint_url)
    control.set_profile("fast", {"Training": 600})
    spec = {"roleArn": "arn:aws:iam::123456789012:role/SageMakerRole",
            "outputDataConfig": {"s3OutputPath": "s3://my-bucket/output"}}  # fmt: skip
    kube_cluster.kubectl("apply", "-n", namespace, "-f", "-", input="\n---\n".join(
        json.dumps(manifest(f"job-{n}", spec)) for n in range(JOBS)))  # fmt: skip

    def arns() -> bool:
        listed = trainingjobs(kube_cluster, namespace).values()
        return all(item.get("status", {}).get("trainingJobArn") for item in listed)

    wait_until(arns, timeout=60, description="every ARN")
    # Peering is eventual: in the moments after both start, both may handle a resource; the
    # create is idempotent (ResourceInUse for our own UID tag is adopted), so never twice.
    assert control.stats()["outcomes"]["CreateTrainingJob"]["ok"] == JOBS
    jobs = emulator.sagemaker_client().list_training_jobs(MaxResults=100)["TrainingJobSummaries"]
    assert len(jobs) == JOBS
    before = control.calls("ListTrainingJobs")
    window = time.monotonic()
    wait_until(lambda: time.monotonic() - window >= 5, timeout=10, interval=0.5,
               description="a 5 s window of polling")  # fmt: skip
    polled = control.calls("ListTrainingJobs") - before
    assert 3 <= polled <= 7  # one replica at 1 s ticks, not two
