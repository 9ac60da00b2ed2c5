"""The real operator process, against the local control plane and the emulator."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

import pytest

from sagemaker_operator.testing import Emulator, KubeCluster
from sagemaker_operator.testing.processes import log_tail

T = TypeVar("T")


class OperatorProcess:
    def __init__(self, process: subprocess.Popen[bytes], log: Path) -> None:
        self.process = process
        self.log = log

    def output(self) -> str:
        return log_tail(self.log, 200)

    def guard(self, condition: Callable[[], T]) -> Callable[[], T]:
        """The condition, failing at once (with the operator's log) if the operator died."""

        def guarded() -> T:
            if self.process.poll() is not None:
                raise AssertionError(f"the operator exited:\n{self.output()}")
            return condition()

        return guarded


@pytest.fixture
def operator_process(
    kube_cluster: KubeCluster,
    trainingjob_crd: str,
    emulator: Emulator,
    namespace: str,
    tmp_path: Path,
) -> Iterator[OperatorProcess]:
    """The operator, watching only this test's namespace.

    The local control plane has no namespace controller, so resources of earlier tests
    stay in their namespaces; an operator watching everything would act on them too.
    """  # fmt: skip
    log = tmp_path / "operator.log"
    environment = {
        **os.environ,
        "KUBECONFIG": str(kube_cluster.kubeconfig),
        "AWS_ENDPOINT_URL_SAGEMAKER": emulator.endpoint_url,
        "AWS_ENDPOINT_URL_STS": emulator.endpoint_url,
        "AWS_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "operator",
        "AWS_SECRET_ACCESS_KEY": "operator",
        "SAGEMAKER_OPERATOR_POLL_INTERVAL": "1",
    }
    with log.open("wb") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "sagemaker_operator", "run", "--namespace", namespace],
            env=environment, stdout=output, stderr=subprocess.STDOUT,
        )  # fmt: skip
    running = OperatorProcess(process, log)
    yield running
    process.terminate()
    try:
        process.wait(20)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(10)
