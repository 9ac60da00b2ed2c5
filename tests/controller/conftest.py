"""The real operator process, against the local control plane and the emulator."""

from __future__ import annotations

import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

import pytest

from sagemaker_operator.testing import Emulator, KubeCluster, wait_until
from sagemaker_operator.testing.environment import operator_environment
from sagemaker_operator.testing.processes import log_tail

T = TypeVar("T")


class OperatorProcess:
    """`sagemaker-operator run` as a child process that a test can start, kill and restart."""

    def __init__(self, environment: dict[str, str], namespace: str, log: Path) -> None:
        self.environment = environment
        self.namespace = namespace
        self.log = log
        self.process: subprocess.Popen[bytes] | None = None
        self.start()

    def start(self) -> None:
        with self.log.open("ab") as output:
            self.process = subprocess.Popen(
                [sys.executable, "-X", "faulthandler", "-m", "sagemaker_operator", "run",
                 "--namespace", self.namespace],
                env=self.environment, stdout=output, stderr=subprocess.STDOUT,
            )  # fmt: skip

    def kill(self) -> None:
        """SIGKILL: no clean-up, no last status write, as in a node failure or OOM kill."""
        assert self.process is not None
        self.process.kill()
        self.process.wait(10)

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(10)

    def output(self) -> str:
        return log_tail(self.log, 200)

    def stacks(self) -> str:
        """Every thread's stack (faulthandler on SIGABRT): for a test that timed out."""
        if self.process is None or self.process.poll() is not None:
            return self.output()
        self.process.send_signal(signal.SIGABRT)
        self.process.wait(10)
        return log_tail(self.log, 400)

    def wait_ready(self, timeout: float = 60) -> None:
        """Until kopf has run the startup handler (AWS account known, tracker running)."""
        wait_until(self.guard(lambda: "Activity 'start' succeeded" in self.output()),
                   timeout=timeout, description=f"operator start\n{self.output()}")  # fmt: skip

    def guard(self, condition: Callable[[], T]) -> Callable[[], T]:
        """The condition, failing at once (with the operator's log) if the operator died."""

        def guarded() -> T:
            if self.process is not None and self.process.poll() is not None:
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
    # Tests create dozens of jobs at once; AWS-safe default rate limits would make them wait.
    environment = operator_environment(
        kube_cluster, emulator, poll_interval="1", create_rate="50", describe_rate="50"
    )
    running = OperatorProcess(environment, namespace, tmp_path / "operator.log")
    yield running
    running.stop()
