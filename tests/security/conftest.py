"""Tenants, as a platform that shares one operator among teams has them.

Each tenant is a user (the tests act as them with impersonation, RBAC on) bound in their
own namespace to what the chart ships for tenants (its ``…-edit`` ClusterRole: create,
change and delete TrainingJobs) and to what a typical namespace-admin Role adds beyond it
(``resources: ['*']`` in the namespace: ``trainingjobs/status`` and ``kopfpeerings``). The
threat model (docs/multi-tenancy.md) lets tenants hold both: whatever they can write there is
input the operator verifies, never proof.
"""

from __future__ import annotations

import json
import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from sagemaker_lab import KubeCluster, wait_until
from sagemaker_lab.binaries import ensure_helm
from sagemaker_lab.operator import OperatorProcess
from tests.api.manifests import manifest, typical_spec
from tests.kube import condition, trainingjob

CHART = Path(__file__).resolve().parents[2] / "helm" / "sagemaker-operator"
PEERING_CRDS = CHART / "crds" / "kopf-peering.yaml"
# What a namespace-admin Role holds beyond the chart's edit role, and tenants may have.
EXTRAS = "sagemaker-operator-test-tenant-extras"


@dataclass
class Tenant:
    """A user with edit rights in one namespace."""

    cluster: KubeCluster
    namespace: str
    user: str

    def kubectl(self, *args: str, input: str | None = None, check: bool = True
                ) -> subprocess.CompletedProcess[str]:  # fmt: skip
        return self.cluster.kubectl(f"--as={self.user}", "-n", self.namespace, *args,
                                    input=input, check=check)  # fmt: skip

    def apply(self, *documents: dict[str, Any]) -> None:
        self.kubectl("apply", "-f", "-", input="\n---\n".join(json.dumps(d) for d in documents))

    def patch_status(self, name: str, status: dict[str, Any]) -> None:
        """A merge patch of the resource's status, as the tenant."""
        self.kubectl("patch", "trainingjob", name, "--subresource=status", "--type=merge",
                     "-p", json.dumps({"status": status}))  # fmt: skip

    def can(self, *request: str) -> bool:
        answer = self.kubectl("auth", "can-i", *request, check=False)
        return answer.stdout.strip() == "yes"

    def resource(self, name: str) -> dict[str, Any]:
        return trainingjob(self.cluster, self.namespace, name)

    def status(self, name: str) -> dict[str, Any]:
        found: dict[str, Any] = self.resource(name).get("status", {})
        return found

    def stalled(self, name: str) -> dict[str, Any] | None:
        """The resource's Stalled condition once it is True."""
        found = condition(self.resource(name), "Stalled")
        return found if found.get("status") == "True" else None

    def training(self, operator: OperatorProcess, name: str) -> str:
        """Apply a typical job (the emulator's profile keeps it training) and wait until it
        trains; its job's name."""
        self.apply(manifest(name, typical_spec()))
        wait_until(operator.guard(lambda: self.status(name).get("secondaryStatus")
                                  == "Training"), timeout=60,
                   description=f"{name} Training")  # fmt: skip
        return str(self.status(name)["trainingJobName"])


def tenant_roles(cluster: KubeCluster) -> str:
    """The chart's tenant ClusterRoles (rendered by helm, applied), and the extras a
    namespace admin holds; the name of the chart's edit role."""
    rendered = subprocess.run(
        [str(ensure_helm()), "template", "platform", str(CHART), "--namespace", "operators",
         "--show-only", "templates/tenant-rbac.yaml"],
        capture_output=True, text=True, check=True, timeout=120,
    ).stdout  # fmt: skip
    documents = [document for document in yaml.safe_load_all(rendered) if document]
    extras = {
        "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
        "metadata": {"name": EXTRAS},
        "rules": [
            {"apiGroups": ["sagemaker-operator.dev"], "resources": ["trainingjobs/status"],
             "verbs": ["get", "patch", "update"]},
            {"apiGroups": ["kopf.dev"], "resources": ["kopfpeerings"],
             "verbs": ["get", "list", "watch", "create", "update", "patch", "delete"]},
        ],
    }  # fmt: skip
    cluster.kubectl("apply", "-f", "-", input="\n---\n".join(
        json.dumps(document) for document in [*documents, extras]))  # fmt: skip
    (edit,) = [str(document["metadata"]["name"]) for document in documents
               if str(document["metadata"]["name"]).endswith("-edit")]  # fmt: skip
    return edit


@pytest.fixture(scope="session")
def tenant_edit_role(kube_cluster: KubeCluster, trainingjob_crd: str) -> str:
    kube_cluster.kubectl("apply", "--server-side", "-f", str(PEERING_CRDS))
    kube_cluster.kubectl("wait", "--for=condition=Established", "--timeout=30s",
                         "crd/clusterkopfpeerings.kopf.dev",
                         "crd/kopfpeerings.kopf.dev")  # fmt: skip
    return tenant_roles(kube_cluster)


def make_tenant(cluster: KubeCluster, edit_role: str, team: str, *, extras: bool = True
                ) -> Tenant:  # fmt: skip
    """A namespace for the team, and its user bound there to the chart's edit role (and to
    the namespace-admin extras, unless told not)."""
    namespace = f"{team}-{uuid.uuid4().hex[:6]}"
    user = f"{namespace}-admin"
    cluster.kubectl("create", "namespace", namespace)
    for role in (edit_role, EXTRAS) if extras else (edit_role,):
        cluster.kubectl("create", "rolebinding", f"{user}-{role}"[:63], f"--clusterrole={role}",
                        f"--user={user}", "-n", namespace)  # fmt: skip
    return Tenant(cluster, namespace, user)


@pytest.fixture(scope="module")
def tenants(kube_cluster: KubeCluster, tenant_edit_role: str) -> Iterator[tuple[Tenant, Tenant]]:
    """Two teams, A and B, each with edit rights in a namespace of its own."""
    made = (make_tenant(kube_cluster, tenant_edit_role, "team-a"),
            make_tenant(kube_cluster, tenant_edit_role, "team-b"))  # fmt: skip
    yield made
    for tenant in made:
        kube_cluster.kubectl("delete", "namespace", tenant.namespace, "--wait=false",
                             check=False)  # fmt: skip


@pytest.fixture
def tenant(kube_cluster: KubeCluster, tenant_edit_role: str) -> Iterator[Tenant]:
    """One team, with edit rights in a namespace of its own."""
    made = make_tenant(kube_cluster, tenant_edit_role, "team-a")
    yield made
    kube_cluster.kubectl("delete", "namespace", made.namespace, "--wait=false")
