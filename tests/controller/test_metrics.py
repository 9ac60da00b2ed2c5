"""/metrics: what the operator says it did matches what the emulator counted."""

from __future__ import annotations

import json
import re
import urllib.request
from collections import defaultdict

import pytest
from prometheus_client.parser import text_string_to_metric_families

from sagemaker_lab import Emulator, EmulatorControl, KubeCluster, wait_until
from sagemaker_lab.operator import OperatorProcess
from tests.api.manifests import manifest

pytestmark = pytest.mark.cluster

JOBS = 3


@pytest.fixture
def operator_settings() -> dict[str, str]:
    return {"poll_interval": "1", "create_rate": "50", "describe_rate": "50",
            "metrics_port": "0"}  # fmt: skip


def scrape(url: str) -> dict[str, dict[tuple[tuple[str, str], ...], float]]:
    """Every sample of the page, by sample name and then by its labels."""
    with urllib.request.urlopen(url, timeout=10) as page:
        text = page.read().decode()
    samples: dict[str, dict[tuple[tuple[str, str], ...], float]] = defaultdict(dict)
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            samples[sample.name][tuple(sorted(sample.labels.items()))] = sample.value
    return samples


def test_metrics_count_the_calls_the_emulator_saw_and_the_jobs_by_status(
    kube_cluster: KubeCluster, namespace: str, emulator: Emulator,
    operator_process: OperatorProcess,
) -> None:  # fmt: skip
    operator_process.wait_ready()
    port = re.search(r"serving metrics on http://0\.0\.0\.0:(\d+)/metrics",
                     operator_process.output())  # fmt: skip
    assert port is not None, operator_process.output()
    url = f"http://127.0.0.1:{port[1]}/metrics"
    control = EmulatorControl(emulator.endpoint_url)
    control.set_faults(throttle_rate=0.2, throttle_operations=["CreateTrainingJob"])
    spec = {"roleArn": "arn:aws:iam::123456789012:role/SageMakerRole",
            "outputDataConfig": {"s3OutputPath": "s3://my-bucket/output"}}  # fmt: skip
    documents = [manifest(f"job-{index}", spec) for index in range(JOBS)]
    kube_cluster.kubectl("apply", "-n", namespace, "-f", "-",
                         input="\n---\n".join(json.dumps(d) for d in documents))  # fmt: skip

    def completed() -> dict[str, dict[tuple[tuple[str, str], ...], float]] | None:
        found = scrape(url)
        by_status = found.get("sagemaker_operator_trainingjobs", {})
        return found if by_status.get((("status", "Completed"),)) == JOBS else None

    samples = wait_until(operator_process.guard(completed), timeout=60,
                         description="3 Completed jobs in the metrics")  # fmt: skip

    outcomes = control.stats()["outcomes"]
    counted: dict[str, dict[str, float]] = defaultdict(dict)
    for labels, value in samples["sagemaker_operator_sagemaker_calls_total"].items():
        label = dict(labels)
        counted[label["operation"]][label["outcome"]] = value
    emulated = {operation: {outcome: float(count) for outcome, count in by_outcome.items()}
                for operation, by_outcome in outcomes.items()
                if not operation.startswith("sts:")}  # fmt: skip
    assert counted == emulated
    assert counted["CreateTrainingJob"]["ok"] == JOBS
    latency = samples["sagemaker_operator_sagemaker_call_duration_seconds_count"]
    assert latency[(("operation", "create"),)] == JOBS  # one call each, retries inside
    waits = samples["sagemaker_operator_rate_limiter_wait_seconds_count"]
    assert waits[(("operation", "create"),)] == JOBS
    lag = samples["sagemaker_operator_status_lag_seconds_count"][()]
    assert lag >= JOBS  # at least the transition to Completed of each job
    assert samples["sagemaker_operator_status_lag_seconds_sum"][()] / lag < 5
