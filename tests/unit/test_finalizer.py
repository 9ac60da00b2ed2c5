"""The operator's finalizer: added with tests that make a stale or foreign write fail."""

from __future__ import annotations

from typing import Any

import jsonpatch
import pytest

from sagemaker_operator.controller.finalizer import FINALIZER, adding, holds

UID = "0d6c2f4e-1111-2222-3333-444455556666"


def resource(finalizers: list[str] | None, version: str = "41") -> dict[str, Any]:
    metadata: dict[str, object] = {"name": "job", "uid": UID, "resourceVersion": version}
    if finalizers is not None:
        metadata["finalizers"] = finalizers
    return {"metadata": metadata}


@pytest.mark.parametrize("finalizers", [None, [], ["example.com/other"]])
def test_the_finalizer_is_added_after_any_other_controllers(finalizers: list[str] | None) -> None:
    seen = resource(finalizers)
    patched = jsonpatch.apply_patch(seen, adding(UID, "41", finalizers or []))
    assert patched["metadata"]["finalizers"] == [*(finalizers or []), FINALIZER]
    assert holds(patched["metadata"])
    assert not holds(seen["metadata"])


def test_a_resource_holding_the_finalizer_needs_no_patch() -> None:
    assert adding(UID, "41", ["example.com/other", FINALIZER]) == []


@pytest.mark.parametrize(
    "now",
    [
        resource(None, version="42"),  # changed since it was seen (deleted meanwhile, say)
        {"metadata": {"name": "job", "uid": "another-uid", "resourceVersion": "41"}},
    ],
    ids=["changed-since", "same-name-other-resource"],
)
def test_the_patch_fails_on_a_resource_other_than_the_one_seen(now: dict[str, Any]) -> None:
    with pytest.raises(jsonpatch.JsonPatchTestFailed):
        jsonpatch.apply_patch(now, adding(UID, "41", []))
