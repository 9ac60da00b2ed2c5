"""A release as users consume it: `make release` against a real OCI registry on loopback (the
CNCF distribution registry), then the README's quick start on the node: `helm install
oci://…`, the image pulled by containerd from the registry by the digest the chart pins, and
the README's first job Completed."""

from __future__ import annotations

import json
import os
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from sagemaker_emulator import DEFAULT_ACCOUNT_ID, DEFAULT_REGION
from sagemaker_lab import Emulator, KubeCluster, wait_until
from sagemaker_lab.binaries import ensure_helm
from sagemaker_lab.registry import LocalRegistry
from sagemaker_lab.release import versions
from tests.node.conftest import NodeCluster

pytestmark = [pytest.mark.node, pytest.mark.timeout(900)]  # a release, then a job

ROOT = Path(__file__).resolve().parents[2]
PUBLISHED = "oci://ghcr.io/sagemaker-operator/charts/sagemaker-operator"


def readme_block(containing: str) -> str:
    """The README's ```sh block that contains ``containing``."""
    blocks = re.findall(r"```sh\n(.*?)```", (ROOT / "README.md").read_text(), re.DOTALL)
    (found,) = [str(block) for block in blocks if containing in block]
    return found


@pytest.fixture
def registry(tmp_path: Path) -> Iterator[LocalRegistry]:
    with LocalRegistry(tmp_path / "registry") as running:
        yield running


def test_make_release_then_the_readmes_quick_start_runs_the_first_job_from_the_registry(
    node_cluster: NodeCluster, node_kube: KubeCluster, registry: LocalRegistry,
    pod_emulator: Emulator, tmp_path: Path,
) -> None:  # fmt: skip
    version = versions()["pyproject.toml"]
    repository = f"{registry.host}/test"
    made = subprocess.run(
        ["make", "release", f"REGISTRY={repository}", f"VERSION={version}", "PLAIN_HTTP=1"],
        cwd=ROOT, capture_output=True, text=True, check=False, timeout=1800,
    )  # fmt: skip
    assert made.returncode == 0, made.stdout[-3000:] + made.stderr[-3000:]
    digest = re.search(r"image +\S+@(sha256:[0-9a-f]{64})", made.stdout)
    assert digest, made.stdout
    assert (ROOT / "dist" / "release" / f"sagemaker_operator-{version}-py3-none-any.whl").exists()
    node_cluster.node.trust_plain_http_registry(registry.host)

    # The README's commands, with the test registry for ghcr.io and the emulator's values.
    test_values = tmp_path / "emulator-values.yaml"
    test_values.write_text(yaml.safe_dump({
        "operator": {"endpointUrl": pod_emulator.endpoint_url, "pollInterval": 1,
                     "watchNamespaces": ["default"]},
        "env": [{"name": "AWS_ACCESS_KEY_ID", "value": "emulator"},
                {"name": "AWS_SECRET_ACCESS_KEY", "value": "emulator"},
                # STS (the default policy asks it for the account) is the emulator's too.
                {"name": "AWS_ENDPOINT_URL_STS", "value": pod_emulator.endpoint_url}],
    }))  # fmt: skip
    install = readme_block("helm install sagemaker-operator oci://")
    assert PUBLISHED in install
    assert f"--version {version}" in install  # the README installs this version
    install = install.replace(PUBLISHED, f"oci://{repository}/charts/sagemaker-operator")
    install = install.replace(
        '"${ROLE_VALUES[@]}"', f'"${{ROLE_VALUES[@]}}" --plain-http --values {test_values}'
    )
    first_job = readme_block("cat > first-job.yaml").replace(
        "kubectl get trainingjobs -w", "kubectl get trainingjobs")  # -w never ends  # fmt: skip
    helm = ensure_helm()
    environment = {
        **os.environ, "KUBECONFIG": str(node_kube.kubeconfig),
        "PATH": f"{helm.parent}:{node_kube.kubectl_path.parent}:{os.environ['PATH']}",
        "HELM_CACHE_HOME": str(tmp_path / "helm" / "cache"),
        "HELM_CONFIG_HOME": str(tmp_path / "helm" / "config"),
        "HELM_DATA_HOME": str(tmp_path / "helm" / "data"),
    }  # fmt: skip
    script = (f"ACCOUNT={DEFAULT_ACCOUNT_ID} REGION={DEFAULT_REGION} CLUSTER=node "
              f"BUCKET=my-bucket\nROLE_VALUES=()\n{install}\n{first_job}")  # fmt: skip
    try:
        ran = subprocess.run(["bash", "-euo", "pipefail", "-c", script], cwd=tmp_path,
                             env=environment, capture_output=True, text=True, check=False,
                             timeout=600)  # fmt: skip
        pods = ("describe", "pods", "-n", "sagemaker-operator")
        logs = ("logs", "-n", "sagemaker-operator", "deploy/sagemaker-operator", "--tail=40")
        assert ran.returncode == 0, "\n".join([
            ran.stdout[-2000:], ran.stderr[-2000:], node_kube.kubectl(*pods, check=False).stdout[
                -2000:], node_kube.kubectl(*logs, check=False).stdout])  # fmt: skip
        wait_until(lambda: json.loads(node_kube.kubectl(
                       "get", "trainingjob", "first-job", "-o", "json").stdout
                   ).get("status", {}).get("trainingJobStatus") == "Completed",
                   timeout=120, interval=1, description="the first job Completed")  # fmt: skip
        pods = json.loads(node_kube.kubectl(
            "get", "pods", "-n", "sagemaker-operator", "-o", "json").stdout)["items"]  # fmt: skip
        (pod,) = [pod for pod in pods if not pod["metadata"].get("deletionTimestamp")]
        image = pod["spec"]["containers"][0]["image"]
        assert image == f"{repository}/sagemaker-operator@{digest[1]}"  # pinned by digest
        assert pod["status"]["containerStatuses"][0]["imageID"].endswith(digest[1])
        pulled = registry.log.read_text()
        assert re.search(rf"GET /v2/test/sagemaker-operator/manifests/{digest[1]}.*containerd",
                         pulled), "containerd did not pull the image from the registry"  # fmt: skip
    finally:
        node_kube.kubectl("delete", "trainingjob", "first-job", "--wait=true", "--timeout=60s",
                          check=False)  # fmt: skip
        subprocess.run([str(helm), "uninstall", "sagemaker-operator", "-n", "sagemaker-operator",
                        "--wait"], env=environment, check=False, timeout=180)  # fmt: skip
        node_kube.kubectl("delete", "namespace", "sagemaker-operator", "--wait=false",
                          check=False)  # fmt: skip
