"""The real operator as a child process, pointed at a local cluster and the emulator.

The demo and the controller tests both run it this way.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from types import TracebackType
from typing import TypeVar

from sagemaker_emulator import DEFAULT_REGION, Emulator
from sagemaker_emulator.waiting import wait_until
from sagemaker_lab.controlplane import KubeCluster
from sagemaker_lab.processes import log_tail


def operator_environment(
    cluster: KubeCluster, emulator: Emulator, **settings: str
) -> dict[str, str]:
    """os.environ plus what `sagemaker-operator run` needs here; ``settings`` become
    ``SAGEMAKER_OPERATOR_<NAME>`` variables (poll_interval="1" → ..._POLL_INTERVAL=1)."""
    return {
        **os.environ,
        "KUBECONFIG": str(cluster.kubeconfig),
        "AWS_ENDPOINT_URL_SAGEMAKER": emulator.endpoint_url,
        "AWS_ENDPOINT_URL_STS": emulator.endpoint_url,
        "AWS_ENDPOINT_URL_SQS": emulator.endpoint_url,
        "AWS_REGION": DEFAULT_REGION,
        "AWS_ACCESS_KEY_ID": "emulator",
        "AWS_SECRET_ACCESS_KEY": "emulator",  # the emulator checks no signature
        **{f"SAGEMAKER_OPERATOR_{name.upper()}": value for name, value in settings.items()},
    }


T = TypeVar("T")


class OperatorProcess:
    """`sagemaker-operator run` watching a namespace (or a few): start, kill, restart, stop.

    Output goes to ``log``; with faulthandler on, ``stacks()`` dumps every thread.
    """

    def __init__(
        self, environment: dict[str, str], namespace: str, log: Path, *, also: Sequence[str] = ()
    ) -> None:
        self.environment = environment
        self.namespace = namespace
        self.namespaces = [namespace, *also]  # ``also``: further namespaces it watches
        self.log = log
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log.open("ab") as output:
            self.process = subprocess.Popen(
                [sys.executable, "-X", "faulthandler", "-m", "sagemaker_operator", "run",
                 *(flag for name in self.namespaces for flag in ("--namespace", name))],
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

    def __enter__(self) -> OperatorProcess:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()
