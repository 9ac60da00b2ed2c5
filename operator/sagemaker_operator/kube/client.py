"""The operator's Kubernetes API calls, on one asyncio HTTP client (aiohttp, kopf's own).

kopf watches and patches through its own session; what the operator adds (status
patches outside kopf's handlers, Events, namespace and resource reads, the finalizer's
JSON patch) goes through this one, on the same event loop: no thread per call, and no
``kubernetes`` package in the process. The credentials are the ones kopf finds without a
client library (``kopf.login_with_service_account``, else ``kopf.login_with_kubeconfig``:
KUBECONFIG or ~/.kube/config), read again once when the apiserver answers 401 (a
projected service-account token rotates). Every request has a deadline: a connection
gone silent fails it (status 0) instead of stalling the operator.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import dataclasses
import json
import os
from collections.abc import Callable
from typing import Any

import aiohttp
import kopf


class KubeApiError(Exception):
    """A Kubernetes API call that failed: the apiserver's status, reason and message, or
    status 0 when no answer came (not reached, or the deadline passed)."""

    def __init__(self, status: int, reason: str, message: str = "") -> None:
        super().__init__(f"{status} {reason}" + (f": {message}" if message else ""))
        self.status = status
        self.reason = reason
        self.message = message

    @property
    def transient(self) -> bool:
        """Whether the call may succeed when made again: the apiserver was not reached,
        answered too slowly, or said so (429, 5xx)."""
        return self.status in (0, 429) or self.status >= 500


def connection_info() -> kopf.ConnectionInfo:
    """The apiserver and credentials: in a pod, its service account's token and CA, and
    the apiserver at KUBERNETES_SERVICE_HOST and _PORT (as the official clients find it:
    no cluster DNS needed, where kopf's own minimal login names kubernetes.default.svc);
    else KUBECONFIG or ~/.kube/config, as kopf reads it. kopf logs in with this too
    (controller/handlers.py), so both clients reach the apiserver the same way."""
    settings = kopf.OperatorSettings()
    info = kopf.login_with_service_account(settings=settings)
    host, port = os.environ.get("KUBERNETES_SERVICE_HOST"), os.environ.get(
        "KUBERNETES_SERVICE_PORT")  # fmt: skip
    if info is not None and host and port:
        address = f"[{host}]" if ":" in host else host  # an IPv6 address
        info = dataclasses.replace(info, server=f"https://{address}:{port}")
    info = info or kopf.login_with_kubeconfig(settings=settings)
    if info is None:
        raise KubeApiError(0, "NoCredentials", "neither a service account token nor a "
                           "kubeconfig (KUBECONFIG, ~/.kube/config) was found")  # fmt: skip
    return info


class KubeClient:
    def __init__(
        self,
        timeout: float,
        connections: int = 32,
        login: Callable[[], kopf.ConnectionInfo] = connection_info,
    ) -> None:
        self.timeout = timeout
        self.connections = connections
        self._login = login
        self._info = login()
        self._session: aiohttp.ClientSession | None = None
        # The loop the session serves (request_blocking hands its calls to it).
        self._loop: asyncio.AbstractEventLoop | None = None

    def _open(self) -> aiohttp.ClientSession:
        loop = asyncio.get_running_loop()
        if self._session is None or self._session.closed or self._loop is not loop:
            info = self._info
            self._loop = loop
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=self.connections, ssl=info.as_ssl_context()),
                headers=info.as_http_headers(),
                proxy=info.proxy_url,
                trust_env=info.trust_env,
                timeout=aiohttp.ClientTimeout(total=self.timeout),
            )
        return self._session

    async def request(
        self, method: str, path: str, body: Any = None, *,
        content_type: str = "application/json", answer: bool = True,
    ) -> dict[str, Any]:  # fmt: skip
        """The apiserver's JSON answer (``answer`` False: not parsed, {}); KubeApiError when
        it refuses (its status) or cannot be reached in time (status 0)."""
        for attempt in range(2):
            session = self._open()
            data = None if body is None else json.dumps(body)
            headers = None if body is None else {"Content-Type": content_type}
            try:
                async with session.request(method, self._info.server.rstrip("/") + path,
                                           data=data, headers=headers) as response:  # fmt: skip
                    if response.status == 401 and attempt == 0:
                        await self._relogin()
                        continue
                    text = await response.text()
                    if response.status >= 400:
                        raise _refused(response.status, response.reason or "", text)
                    return json.loads(text) if answer and text else {}
            except (aiohttp.ClientError, TimeoutError) as error:
                raise KubeApiError(0, type(error).__name__, str(error) or
                                   f"no answer within {self.timeout:g} s") from error  # fmt: skip
        raise AssertionError("unreachable: the second attempt returns or raises")

    def request_blocking(self, method: str, path: str) -> dict[str, Any]:
        """``request`` from another thread (a worker thread's), made on the loop the client
        serves; KubeApiError (status 0) when that loop is not running."""
        if self._loop is None or self._loop.is_closed():
            raise KubeApiError(0, "NotStarted", "the client serves no event loop yet")
        future = asyncio.run_coroutine_threadsafe(self.request(method, path), self._loop)
        try:
            return future.result(self.timeout + 1.0)
        except concurrent.futures.TimeoutError as error:
            future.cancel()
            raise KubeApiError(0, "Timeout", f"no answer within {self.timeout:g} s") from error

    async def _relogin(self) -> None:
        """Read the credentials again (a rotated token), on a new session."""
        self._info = await asyncio.to_thread(self._login)
        await self.close()

    async def close(self) -> None:
        if self._session is not None and not self._session.closed:
            await self._session.close()
        self._session = None


def _refused(status: int, reason: str, text: str) -> KubeApiError:
    """The apiserver's refusal, with the message of its Status object when it sent one."""
    try:
        message = json.loads(text).get("message", "")
    except (ValueError, AttributeError):
        message = text[:200]
    return KubeApiError(status, reason, str(message))
