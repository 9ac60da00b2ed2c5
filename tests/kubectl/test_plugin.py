"""`kubectl sagemaker logs|describe`, found by the real kubectl on PATH, end to end."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
import yaml

from sagemaker_lab import Emulator, EmulatorControl, KubeCluster, wait_until
from sagemaker_lab.operator import OperatorProcess
from tests.controller.test_lifecycle import EXAMPLES, resource

if TYPE_CHECKING:
    from mypy_boto3_sagemaker import SageMakerClient

pytestmark = pytest.mark.cluster


def plugin_environment(cluster: KubeCluster, emulator: Emulator, *,
                       aws: bool = True) -> dict[str, str]:  # fmt: skip
    """kubectl's environment; without ``aws``, no AWS credentials anywhere boto3 looks."""
    environment = {
        **{k: v for k, v in os.environ.items() if not k.startswith("AWS_")},
        # kubectl finds kubectl-sagemaker where pip installed the project's scripts.
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
        "KUBECONFIG": str(cluster.kubeconfig),
        "AWS_ENDPOINT_URL_CLOUDWATCH_LOGS": emulator.endpoint_url,
        "AWS_ENDPOINT_URL_SAGEMAKER": emulator.endpoint_url,
    }  # fmt: skip
    if aws:
        return {**environment, "AWS_ACCESS_KEY_ID": "emulator",
                "AWS_SECRET_ACCESS_KEY": "emulator"}  # fmt: skip
    return {**environment, "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
            "AWS_CONFIG_FILE": os.devnull, "AWS_EC2_METADATA_DISABLED": "true"}  # fmt: skip


@pytest.fixture
def two_instance_job(
    kube_cluster: KubeCluster, namespace: str, emulator: Emulator,
    operator_process: OperatorProcess,
) -> str:  # fmt: skip
    EmulatorControl(emulator.endpoint_url).set_profile("fast", {"Training": 4})
    document: dict[str, Any] = yaml.safe_load((EXAMPLES / "minimal.yaml").read_text())
    document["spec"]["resourceConfig"] = {"instanceType": "ml.m5.xlarge", "instanceCount": 2,
                                          "volumeSizeInGB": 10}  # fmt: skip
    kube_cluster.kubectl("apply", "-n", namespace, "-f", "-", input=yaml.safe_dump(document))
    wait_until(operator_process.guard(lambda: resource(kube_cluster, namespace, "minimal")
                                      .get("status", {}).get("trainingJobArn")),
               timeout=30, description="ARN")  # fmt: skip
    return "minimal"


def kubectl_sagemaker(
    cluster: KubeCluster, emulator: Emulator, *arguments: str, aws: bool = True
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(cluster.kubectl_path), "sagemaker", *arguments], capture_output=True, text=True,
        env=plugin_environment(cluster, emulator, aws=aws), timeout=120, check=False,
    )  # fmt: skip


def test_following_the_logs_prints_every_line_of_every_instance_once_and_ends_with_the_job(
    kube_cluster: KubeCluster, namespace: str, emulator: Emulator, two_instance_job: str,
) -> None:  # fmt: skip
    followed = kubectl_sagemaker(kube_cluster, emulator, "logs", two_instance_job, "-n",
                                 namespace, "-f", "--poll-interval", "0.5")  # fmt: skip
    assert followed.returncode == 0, followed.stderr  # it ended by itself, with the job
    assert resource(kube_cluster, namespace, "minimal")["status"]["trainingJobStatus"] == (
        "Completed")  # fmt: skip
    lines = followed.stdout.splitlines()
    whole = kubectl_sagemaker(kube_cluster, emulator, "logs", two_instance_job, "-n", namespace)
    assert whole.returncode == 0, whole.stderr
    assert lines == whole.stdout.splitlines()  # nothing missed, nothing twice
    for host in ("algo-1", "algo-2"):
        assert lines.count(f"[{host}] [Downloading] Downloading input data") == 1
        assert [line for line in lines if line.startswith(f"[{host}] {host}: epoch")] == [
            f"[{host}] {host}: epoch {n}: train-loss={2 / (n + 1) + 0.01 * int(host[-1]):.4f}"
            for n in range(1, 5)
        ]  # fmt: skip
        assert lines.count(f"[{host}] [Completed] Training job completed") == 1
    recent = kubectl_sagemaker(kube_cluster, emulator, "logs", two_instance_job, "-n", namespace,
                               "--since", "1h")  # fmt: skip
    assert recent.stdout.splitlines() == lines


