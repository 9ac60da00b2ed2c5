"""Accounts by namespace: the policy's assumeRole, its defaults, and its errors."""

from __future__ import annotations

import datetime
from typing import Any

import pytest
from botocore.exceptions import ClientError
from pydantic import ValidationError

from sagemaker_operator.aws.accounts import (
    OWN,
    Account,
    AssumedCredentials,
    AssumeRoleError,
    holds,
    said,
)
from sagemaker_operator.aws.errors import Disposition, classify
from sagemaker_operator.policy import Policy

ROLE_A = "arn:aws:iam::222222222222:role/sagemaker-operator"
POLICY = Policy.model_validate({"rules": [
    {"namespaces": ["team-a"], "assumeRole": {"roleArn": ROLE_A, "externalId": "x-1"}},
    {"namespaces": ["team-b"], "assumeRole": {"roleArn": ROLE_A, "sessionName": "team-b"},
     "roles": ["arn:aws:iam::222222222222:role/team-b/*"]},
    {"namespaces": ["platform"]},
]})  # fmt: skip


def request(role: str) -> dict[str, Any]:
    return {"TrainingJobName": "j", "RoleArn": role,
            "OutputDataConfig": {"S3OutputPath": "s3://b/o"}}  # fmt: skip


def test_a_rule_that_assumes_a_role_names_that_account_for_its_namespaces() -> None:
    assert POLICY.account_for("team-a") == Account(
        role_arn=ROLE_A, external_id="x-1", session_name="sagemaker-operator-rule-1",
        rule="policy rule 1")  # fmt: skip
    assert POLICY.account_for("team-b") == Account(role_arn=ROLE_A, session_name="team-b",
                                                   rule="policy rule 2")  # fmt: skip
    assert POLICY.account_for("platform") == OWN
    assert POLICY.account_for("stray") is None


def test_roles_and_arns_default_to_the_assumed_account_only() -> None:
    assert POLICY.violations("team-a", "us-east-1",
                             request("arn:aws:iam::222222222222:role/any/path")) == []  # fmt: skip
    denied = POLICY.violations("team-a", "us-east-1", request("arn:aws:iam::333333333333:role/x"))
    assert denied == ["spec.roleArn arn:aws:iam::333333333333:role/x is not allowed in "
                      "namespace team-a (roles: arn:aws*:iam::222222222222:role/**)"]  # fmt: skip
    # A rule's own roles win over the default.
    assert POLICY.violations("team-b", "us-east-1",
                             request("arn:aws:iam::222222222222:role/other")) != []  # fmt: skip


@pytest.mark.parametrize("assume", [
    {"roleArn": "arn:aws:iam::12:role/short-account"},
    {"roleArn": "arn:aws:iam::222222222222:user/not-a-role"},
    {"roleArn": ROLE_A, "sessionName": "has spaces"},
    {"roleArn": ROLE_A, "externalId": "x"},
    {"roleArn": ROLE_A, "durationSeconds": 900},
])  # fmt: skip
def test_a_bad_assume_role_is_refused_naming_the_field(assume: dict[str, Any]) -> None:
    with pytest.raises(ValidationError) as caught:
        Policy.model_validate({"rules": [{"namespaces": ["a"], "assumeRole": assume}]})
    assert "assumeRole" in str(caught.value)


def refused(code: str) -> ClientError:
    answer: Any = {
        "Error": {"Code": code, "Message": f"{code} from STS"},
        "ResponseMetadata": {"HTTPStatusCode": 403 if code == "AccessDenied" else 400},
    }
    return ClientError(answer, "AssumeRole")


def test_a_role_that_cannot_be_assumed_is_terminal_and_names_rule_and_role() -> None:
    account = POLICY.account_for("team-a")
    assert account is not None
    failure = classify(AssumeRoleError(account, refused("AccessDenied")))
    assert failure.disposition is Disposition.TERMINAL
    assert failure.code == "AssumeRoleFailed"
    assert failure.message.startswith(f"cannot assume {ROLE_A} (policy rule 1): ")
    assert "AccessDenied" in failure.message
    throttled = classify(AssumeRoleError(account, refused("Throttling")))
    assert throttled.disposition is Disposition.RETRY


def test_messages_and_arns_are_checked_against_the_account() -> None:
    account = Account(role_arn=ROLE_A, rule="policy rule 1")
    assert holds(account, "arn:aws:sagemaker:us-east-1:222222222222:training-job/j")
    assert not holds(account, "arn:aws:sagemaker:us-east-1:333333333333:training-job/j")
    assert holds(OWN, "arn:aws:sagemaker:us-east-1:333333333333:training-job/j")
    assert said("Rate exceeded", account) == (
        f"Rate exceeded (in account 222222222222 (role {ROLE_A}, policy rule 1))")  # fmt: skip
    assert said("Rate exceeded", OWN) == "Rate exceeded"


class Fetcher:
    """Stands in for botocore's AssumeRoleCredentialFetcher: a new session per call."""

    def __init__(self) -> None:
        self.calls = 0

    def fetch_credentials(self) -> dict[str, Any]:
        self.calls += 1
        expiry = datetime.datetime.now(datetime.UTC) + datetime.timedelta(hours=1)
        return {"access_key": f"ASIA{self.calls}", "secret_key": "s", "token": "t",
                "expiry_time": expiry.isoformat()}  # fmt: skip


def test_a_refused_session_is_assumed_again_once_however_many_calls_saw_it_refused() -> None:
    fetcher = Fetcher()
    credentials = AssumedCredentials(fetcher, {})  # type: ignore[arg-type]
    assert credentials.get_frozen_credentials().access_key == "ASIA1"  # assumed on first use
    assert credentials.get_frozen_credentials().access_key == "ASIA1"  # then kept
    credentials.expire("ASIA1")
    credentials.expire("ASIA1")  # a second call that failed with the same session
    assert credentials.get_frozen_credentials().access_key == "ASIA2"
    assert fetcher.calls == 2
    credentials.expire("ASIA1")  # a late report about a session already replaced
    assert credentials.get_frozen_credentials().access_key == "ASIA2"
