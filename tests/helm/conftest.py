"""helm (built from source, cached like the control-plane binaries) against the local cluster."""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

from sagemaker_lab import KubeCluster
from sagemaker_lab.binaries import ensure_helm

CHART = Path(__file__).resolve().parents[2] / "helm" / "sagemaker-operator"
ALL_OPTIONS = CHART / "ci" / "all-options-values.yaml"
CERT_MANAGER = CHART / "ci" / "cert-manager-values.yaml"


@dataclass
class Helm:
    binary: Path
    home: Path
    kubeconfig: Path | None = None
    timeout: float = 120

    def __call__(self, *arguments: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        environment = {
            **os.environ,
            "HELM_CACHE_HOME": str(self.home / "cache"),
            "HELM_CONFIG_HOME": str(self.home / "config"),
            "HELM_DATA_HOME": str(self.home / "data"),
        }
        if self.kubeconfig is not None:
            environment["KUBECONFIG"] = str(self.kubeconfig)
        result = subprocess.run(
            [str(self.binary), *arguments], capture_output=True, text=True, timeout=self.timeout,
            env=environment, check=False,
        )  # fmt: skip
        if check and result.returncode != 0:
            raise AssertionError(f"helm {' '.join(arguments)} failed:\n{result.stderr}")
        return result


@pytest.fixture(scope="session")
def helm_binary() -> Path:
    return ensure_helm()


@pytest.fixture
def helm(helm_binary: Path, tmp_path: Path) -> Helm:
    return Helm(helm_binary, tmp_path / "helm-home")


@pytest.fixture
def cluster_helm(helm: Helm, kube_cluster: KubeCluster) -> Helm:
    helm.kubeconfig = kube_cluster.kubeconfig
    return helm
