"""A message on the events queue is a hint, never proof (attack 4 of the threat model):
whoever may send to the queue can write any state, so an end state is described before it
is written, and a time in the future counts as now."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from sagemaker_emulator.eventbridge import Rule, event
from sagemaker_lab import Emulator, EmulatorControl, KubeCluster, wait_until
from sagemaker_lab.operator import OperatorProcess, operator_environment
from tests.security.conftest import Tenant

pytestmark = pytest.mark.cluster

REGION = "us-east-1"


def forged_completion(emulator: Emulator, job: str, queue_arn: str) -> str:
    """The job's state-change event as the rule would send it, but Completed, with its
    tags (readable with ListTags) and a LastModifiedTime in ten years."""
    store = emulator.store
    body = json.loads(event(store.get(REGION, job), Rule("forger", store.account_id, REGION,
                                                         queue_arn), store))  # fmt: skip
    body["detail"].update(
        TrainingJobStatus="Completed", SecondaryStatus="Completed",
        LastModifiedTime=round((time.time() + 10 * 365 * 86400) * 1000),
        ModelArtifacts={"S3ModelArtifacts": "s3://forger/model.tar.gz"},
    )  # fmt: skip
    return json.dumps(body)


def test_a_forged_completion_is_not_written_and_deleting_the_resource_still_stops_the_job(
    kube_cluster: KubeCluster, tenant: Tenant, emulator: Emulator, tmp_path: Path
) -> None:
    sqs = emulator.sqs_client()
    url = sqs.create_queue(QueueName="sagemaker-events",
                           Attributes={"VisibilityTimeout": "5"})["QueueUrl"]  # fmt: skip
    queue_arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])[
        "Attributes"]["QueueArn"]  # fmt: skip
    control = EmulatorControl(emulator.endpoint_url)
    control.route_events(url)
    control.set_profile("fast", {"Training": 600})
    environment = operator_environment(kube_cluster, emulator, poll_interval="1",
                                       events_queue_url=url,
                                       events_poll_interval="300")  # fmt: skip
    with OperatorProcess(environment, tenant.namespace, tmp_path / "operator.log") as operator:
        operator.wait_ready()
        job = tenant.training(operator, "long")
        sqs.send_message(QueueUrl=url, MessageBody=forged_completion(emulator, job, queue_arn))

        def drained() -> bool:
            attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])[
                "Attributes"]  # fmt: skip
            return (
                attributes["ApproximateNumberOfMessages"],
                attributes["ApproximateNumberOfMessagesNotVisible"],
            ) == ("0", "0")

        wait_until(operator.guard(drained), timeout=30, description="the forged event handled")
        status = tenant.status("long")
        assert (status["trainingJobStatus"], status["secondaryStatus"]) == ("InProgress",
                                                                            "Training")  # fmt: skip
        assert "forger" not in str(status.get("modelArtifacts"))

        tenant.kubectl("delete", "trainingjob", "long", "--wait=false")
        wait_until(operator.guard(lambda: emulator.sagemaker_client().describe_training_job(
            TrainingJobName=job)["TrainingJobStatus"] in ("Stopping", "Stopped")), timeout=30,
            description="the job stopped with its resource")  # fmt: skip
