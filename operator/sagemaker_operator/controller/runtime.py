"""What every part of the controller shares while the operator runs, and its Kubernetes I/O.

What the status should say is decided in ``status/``; this module only reads and writes.
"""

from __future__ import annotations

import asyncio
import collections
import datetime
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from sagemaker_operator import metrics
from sagemaker_operator.api import GROUP, KIND, PLURAL, VERSION
from sagemaker_operator.aws.accounts import Account
from sagemaker_operator.aws.gateway import SageMakerGateway
from sagemaker_operator.controller import peering
from sagemaker_operator.controller.memory import JobMemory
from sagemaker_operator.kube import KubeApiError, KubeClient
from sagemaker_operator.policy import Policy
from sagemaker_operator.settings import OperatorSettings

logger = logging.getLogger(__name__)

# How long an event that could not be posted (apiserver down, restarting) is tried again.
EVENT_RETRY_FOR = 600.0
LAST_ERRORS = 10_000  # resources whose last error event is remembered


class BoundedDict(collections.OrderedDict[str, str]):
    """A dict that forgets its oldest entries beyond ``limit`` (an entry set again is new)."""

    def __init__(self, limit: int) -> None:
        super().__init__()
        self.limit = limit

    def __setitem__(self, key: str, value: str) -> None:
        super().__setitem__(key, value)
        self.move_to_end(key)
        while len(self) > self.limit:
            self.popitem(last=False)


class NoAccountError(Exception):
    """No policy rule covers the namespace: no account to act in, so no call at all."""


LABELS_TTL = 300.0  # seconds a namespace's labels are taken as read


@dataclass(frozen=True)
class ResourceRef:
    """A TrainingJob resource, as events and status patches address it."""

    namespace: str
    name: str
    uid: str


