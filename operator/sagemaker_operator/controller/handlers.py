"""The kopf handlers: each a few lines that call the controller's services."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import kopf

from sagemaker_operator.api import GROUP, PLURAL, VERSION
from sagemaker_operator.controller.create import create_job
from sagemaker_operator.controller.delete import delete_job
from sagemaker_operator.controller.runtime import ResourceRef, Runtime
from sagemaker_operator.controller.tracking import Tracker, tracked_from

RESOURCE = (GROUP, VERSION, PLURAL)


@kopf.on.startup()
async def start(*, settings: kopf.OperatorSettings, memo: Any, **kwargs: Any) -> None:
    # The operator's own finalizer, and kopf's bookkeeping in status (not in annotations),
    # so GitOps tools see no drift from the operator.
    settings.persistence.finalizer = f"{GROUP}/finalizer"
    settings.persistence.progress_storage = kopf.StatusProgressStorage(
        field="status.operator.progress", touch_field="status.operator.touch"
    )
    settings.persistence.diffbase_storage = kopf.StatusDiffBaseStorage(
        field="status.operator.last-handled-configuration"
    )
    settings.posting.loggers = False  # the controller posts its own events, not log lines
    runtime: Runtime = memo.runtime
    memo.tracker = asyncio.create_task(Tracker(runtime).run(kwargs["inflight"]), name="tracker")


@kopf.on.cleanup()
async def stop(*, memo: Any, **_: Any) -> None:
    tracker: asyncio.Task[None] | None = getattr(memo, "tracker", None)
    if tracker is not None:
        tracker.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await tracker
    memo.runtime.gateway.close()


@kopf.index(*RESOURCE)
def inflight(
    *, namespace: str | None, name: str, uid: str, meta: kopf.Meta, status: kopf.Status, **_: Any
) -> dict[str, Any] | None:
    tracked = tracked_from(namespace or "", name, uid, meta.get("generation", 1), status)
    return None if tracked is None else {tracked.region: tracked}


@kopf.on.create(*RESOURCE)
async def create(
    *, namespace: str | None, name: str, uid: str, spec: kopf.Spec, status: kopf.Status,
    meta: kopf.Meta, patch: kopf.Patch, memo: Any, retry: int, **_: Any,
) -> None:  # fmt: skip
    ref = ResourceRef(namespace or "", name, uid)
    await create_job(memo.runtime, ref, spec=spec, status=status,
                     generation=meta.get("generation", 1), patch=patch, retry=retry)  # fmt: skip


@kopf.on.delete(*RESOURCE)
async def delete(
    *, namespace: str | None, name: str, uid: str, status: kopf.Status,
    annotations: kopf.Annotations, memo: Any, **_: Any,
) -> None:  # fmt: skip
    await delete_job(memo.runtime, ResourceRef(namespace or "", name, uid), status, annotations)
