"""The operator as users run it: its image, built here, installed by Helm as a pod on a real
node (containerd, kubelet, kube-proxy, scheduler, controller-manager) of the local control
plane, against the emulator served on the node IP where pods reach it.

The node suite runs with ``make test-node`` (root; podman, containerd, runc and the CNI
plugins installed, as ``make node-deps`` does); ``make test`` leaves it out.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from sagemaker_lab import Emulator, KubeCluster, wait_until
from sagemaker_lab.binaries import ensure_helm
from sagemaker_lab.controlplane import LocalControlPlane
from sagemaker_lab.images import OPERATOR_IMAGE, BuiltImage, build_operator_image
from sagemaker_lab.node import (
    NODE_IP,
    LocalNode,
    chart_values,
    merge_values,
    prepare_bridge,
)
from tests.api.manifests import manifest, typical_spec
from tests.helm.conftest import CHART, Helm
from tests.kube import trainingjobs

RELEASE = "smo"  # the chart's objects are named smo-sagemaker-operator… (fullname)


@dataclass
class NodeCluster:
    control_plane: LocalControlPlane
    node: LocalNode
    image: BuiltImage

    @property
    def cluster(self) -> KubeCluster:
        return self.control_plane.cluster


@pytest.fixture(scope="session")
def operator_image() -> BuiltImage:
    """The Dockerfile, built with podman on the Debian-made base (cached layers after the
    first build)."""
    return build_operator_image(OPERATOR_IMAGE)


@pytest.fixture(scope="session")
def node_cluster(
    operator_image: BuiltImage, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[NodeCluster]:
    prepare_bridge()
    state = tmp_path_factory.mktemp("node-cluster")
    control_plane = LocalControlPlane(state_dir=state, node_ip=NODE_IP)
    node = LocalNode(control_plane)
    try:
        control_plane.start()
        started = time.monotonic()
        node.start()
        node.import_images([operator_image.tag])
        print(f"node started in {time.monotonic() - started:.1f} s")
        yield NodeCluster(control_plane, node, operator_image)
    finally:
        node.stop()
        control_plane.stop()


@pytest.fixture(scope="session")
def node_kube(node_cluster: NodeCluster) -> KubeCluster:
    return node_cluster.cluster


@pytest.fixture
def pod_namespace(node_kube: KubeCluster) -> Iterator[str]:
    """A namespace for one test: the operator's release and its TrainingJobs both live here
    (the operator watches only it)."""
    name = f"node-{uuid.uuid4().hex[:8]}"
    node_kube.kubectl("create", "namespace", name)
    yield name
    node_kube.kubectl("delete", "namespace", name, "--wait=false", check=False)


@pytest.fixture
def pod_emulator() -> Iterator[Emulator]:
    """The emulator on the node IP, where the operator's pod reaches it."""
    with Emulator(NODE_IP, profile="fast") as running:
        yield running


@pytest.fixture
def node_helm(node_kube: KubeCluster, tmp_path: Path) -> Helm:
    return Helm(ensure_helm(), tmp_path / "helm-home", node_kube.kubeconfig, timeout=300)


def operator_values(emulator: Emulator, namespace: str, **more: Any) -> dict[str, Any]:
    """Chart values for the operator under test (chart_values: the image imported into the
    node, the emulator as SageMaker, this namespace only, fast polling), with rate limits
    and retries for tests, and the webhook on; ``more`` merged in."""
    return chart_values(OPERATOR_IMAGE, emulator.endpoint_url, namespace, **merge_values({
        "operator": {"rateLimits": {"create": 50, "describe": 50, "list": 5, "stop": 50},
                     "retryDelay": 2, "maxRetryDelay": 10},
        "webhook": {"enabled": True},
    }, more))  # fmt: skip