@dataclass
class Runtime:
    settings: OperatorSettings
    gateway: SageMakerGateway
    default_region: str
    policy: Policy
    # kopf peering: this replica's priority (None: standalone).
    priority: int | None = None
    # This cluster's identity, in the ownership tags of every job created or adopted here.
    cluster_id: str = ""
    # The last AWS error event per resource: the same error retried is reported once. A
    # resource refused before it held the finalizer has no delete handler to drop its
    # entry: the oldest entries go beyond LAST_ERRORS.
    last_error: BoundedDict = field(default_factory=lambda: BoundedDict(LAST_ERRORS))
    # (resource UID, job ARN) pairs known to be the resource's own job: created or adopted
    # by this process, or whose UID tag was read (controller/ownership.py).
    owned: set[tuple[str, str]] = field(default_factory=set)
    # (resource UID, job ARN) pairs whose StopTrainingJob this process sent.
    stops_sent: set[tuple[str, str]] = field(default_factory=set)
    # Asks the tracker to list soon (a stop was sent: its end is read from the list).
    tick_soon: Callable[[], None] = lambda: None
    # What this process read from AWS about each job (the tracker learns it): what bounds
    # lists and follow-ups, and which jobs AWS answered ended.
    memory: JobMemory = field(default_factory=JobMemory)
    # Namespace labels the policy matched on, with when they were read (account_for).
    _labels: dict[str, tuple[float, Mapping[str, str]]] = field(default_factory=dict)
    # The first namespaces seen served by each rule that globs its namespaces (two at most:
    # a second is what is warned of).
    _served: dict[int, list[str]] = field(default_factory=dict)
    _kube: KubeClient | None = None
    _posting: set[asyncio.Task[None]] = field(default_factory=set)
    # Background events (``event``) are posted a few at a time: a thousand of them must
    # not take the connections status patches need. A transition's Event (``tell``) is
    # bounded by its caller, the tracker's writer queue, and posted at once: it comes
    # before the status write that shows it.
    _posting_slots: asyncio.Semaphore = field(default_factory=lambda: asyncio.Semaphore(4))

    def forget(self, uid: str, arn: Any = None) -> None:
        """Drop what is kept about a resource that is gone (and its job, ``arn``)."""
        self.last_error.pop(uid, None)
        self.owned = {pair for pair in self.owned if pair[0] != uid}
        self.stops_sent = {pair for pair in self.stops_sent if pair[0] != uid}
        if isinstance(arn, str):
            self.memory.release(arn.lower(), uid)

    @property
    def kube(self) -> KubeClient:
        """The Kubernetes API client (made at the first use: the operator's start)."""
        if self._kube is None:
            self._kube = KubeClient(self.settings.kubernetes_timeout)
        return self._kube

    def connect(self) -> KubeClient:
        """The Kubernetes client, made now (its credentials read): KubeApiError when none
        can be found."""
        return self.kube

    async def close_kube(self) -> None:
        """Close the Kubernetes client's connections, if it was made."""
        if self._kube is not None:
            await self._kube.close()

    async def cluster_identity(self) -> str:
        """The cluster's identity: the setting, else the kube-system namespace's UID (no
        tenant can change it, and it lives as long as the cluster). Raises KubeApiError
        when it cannot be read."""
        if self.settings.cluster_id:
            return self.settings.cluster_id
        found = await self.kube.request("GET", "/api/v1/namespaces/kube-system")
        return str(found["metadata"]["uid"])

    async def patch_status(
        self, ref: ResourceRef, status: dict[str, Any], expect: Mapping[str, Any] | None = None
    ) -> None:
        """Write these status fields (outside kopf's handlers: the tracker), each replaced
        whole, on the resource with this very UID.

        A JSON patch whose first operation tests metadata.uid: the apiserver refuses it
        (422) when the name now belongs to another resource (deleted and made again), which
        never inherits the old one's job. (A merge patch cannot say this: the status
        subresource ignores what a patch says of metadata.) The resource must have a status
        already, as every resource the tracker follows does. ``expect``: status fields that
        must still hold these values (what the written fields were decided from), tested
        the same way.
        """
        operations: list[dict[str, Any]] = [
            {"op": "test", "path": "/metadata/uid", "value": ref.uid},
            *({"op": "test", "path": f"/status/{_pointer(key)}", "value": value}
              for key, value in (expect or {}).items()),
            *({"op": "add", "path": f"/status/{_pointer(key)}", "value": value}
              for key, value in status.items()),
        ]  # fmt: skip
        # The answer (the whole object, managedFields and all) is not decoded: that cost
        # more than the write at a thousand a tick.
        await self.kube.request("PATCH", _path(ref.namespace, ref.name) + "/status", operations,
                                content_type=JSON_PATCH, answer=False)  # fmt: skip

    async def read_resource(self, namespace: str, name: str) -> dict[str, Any] | None:
        """A TrainingJob as the apiserver has it, or None when there is none. Raises
        KubeApiError (403 where the operator may not read)."""
        try:
            return await self.kube.request("GET", _path(namespace, name))
        except KubeApiError as error:
            if error.status == 404:
                return None
            raise

    def wanted(self, ref: ResourceRef) -> bool:
        """Whether the resource still wants its job: it exists (with this UID) and is not
        being deleted. Blocking, from a worker thread (the call is made on the event
        loop); False when that cannot be told (the apiserver away)."""
        try:
            found: dict[str, Any] | None = self.kube.request_blocking(
                "GET", _path(ref.namespace, ref.name))  # fmt: skip
        except KubeApiError:
            return False
        metadata = (found or {}).get("metadata", {})
        return metadata.get("uid") == ref.uid and not metadata.get("deletionTimestamp")

    async def replaced(self, ref: ResourceRef) -> bool:
        """Whether the resource is gone, or its name now belongs to another (other UID)."""
        found = await self.read_resource(ref.namespace, ref.name)
        return found is None or found.get("metadata", {}).get("uid") != ref.uid

    async def json_patch(self, ref: ResourceRef, operations: list[dict[str, Any]]) -> None:
        """JSON-patch the resource itself (its metadata: the finalizer). Raises KubeApiError:
        404 when the resource is gone, 422 when one of the operations' tests failed."""
        await self.kube.request("PATCH", _path(ref.namespace, ref.name), operations,
                                content_type=JSON_PATCH, answer=False)  # fmt: skip

    async def delete_webhook_configuration(self, name: str) -> None:
        try:
            path = f"/apis/admissionregistration.k8s.io/v1/validatingwebhookconfigurations/{name}"
            await self.kube.request("DELETE", path, answer=False)
        except KubeApiError as error:
            logger.warning("could not delete the webhook configuration %s: %s", name, error)

    async def standing_by(self) -> bool:
        """Whether a live peer of higher priority does the work (kopf peering)."""
        name, priority = self.settings.peering, self.priority
        if name is None or priority is None:
            return False
        try:
            # Cluster-scoped, whatever the operator watches (controller/peering.py).
            path = f"/apis/kopf.dev/v1/clusterkopfpeerings/{name}"
            found = await self.kube.request("GET", path)
        except KubeApiError as error:
            logger.warning("cannot read peering %s (%s): not polling", name, error)
            return True
        now = datetime.datetime.now(datetime.UTC)
        return peering.outranked(found.get("status") or {}, priority, now)

    async def namespace_labels(self, namespace: str) -> Mapping[str, str] | None:
        """The namespace's labels when the policy selects namespaces by them; None when it
        does not. Raises KubeApiError."""
        if not self.policy.needs_labels:
            return None
        found = await self.kube.request("GET", f"/api/v1/namespaces/{namespace}")
        return dict(found.get("metadata", {}).get("labels") or {})

    async def account_for(self, namespace: str) -> Account:
        """The account the namespace's jobs run in, by the policy (NoAccountError when no
        rule covers it). A policy that selects namespaces by label reads the namespace's
        labels, at most once per LABELS_TTL (the tracker asks every tick); raises
        KubeApiError when they cannot be read."""
        labels: Mapping[str, str] | None = None
        if self.policy.needs_labels:
            cached = self._labels.get(namespace)
            if cached is None or time.monotonic() - cached[0] > LABELS_TTL:
                read = await self.namespace_labels(namespace)
                cached = (time.monotonic(), read or {})
                self._labels[namespace] = cached
            labels = cached[1]
        account = self.policy.account_for(namespace, labels)
        if account is None:
            raise NoAccountError(f"no policy rule covers namespace {namespace}: its jobs "
                                 "have no AWS account")  # fmt: skip
        return account

    def note_served(self, namespace: str, labels: Mapping[str, str] | None) -> None:
        """Warn (once a rule) when a rule that globs its namespaces (the default policy's
        ``*`` too) serves a second namespace: their jobs may use each other's roles,
        buckets and networks, which a policy for several tenants must not allow."""
        found = self.policy.rule_for(namespace, labels)
        if found is None or not found[1].globbed:
            return
        served = self._served.setdefault(found[0], [])
        if namespace in served or len(served) >= 2:
            return
        served.append(namespace)
        if len(served) == 2:
            logger.warning(
                "policy rule %d (namespaces %s) serves namespaces %s and %s: their jobs may "
                "use the same roles, buckets, keys and networks. For several teams, give each "
                "namespace a rule of its own and set `strict: true` (docs/multi-tenancy.md)",
                found[0], found[1].namespaces, *served,
            )  # fmt: skip

    async def namespace_annotations(self, namespace: str) -> Mapping[str, str]:
        """The namespace's annotations (where a deletion policy may be set for all in it)."""
        found = await self.kube.request("GET", f"/api/v1/namespaces/{namespace}")
        return dict(found.get("metadata", {}).get("annotations") or {})

    async def event(
        self, ref: ResourceRef, reason: str, message: str, *, warning: bool = False
    ) -> None:
        """Post a Kubernetes Event about the resource, in the background (tried again
        through an apiserver outage, then only logged). The tracker's transitions are
        posted with ``tell`` instead: their status remembers what was told.

        Posted with the operator's client rather than kopf.event(), which works only inside
        kopf's per-object tasks, while the tracker runs beside them.
        """
        task = asyncio.create_task(self._post(ref, reason, _event_body(ref, reason, message,
                                                                     warning)))  # fmt: skip
        self._posting.add(task)
        task.add_done_callback(self._posting.discard)

    async def tell(
        self, ref: ResourceRef, reason: str, message: str, *, warning: bool = False
    ) -> bool:
        """Post a Kubernetes Event now, once (within the call's deadline): whether it was
        posted. For what must not be lost, whose caller remembers to try again."""
        try:
            await self._post_once(ref, _event_body(ref, reason, message, warning))
        except Exception as error:  # whatever it was, the caller tries again
            metrics.EVENT_RETRIES.inc()
            logger.warning("could not post event %s for %s/%s (tried again later): %s",
                           reason, ref.namespace, ref.name, brief(error))  # fmt: skip
            return False
        return True

    async def _post(self, ref: ResourceRef, reason: str, body: dict[str, Any]) -> None:
        """Post one event; while the apiserver cannot be reached or is not ready (a
        connection error, 429, 5xx), try again with backoff for up to EVENT_RETRY_FOR, so
        the events of an outage arrive once it is over (with their own times)."""
        delay, deadline = 1.0, time.monotonic() + EVENT_RETRY_FOR
        while True:
            try:
                async with self._posting_slots:
                    await self._post_once(ref, body)
            except Exception as error:  # an event is information; never fail the work for it
                if is_transient(error) and time.monotonic() + delay < deadline:
                    metrics.EVENT_RETRIES.inc()
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, 30.0)
                    continue
                metrics.EVENTS_LOST.inc()
                logger.warning("could not post event %s for %s/%s: %s", reason, ref.namespace,
                               ref.name, brief(error))  # fmt: skip
            return

    async def _post_once(self, ref: ResourceRef, body: dict[str, Any]) -> None:
        await self.kube.request("POST", f"/api/v1/namespaces/{ref.namespace}/events", body,
                                answer=False)  # fmt: skip

    async def flush_events(self, timeout: float = 5.0) -> None:
        """Let the events still being posted go out (at shutdown), for at most ``timeout``;
        those still waiting out an outage then are given up: a stopping pod has its grace
        period to keep."""
        if self._posting:
            _, pending = await asyncio.wait(set(self._posting), timeout=timeout)
            for task in pending:
                task.cancel()

    async def error_event(self, ref: ResourceRef, reason: str, message: str) -> None:
        """A warning event, unless the same one was the last posted for this resource."""
        metrics.RECONCILE_ERRORS.labels(reason).inc()
        text = f"{reason}: {message}"
        if self.last_error.get(ref.uid) != text:
            self.last_error[ref.uid] = text
            await self.event(ref, reason, message, warning=True)


