"""The kopf handlers: each a few lines that call the controller's services."""

from __future__ import annotations

import asyncio
import contextlib
import datetime
from typing import Any

import kopf

from sagemaker_operator import metrics
from sagemaker_operator.api import GROUP, PLURAL, VERSION
from sagemaker_operator.aws.events import EventQueue
from sagemaker_operator.controller import finalizer, webhook
from sagemaker_operator.controller.adopt import adopting
from sagemaker_operator.controller.create import create_job
from sagemaker_operator.controller.delete import delete_job
from sagemaker_operator.controller.events import RECEIVERS, EventConsumer
from sagemaker_operator.controller.runtime import ResourceRef, Runtime
from sagemaker_operator.controller.tracked import tracked_from
from sagemaker_operator.controller.tracking import Tracker
from sagemaker_operator.controller.update import update_job
from sagemaker_operator.kube import connection_info

RESOURCE = (GROUP, VERSION, PLURAL)


@kopf.on.startup()
async def start(*, settings: kopf.OperatorSettings, memo: Any, **kwargs: Any) -> None:
    # The operator's own finalizer (the create handler adds it: controller/finalizer.py),
    # and kopf's bookkeeping in status (not in annotations), so GitOps tools see no drift
    # from the operator.
    settings.persistence.finalizer = finalizer.FINALIZER
    settings.persistence.progress_storage = kopf.StatusProgressStorage(
        field="status.operator.progress", touch_field="status.operator.touch"
    )
    settings.persistence.diffbase_storage = kopf.StatusDiffBaseStorage(
        field="status.operator.last-handled-configuration"
    )
    settings.posting.loggers = False  # the controller posts its own events, not log lines
    runtime: Runtime = memo.runtime
    if runtime.settings.webhook_port is not None:
        settings.admission.server, memo.webhook_configuration = webhook.server(runtime.settings)
        settings.admission.managed = memo.webhook_configuration
    by_status = kwargs["by_status"]
    metrics.REGISTRY.register(
        metrics.JobsByStatus(lambda: {status: len(by_status[status]) for status in by_status})
    )
    # kopf's own requests get the same deadline as ours; its watches have their own
    # inactivity timeout (70 s since kopf 1.45) for a stream gone silent.
    settings.networking.request_timeout = runtime.settings.kubernetes_timeout
    settings.networking.connect_timeout = runtime.settings.kubernetes_timeout
    # One cluster-scoped peering object, never one in each watched namespace: tenants may
    # write those, and one peer there paused every namespace (controller/peering.py).
    settings.peering.clusterwide = True
    if runtime.settings.namespaces:
        # Exact namespace names: kopf then watches just those, and needs no cluster-wide
        # list/watch on namespaces, which the chart's Roles do not grant (without this,
        # kopf retried that list for about a minute before serving anything).
        settings.scanning.disabled = True
    memo.tracking = Tracker(runtime)
    memo.tracker = asyncio.create_task(memo.tracking.run(kwargs["inflight"]), name="tracker")
    if runtime.settings.events_queue_url:
        metrics.EVENTS_MODE.set(0)
        queue = EventQueue(runtime.settings.events_queue_url, runtime.default_region,
                           RECEIVERS + 2)  # fmt: skip
        memo.consumer = EventConsumer(runtime, memo.tracking, queue)
        memo.tracking.events_flowing = memo.consumer.flowing
        memo.tracking.events_missed = memo.consumer.missed
        memo.events = asyncio.create_task(memo.consumer.run(kwargs["inflight"]), name="events")


@kopf.on.login()
def login(**_: Any) -> kopf.ConnectionInfo:
    """kopf's credentials, found as the operator's own client finds them (kube/client.py):
    in a pod, the apiserver at KUBERNETES_SERVICE_HOST, no cluster DNS needed."""
    return connection_info()


@kopf.on.probe(id="tracker")
async def tracker_alive(*, memo: Any, **_: Any) -> str:
    """Liveness: the tracker finishes its ticks (kopf's /healthz answers 500 otherwise).
    Async, so it answers even when every worker thread is stuck in a call."""
    tracker: asyncio.Task[None] | None = getattr(memo, "tracker", None)
    if tracker is None:
        return "starting"
    if tracker.done():
        raise kopf.PermanentError("the tracker has ended")
    stalled: str | None = memo.tracking.stalled()
    if stalled is not None:
        raise kopf.PermanentError(stalled)
    events: asyncio.Task[None] | None = getattr(memo, "events", None)
    if events is not None:
        if events.done():
            raise kopf.PermanentError("the events queue's receivers have ended")
        stalled = memo.consumer.stalled()
        if stalled is not None:
            raise kopf.PermanentError(stalled)
    return "ticking"


