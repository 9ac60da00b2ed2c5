"""The operator's side of the events queue (aws/events.py) against the emulator's SQS."""

from __future__ import annotations

import asyncio

import pytest

from sagemaker_lab import Emulator
from sagemaker_operator.aws.events import EventQueue


def test_more_than_ten_messages_are_deleted_in_batches_of_ten(
    emulator: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    """SQS refuses a DeleteMessageBatch of more than 10 (TooManyEntriesInBatchRequest): the
    early events settled together went past it, and came back (before: refused whole)."""
    for name, value in (
        ("AWS_ENDPOINT_URL_SQS", emulator.endpoint_url),
        ("AWS_ACCESS_KEY_ID", "emulator"),
        ("AWS_SECRET_ACCESS_KEY", "emulator"),
    ):
        monkeypatch.setenv(name, value)
    sqs = emulator.sqs_client()
    url = sqs.create_queue(QueueName="events", Attributes={"VisibilityTimeout": "60"})["QueueUrl"]
    for index in range(25):
        sqs.send_message(QueueUrl=url, MessageBody=f"message {index}")
    receipts: list[str] = []
    while len(receipts) < 25:
        answer = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1)
        receipts += [message["ReceiptHandle"] for message in answer.get("Messages", [])]
    queue = EventQueue(url, "us-east-1", workers=2)
    try:
        assert asyncio.run(queue.delete(receipts)) == 0
    finally:
        queue.close()
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert (attributes["ApproximateNumberOfMessages"],
            attributes["ApproximateNumberOfMessagesNotVisible"]) == ("0", "0")  # fmt: skip
