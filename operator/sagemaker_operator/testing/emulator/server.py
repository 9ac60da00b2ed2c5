"""The emulator's HTTP side: SageMaker's JSON 1.1 protocol, STS, and ``/_emulator/`` controls.

Real boto3 talks to it with ``endpoint_url``. Requests are signed by botocore as usual;
the signature is not checked, but the region is read from its credential scope, so jobs
live per region as they do in AWS.
"""

from __future__ import annotations

import contextlib
import email.utils
import ipaddress
import json
import logging
import re
import socket
import sys
import threading
import time
import urllib.parse
import uuid
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import TYPE_CHECKING, Any
from xml.sax.saxutils import escape

import boto3
from botocore.config import Config

from sagemaker_operator.testing.emulator import jobs, operations
from sagemaker_operator.testing.emulator.clock import Clock
from sagemaker_operator.testing.emulator.faults import FaultInjector
from sagemaker_operator.testing.emulator.jobs import JobStore, SageMakerError

if TYPE_CHECKING:
    from mypy_boto3_logs import CloudWatchLogsClient
    from mypy_boto3_sagemaker import SageMakerClient
    from mypy_boto3_sts import STSClient

logger = logging.getLogger(__name__)

DEFAULT_ACCOUNT_ID = "123456789012"
DEFAULT_REGION = "us-east-1"
CONTROL_PREFIX = "/_emulator/"
_TARGET_PREFIX = "SageMaker."
_LOGS_TARGET_PREFIX = "Logs_20140328."
_CREDENTIAL_SCOPE = re.compile(r"Credential=[^/]+/\d{8}/([a-z0-9-]+)/")
_JSON_11 = "application/x-amz-json-1.1"
_REOPEN_ATTEMPTS = 300  # every 0.1 s: up to 30 s after an outage ends


