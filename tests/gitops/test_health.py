"""Argo CD's health check (Lua) and Flux's kstatus read the operator's status correctly."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import lupa.lua54 as lupa
import pytest
import yaml

from sagemaker_lab.binaries import ensure_kstatus

pytestmark = pytest.mark.cluster

GITOPS = Path(__file__).resolve().parents[2] / "gitops"
HEALTH_LUA = GITOPS / "argocd" / "health.lua"


def argo_health(resource: dict[str, Any]) -> tuple[str, str]:
    """Run health.lua as Argo CD does: the resource as the global `obj`, a table back."""
    runtime = lupa.LuaRuntime(unpack_returned_tuples=True)
    runtime.globals().obj = to_lua(runtime, resource)
    result = runtime.execute(HEALTH_LUA.read_text())
    return str(result["status"]), str(result["message"])


def to_lua(runtime: Any, value: Any) -> Any:
    if isinstance(value, dict):
        return runtime.table_from({key: to_lua(runtime, item) for key, item in value.items()})
    if isinstance(value, list):
        return runtime.table_from([to_lua(runtime, item) for item in value])
    return value


def test_argo_cd_reads_every_state_with_the_conditions_message(
    every_state: dict[str, dict[str, Any]],
) -> None:
    verdicts = {name: argo_health(resource) for name, resource in every_state.items()}
    assert {name: status for name, (status, _) in verdicts.items()} == {
        "running": "Progressing", "completed": "Healthy", "failed": "Degraded",
        "denied": "Degraded", "deleting": "Progressing", "updating": "Progressing",
        "update-refused": "Degraded",
    }  # fmt: skip
    assert verdicts["failed"][1] == "Failed: AlgorithmError: loss is NaN"
    assert verdicts["denied"][1].startswith("PolicyDenied: spec.roleArn")
    assert "InProgress / " in verdicts["running"][1]  # the secondary status, as it moves
    assert verdicts["deleting"][1].startswith("Deleting")
    assert verdicts["updating"][1].startswith("UpdatePending: UpdateTrainingJob accepted")
    assert verdicts["update-refused"][1].startswith("ValidationException: UpdateTrainingJob "
                                                    "refused")  # fmt: skip


def test_flux_kstatus_reads_running_completed_failed_and_updated_jobs(
    every_state: dict[str, dict[str, Any]],
) -> None:
    answer = subprocess.run(
        [str(ensure_kstatus())], input=json.dumps({"items": list(every_state.values())}),
        capture_output=True, text=True, check=True, timeout=60,
    )  # fmt: skip
    verdicts = {item["name"]: item["status"] for item in json.loads(answer.stdout)}
    assert verdicts == {
        "running": "InProgress", "completed": "Current", "failed": "Failed",
        "denied": "Failed", "deleting": "Terminating", "updating": "InProgress",
        "update-refused": "Failed",
    }  # fmt: skip


def test_the_argocd_cm_patch_carries_health_lua_verbatim() -> None:
    patch = yaml.safe_load((GITOPS / "argocd" / "argocd-cm-patch.yaml").read_text())
    embedded = patch["data"]["resource.customizations.health.sagemaker-operator.dev_TrainingJob"]
    assert embedded == HEALTH_LUA.read_text()