def test_describe_summarises_status_transitions_metrics_time_and_links(
    kube_cluster: KubeCluster, namespace: str, emulator: Emulator, two_instance_job: str,
    operator_process: OperatorProcess,
) -> None:  # fmt: skip
    wait_until(operator_process.guard(lambda: resource(kube_cluster, namespace, "minimal")
                                      ["status"].get("trainingJobStatus") == "Completed"),
               timeout=30, description="Completed")  # fmt: skip
    shown = kubectl_sagemaker(kube_cluster, emulator, "describe", two_instance_job,
                              "-n", namespace)  # fmt: skip
    assert shown.returncode == 0, shown.stderr
    text = shown.stdout
    assert f"Name:          {namespace}/minimal" in text
    assert "Status:        Completed\n" in text
    assert "  Ready=True (Completed): " in text
    transitions = text.split("Transitions:\n")[1].split("\n\n")[0].splitlines()
    assert [row.split()[0] for row in transitions] == [
        "STATUS", "Starting", "Downloading", "Training", "Uploading", "Completed"]  # fmt: skip
    training = next(row for row in transitions if row.split()[0] == "Training")
    assert " 4s " in training  # the emulator's 4 s of training
    job = resource(kube_cluster, namespace, "minimal")["status"]["trainingJobName"]
    assert f"model:        s3://my-bucket/output/{job}/output/model.tar.gz" in text
    assert "billable:     " in text
    assert ("console:      https://us-east-1.console.aws.amazon.com/sagemaker/home"
            f"?region=us-east-1#/jobs/{job}") in text  # fmt: skip
    assert "logs:         https://us-east-1.console.aws.amazon.com/cloudwatch/" in text
    # Issue M: describe needed AWS credentials, though the status holds what it prints.
    offline = kubectl_sagemaker(kube_cluster, emulator, "describe", two_instance_job,
                                "-n", namespace, aws=False)  # fmt: skip
    assert offline.returncode == 0, offline.stderr
    assert "from the resource's status" in offline.stderr
    assert offline.stdout == text


def test_plugin_errors_name_what_is_wrong(
    kube_cluster: KubeCluster, namespace: str, emulator: Emulator, trainingjob_crd: str,
) -> None:  # fmt: skip
    missing = kubectl_sagemaker(kube_cluster, emulator, "logs", "nope", "-n", namespace)
    assert missing.returncode == 1
    assert (
        missing.stderr.strip() == f'error: trainingjob "nope" not found in namespace "{namespace}"'
    )
    wrong = kubectl_sagemaker(kube_cluster, emulator, "logs", "nope", "--since", "ten")
    assert wrong.returncode == 2
    assert "argument --since: 'ten' is not a duration like 30s, 10m, 2h or 1d" in wrong.stderr


def test_an_ack_manifest_converted_applies_and_its_job_completes(
    kube_cluster: KubeCluster, namespace: str, emulator: Emulator,
    operator_process: OperatorProcess, sagemaker: SageMakerClient,
) -> None:  # fmt: skip
    EmulatorControl(emulator.endpoint_url).set_profile("fast", {"Training": 2})
    ack_manifest = Path(__file__).parent / "ack" / "xgboost.yaml"
    converted = kubectl_sagemaker(kube_cluster, emulator, "convert", "-f", str(ack_manifest),
                                  aws=False)  # fmt: skip
    assert converted.returncode == 0, converted.stderr
    assert "spec.trainingJobName ack-xgboost is kept" in converted.stderr
    kube_cluster.kubectl("apply", "-n", namespace, "-f", "-", input=converted.stdout)
    wait_until(operator_process.guard(lambda: resource(kube_cluster, namespace, "ack-xgboost")
                                      .get("status", {}).get("trainingJobStatus") == "Completed"),
               timeout=60, description="the converted job Completed")  # fmt: skip
    status = resource(kube_cluster, namespace, "ack-xgboost")["status"]
    job = sagemaker.describe_training_job(TrainingJobName=status["trainingJobName"])
    assert job["RoleArn"] == "arn:aws:iam::123456789012:role/sagemaker-execution"
    channel = job["InputDataConfig"][0]["DataSource"]["S3DataSource"]
    assert channel["S3Uri"] == "s3://example-bucket/ack/train"
