"""SageMaker's job state-change events, as an SQS queue delivers them: read, parsed, deleted.

SageMaker sends a "SageMaker Training Job State Change" event to EventBridge for each
change of a training job, in near real time, and "may send multiple events to
EventBridge for each state change" (SageMaker Developer Guide, "Events that Amazon
SageMaker AI sends to Amazon EventBridge"). Its ``detail`` is the DescribeTrainingJob
answer, times in epoch milliseconds, with the job's tags as a map. A rule with an SQS
target delivers each event as a message body (EventBridge User Guide, "Amazon SQS
permissions"); SQS delivers at least once, in no set order (standard queues). So: every
event may come twice, late, out of order, or (a rule's target failing) not at all.

The queue is long-polled (ReceiveMessage with WaitTimeSeconds, batches of 10) with boto3's
usual chain (AWS_ENDPOINT_URL_SQS for another endpoint); each call has a deadline.
"""

from __future__ import annotations

import asyncio
import datetime
import json
import re
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import boto3
from botocore.config import Config
from botocore.model import Shape
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from sagemaker_operator.aws import servicemodel

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient

DETAIL_TYPE = "SageMaker Training Job State Change"
WAIT = 20  # seconds a ReceiveMessage waits for a message (SQS's longest)
BATCH = 10  # messages a ReceiveMessage answers at most (SQS's most)
# Every call has a deadline: a long poll answers within WAIT, so a read silent for longer
# than WAIT + READ_MARGIN is a dead connection, and fails.
CONNECT_TIMEOUT = 5.0
READ_MARGIN = 10.0
_REGION_IN_URL = re.compile(
    r"(?:^|\.)sqs(?:-fips)?\.([a-z0-9-]+)\.amazonaws\.com|^([a-z0-9-]+)\.queue\.amazonaws"
)


class _Envelope(BaseModel):
    """The EventBridge event around a job's detail (the SQS message body)."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    detail_type: str = Field(alias="detail-type")
    source: str
    account: str
    region: str
    detail: dict[str, Any]


@dataclass(frozen=True)
class StateChange:
    """A job's state as an event told it: ``answer`` as DescribeTrainingJob would answer
    it (datetimes), and the job's tags."""

    account: str
    region: str
    job_name: str
    answer: dict[str, Any]
    tags: dict[str, str]

    @property
    def modified(self) -> datetime.datetime | None:
        stamp = self.answer.get("LastModifiedTime")
        return stamp if isinstance(stamp, datetime.datetime) else None


class NotAStateChangeError(ValueError):
    """A message that is not a training job state-change event (named, with why)."""


def parse(body: str) -> StateChange:
    """The state change a message carries; NotAStateChangeError when it carries none."""
    try:
        envelope = _Envelope.model_validate(json.loads(body))
    except (ValueError, ValidationError) as error:
        raise NotAStateChangeError(f"not an EventBridge event: {error}") from error
    if envelope.source != "aws.sagemaker" or envelope.detail_type != DETAIL_TYPE:
        raise NotAStateChangeError(
            f"an event of {envelope.source!r}, {envelope.detail_type!r}: not {DETAIL_TYPE!r}"
        )
    detail = dict(envelope.detail)
    tags = detail.pop("Tags", None) or {}
    name = detail.get("TrainingJobName")
    if not isinstance(name, str) or not isinstance(tags, dict):
        raise NotAStateChangeError("the event's detail has no TrainingJobName, or its Tags "
                                   "are not a map")  # fmt: skip
    output = servicemodel.operation_model("DescribeTrainingJob").output_shape
    assert output is not None
    answer = _datetimes(output, detail)
    return StateChange(envelope.account, envelope.region, name, answer,
                       {str(key): str(value) for key, value in tags.items()})  # fmt: skip


