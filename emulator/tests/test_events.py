"""The emulator's SQS (real boto3 on SQS's JSON protocol) and its job state-change events.

SQS as documented: long polls that answer as a message comes, at-least-once delivery (a
message not deleted comes back after its visibility timeout), batches of 1 to 10. Events
as SageMaker sends them to EventBridge: the Describe shape with epoch-millisecond times
and the tags as a map, and the unkind switches (dropped, duplicated, delayed, reordered).
"""

from __future__ import annotations

import json
import time
from typing import TYPE_CHECKING, Any

import pytest
from botocore.exceptions import ClientError

from sagemaker_emulator import Emulator, EmulatorControl, wait_until
from tests.requests import typical

if TYPE_CHECKING:
    from mypy_boto3_sagemaker import SageMakerClient
    from mypy_boto3_sqs import SQSClient

FAST = {"Starting": 0.3, "Downloading": 0.3, "Training": 0.3, "Uploading": 0.3}
LIFECYCLE = ["Starting", "Downloading", "Training", "Uploading", "Completed"]


@pytest.fixture
def sqs(emulator: Emulator) -> SQSClient:
    return emulator.sqs_client()


@pytest.fixture
def queue(sqs: SQSClient) -> str:
    return sqs.create_queue(QueueName="sagemaker-events")["QueueUrl"]


@pytest.fixture
def control(emulator: Emulator) -> EmulatorControl:
    control = EmulatorControl(emulator.endpoint_url)
    control.set_profile("fast", FAST)
    return control


def drain(sqs: SQSClient, queue: str, until: int, timeout: float = 10) -> list[dict[str, Any]]:
    """Every event received (and deleted) until ``until`` have come, or ``timeout``."""
    events: list[dict[str, Any]] = []
    deadline = time.monotonic() + timeout
    while len(events) < until and time.monotonic() < deadline:
        messages = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10,
                                       WaitTimeSeconds=1).get("Messages", [])  # fmt: skip
        events += [json.loads(message["Body"]) for message in messages]
        if messages:
            sqs.delete_message_batch(QueueUrl=queue, Entries=[
                {"Id": str(index), "ReceiptHandle": message["ReceiptHandle"]}
                for index, message in enumerate(messages)])  # fmt: skip
    return events


def secondaries(events: list[dict[str, Any]]) -> list[str]:
    return [event["detail"]["SecondaryStatus"] for event in events]


def test_a_long_poll_answers_as_soon_as_a_message_comes(sqs: SQSClient, queue: str) -> None:
    started = time.monotonic()
    assert sqs.receive_message(QueueUrl=queue, WaitTimeSeconds=1).get("Messages", []) == []
    assert time.monotonic() - started >= 0.9  # it waited

    sqs.send_message(QueueUrl=queue, MessageBody="hello")
    started = time.monotonic()
    answer = sqs.receive_message(QueueUrl=queue, WaitTimeSeconds=20)
    assert [message["Body"] for message in answer["Messages"]] == ["hello"]
    assert time.monotonic() - started < 2


def test_a_message_not_deleted_comes_back_after_its_visibility_timeout(
    sqs: SQSClient, queue: str
) -> None:
    sqs.send_message(QueueUrl=queue, MessageBody="at least once")
    first = sqs.receive_message(QueueUrl=queue, VisibilityTimeout=1)["Messages"]
    assert sqs.receive_message(QueueUrl=queue).get("Messages", []) == []  # hidden meanwhile
    again = sqs.receive_message(QueueUrl=queue, WaitTimeSeconds=3)["Messages"]
    assert [message["Body"] for message in again] == ["at least once"]
    assert again[0]["ReceiptHandle"] != first[0]["ReceiptHandle"]
    deleted = sqs.delete_message_batch(QueueUrl=queue, Entries=[
        {"Id": "a", "ReceiptHandle": again[0]["ReceiptHandle"]}])  # fmt: skip
    assert deleted["Successful"] == [{"Id": "a"}]
    attributes = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["All"])["Attributes"]
    assert attributes["ApproximateNumberOfMessages"] == "0"
    assert attributes["QueueArn"] == "arn:aws:sqs:us-east-1:123456789012:sagemaker-events"


