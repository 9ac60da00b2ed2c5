"""Whose job is it: the UID tag the operator puts on every job it creates.

Status is no proof: whoever may patch ``trainingjobs/status`` can point a resource at any
job. The operator stops, adopts and tracks a job only when its tags name the resource's
UID. Tags lag a create (ListTags right after CreateTrainingJob may list none yet:
SageMaker Python SDK issues 3662 and 4600), so a young job without the operator's tags
is "not known yet", never "someone else's".
"""

from __future__ import annotations

import datetime
import enum
from collections.abc import Mapping
from typing import Any

from sagemaker_operator.aws import accounts
from sagemaker_operator.aws.accounts import Account
from sagemaker_operator.controller.requests import UID_TAG
from sagemaker_operator.controller.runtime import Runtime

# How long after its creation a job may still list without its tags.
TAG_LAG = datetime.timedelta(minutes=5)
# A creation time long past: a job whose tags must show by now.
EARLY = datetime.datetime(2000, 1, 1, tzinfo=datetime.UTC)


class Ownership(enum.Enum):
    OURS = "ours"
    NOT_OURS = "not ours"
    NOT_LISTED_YET = "tags not listed yet"


def judge(tags: list[dict[str, str]], uid: str, created: datetime.datetime | None,
          now: datetime.datetime | None = None) -> Ownership:  # fmt: skip
    """Whose job a job is, from its tags and creation time (``created`` None: unknown,
    taken as young)."""
    values = {tag.get("Key"): tag.get("Value") for tag in tags}
    if UID_TAG in values:
        return Ownership.OURS if values[UID_TAG] == uid else Ownership.NOT_OURS
    moment = now or datetime.datetime.now(datetime.UTC)
    if created is None or moment - created < TAG_LAG:
        return Ownership.NOT_LISTED_YET
    return Ownership.NOT_OURS


async def ownership(
    runtime: Runtime, region: str, arn: str, uid: str, created: datetime.datetime | None,
    *, account: Account,
) -> Ownership:  # fmt: skip
    """Whose job ``arn`` is (one ListTags call in ``account``, none when this process created
    it). A job of another account than the namespace's is not its own, whatever its tags
    say (and is not called). AWS errors propagate."""
    if not accounts.holds(account, arn):
        return Ownership.NOT_OURS
    if owned_pair(uid, arn) in runtime.owned:
        return Ownership.OURS
    found = judge(await runtime.gateway.list_tags(region, arn, account=account), uid, created)
    if found is Ownership.OURS:
        runtime.owned.add(owned_pair(uid, arn))
    return found


def owned_pair(uid: str, arn: str) -> tuple[str, str]:
    """How Runtime.owned holds a resource's own job: its UID and the ARN, case ignored
    (aws/arns.py)."""
    return uid, arn.lower()


def creation_time(answer: Mapping[str, Any]) -> datetime.datetime | None:
    stamp = answer.get("CreationTime")
    return stamp if isinstance(stamp, datetime.datetime) else None
