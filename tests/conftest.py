"""Fixtures shared by every test: the local test platform's pytest plugin, and the CRD."""

from __future__ import annotations

from pathlib import Path

import pytest

from sagemaker_operator.codegen import CRD_FILE
from sagemaker_operator.testing import KubeCluster

pytest_plugins = ["sagemaker_operator.testing.pytest_plugin"]

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def trainingjob_crd(kube_cluster: KubeCluster) -> str:
    """The generated TrainingJob CRD, installed the way the README says, and Established."""
    path = ROOT / CRD_FILE
    kube_cluster.kubectl("apply", "--server-side", "--force-conflicts", "-f", str(path))
    name = "trainingjobs.sagemaker-operator.dev"
    kube_cluster.kubectl("wait", "--for=condition=Established", "--timeout=60s", f"crd/{name}")
    return name
