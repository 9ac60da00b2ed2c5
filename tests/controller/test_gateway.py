"""The gateway's accounts: what they cost the process, with the real gateway, botocore's
assume-role machinery and the emulator's STS."""

from __future__ import annotations

import asyncio
import tracemalloc

import pytest
from botocore.exceptions import ClientError

from sagemaker_lab import Emulator, EmulatorControl
from sagemaker_operator.aws.gateway import SageMakerGateway
from sagemaker_operator.aws.rates import RateLimits
from sagemaker_operator.policy import Policy

ROLE = "arn:aws:iam::222222222222:role/sagemaker-operator/team-a"
REGION = "us-east-1"
NAMESPACES = 200


def test_the_namespaces_of_one_rule_share_one_session_and_its_clients(
    emulator: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    """200 namespaces under one assumeRole rule: one AssumeRole, one session, and memory
    within 5 MB of one namespace's (before: a session and two clients per namespace, never
    freed: +2 MB a namespace, past the chart's 256 Mi limit at 70-100 namespaces)."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "emulator")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "emulator")
    monkeypatch.setenv("AWS_ENDPOINT_URL_STS", emulator.endpoint_url)
    control = EmulatorControl(emulator.endpoint_url)
    control.put_role(ROLE)
    namespaces = [f"team-a-{index:03}" for index in range(NAMESPACES)]
    policy = Policy.model_validate({"rules": [{"namespaces": namespaces,
                                               "assumeRole": {"roleArn": ROLE}}]})  # fmt: skip
    gateway = SageMakerGateway(endpoint_url=emulator.endpoint_url, home_region=REGION,
                               limits=RateLimits(describe=1000, list=1000))  # fmt: skip

    async def describe(namespace: str) -> None:
        account = policy.account_for(namespace)
        assert account is not None
        # Not found: the call was made, with the account's keys.
        with pytest.raises(ClientError, match="ValidationException"):
            await gateway.describe_training_job(REGION, "no-such-job", account=account)

    async def scenario() -> int:
        await describe(namespaces[0])
        tracemalloc.start()
        one, _ = tracemalloc.get_traced_memory()
        for namespace in namespaces[1:]:
            await describe(namespace)
        every, _ = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        return every - one

    try:
        grown = asyncio.run(scenario())
    finally:
        gateway.close()
    assert grown < 5 * 2**20, f"{grown / 2**20:.1f} MB more for {NAMESPACES - 1} namespaces"
    assert control.stats()["outcomes"]["sts:AssumeRole"] == {"ok": 1}
