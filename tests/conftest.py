"""Fixtures shared by every test: the local test platform's pytest plugin, the CRD, and
the real operator process against the local control plane and the emulator."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from sagemaker_lab import Emulator, KubeCluster
from sagemaker_lab.codegen import CRD_FILE, POLICY_FILE
from sagemaker_lab.operator import OperatorProcess, operator_environment
from sagemaker_operator.aws import servicemodel

pytest_plugins = ["sagemaker_emulator.pytest_plugin", "sagemaker_lab.pytest_plugin"]

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def trainingjob_crd(kube_cluster: KubeCluster) -> str:
    """The generated TrainingJob CRD and its admission policy (what cannot change), installed
    the way the docs say, and Established."""
    for path in (ROOT / CRD_FILE, ROOT / POLICY_FILE):
        kube_cluster.kubectl("apply", "--server-side", "--force-conflicts", "-f", str(path))
    name = "trainingjobs.sagemaker-operator.dev"
    kube_cluster.wait_established(name)
    return name


@pytest.fixture
def operator_settings() -> dict[str, str]:
    """Settings for the operator under test (a test module may override this fixture).

    Tests create dozens of jobs at once; AWS-safe default rate limits would make them wait.
    """
    return {"poll_interval": "1", "create_rate": "50", "describe_rate": "50"}


@pytest.fixture
def operator_process(
    kube_cluster: KubeCluster,
    trainingjob_crd: str,
    emulator: Emulator,
    namespace: str,
    tmp_path: Path,
    operator_settings: dict[str, str],
) -> Iterator[OperatorProcess]:
    """The operator, watching only this test's namespace.

    The local control plane has no namespace controller, so resources of earlier tests
    stay in their namespaces; an operator watching everything would act on them too.
    """  # fmt: skip
    environment = operator_environment(kube_cluster, emulator, **operator_settings)
    with OperatorProcess(environment, namespace, tmp_path / "operator.log") as running:
        yield running


@pytest.fixture
def future_model(future_model: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """The emulator plugin's newer SageMaker model, which this process's operator-side code
    (its shared model loader) reads from now on too."""
    servicemodel.forget()
    yield future_model
    monkeypatch.delenv("AWS_DATA_PATH")
    servicemodel.forget()
