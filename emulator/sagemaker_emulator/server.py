"""The emulator's HTTP side: SageMaker's JSON 1.1 protocol, SQS's JSON 1.0, STS, and
``/_emulator/`` controls.

Real boto3 talks to it with ``endpoint_url``. Requests are signed by botocore as usual;
the signature is not checked, but the region is read from its credential scope and the
account from its access key (keys issued by AssumeRole act in the role's account:
emulator/iam.py), so jobs live per account and region as they do in AWS.
"""

from __future__ import annotations

import contextlib
import email.utils
import ipaddress
import json
import logging
import re
import secrets
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

from sagemaker_emulator import jobs, operations, sqs
from sagemaker_emulator.clock import Clock
from sagemaker_emulator.eventbridge import EventBus, Rule
from sagemaker_emulator.faults import FaultInjector
from sagemaker_emulator.iam import Iam
from sagemaker_emulator.jobs import JobStore, SageMakerError

if TYPE_CHECKING:
    from mypy_boto3_logs import CloudWatchLogsClient
    from mypy_boto3_sagemaker import SageMakerClient
    from mypy_boto3_sqs import SQSClient
    from mypy_boto3_sts import STSClient

logger = logging.getLogger(__name__)

DEFAULT_ACCOUNT_ID = "123456789012"
DEFAULT_REGION = "us-east-1"
CONTROL_PREFIX = "/_emulator/"
SILENCE = 120.0  # seconds a request to a silent account is held, at most
_TARGET_PREFIX = "SageMaker."
_LOGS_TARGET_PREFIX = "Logs_20140328."
_SQS_TARGET_PREFIX = "AmazonSQS."
_CREDENTIAL_SCOPE = re.compile(r"Credential=([^/]+)/\d{8}/([a-z0-9-]+)/")
_JSON_11 = "application/x-amz-json-1.1"
_JSON_10 = "application/x-amz-json-1.0"
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
        # Every account's jobs (the credentials decide the account), and who may be whom.
        self.stores: dict[str, JobStore] = {account_id: self.store}
        self._stores_lock = threading.Lock()
        self.iam = Iam(self.clock.now, account_id)
        self.queues = sqs.Queues(lambda: self.endpoint_url)
        self.events = EventBus(lambda: dict(self.stores), self.queues, self.injector)
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

    def sqs_client(self, region: str | None = None) -> SQSClient:
        client: SQSClient = self._client("sqs", region, None)
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
            self.events.stop()
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

    def store_for(self, account: str) -> JobStore:
        """The jobs of ``account`` (made on first use, with the current phase lengths)."""
        with self._stores_lock:
            store = self.stores.get(account)
            if store is None:
                store = JobStore(self.clock, account, self.store.durations)
                store.switches = self.injector.current
                self.stores[account] = store
            return store

    def reset(self) -> None:
        with self._stores_lock:
            for store in self.stores.values():
                store.clear()
            self.stores = {self.account_id: self.store}
        self.iam.clear()
        self.events.clear()
        self.queues.clear()
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
        elif method == "POST" and target.startswith(_SQS_TARGET_PREFIX):
            self._sqs(target.removeprefix(_SQS_TARGET_PREFIX), body)
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
            account, _ = emulator.iam.account_of(self._access_key())
            if self._silenced(account):
                return
            answer = operations.call(emulator.store_for(account), self._region(), call, params,
                                     service)  # fmt: skip
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

    # -- SQS -----------------------------------------------------------------------------

    def _sqs(self, call: str, body: bytes) -> None:
        """A JSON 1.0 call of SQS (counted as ``sqs:<call>``), validated with its model."""
        operation = f"sqs:{call}"
        emulator = self.server.emulator
        fault = emulator.injector.roll(operation)
        if fault is not None:
            code = "ThrottlingException" if fault == "throttle" else "InternalFailure"
            emulator.injector.record(operation, code)
            self._send_sqs_error(400 if fault == "throttle" else 500, sqs.SqsError(code, code))
            return
        try:
            params = _json_object(body)
            account, _ = emulator.iam.account_of(self._access_key())
            answer = sqs.call(emulator.queues, account, self._region(), call, params)
        except sqs.SqsError as error:
            emulator.injector.record(operation, error.code)
            self._send_sqs_error(error.status, error)
            return
        except (ValueError, TypeError) as error:
            emulator.injector.record(operation, "SerializationException")
            self._send_sqs_error(400, sqs.SqsError("SerializationException", str(error)))
            return
        emulator.injector.record(operation, "ok")
        self._send(200, json.dumps(answer).encode(), _JSON_10)

    def _send_sqs_error(self, status: int, error: sqs.SqsError) -> None:
        body = json.dumps({"__type": f"com.amazonaws.sqs#{error.code}", "message": error.message})
        # SQS's JSON protocol is query-compatible: botocore reads the old error code here.
        self._send(status, body.encode(), _JSON_10,
                   {"x-amzn-query-error": f"{error.query_code};Sender"})  # fmt: skip

    def _silenced(self, account: str) -> bool:
        """With the switch ``silent_accounts`` naming the account: take the request and
        answer nothing (the caller's read deadline ends it) until the account leaves the
        list, or SILENCE s; True when it was so."""
        emulator = self.server.emulator
        if account not in emulator.injector.current().silent_accounts:
            return False
        emulator.injector.record("silent", account)
        deadline = time.monotonic() + SILENCE
        while (time.monotonic() < deadline
               and account in emulator.injector.current().silent_accounts):  # fmt: skip
            time.sleep(0.2)
        self.close_connection = True
        return True

    def _region(self) -> str:
        match = _CREDENTIAL_SCOPE.search(self.headers.get("Authorization", ""))
        return match[2] if match else self.server.emulator.default_region

    def _access_key(self) -> str | None:
        match = _CREDENTIAL_SCOPE.search(self.headers.get("Authorization", ""))
        return match[1] if match else None

    # -- STS -------------------------------------------------------------------------

    def _sts(self, body: bytes) -> None:
        """STS's query protocol: GetCallerIdentity (the identity the keys are) and
        AssumeRole (emulator/iam.py)."""
        emulator = self.server.emulator
        form = urllib.parse.parse_qs(body.decode(errors="replace"))
        action = form.get("Action", [""])[0]
        operation = f"sts:{action or '?'}"
        role = form.get("RoleArn", [""])[0].split(":")
        if action == "AssumeRole" and len(role) > 4 and self._silenced(role[4]):
            return
        actions: dict[str, Callable[[], str]] = {
            "GetCallerIdentity": self._caller_identity,
            "AssumeRole": lambda: self._assume_role(form),
        }
        try:
            result = actions.get(action, lambda: _invalid_action(action))()
        except SageMakerError as error:
            emulator.injector.record(operation, error.code)
            code = "ExpiredToken" if error.code == "ExpiredTokenException" else error.code
            self._send_xml(error.status if error.status != 400 or code != "AccessDenied"
                           else 403, (
                "<ErrorResponse><Error><Type>Sender</Type>"
                f"<Code>{escape(code)}</Code><Message>{escape(error.message)}</Message>"
                f"</Error><RequestId>{uuid.uuid4()}</RequestId></ErrorResponse>"))  # fmt: skip
            return
        emulator.injector.record(operation, "ok")
        self._send_xml(200, (
            f'<{action}Response xmlns="https://sts.amazonaws.com/doc/2011-06-15/">'
            f"<{action}Result>{result}</{action}Result>"
            f"<ResponseMetadata><RequestId>{uuid.uuid4()}</RequestId></ResponseMetadata>"
            f"</{action}Response>"))  # fmt: skip

    def _caller_identity(self) -> str:
        account, session = self.server.emulator.iam.account_of(self._access_key())
        if session is None:
            return (f"<Arn>arn:aws:iam::{account}:user/sagemaker-emulator</Arn>"
                    "<UserId>AIDAEMULATOREXAMPLE</UserId>"
                    f"<Account>{account}</Account>")  # fmt: skip
        name = session.role.rsplit("/", 1)[-1]
        return (f"<Arn>arn:aws:sts::{account}:assumed-role/{escape(name)}/"
                f"{escape(session.name)}</Arn><UserId>AROAEMULATOR:{escape(session.name)}"
                f"</UserId><Account>{account}</Account>")  # fmt: skip

    def _assume_role(self, form: dict[str, list[str]]) -> str:
        emulator = self.server.emulator
        caller, _ = emulator.iam.account_of(self._access_key())

        def one(name: str) -> str | None:
            values = form.get(name)
            return values[0] if values else None

        arn, name = one("RoleArn"), one("RoleSessionName")
        if not arn or not name:
            raise SageMakerError("ValidationError", "RoleArn and RoleSessionName are required")
        if not re.fullmatch(r"[\w+=,.@-]{2,64}", name):
            raise SageMakerError("ValidationError", f"1 validation error detected: Value "
                                 f"'{name}' at 'roleSessionName' failed to satisfy constraint: "
                                 "Member must satisfy regular expression pattern: "
                                 "[\\w+=,.@-]*")  # fmt: skip
        duration = one("DurationSeconds")
        session = emulator.iam.assume(caller, arn, name, one("ExternalId"),
                                      int(duration) if duration else None)  # fmt: skip
        # The expiry as the caller's clock reads it (the emulator's clock may be ahead).
        expires = time.time() + (session.expires - emulator.clock.now())
        stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(expires))
        role_name = session.role.rsplit("/", 1)[-1]
        return (
            f"<Credentials><AccessKeyId>{session.access_key}</AccessKeyId>"
            f"<SecretAccessKey>{secrets.token_urlsafe(30)}</SecretAccessKey>"
            f"<SessionToken>{secrets.token_urlsafe(60)}</SessionToken>"
            f"<Expiration>{stamp}</Expiration></Credentials>"
            f"<AssumedRoleUser><AssumedRoleId>AROAEMULATOR:{escape(name)}</AssumedRoleId>"
            f"<Arn>arn:aws:sts::{session.account}:assumed-role/{escape(role_name)}/"
            f"{escape(name)}</Arn></AssumedRoleUser>"
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

    def _send(
        self, status: int, body: bytes, content_type: str, headers: dict[str, str] | None = None
    ) -> None:
        try:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("x-amzn-RequestId", str(uuid.uuid4()))
            self.end_headers()
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            # The client went away (a killed operator, a timed-out call): as AWS, carry on.
            self.close_connection = True


def _invalid_action(action: str) -> str:
    raise SageMakerError(
        "InvalidAction", f"Could not find operation {action} for version 2011-06-15"
    )


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
    stores = dict(emulator.stores)
    return {**emulator.injector.stats(), "jobs": sum(store.count() for store in stores.values()),
            "accounts": {account: store.names() for account, store in stores.items()}}  # fmt: skip


def _roles(emulator: Emulator, method: str, payload: dict[str, Any]) -> ControlAnswer:
    if method != "POST":
        raise ValueError("roles takes POST {roleArn, externalId?, trusts?, delete?, revoke?}")
    arn = str(payload["roleArn"])
    if payload.get("delete") or payload.get("revoke"):
        emulator.iam.delete_role(arn, revoke=bool(payload.get("revoke")))
        return {"deleted": arn}
    role = emulator.iam.put_role(arn, payload.get("externalId"), payload.get("trusts"))
    return {"roleArn": role.arn, "account": role.account, "trusts": sorted(role.trusts)}


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
        durations = jobs.profile_durations(profile, payload.get("phases"))
        for store in list(emulator.stores.values()):
            store.set_durations(durations)
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
    emulator.store_for(str(payload.get("account", emulator.account_id))).fail(region, name, reason)
    return {"failed": name, "reason": reason}


def _event_rules(emulator: Emulator, method: str, payload: dict[str, Any]) -> ControlAnswer:
    """EventBridge rules sending a region's training job state changes to an SQS queue."""
    if method == "POST":
        queue = emulator.queues.find(str(payload["queueUrl"]))
        rule = Rule(str(payload.get("name") or f"sagemaker-to-{queue.name}"),
                    str(payload.get("account") or queue.account),
                    str(payload.get("region") or queue.region), queue.arn)  # fmt: skip
        emulator.events.put_rule(rule)
    return {"rules": [vars(rule) for rule in emulator.events.rules()],
            "published": emulator.events.published}  # fmt: skip


_CONTROLS: dict[str, Control] = {
    "event-rules": _event_rules,
    "health": _health,
    "stats": _stats,
    "reset": _reset,
    "faults": _faults,
    "clock": _clock,
    "profile": _profile,
    "seed": _seed,
    "roles": _roles,
}
