"""Events reach the resource of their job's ARN: the same job name in two accounts is two
jobs (before issue K, events were matched by region and name, and one job's events were
deleted unread as another's)."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from typing import Any, cast

from sagemaker_operator.aws.accounts import OWN, Account
from sagemaker_operator.aws.arns import JobArn
from sagemaker_operator.aws.events import EventQueue, Message
from sagemaker_operator.controller.events import EventConsumer
from sagemaker_operator.controller.runtime import ResourceRef, Runtime
from sagemaker_operator.controller.tracked import Tracked
from sagemaker_operator.controller.tracking import Tracker
from sagemaker_operator.policy import Policy

ACCOUNTS = ("111111111111", "222222222222")


def arn(account: str) -> str:
    return f"arn:aws:sagemaker:us-east-1:{account}:training-job/train"


@dataclass
class Offers:
    """The tracker's side: what each event was offered as."""

    offered: list[tuple[str, str]] = field(default_factory=list)

    def offer_event(self, tracked: Tracked, answer: dict[str, Any]) -> None:
        self.offered.append((tracked.ref.name, answer["TrainingJobArn"]))


@dataclass
class Quiet:
    """The runtime's and the queue's side: every namespace in its account; deletes taken."""

    policy: Policy = field(default_factory=lambda: Policy.model_validate({"rules": [
        {"namespaces": ["*"]}]}))  # fmt: skip
    account: str | None = None

    async def account_for(self, namespace: str) -> Account:
        return OWN

    async def delete(self, receipts: list[str]) -> int:
        return 0


def event(account: str, uid: str) -> Message:
    detail = {"TrainingJobName": "train", "TrainingJobArn": arn(account),
              "TrainingJobStatus": "InProgress", "SecondaryStatus": "Training",
              "CreationTime": 1_700_000_000_000, "LastModifiedTime": 1_700_000_100_000,
              "Tags": {"sagemaker-operator.dev/uid": uid}}  # fmt: skip
    body = {"detail-type": "SageMaker Training Job State Change", "source": "aws.sagemaker",
            "account": account, "region": "us-east-1", "detail": detail}  # fmt: skip
    return Message(f"receipt-{account}", json.dumps(body))


def test_the_same_job_name_in_two_accounts_is_two_jobs() -> None:
    index = {"us-east-1": [
        Tracked(ResourceRef("ns", f"in-{account}", f"uid-{account}"), JobArn.parse(arn(account)),
                1, {"trainingJobArn": arn(account)}, "2023-11-14T22:00:00Z")
        for account in ACCOUNTS]}  # fmt: skip
    offers, quiet = Offers(), Quiet()
    consumer = EventConsumer(cast(Runtime, quiet), cast(Tracker, offers), cast(EventQueue, quiet))
    messages = [event(account, f"uid-{account}") for account in ACCOUNTS]
    asyncio.run(consumer.handle(messages, index))
    assert sorted(offers.offered) == [(f"in-{account}", arn(account)) for account in ACCOUNTS]
