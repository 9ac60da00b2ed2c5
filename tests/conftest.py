"""Fixtures shared by every test: the local test platform's pytest plugin, and the CRD."""

from __future__ import annotations

from pathlib import Path

import pytest

from sagemaker_operator.codegen import CRD_FILE
from sagemaker_operator.testing import KubeCluster, wait_until

pytest_plugins = ["sagemaker_operator.testing.pytest_plugin"]

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def trainingjob_crd(kube_cluster: KubeCluster) -> str:
    """The generated TrainingJob CRD, installed the way the README says, and Established."""
    path = ROOT / CRD_FILE
    kube_cluster.kubectl("apply", "--server-side", "--force-conflicts", "-f", str(path))
    name = "trainingjobs.sagemaker-operator.dev"

    def established() -> bool:
        found = kube_cluster.kubectl("get", "crd", name, "-o",
                                     "jsonpath={.status.conditions[?(@.type=='Established')].status}",
                                     check=False)  # fmt: skip
        return found.stdout.strip() == "True"

    wait_until(established, timeout=60, interval=0.2, description=f"CRD {name} Established")
    return name
