"""The real operator process, against the local control plane and the emulator."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from sagemaker_operator.testing import Emulator, KubeCluster
from sagemaker_operator.testing.operator import OperatorProcess, operator_environment


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