@dataclass
class Release:
    helm: Helm
    cluster: KubeCluster
    namespace: str
    values_file: Path
    name: str = RELEASE

    @property
    def fullname(self) -> str:
        return f"{self.name}-sagemaker-operator"

    @property
    def cluster_name(self) -> str:
        """Its cluster-scoped objects' name (the webhook configuration, the ClusterRole)."""
        return f"{self.namespace}-{self.fullname}"

    def webhook_ca(self) -> tuple[str, str]:
        """The CA in the webhook's Secret, and the caBundle the apiserver trusts."""
        secret = json.loads(
            self.cluster.kubectl(
                "get", "secret", f"{self.fullname}-webhook-tls", "-n", self.namespace, "-o", "json"
            ).stdout
        )
        configuration = json.loads(
            self.cluster.kubectl(
                "get", "validatingwebhookconfiguration", self.cluster_name, "-o", "json"
            ).stdout
        )
        return secret["data"]["ca.crt"], configuration["webhooks"][0]["clientConfig"]["caBundle"]

    def upgrade(self, values: dict[str, Any]) -> None:
        self.values_file.write_text(yaml.safe_dump(values))
        self.helm("upgrade", self.name, str(CHART), "--namespace", self.namespace,
                  "--values", str(self.values_file), "--wait", "--timeout=180s")  # fmt: skip
        if values.get("webhook", {}).get("enabled"):
            self.wait_for_webhook()  # the new pod's endpoint, as after install

    def wait_for_webhook(self) -> None:
        """Until the webhook answers through its Service: a Ready pod's endpoint reaches
        kube-proxy's rules a moment later (as in any cluster)."""
        probe = json.dumps(manifest("webhook-probe", typical_spec()))

        def admitted() -> bool:
            return (
                self.cluster.kubectl(
                    "create",
                    "--dry-run=server",
                    "-n",
                    self.namespace,
                    "-f",
                    "-",
                    input=probe,
                    check=False,
                ).returncode
                == 0
            )

        wait_until(admitted, timeout=60, interval=0.5, description="the webhook answering")

    def pods(self) -> list[dict[str, Any]]:
        listed = self.cluster.kubectl("get", "pods", "-n", self.namespace, "-l",
                                      "app.kubernetes.io/name=sagemaker-operator",
                                      "-o", "json").stdout  # fmt: skip
        items: list[dict[str, Any]] = json.loads(listed)["items"]
        return [pod for pod in items if not pod["metadata"].get("deletionTimestamp")]

    def ready_pods(self) -> list[str]:
        return [pod["metadata"]["name"] for pod in self.pods()
                if any(c["type"] == "Ready" and c["status"] == "True"
                       for c in pod.get("status", {}).get("conditions", []))]  # fmt: skip

    def logs(self, pod: str, *options: str) -> str:
        return self.cluster.kubectl("logs", "-n", self.namespace, pod, *options,
                                    check=False).stdout  # fmt: skip

    def all_logs(self) -> str:
        return "\n".join(f"--- {pod['metadata']['name']}\n{self.logs(pod['metadata']['name'])}"
                         for pod in self.pods())  # fmt: skip


@pytest.fixture
def install(
    node_helm: Helm, node_kube: KubeCluster, pod_namespace: str, pod_emulator: Emulator,
    tmp_path: Path,
) -> Iterator[Callable[..., Release]]:  # fmt: skip
    """``install(**values)``: ``helm install --wait`` of the chart with operator_values()
    plus ``values``; uninstalled after the test."""
    installed: list[Release] = []

    def run(**values: Any) -> Release:
        release = Release(node_helm, node_kube, pod_namespace, tmp_path / "values.yaml")
        release.values_file.write_text(
            yaml.safe_dump(operator_values(pod_emulator, pod_namespace, **values))
        )
        node_helm("install", release.name, str(CHART), "--namespace", pod_namespace,
                  "--values", str(release.values_file), "--wait", "--timeout=180s")  # fmt: skip
        installed.append(release)
        if values.get("webhook", {}).get("enabled", True):
            release.wait_for_webhook()
        return release

    yield run
    for release in installed:
        node_helm("uninstall", release.name, "--namespace", pod_namespace, "--wait",
                  "--timeout=120s", check=False)  # fmt: skip


def wait_for_arns(cluster: KubeCluster, namespace: str, count: int, timeout: float,
                  diagnose: Callable[[], str] | None = None) -> None:  # fmt: skip
    def arns() -> int:
        return sum(1 for item in trainingjobs(cluster, namespace).values()
                   if item.get("status", {}).get("trainingJobArn"))  # fmt: skip

    wait_until(lambda: arns() == count, timeout=timeout, interval=0.5,
               description=f"{count} TrainingJobs with an ARN", diagnose=diagnose)  # fmt: skip