@kopf.on.cleanup()
async def stop(*, memo: Any, **_: Any) -> None:
    for name in ("events", "tracker"):
        task: asyncio.Task[None] | None = getattr(memo, name, None)
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
    configuration: str | None = getattr(memo, "webhook_configuration", None)
    if configuration is not None:  # registered by this process: gone with it
        await memo.runtime.delete_webhook_configuration(configuration)
    await memo.runtime.flush_events()
    await memo.runtime.close_kube()
    memo.runtime.gateway.close()


@kopf.index(*RESOURCE)
def inflight(
    *, namespace: str | None, name: str, uid: str, meta: kopf.Meta, status: kopf.Status,
    memo: Any, **_: Any,
) -> dict[str, Any]:  # fmt: skip
    """The resource's job, by region, while it is in flight (or settling after its end).
    Nothing to track is ``{}``, never None: kopf keeps an object's last entry when its
    index handler returns None, and a job that ended would be followed for good."""
    tracked = tracked_from(namespace or "", name, uid, meta.get("generation", 1), status,
                           created=meta.get("creationTimestamp"),
                           adopted=adopting(meta.get("annotations", {})),
                           follow_for=memo.runtime.settings.follow_for,
                           deleting=bool(meta.get("deletionTimestamp")))  # fmt: skip
    return {} if tracked is None else {tracked.region: tracked}


@kopf.index(*RESOURCE)
def by_status(*, status: kopf.Status, **_: Any) -> dict[str, None]:
    """Every resource under its job's status (Pending before it has a job): for metrics."""
    return {str(status.get("trainingJobStatus") or "Pending"): None}


async def validate(
    *, namespace: str | None, name: str | None, spec: kopf.Spec, memo: Any, **_: Any
) -> None:
    await webhook.check(memo.runtime, namespace or "", name or "", spec)


def register_webhook() -> None:
    """Register ``validate``: only with a webhook server configured (kopf refuses to run
    admission handlers without one).

    ignore_failures: the configuration kopf registers for a local run says failurePolicy
    Ignore, so an operator that stopped does not block every apply (the create handler
    makes the same checks); the chart's configuration sets its own policy (Fail).
    """
    kopf.on.validate(*RESOURCE, id="validate", operations=["CREATE"],
                     ignore_failures=True)(validate)  # fmt: skip


@kopf.on.create(*RESOURCE)
async def create(
    *, namespace: str | None, name: str, uid: str, spec: kopf.Spec, status: kopf.Status,
    meta: kopf.Meta, patch: kopf.Patch, memo: Any, retry: int, runtime: datetime.timedelta,
    **_: Any,
) -> None:  # fmt: skip
    ref = ResourceRef(namespace or "", name, uid)
    await create_job(memo.runtime, ref, spec=spec, status=status,
                     generation=meta.get("generation", 1), resource_version=meta["resourceVersion"],
                     finalizers=meta.get("finalizers", []), patch=patch, retry=retry,
                     elapsed=runtime.total_seconds(),
                     annotations=meta.get("annotations", {}),
                     deleting=bool(meta.get("deletionTimestamp")))  # fmt: skip


@kopf.on.update(*RESOURCE, field="spec")  # the CRD lets only updatable fields change
async def update(
    *, namespace: str | None, name: str, uid: str, spec: kopf.Spec, status: kopf.Status,
    meta: kopf.Meta, patch: kopf.Patch, memo: Any, retry: int, runtime: datetime.timedelta,
    **_: Any,
) -> None:  # fmt: skip
    await update_job(memo.runtime, ResourceRef(namespace or "", name, uid), spec=spec,
                     status=status, generation=meta.get("generation", 1), patch=patch,
                     retry=retry, elapsed=runtime.total_seconds())  # fmt: skip


def _holds_finalizer(*, meta: kopf.Meta, **_: Any) -> bool:
    return finalizer.holds(meta)


@kopf.on.delete(*RESOURCE, when=_holds_finalizer)  # so kopf adds no finalizer of its own
async def delete(
    *, namespace: str | None, name: str, uid: str, status: kopf.Status, spec: kopf.Spec,
    annotations: kopf.Annotations, memo: Any, **_: Any,
) -> None:  # fmt: skip
    await delete_job(memo.runtime, ResourceRef(namespace or "", name, uid), status, annotations,
                     spec)  # fmt: skip
    memo.runtime.forget(uid, status.get("trainingJobArn"))  # released: nothing kept about it