def test_requests_sqs_refuses_are_refused_by_name(sqs: SQSClient, queue: str) -> None:
    with pytest.raises(sqs.exceptions.QueueDoesNotExist):
        sqs.receive_message(QueueUrl=queue.replace("sagemaker-events", "missing"))
    with pytest.raises(ClientError, match="MaxNumberOfMessages"):
        sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=11)
    with pytest.raises(ClientError, match="WaitTimeSeconds"):
        sqs.receive_message(QueueUrl=queue, WaitTimeSeconds=21)


def test_a_rule_sends_each_state_change_of_a_job_as_sagemaker_does(
    sagemaker: SageMakerClient, sqs: SQSClient, queue: str, control: EmulatorControl
) -> None:
    control.route_events(queue)
    request = typical("evented") | {"Tags": [{"Key": "team", "Value": "vision"}]}
    sagemaker.create_training_job(**request)
    events = drain(sqs, queue, until=5)
    assert secondaries(events) == LIFECYCLE
    last = events[-1]
    assert last["source"] == "aws.sagemaker"
    assert last["detail-type"] == "SageMaker Training Job State Change"
    assert last["resources"] == [last["detail"]["TrainingJobArn"]]
    assert last["detail"]["Tags"] == {"team": "vision"}
    assert isinstance(last["detail"]["LastModifiedTime"], int)  # epoch milliseconds
    # Its detail is what DescribeTrainingJob answers, its times in epoch milliseconds.
    detail = last["detail"]
    described = sagemaker.describe_training_job(TrainingJobName="evented")
    assert detail["TrainingJobStatus"] == described["TrainingJobStatus"] == "Completed"
    assert abs(detail["LastModifiedTime"] - described["LastModifiedTime"].timestamp() * 1000) < 1
    assert detail["ModelArtifacts"] == described["ModelArtifacts"]


def test_dropped_events_never_reach_the_queue(
    sagemaker: SageMakerClient, sqs: SQSClient, queue: str, control: EmulatorControl
) -> None:
    control.route_events(queue)
    control.set_faults(event_drop_rate=1.0)
    sagemaker.create_training_job(**typical("unheard"))
    wait_until(lambda: sagemaker.describe_training_job(TrainingJobName="unheard")[
        "TrainingJobStatus"] == "Completed", timeout=10, description="the job ended")  # fmt: skip
    assert drain(sqs, queue, until=1, timeout=1) == []
    assert control.stats()["outcomes"]["events:PutEvents"] == {"dropped": 5}


def test_duplicated_events_arrive_twice(
    sagemaker: SageMakerClient, sqs: SQSClient, queue: str, control: EmulatorControl
) -> None:
    control.route_events(queue)
    control.set_faults(event_duplicate_rate=1.0)
    sagemaker.create_training_job(**typical("twice"))
    events = drain(sqs, queue, until=10)
    assert sorted(secondaries(events)) == sorted(LIFECYCLE * 2)


def test_reordered_and_delayed_events_arrive_out_of_order(
    sagemaker: SageMakerClient, sqs: SQSClient, queue: str, control: EmulatorControl
) -> None:
    control.route_events(queue)
    control.set_faults(event_reorder_rate=1.0)
    sagemaker.create_training_job(**typical("reordered"))
    events = drain(sqs, queue, until=5)
    # Every other one is held back until the job's next one has gone (the last: a while).
    assert secondaries(events) == ["Downloading", "Starting", "Uploading", "Training",
                                   "Completed"]  # fmt: skip

    control.set_faults(event_reorder_rate=0.0, event_delay=1.0)
    sagemaker.create_training_job(**typical("delayed"))
    delayed = drain(sqs, queue, until=5)
    assert sorted(secondaries(delayed)) == sorted(LIFECYCLE)
