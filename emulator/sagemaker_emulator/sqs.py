"""SQS, as far as the operator's event mode needs it, on SQS's JSON protocol (what boto3
speaks since botocore 1.34): CreateQueue, GetQueueUrl, SendMessage, ReceiveMessage with long
polling, DeleteMessage, DeleteMessageBatch, GetQueueAttributes, PurgeQueue.

Requests are validated with botocore's SQS model (emulator/operations.py does it). What
SQS documents is kept: a received message is invisible for the visibility timeout, then
received again unless it was deleted (at-least-once delivery); a receipt handle names one
receipt; a long poll answers as soon as a message is there, else after its wait.
"""

from __future__ import annotations

import hashlib
import secrets
import threading
import time
import urllib.parse
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sagemaker_emulator import model
from sagemaker_emulator.jobs import SageMakerError

DEFAULT_VISIBILITY = 30.0  # SQS's default VisibilityTimeout
_QUERY_ERRORS = {
    "QueueDoesNotExist": "AWS.SimpleQueueService.NonExistentQueue",
    "ReceiptHandleIsInvalid": "ReceiptHandleIsInvalid",
    "InvalidAttributeValue": "InvalidAttributeValue",
}


class SqsError(SageMakerError):
    """An SQS error: its JSON ``__type`` and the query-compatible code botocore reads."""

    @property
    def query_code(self) -> str:
        return _QUERY_ERRORS.get(self.code, self.code)


def no_queue() -> SqsError:
    return SqsError("QueueDoesNotExist", "The specified queue does not exist.")


@dataclass
class Message:
    id: str
    body: str
    visible_at: float  # time.monotonic()
    receipt: str | None = None
    receives: int = 0


@dataclass
class Queue:
    account: str
    region: str
    name: str
    attributes: dict[str, str]
    messages: list[Message] = field(default_factory=list)
    created: float = field(default_factory=time.time)

    @property
    def arn(self) -> str:
        return f"arn:aws:sqs:{self.region}:{self.account}:{self.name}"

    @property
    def visibility(self) -> float:
        return float(self.attributes.get("VisibilityTimeout", DEFAULT_VISIBILITY))


class Queues:
    """Every account's queues; URLs are ``<endpoint>/<account>/<name>`` as in SQS."""

    def __init__(self, endpoint: Callable[[], str]) -> None:
        self._endpoint = endpoint
        self._queues: dict[tuple[str, str], Queue] = {}  # (account, name)
        self._changed = threading.Condition()

    def url(self, queue: Queue) -> str:
        return f"{self._endpoint()}/{queue.account}/{queue.name}"

    def create(self, account: str, region: str, name: str, attributes: dict[str, str]) -> str:
        with self._changed:
            queue = self._queues.get((account, name))
            if queue is None:
                queue = Queue(account, region, name, dict(attributes))
                self._queues[(account, name)] = queue
            elif attributes and attributes != queue.attributes:
                raise SqsError("QueueNameExists", f"A queue named {name} already exists with "
                               "different attributes.")  # fmt: skip
            return self.url(queue)

    def find(self, url: str) -> Queue:
        path = urllib.parse.urlsplit(url).path.strip("/").split("/")
        with self._changed:
            queue = self._queues.get((path[0], path[1])) if len(path) == 2 else None
        if queue is None:
            raise no_queue()
        return queue

    def by_arn(self, arn: str) -> Queue:
        with self._changed:
            for queue in self._queues.values():
                if queue.arn == arn:
                    return queue
        raise no_queue()

    def named(self, account: str, name: str) -> Queue:
        with self._changed:
            queue = self._queues.get((account, name))
        if queue is None:
            raise no_queue()
        return queue

    def send(self, queue: Queue, body: str) -> str:
        message = Message(str(uuid.uuid4()), body, time.monotonic())
        with self._changed:
            queue.messages.append(message)
            self._changed.notify_all()
        return message.id

    def receive(
        self, queue: Queue, most: int, wait: float, visibility: float | None
    ) -> list[Message]:
        """Up to ``most`` visible messages, waiting up to ``wait`` seconds for the first."""
        deadline = time.monotonic() + wait
        hidden_for = queue.visibility if visibility is None else visibility
        with self._changed:
            while True:
                now = time.monotonic()
                taken = [message for message in queue.messages if message.visible_at <= now]
                if taken or now >= deadline:
                    break
                upcoming = [m.visible_at for m in queue.messages if m.visible_at > now]
                self._changed.wait(min([deadline, *upcoming]) - now)
            taken = taken[:most]
            for message in taken:
                message.visible_at = now + hidden_for
                message.receipt = secrets.token_urlsafe(24)
                message.receives += 1
            return taken

    def delete(self, queue: Queue, receipt: str) -> None:
        with self._changed:
            for message in queue.messages:
                if message.receipt == receipt:
                    queue.messages.remove(message)
                    return
        # SQS: a receipt of a message deleted already, or received again since, is
        # accepted (DeleteMessage is idempotent); an unknown one is refused.
        if not receipt or len(receipt) < 16:
            raise SqsError("ReceiptHandleIsInvalid", f'The input receipt handle "{receipt}" '
                           "is not a valid receipt handle.")  # fmt: skip

    def attributes(self, queue: Queue) -> dict[str, str]:
        now = time.monotonic()
        with self._changed:
            visible = sum(1 for message in queue.messages if message.visible_at <= now)
            return {
                "QueueArn": queue.arn,
                "ApproximateNumberOfMessages": str(visible),
                "ApproximateNumberOfMessagesNotVisible": str(len(queue.messages) - visible),
                "VisibilityTimeout": str(int(queue.visibility)),
                "CreatedTimestamp": str(int(queue.created)),
                **queue.attributes,
            }

    def purge(self, queue: Queue) -> None:
        with self._changed:
            queue.messages.clear()

    def clear(self) -> None:
        with self._changed:
            self._queues.clear()