def _datetimes(shape: Shape, value: Any) -> Any:
    """The detail with its times as datetimes, as boto3 answers them: epoch milliseconds
    (what SageMaker's events carry), the same as a string (the example event on AWS's
    "Events that Amazon SageMaker AI sends to Amazon EventBridge" page writes them so), or
    ISO 8601."""
    if shape.type_name == "timestamp" and isinstance(value, int | float | str):
        return _moment(value)
    if shape.type_name == "structure" and isinstance(value, dict):
        members = shape.members  # type: ignore[attr-defined]
        return {name: _datetimes(members[name], item) if name in members else item
                for name, item in value.items()}  # fmt: skip
    if shape.type_name == "list" and isinstance(value, list):
        return [_datetimes(shape.member, item) for item in value]  # type: ignore[attr-defined]
    return value


def _moment(value: float | str) -> Any:
    """A time from an event, or the value as it was when it is none."""
    if isinstance(value, str):
        if not value.strip().lstrip("-").replace(".", "", 1).isdigit():
            try:
                parsed = datetime.datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
            except ValueError:
                return value
            return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=datetime.UTC)
        value = float(value)
    return datetime.datetime.fromtimestamp(value / 1000, datetime.UTC)


def queue_region(url: str, default: str) -> str:
    """The region of a queue URL (https://sqs.REGION.amazonaws.com/ACCOUNT/NAME), else
    ``default``."""
    host = url.split("://", 1)[-1].split("/", 1)[0]
    match = _REGION_IN_URL.search(host)
    return (match[1] or match[2]) if match else default


@dataclass(frozen=True)
class Message:
    receipt: str
    body: str


class EventQueue:
    """The events queue: long polls and deletes, in worker threads, each with a deadline."""

    def __init__(self, url: str, region: str, workers: int) -> None:
        self.url = url
        self.region = queue_region(url, region)
        # The queue's own account (from its ARN, once read): the account whose events it
        # serves, besides those a rule elsewhere forwards.
        self.account: str | None = None
        config = Config(
            connect_timeout=CONNECT_TIMEOUT, read_timeout=WAIT + READ_MARGIN,
            retries={"mode": "standard", "total_max_attempts": 2},
            max_pool_connections=workers,
        )  # fmt: skip
        self._executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="sqs")
        self._client: SQSClient = boto3.session.Session(
            botocore_session=servicemodel.session()
        ).client("sqs", region_name=self.region, config=config)

    async def check(self) -> str:
        """The queue's ARN (an error when the queue cannot be read)."""
        answer = await self._run(lambda: self._client.get_queue_attributes(
            QueueUrl=self.url, AttributeNames=["QueueArn"]))  # fmt: skip
        arn = str(answer.get("Attributes", {}).get("QueueArn", self.url))
        fields = arn.split(":")
        if len(fields) == 6 and fields[4].isdigit():
            self.account = fields[4]
        return arn

    async def receive(self) -> list[Message]:
        answer = await self._run(lambda: self._client.receive_message(
            QueueUrl=self.url, MaxNumberOfMessages=BATCH, WaitTimeSeconds=WAIT))  # fmt: skip
        return [Message(message["ReceiptHandle"], message.get("Body", ""))
                for message in answer.get("Messages", [])]  # fmt: skip

    async def delete(self, receipts: list[str]) -> int:
        """Delete the messages, in batches of at most BATCH (SQS refuses a larger one:
        TooManyEntriesInBatchRequest); how many SQS did not delete."""
        failed = 0
        for start in range(0, len(receipts), BATCH):
            batch = receipts[start : start + BATCH]
            entries: list[Any] = [{"Id": str(index), "ReceiptHandle": receipt}
                                  for index, receipt in enumerate(batch)]  # fmt: skip
            answer = await self._run(lambda entries=entries: self._client.delete_message_batch(
                QueueUrl=self.url, Entries=entries))  # fmt: skip
            failed += len(answer.get("Failed", []))
        return failed

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)

    async def _run(self, call: Any) -> Any:
        return await asyncio.get_running_loop().run_in_executor(self._executor, call)
