"""A tenant's peering object pauses nothing (attack 3 of the threat model): the operator's
replicas agree in one cluster-scoped ClusterKopfPeering, which tenants cannot write, and
a peer without ``lastseen`` is dead."""

from __future__ import annotations

import datetime
import json
import uuid
from pathlib import Path

import pytest

from sagemaker_lab import Emulator, KubeCluster, wait_until
from sagemaker_lab.operator import OperatorProcess, operator_environment
from tests.api.manifests import manifest, typical_spec
from tests.security.conftest import Tenant

pytestmark = pytest.mark.cluster


def peering(kind: str, name: str, peers: dict[str, dict[str, object]]) -> str:
    return json.dumps({"apiVersion": "kopf.dev/v1", "kind": kind, "metadata": {"name": name},
                       "status": peers})  # fmt: skip


def test_a_peer_a_tenant_adds_in_its_namespace_pauses_nothing(
    kube_cluster: KubeCluster, tenant: Tenant, emulator: Emulator, tmp_path: Path
) -> None:
    name = f"operators-{uuid.uuid4().hex[:6]}"
    kube_cluster.kubectl("apply", "-f", "-", input=peering("ClusterKopfPeering", name, {}))
    # The highest priority, alive for ten years: as good as no lastseen at all.
    forever = (datetime.datetime.now(datetime.UTC) + datetime.timedelta(days=3650)).isoformat()
    intruder = {"intruder": {"priority": 2**31 - 1, "lifetime": 60, "lastseen": forever}}
    tenant.kubectl("apply", "-f", "-", input=peering("KopfPeering", name, intruder))
    refused = tenant.kubectl("apply", "-f", "-", check=False, input=peering(
        "ClusterKopfPeering", f"{name}-mine", intruder))  # fmt: skip
    assert refused.returncode != 0
    assert "forbidden" in refused.stderr.lower()
    environment = operator_environment(kube_cluster, emulator, poll_interval="1",
                                       create_rate="50", peering=name)  # fmt: skip
    with OperatorProcess(environment, tenant.namespace, tmp_path / "operator.log") as operator:
        operator.wait_ready()
        tenant.apply(manifest("train", typical_spec()))
        wait_until(operator.guard(lambda: tenant.status("train").get("trainingJobStatus")
                                  == "Completed"), timeout=60,
                   description=f"Completed, not paused\n{operator.output()}")  # fmt: skip
    kube_cluster.kubectl("delete", "clusterkopfpeering", name)


def test_the_peering_crds_refuse_a_peer_without_lastseen(
    kube_cluster: KubeCluster, tenant_edit_role: str
) -> None:
    """kopf counts such a peer alive forever; the apiserver refuses it (the admin too)."""
    name = f"no-lastseen-{uuid.uuid4().hex[:6]}"
    refused = kube_cluster.kubectl("apply", "-f", "-", check=False, input=peering(
        "ClusterKopfPeering", name, {"forever": {"priority": 100, "lifetime": 60}}))  # fmt: skip
    assert refused.returncode != 0
    assert "lastseen" in refused.stderr
