"""A restarted operator resumes from the resources' status: no create, no call for finished jobs."""

from __future__ import annotations

import datetime
from typing import Any

import pytest
from kubernetes import client

from sagemaker_lab import Emulator, EmulatorControl, KubeCluster, wait_until
from sagemaker_lab.operator import OperatorProcess
from sagemaker_operator.api import GROUP, PLURAL, VERSION
from sagemaker_operator.controller.requests import UID_TAG
from tests.api.manifests import manifest

pytestmark = [pytest.mark.cluster, pytest.mark.slow]

IN_FLIGHT = 100
FINISHED = 100  # 50 Completed, 25 Failed, 25 Stopped


def test_a_restart_with_200_resources_creates_nothing_and_leaves_finished_jobs_alone(
    kube_cluster: KubeCluster, namespace: str, emulator: Emulator,
    operator_process: OperatorProcess,
) -> None:  # fmt: skip
    operator_process.stop()  # the resources below exist before the operator (re)starts
    api = client.CustomObjectsApi(kube_cluster.api_client())
    sagemaker = emulator.sagemaker_client()
    control = EmulatorControl(emulator.endpoint_url)
    now = datetime.datetime.now(datetime.UTC).isoformat()
    spec: dict[str, Any] = {
        "roleArn": "arn:aws:iam::123456789012:role/SageMakerRole",
        "outputDataConfig": {"s3OutputPath": "s3://my-bucket/output"},
    }
    ended = ["Completed"] * 50 + ["Failed"] * 25 + ["Stopped"] * 25
    for index in range(IN_FLIGHT + FINISHED):
        name = f"job-{index:03}"
        created: Any = api.create_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL,
                                                           manifest(name, spec))  # fmt: skip
        if index < IN_FLIGHT:  # a job that runs in SageMaker, as a previous operator left it
            arn = sagemaker.create_training_job(
                TrainingJobName=name, RoleArn=spec["roleArn"],
                OutputDataConfig={"S3OutputPath": "s3://my-bucket/output"},
                Tags=[{"Key": UID_TAG, "Value": created["metadata"]["uid"]}],
            )["TrainingJobArn"]  # fmt: skip
            job_status = "InProgress"
        else:  # finished long ago; its job is not even in this SageMaker any more
            arn = f"arn:aws:sagemaker:us-east-1:123456789012:training-job/{name}"
            job_status = ended[index - IN_FLIGHT]
        api.patch_namespaced_custom_object_status(GROUP, VERSION, namespace, PLURAL, name, {
            "status": {"trainingJobArn": arn, "trainingJobName": name, "region": "us-east-1",
                       "trainingJobStatus": job_status, "creationTime": now,
                       "lastModifiedTime": now}})  # fmt: skip
    before = control.stats()["calls"]

    operator_process.start()

    def in_flight_completed() -> bool:
        listed: Any = api.list_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL)
        items = listed["items"]
        done = [item for item in items
                if item["status"].get("trainingJobStatus") == "Completed"]  # fmt: skip
        return len(done) == IN_FLIGHT + 50

    wait_until(
        operator_process.guard(in_flight_completed), timeout=120, interval=1,
        description=f"the in-flight jobs Completed\n{operator_process.output()}",
    )  # fmt: skip
    after = control.stats()
    made = {op: after["calls"].get(op, 0) - before.get(op, 0) for op in after["calls"]}
    print(f"calls by the restarted operator: {made}")
    assert made.get("CreateTrainingJob", 0) == 0
    assert made.get("DescribeTrainingJob", 0) == IN_FLIGHT  # once each, as it finished
    assert after["outcomes"].get("DescribeTrainingJob", {}).get("ValidationException") is None
    assert made.get("StopTrainingJob", 0) == 0
    # Its ownership read once per job in flight (the UID tag), never for finished ones.
    assert made.get("ListTags", 0) == IN_FLIGHT
