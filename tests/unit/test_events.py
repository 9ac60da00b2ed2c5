"""Events the apiserver could not take (down, restarting) are posted once it takes them;
what it refuses for good is not retried."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any, cast

from sagemaker_operator import metrics
from sagemaker_operator.aws.gateway import SageMakerGateway
from sagemaker_operator.controller.runtime import ResourceRef, Runtime
from sagemaker_operator.kube import KubeApiError, KubeClient
from sagemaker_operator.policy import Policy
from sagemaker_operator.settings import OperatorSettings

REF = ResourceRef("ns", "job", "uid-1")


@dataclass
class Apiserver:
    """The operator's Kubernetes client, answering each call from a script."""

    answers: list[int]  # HTTP status per call: 201 posts, anything else is refused
    posted: list[dict[str, Any]] = field(default_factory=list)
    paths: list[str] = field(default_factory=list)

    async def request(self, method: str, path: str, body: Any = None, **_: Any) -> dict[str, Any]:
        self.paths.append(f"{method} {path}")
        status = self.answers.pop(0)
        if status != 201:
            raise KubeApiError(status, "Scripted")
        self.posted.append(body)
        return {}


def runtime_with(apiserver: Apiserver) -> Runtime:
    runtime = Runtime(settings=OperatorSettings(), gateway=cast(SageMakerGateway, None),
                      default_region="us-east-1", policy=cast(Policy, None))  # fmt: skip
    runtime._kube = cast(KubeClient, apiserver)
    return runtime


def post(runtime: Runtime) -> None:
    async def scenario() -> None:
        await runtime.event(REF, "Created", "training job job in us-east-1")
        await runtime.flush_events(timeout=30)

    asyncio.run(scenario())


def test_an_event_refused_during_an_outage_is_posted_once_the_apiserver_is_back() -> None:
    retries = metrics.EVENT_RETRIES._value.get()
    apiserver = Apiserver([503, 0, 201])  # unavailable, unreachable, back
    post(runtime_with(apiserver))
    assert [event["reason"] for event in apiserver.posted] == ["Created"]
    assert metrics.EVENT_RETRIES._value.get() - retries == 2
    assert apiserver.paths == ["POST /api/v1/namespaces/ns/events"] * 3


def test_an_event_the_apiserver_refuses_for_good_is_not_retried() -> None:
    lost = metrics.EVENTS_LOST._value.get()
    apiserver = Apiserver([403])
    post(runtime_with(apiserver))
    assert apiserver.posted == []
    assert apiserver.answers == []
    assert metrics.EVENTS_LOST._value.get() - lost == 1