class Emulator:
    """A SageMaker emulator serving on a loopback port from a background thread.

    with Emulator(profile="fast") as emulator:
        sagemaker = boto3.client("sagemaker", endpoint_url=emulator.endpoint_url, ...)
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        profile: str = "fast",
        phases: dict[str, float] | None = None,
        account_id: str = DEFAULT_ACCOUNT_ID,
        default_region: str = DEFAULT_REGION,
        faults: dict[str, Any] | None = None,
        seed: int | None = None,
    ) -> None:
        self.host = host
        self.port = port
        self.account_id = account_id
        self.default_region = default_region
        self.clock = Clock()
        self.profile = profile
        self.store = JobStore(self.clock, account_id, jobs.profile_durations(profile, phases))
        self.injector = FaultInjector(seed)
        self.store.switches = self.injector.current
        if faults:
            self.injector.configure(faults)
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._lifecycle = threading.Lock()
        self._stopped = False  # stop() wins over a pending reopen after refused connections

    @property
    def endpoint_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def sagemaker_client(
        self, region: str | None = None, config: Config | None = None
    ) -> SageMakerClient:
        """A real boto3 SageMaker client for this emulator (any credentials do)."""
        client: SageMakerClient = self._client("sagemaker", region, config)
        return client

    def logs_client(self, region: str | None = None) -> CloudWatchLogsClient:
        """A real boto3 CloudWatch Logs client for this emulator (the jobs' logs)."""
        client: CloudWatchLogsClient = self._client("logs", region, None)
        return client

    def sts_client(self, region: str | None = None) -> STSClient:
        client: STSClient = self._client("sts", region, None)
        return client

    def _client(self, service: str, region: str | None, config: Config | None) -> Any:
        # The emulator checks no signature, so fixed dummy credentials keep a developer's
        # real AWS credentials out of every request.
        return boto3.session.Session().client(  # type: ignore[call-overload]
            service,
            endpoint_url=self.endpoint_url,
            region_name=region or self.default_region,
            aws_access_key_id="emulator",
            aws_secret_access_key="emulator",  # noqa: S106
            config=config,
        )

    def start(self) -> Emulator:
        with self._lifecycle:
            self._stopped = False
            if self._server is None:
                self._serve()
        return self

    def stop(self) -> None:
        with self._lifecycle:
            self._stopped = True
            self._shutdown()

    def refuse_connections(self, seconds: float, *, keep: socket.socket | None = None) -> None:
        """Go down for ``seconds``: open connections are reset (but ``keep``, the caller's),
        new ones get ECONNREFUSED; then the emulator listens again on the same port."""
        with self._lifecycle:
            server = self._server
            self._shutdown()
        if server is not None:
            server.drop_connections(keep)
        timer = threading.Timer(seconds, self._reopen)
        timer.daemon = True
        timer.start()

    def reset(self) -> None:
        self.store.clear()
        self.injector.reset()
        self.clock.reset()

    def _reopen(self, attempt: int = 1) -> None:
        with self._lifecycle:
            if self._server is not None or self._stopped:
                return
            try:
                self._serve()
            except OSError as error:  # the port still held by closing connections
                if attempt >= _REOPEN_ATTEMPTS:
                    logger.exception("the emulator could not listen on port %s again", self.port)
                    return
                logger.debug("listening again on port %s failed (%s); retrying", self.port, error)
            else:
                return
        timer = threading.Timer(0.1, self._reopen, kwargs={"attempt": attempt + 1})
        timer.daemon = True
        timer.start()

    def _serve(self) -> None:
        server = _Server((self.host, self.port), _Handler)
        server.emulator = self
        self.port = server.server_address[1]
        thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": 0.1},
            name=f"sagemaker-emulator:{self.port}",
            daemon=True,
        )
        thread.start()
        self._server, self._thread = server, thread

    def _shutdown(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> Emulator:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128
    emulator: Emulator

    def __init__(self, address: tuple[str, int], handler: type[BaseHTTPRequestHandler]) -> None:
        super().__init__(address, handler)
        self.connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._connections_lock:
            self.connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self._connections_lock:
            self.connections.discard(request)
        super().shutdown_request(request)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that resets its connection (killed, or timed out) is not a server error."""
        if isinstance(sys.exc_info()[1], ConnectionError):
            logger.debug("connection from %s reset", client_address[0])
            return
        super().handle_error(request, client_address)

    def drop_connections(self, keep: socket.socket | None) -> None:
        """Reset every open client connection but ``keep``, as an endpoint going down does."""
        with self._connections_lock:
            connections = [connection for connection in self.connections if connection is not keep]
        for connection in connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as botocore's connection pool expects
    # Headers and body leave in separate writes; with Nagle's algorithm on, each answer
    # would wait for the client's delayed ACK (40 ms), capping a connection at 25 calls/s.
    disable_nagle_algorithm = True
    server: _Server
    server_version = "SageMakerEmulator/1"

    def log_message(self, format: str, *args: Any) -> None:
        logger.debug("%s " + format, self.client_address[0], *args)

    def date_time_string(self, timestamp: float | None = None) -> str:
        """The Date header, from the emulated clock: AWS's Date is its own clock's time,
        which a client may compare with the times in the answer (the tracker does)."""
        moment = self.server.emulator.clock.now() if timestamp is None else timestamp
        return email.utils.formatdate(moment, usegmt=True)

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def _dispatch(self, method: str) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length)
        if len(body) < length:
            # The client went away mid-request (a killed operator): there is nobody to
            # answer, and a cut body is not a call (it would count as a ValidationException).
            self.close_connection = True
            return
        path = urllib.parse.urlsplit(self.path).path
        if path.startswith(CONTROL_PREFIX):
            self._control(method, path.removeprefix(CONTROL_PREFIX).strip("/"), body)
            return
        target = self.headers.get("X-Amz-Target", "")
        if method == "POST" and target.startswith(_TARGET_PREFIX):
            self._sagemaker(target.removeprefix(_TARGET_PREFIX), body)
        elif method == "POST" and target.startswith(_LOGS_TARGET_PREFIX):
            self._sagemaker(target.removeprefix(_LOGS_TARGET_PREFIX), body, service="logs")
        elif method == "POST" and "x-www-form-urlencoded" in self.headers.get("Content-Type", ""):
            self._sts(body)
        else:
            self._send_json(
                404,
                {
                    "__type": "UnknownOperationException",
                    "message": f"No operation at {method} {path}",
                },
            )

    # -- SageMaker ---------------------------------------------------------------------

    def _sagemaker(self, call: str, body: bytes, service: str = "sagemaker") -> None:
        """A JSON 1.1 call of SageMaker (or CloudWatch Logs: counted as ``logs:<call>``)."""
        operation = call if service == "sagemaker" else f"{service}:{call}"
        emulator = self.server.emulator
        delay = emulator.injector.latency()
        if delay:
            time.sleep(delay)
        fault = emulator.injector.roll(operation)
        if fault == "throttle":
            emulator.injector.record(operation, "ThrottlingException")
            self._send_json(400, {"__type": "ThrottlingException", "message": "Rate exceeded"})
            return
        if fault == "error":
            emulator.injector.record(operation, "InternalFailure")
            self._send_json(
                500,
                {
                    "__type": "InternalFailure",
                    "message": "We encountered an internal error. Please try again.",
                },
            )
            return
        try:
            params = _json_object(body)
        except (ValueError, TypeError) as error:
            emulator.injector.record(operation, "SerializationException")
            self._send_json(
                400,
                {
                    "__type": "SerializationException",
                    "message": f"Request body is not a JSON object: {error}",
                },
            )
            return
        try:
            answer = operations.call(emulator.store, self._region(), call, params, service)
        except SageMakerError as error:
            emulator.injector.record(operation, error.code)
            self._send_json(error.status, {"__type": error.code, "message": error.message})
            return
        except Exception as error:  # a bug of ours must look like AWS's 500, not a hang-up
            logger.exception("SageMaker.%s failed inside the emulator", operation)
            emulator.injector.record(operation, "InternalFailure")
            self._send_json(
                500, {"__type": "InternalFailure", "message": f"emulator error: {error!r}"}
            )
            return
        emulator.injector.record(operation, "ok")
        self._send_json(200, answer)

    def _region(self) -> str:
        match = _CREDENTIAL_SCOPE.search(self.headers.get("Authorization", ""))
        return match[1] if match else self.server.emulator.default_region

    # -- STS -------------------------------------------------------------------------

    def _sts(self, body: bytes) -> None:
        emulator = self.server.emulator
        form = urllib.parse.parse_qs(body.decode(errors="replace"))
        action = form.get("Action", [""])[0]
        request_id = str(uuid.uuid4())
        if action != "GetCallerIdentity":
            emulator.injector.record(f"sts:{action or '?'}", "InvalidAction")
            self._send_xml(
                400,
                (
                    "<ErrorResponse><Error><Type>Sender</Type><Code>InvalidAction</Code>"
                    f"<Message>Could not find operation {escape(action)} for version 2011-06-15"
                    f"</Message></Error><RequestId>{request_id}</RequestId></ErrorResponse>"
                ),
            )
            return
        emulator.injector.record("sts:GetCallerIdentity", "ok")
        account = emulator.account_id
        self._send_xml(
            200,
            (
                '<GetCallerIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">'
                "<GetCallerIdentityResult>"
                f"<Arn>arn:aws:iam::{account}:user/sagemaker-emulator</Arn>"
                "<UserId>AIDAEMULATOREXAMPLE</UserId>"
                f"<Account>{account}</Account>"
                "</GetCallerIdentityResult>"
                f"<ResponseMetadata><RequestId>{request_id}</RequestId></ResponseMetadata>"
                "</GetCallerIdentityResponse>"
            ),
        )

    # -- test controls -----------------------------------------------------------------

    def _control(self, method: str, route: str, body: bytes) -> None:
        # This machine only: loopback, or the address the emulator serves on when that is
        # not loopback (the local node's IP: a connection from this host to its own
        # address comes from that address; a pod's comes from its own).
        client = self.client_address[0]
        own = client == self.server.server_address[0]
        if not (ipaddress.ip_address(client).is_loopback or own):
            self._send_json(403, {"error": "/_emulator/ answers clients on this machine only"})
            return
        emulator = self.server.emulator
        try:
            payload = _json_object(body)
            answer = _route_control(emulator, method, route, payload)
        except _NoSuchControlError as error:
            self._send_json(404, {"error": str(error)})
            return
        except (ValueError, TypeError, KeyError) as error:
            self._send_json(400, {"error": str(error)})
            return
        except SageMakerError as error:
            self._send_json(404 if "not found" in error.message else 409, {"error": error.message})
            return
        refuse = float(payload.get("refuse_connections_for") or 0) if route == "faults" else 0
        if refuse > 0 and method == "POST":
            # Down before this answer leaves (on the caller's own connection, kept open
            # for it), so once the caller has the answer, every other connection fails.
            emulator.refuse_connections(refuse, keep=self.connection)
        self._send_json(200, answer)

    # -- wire --------------------------------------------------------------------------

    def _send_json(self, status: int, payload: dict[str, Any]) -> None:
        self._send(status, json.dumps(payload).encode(), _JSON_11)

    def _send_xml(self, status: int, document: str) -> None:
        self._send(status, document.encode(), "text/xml")

    def _send(self, status: int, body: bytes, content_type: str) -> None:
        try:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("x-amzn-RequestId", str(uuid.uuid4()))
            self.end_headers()
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            # The client went away (a killed operator, a timed-out call): as AWS, carry on.
            self.close_connection = True


ControlAnswer = dict[str, Any]
Control = Callable[[Emulator, str, dict[str, Any]], ControlAnswer]


class _NoSuchControlError(LookupError):
    pass


def _json_object(body: bytes) -> dict[str, Any]:
    """Parse a request body that must be a JSON object (an empty body is ``{}``)."""
    value = json.loads(body) if body else {}
    if not isinstance(value, dict):
        raise TypeError("the request body must be a JSON object")
    return value


def _route_control(
    emulator: Emulator, method: str, route: str, payload: dict[str, Any]
) -> ControlAnswer:
    parts = route.split("/")
    if len(parts) == 3 and parts[0] == "jobs" and parts[2] == "fail" and method == "POST":
        return _fail_job(emulator, parts[1], payload)
    control = _CONTROLS.get(route)
    if control is None:
        raise _NoSuchControlError(f"no control at {method} {CONTROL_PREFIX}{route}")
    return control(emulator, method, payload)


def _health(emulator: Emulator, method: str, payload: dict[str, Any]) -> ControlAnswer:
    return {"ok": True}


def _stats(emulator: Emulator, method: str, payload: dict[str, Any]) -> ControlAnswer:
    return {**emulator.injector.stats(), "jobs": emulator.store.count()}


def _reset(emulator: Emulator, method: str, payload: dict[str, Any]) -> ControlAnswer:
    if method == "POST":
        emulator.reset()
    return {"reset": method == "POST"}


def _faults(emulator: Emulator, method: str, payload: dict[str, Any]) -> ControlAnswer:
    if method != "POST":
        return emulator.injector.faults.as_dict()
    emulator.injector.configure(payload)
    return emulator.injector.faults.as_dict()


def _clock(emulator: Emulator, method: str, payload: dict[str, Any]) -> ControlAnswer:
    if method == "POST":
        action = payload.get("action")
        if action == "pause":
            emulator.clock.pause()
        elif action == "resume":
            emulator.clock.resume()
        elif action == "advance":
            emulator.clock.advance(float(payload["seconds"]))
        else:
            raise ValueError("clock action must be pause, resume or advance")
    return {"now": emulator.clock.now(), "paused": emulator.clock.paused}


def _profile(emulator: Emulator, method: str, payload: dict[str, Any]) -> ControlAnswer:
    if method == "POST":
        profile = payload.get("profile", emulator.profile)
        emulator.store.set_durations(jobs.profile_durations(profile, payload.get("phases")))
        emulator.profile = profile
    return {"profile": emulator.profile, "phases": emulator.store.durations}


def _seed(emulator: Emulator, method: str, payload: dict[str, Any]) -> ControlAnswer:
    if method != "POST":
        raise ValueError("seed takes POST {count, region?, years?}")
    count = int(payload["count"])
    if not 0 <= count <= 1_000_000:
        raise ValueError("count must be between 0 and 1,000,000")
    region = str(payload.get("region", emulator.default_region))
    total = emulator.store.seed(region, count, float(payload.get("years", 3.0)))
    return {"region": region, "seeded": count, "jobs": total}


def _fail_job(emulator: Emulator, name: str, payload: dict[str, Any]) -> ControlAnswer:
    region = payload.get("region", emulator.default_region)
    reason = str(payload.get("reason") or "AlgorithmError: injected by the emulator")
    emulator.store.fail(region, name, reason)
    return {"failed": name, "reason": reason}


_CONTROLS: dict[str, Control] = {
    "health": _health,
    "stats": _stats,
    "reset": _reset,
    "faults": _faults,
    "clock": _clock,
    "profile": _profile,
    "seed": _seed,
}