def _event_body(ref: ResourceRef, reason: str, message: str, warning: bool) -> dict[str, Any]:
    """A core/v1 Event about the resource, as the operator posts it."""
    now = datetime.datetime.now(datetime.UTC).isoformat()
    return {
        "metadata": {"generateName": f"{ref.name}.", "namespace": ref.namespace},
        "involvedObject": {
            "apiVersion": f"{GROUP}/{VERSION}", "kind": KIND,
            "namespace": ref.namespace, "name": ref.name, "uid": ref.uid,
        },
        "reason": reason,
        "message": message[:1024],
        "type": "Warning" if warning else "Normal",
        "source": {"component": "sagemaker-operator"},
        "firstTimestamp": now,
        "lastTimestamp": now,
        "count": 1,
    }  # fmt: skip


def brief(error: BaseException) -> str:
    """A Kubernetes error in one line: its code and the apiserver's message."""
    return str(error)


def is_transient(error: BaseException) -> bool:
    """Whether a Kubernetes call may succeed when tried again: the apiserver was not
    reached, answered too slowly, or said so (429, 5xx)."""
    if isinstance(error, KubeApiError):
        return error.transient
    return isinstance(error, OSError | TimeoutError)


JSON_PATCH = "application/json-patch+json"


def _path(namespace: str, name: str) -> str:
    """A TrainingJob's API path."""
    return f"/apis/{GROUP}/{VERSION}/namespaces/{namespace}/{PLURAL}/{name}"


def _pointer(key: str) -> str:
    """A JSON pointer's reference token for ``key`` (RFC 6901)."""
    return key.replace("~", "~0").replace("/", "~1")
