"""Accounts in the emulator: the credentials decide the account, as in AWS (STS AssumeRole)."""

from __future__ import annotations

import datetime
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from sagemaker_emulator import Emulator, EmulatorControl
from tests.requests import typical

TEAM_ROLE = "arn:aws:iam::222222222222:role/sagemaker-operator/team-a"


@pytest.fixture
def control(emulator: Emulator) -> EmulatorControl:
    return EmulatorControl(emulator.endpoint_url)


def assume(emulator: Emulator, role: str = TEAM_ROLE, **extra: Any) -> dict[str, Any]:
    answer = emulator.sts_client().assume_role(RoleArn=role, RoleSessionName="team-a", **extra)
    return dict(answer["Credentials"])


def client_as(emulator: Emulator, credentials: dict[str, Any], service: str = "sagemaker") -> Any:
    return boto3.session.Session().client(  # type: ignore[call-overload]
        service, endpoint_url=emulator.endpoint_url, region_name="us-east-1",
        aws_access_key_id=credentials["AccessKeyId"],
        aws_secret_access_key=credentials["SecretAccessKey"],
        aws_session_token=credentials["SessionToken"])  # fmt: skip


def denied(call: Any) -> str:
    with pytest.raises(ClientError) as caught:
        call()
    return str(caught.value.response["Error"]["Code"])


def test_jobs_made_with_a_roles_credentials_live_in_the_roles_account_only(
    emulator: Emulator, control: EmulatorControl
) -> None:
    control.put_role(TEAM_ROLE)
    credentials = assume(emulator)
    team = client_as(emulator, credentials)
    arn = team.create_training_job(**typical("team-job"))["TrainingJobArn"]
    assert arn == "arn:aws:sagemaker:us-east-1:222222222222:training-job/team-job"
    assert team.describe_training_job(TrainingJobName="team-job")["TrainingJobArn"] == arn
    own = emulator.sagemaker_client()
    assert denied(lambda: own.describe_training_job(TrainingJobName="team-job")) == (
        "ValidationException")  # not found: another account's job  # fmt: skip
    assert control.jobs() == {"123456789012": {}, "222222222222": {"us-east-1": ["team-job"]}}
    identity = client_as(emulator, credentials, "sts").get_caller_identity()
    assert identity["Account"] == "222222222222"
    assert identity["Arn"] == "arn:aws:sts::222222222222:assumed-role/team-a/team-a"


def test_a_role_that_does_not_exist_or_trust_the_caller_or_lacks_its_external_id_is_denied(
    emulator: Emulator, control: EmulatorControl
) -> None:
    assert denied(lambda: assume(emulator)) == "AccessDenied"  # no such role
    control.put_role(TEAM_ROLE, trusts=["999999999999"])
    assert denied(lambda: assume(emulator)) == "AccessDenied"  # not trusted
    control.put_role(TEAM_ROLE, external_id="team-a-secret")
    assert denied(lambda: assume(emulator)) == "AccessDenied"  # external id missing
    assert denied(lambda: assume(emulator, ExternalId="wrong")) == "AccessDenied"
    assert assume(emulator, ExternalId="team-a-secret")["AccessKeyId"].startswith("ASIA")


def test_a_session_expires_on_the_emulators_clock_and_says_so(
    emulator: Emulator, control: EmulatorControl
) -> None:
    control.put_role(TEAM_ROLE)
    credentials = assume(emulator, DurationSeconds=900)
    remaining = credentials["Expiration"] - datetime.datetime.now(datetime.UTC)
    assert datetime.timedelta(seconds=890) < remaining <= datetime.timedelta(seconds=900)
    team = client_as(emulator, credentials)
    team.list_training_jobs()
    control.advance_clock(901)
    assert denied(team.list_training_jobs) == "ExpiredTokenException"
    assert client_as(emulator, assume(emulator), "sagemaker").list_training_jobs()[
        "TrainingJobSummaries"] == []  # a new session works  # fmt: skip


def test_a_revoked_role_ends_its_sessions_and_a_deleted_one_refuses_new_ones(
    emulator: Emulator, control: EmulatorControl
) -> None:
    control.put_role(TEAM_ROLE)
    team = client_as(emulator, assume(emulator))
    control.delete_role(TEAM_ROLE)
    team.list_training_jobs()  # deleted: the session runs on until it expires
    assert denied(lambda: assume(emulator)) == "AccessDenied"
    control.put_role(TEAM_ROLE)
    team = client_as(emulator, assume(emulator))
    control.delete_role(TEAM_ROLE, revoke=True)
    assert denied(team.list_training_jobs) == "ExpiredTokenException"
