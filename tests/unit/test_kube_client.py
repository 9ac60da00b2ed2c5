"""The operator's Kubernetes client (kube/client.py) against real HTTP servers on loopback:
every call has a deadline, a refusal names the apiserver's status and message, a rotated
token is read again once."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

import kopf
import pytest
from aiohttp import web

from sagemaker_operator.kube import KubeApiError, KubeClient

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@asynccontextmanager
async def serving(handler: Handler) -> AsyncIterator[str]:
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handler)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()


def login_to(server: str, token: str = "first") -> kopf.ConnectionInfo:
    return kopf.ConnectionInfo(server=server, token=token)


def test_a_connection_gone_silent_fails_the_call_within_its_deadline() -> None:
    async def scenario() -> None:
        async def accept_and_say_nothing(reader: asyncio.StreamReader,
                                         writer: asyncio.StreamWriter) -> None:  # fmt: skip
            await asyncio.sleep(30)

        server = await asyncio.start_server(accept_and_say_nothing, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        client = KubeClient(0.5, login=lambda: login_to(f"http://127.0.0.1:{port}"))
        started = time.monotonic()
        with pytest.raises(KubeApiError) as failed:
            await client.request("GET", "/api/v1/namespaces/kube-system")
        assert failed.value.status == 0
        assert failed.value.transient
        assert time.monotonic() - started < 5
        await client.close()
        server.close()

    asyncio.run(scenario())


def test_a_refusal_names_the_apiservers_status_and_message() -> None:
    async def refuse(request: web.Request) -> web.StreamResponse:
        body = {"kind": "Status", "message": "the server rejected our request: test failed"}
        return web.json_response(body, status=422, reason="Unprocessable Entity")

    async def scenario() -> None:
        async with serving(refuse) as server:
            client = KubeClient(5, login=lambda: login_to(server))
            with pytest.raises(KubeApiError) as refused:
                await client.request("PATCH", "/apis/x/v1/namespaces/n/things/t", [],
                                     content_type="application/json-patch+json")  # fmt: skip
            await client.close()
        assert refused.value.status == 422
        assert not refused.value.transient
        assert str(refused.value) == (
            "422 Unprocessable Entity: the server rejected our request: test failed"
        )

    asyncio.run(scenario())


def test_a_rotated_token_is_read_again_once_and_the_call_made_with_it() -> None:
    seen: list[str] = []
    logins: list[str] = []

    async def only_the_new_token(request: web.Request) -> web.StreamResponse:
        seen.append(request.headers.get("Authorization", ""))
        if request.headers.get("Authorization") != "Bearer second":
            return web.json_response({"message": "Unauthorized"}, status=401)
        return web.json_response({"metadata": {"uid": "kube-system-uid"}})

    async def scenario() -> None:
        async with serving(only_the_new_token) as server:

            def login() -> kopf.ConnectionInfo:
                logins.append("login")
                return login_to(server, "first" if len(logins) == 1 else "second")

            client = KubeClient(5, login=login)
            found = await client.request("GET", "/api/v1/namespaces/kube-system")
            await client.close()
        assert found["metadata"]["uid"] == "kube-system-uid"

    asyncio.run(scenario())
    assert seen == ["Bearer first", "Bearer second"]
    assert len(logins) == 2


def test_a_worker_thread_calls_through_the_loop_the_client_serves() -> None:
    async def answer(request: web.Request) -> web.StreamResponse:
        return web.json_response({"path": request.path, "body": json.loads(
            await request.text() or "null")})  # fmt: skip

    async def scenario() -> None:
        async with serving(answer) as server:
            client = KubeClient(5, login=lambda: login_to(server))
            with pytest.raises(KubeApiError):  # serving no loop yet: says so, never hangs
                client.request_blocking("GET", "/early")
            await client.request("GET", "/first")  # the loop it serves from now on
            found = await asyncio.to_thread(client.request_blocking, "GET", "/from-a-thread")
            await client.close()
        assert found == {"path": "/from-a-thread", "body": None}

    asyncio.run(scenario())
