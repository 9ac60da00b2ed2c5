"""A connection to the apiserver that goes silent (bytes stop, no reset), against the
operator as a local process: the tracker keeps ticking on new connections, SIGTERM exits
within a pod's grace period, and a tracker that does get stuck fails liveness.

The proxy freezes every connection open at that moment; connections made afterwards work,
as after a NAT entry or a load balancer drops a connection without telling either end.
(In the node suite: each test waits out kopf's 70 s watch inactivity timeout or the 60 s
liveness limit. The same fault against the Helm-installed pod is in test_helm.py.)
"""

from __future__ import annotations

import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from sagemaker_lab import Emulator, EmulatorControl, KubeCluster, wait_until
from sagemaker_lab.operator import OperatorProcess, operator_environment
from sagemaker_lab.processes import free_port
from sagemaker_lab.proxy import FreezingProxy
from tests.controller.test_metrics import scrape
from tests.kube import apply_jobs, job_statuses

pytestmark = [pytest.mark.node, pytest.mark.cluster, pytest.mark.local_only]

GRACE_PERIOD = 30  # seconds: the chart's terminationGracePeriodSeconds


@pytest.fixture
def proxy(kube_cluster: KubeCluster) -> Iterator[FreezingProxy]:
    server = yaml.safe_load(kube_cluster.kubeconfig.read_text())["clusters"][0]["cluster"]
    host, port = server["server"].removeprefix("https://").rsplit(":", 1)
    with FreezingProxy((host, int(port))) as running:
        yield running


def through(proxy: FreezingProxy, kube_cluster: KubeCluster, folder: Path) -> KubeCluster:
    """The same cluster, dialled through the proxy (the certificate is valid for 127.0.0.1)."""
    config = yaml.safe_load(kube_cluster.kubeconfig.read_text())
    config["clusters"][0]["cluster"]["server"] = f"https://127.0.0.1:{proxy.port}"
    path = folder / "kubeconfig-through-proxy"
    path.write_text(yaml.safe_dump(config))
    return KubeCluster(path, kube_cluster.kubectl_path)


def start_operator(
    kube_cluster: KubeCluster, emulator: Emulator, namespace: str, log: Path, **settings: str
) -> tuple[OperatorProcess, int, int]:
    probe, metrics = free_port(), free_port()
    environment = operator_environment(
        kube_cluster, emulator, poll_interval="1", create_rate="50", describe_rate="50",
        probe_port=str(probe), metrics_port=str(metrics), **settings,
    )  # fmt: skip
    operator = OperatorProcess(environment, namespace, log)
    operator.start()
    operator.wait_ready()
    return operator, probe, metrics


def healthz(port: int) -> int:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5) as answer:
            return int(answer.status)
    except urllib.error.HTTPError as error:
        return error.code


def statuses(kube_cluster: KubeCluster, namespace: str) -> set[str | None]:
    return set(job_statuses(kube_cluster, namespace).values())


def test_tracking_goes_on_and_sigterm_exits_while_every_connection_is_silent(
    kube_cluster: KubeCluster, trainingjob_crd: str, emulator: Emulator, namespace: str,
    proxy: FreezingProxy, tmp_path: Path,
) -> None:  # fmt: skip
    EmulatorControl(emulator.endpoint_url).set_profile("fast", {"Training": 10})
    operator, probe, metrics = start_operator(
        through(proxy, kube_cluster, tmp_path), emulator, namespace, tmp_path / "operator.log",
        kubernetes_timeout="5")  # fmt: skip
    try:
        apply_jobs(kube_cluster, namespace, [f"silent-{n}" for n in range(5)])
        wait_until(operator.guard(lambda: statuses(kube_cluster, namespace) == {"InProgress"}),
                   timeout=60, interval=0.5, description="every job InProgress")  # fmt: skip
        assert proxy.freeze() > 0

        # The jobs end while every old connection is silent: their writes time out after 5 s
        # and are made again on new connections.
        wait_until(operator.guard(lambda: statuses(kube_cluster, namespace) == {"Completed"}),
                   timeout=90, interval=1, description="every job Completed after the freeze",
                   diagnose=operator.output)  # fmt: skip
        ticks = scrape(f"http://127.0.0.1:{metrics}/metrics")[
            "sagemaker_operator_tracker_last_tick_timestamp_seconds"
        ][()]
        assert time.time() - ticks < 10
        assert healthz(probe) == 200

        # SIGTERM while connections are silent again: out within a pod's grace period.
        proxy.freeze()
        assert operator.process is not None
        stopping = time.monotonic()
        operator.process.terminate()
        exit_code = operator.process.wait(GRACE_PERIOD + 10)
        took = time.monotonic() - stopping
        assert exit_code == 0, operator.output()
        print(f"exited {took:.1f} s after SIGTERM")
        assert took < GRACE_PERIOD, operator.output()
    finally:
        operator.stop()


def test_a_tracker_stuck_in_a_call_fails_liveness(
    kube_cluster: KubeCluster, trainingjob_crd: str, emulator: Emulator, namespace: str,
    proxy: FreezingProxy, tmp_path: Path,
) -> None:  # fmt: skip
    """With a deadline longer than the liveness limit (the old operator had none), a status
    write blocked on a silent connection holds the writer queue (the tracker's ticks go on
    while writes wait): /healthz must say so."""
    # Training lasts long enough that the freeze comes first on a busy machine (with 5 s, a
    # clean-clone run froze only after the job's end was written, and nothing was stuck).
    EmulatorControl(emulator.endpoint_url).set_profile("fast", {"Training": 15})
    operator, probe, _ = start_operator(
        through(proxy, kube_cluster, tmp_path), emulator, namespace, tmp_path / "operator.log",
        kubernetes_timeout="600")  # fmt: skip
    try:
        apply_jobs(kube_cluster, namespace, ["stuck"])
        wait_until(operator.guard(lambda: statuses(kube_cluster, namespace) == {"InProgress"}),
                   timeout=60, interval=0.5, description="the job InProgress")  # fmt: skip
        assert healthz(probe) == 200
        # Every connection silent, those opened later too: the client's pool may hold none
        # open when the end is written (a CI run wrote it on a new one: nothing was stuck).
        proxy.freeze(new_too=True)
        assert statuses(kube_cluster, namespace) == {"InProgress"}, "froze after the end"
        wait_until(operator.guard(lambda: healthz(probe) == 500), timeout=150, interval=2,
                   description="liveness failing", diagnose=operator.output)  # fmt: skip
        assert "no status write has finished" in operator.output()
        assert "a write is stuck" in operator.output()
    finally:
        operator.stop()