# -- the operations: (queues, account, region, params) → answer --------------------------------


def create_queue(queues: Queues, account: str, region: str, params: dict[str, Any]) -> Any:
    return {"QueueUrl": queues.create(account, region, params["QueueName"],
                                      params.get("Attributes") or {})}  # fmt: skip


def get_queue_url(queues: Queues, account: str, region: str, params: dict[str, Any]) -> Any:
    owner = params.get("QueueOwnerAWSAccountId") or account
    return {"QueueUrl": queues.url(queues.named(owner, params["QueueName"]))}


def send_message(queues: Queues, account: str, region: str, params: dict[str, Any]) -> Any:
    body = params["MessageBody"]
    identifier = queues.send(queues.find(params["QueueUrl"]), body)
    return {"MessageId": identifier, "MD5OfMessageBody": _md5(body)}


def receive_message(queues: Queues, account: str, region: str, params: dict[str, Any]) -> Any:
    most = params.get("MaxNumberOfMessages", 1)
    wait = params.get("WaitTimeSeconds")
    queue = queues.find(params["QueueUrl"])
    if not 1 <= most <= 10:
        raise SqsError("InvalidParameterValue", f"Value {most} for parameter MaxNumberOf"
                       "Messages is invalid. Reason: must be between 1 and 10.")  # fmt: skip
    if wait is None:
        wait = int(queue.attributes.get("ReceiveMessageWaitTimeSeconds", 0))
    if not 0 <= wait <= 20:
        raise SqsError("InvalidParameterValue", f"Value {wait} for parameter WaitTimeSeconds "
                       "is invalid. Reason: Must be >= 0 and <= 20.")  # fmt: skip
    taken = queues.receive(queue, most, float(wait), params.get("VisibilityTimeout"))
    return {"Messages": [{"MessageId": message.id, "ReceiptHandle": message.receipt,
                          "MD5OfBody": _md5(message.body), "Body": message.body,
                          "Attributes": {"ApproximateReceiveCount": str(message.receives)}}
                         for message in taken]}  # fmt: skip


def delete_message(queues: Queues, account: str, region: str, params: dict[str, Any]) -> Any:
    queues.delete(queues.find(params["QueueUrl"]), params["ReceiptHandle"])
    return {}


def delete_message_batch(queues: Queues, account: str, region: str, params: dict[str, Any]) -> Any:
    queue = queues.find(params["QueueUrl"])
    entries = params["Entries"]
    if not 1 <= len(entries) <= 10:
        raise SqsError("TooManyEntriesInBatchRequest" if entries else "EmptyBatchRequest",
                       "A batch holds 1 to 10 entries.")  # fmt: skip
    done, failed = [], []
    for entry in entries:
        try:
            queues.delete(queue, entry["ReceiptHandle"])
            done.append({"Id": entry["Id"]})
        except SqsError as error:
            failed.append({"Id": entry["Id"], "Code": error.code, "Message": error.message,
                           "SenderFault": True})  # fmt: skip
    return {"Successful": done, "Failed": failed}


def get_queue_attributes(queues: Queues, account: str, region: str, params: dict[str, Any]) -> Any:
    every = queues.attributes(queues.find(params["QueueUrl"]))
    names = params.get("AttributeNames") or ["All"]
    return {"Attributes": every if "All" in names
            else {name: value for name, value in every.items() if name in names}}  # fmt: skip


def purge_queue(queues: Queues, account: str, region: str, params: dict[str, Any]) -> Any:
    queues.purge(queues.find(params["QueueUrl"]))
    return {}


SqsOperation = Callable[[Queues, str, str, dict[str, Any]], Any]
OPERATIONS: dict[str, SqsOperation] = {
    "CreateQueue": create_queue,
    "GetQueueUrl": get_queue_url,
    "SendMessage": send_message,
    "ReceiveMessage": receive_message,
    "DeleteMessage": delete_message,
    "DeleteMessageBatch": delete_message_batch,
    "GetQueueAttributes": get_queue_attributes,
    "PurgeQueue": purge_queue,
}


def _md5(body: str) -> str:
    return hashlib.md5(body.encode()).hexdigest()  # noqa: S324 - SQS's checksum of a body


def call(queues: Queues, account: str, region: str, operation: str, params: dict[str, Any]) -> Any:
    """Validate ``params`` with SQS's model, then run ``operation`` (SqsError: refused)."""
    handler = OPERATIONS.get(operation)
    if handler is None:
        raise SqsError("UnsupportedOperation", f"The emulator does not serve SQS {operation}")
    problems = model.refusals(operation, params, "sqs")
    if problems:
        raise SqsError("InvalidParameterValue", "; ".join(problems[:10]))
    return handler(queues, account, region, params)
