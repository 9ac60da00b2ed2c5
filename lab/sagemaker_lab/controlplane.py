"""A real Kubernetes control plane (etcd + kube-apiserver) on loopback, for tests and demos.

There is no kubelet, scheduler or controller-manager: objects are stored, validated,
admitted, watched and authorised exactly as in a real cluster, but no pod ever runs.
That is what an operator's tests need (the same idea as controller-runtime's envtest).
With ``node_ip`` the apiserver serves on that address instead, for pods to reach (see
``testing/node.py``, which adds the node).

    with LocalControlPlane() as control_plane:
        control_plane.cluster.kubectl("get", "namespaces")
"""

from __future__ import annotations

import base64
import shutil
import ssl
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

import kubernetes
import yaml
from kubernetes.client import ApiClient

from sagemaker_emulator.waiting import wait_until
from sagemaker_lab import processes
from sagemaker_lab.binaries import Binaries, ensure_binaries
from sagemaker_lab.pki import ControlPlanePKI, write_pki

_HOST = "127.0.0.1"
_SERVICE_CLUSTER_IP_RANGE = "10.96.0.0/16"
KUBERNETES_SERVICE_IP = "10.96.0.1"  # the first address of the range: the `kubernetes` Service


class ControlPlaneError(RuntimeError):
    """The control plane could not start; the message carries the failing process's log."""


class KubectlError(subprocess.CalledProcessError):
    """kubectl failed; the message carries what kubectl said."""

    def __str__(self) -> str:
        said = (self.stderr or self.stdout or "").strip()
        return f"{super().__str__()}: {said}"


@dataclass(frozen=True)
class KubeCluster:
    """Any Kubernetes API server reachable through a kubeconfig: local, kind, or real."""

    kubeconfig: Path
    kubectl_path: Path
    local: bool = False

    def kubectl(
        self, *args: str, input: str | None = None, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        """Run kubectl against this cluster; raises with kubectl's stderr when check fails."""
        # A local control plane's discovery cache lives with it: ports are reused, and a
        # cache left by an earlier cluster on the same port would describe other APIs.
        cache = [f"--cache-dir={self.kubeconfig.parent / 'kubectl-cache'}"] if self.local else []
        process = subprocess.run(
            [str(self.kubectl_path), f"--kubeconfig={self.kubeconfig}", *cache, *args],
            input=input,
            capture_output=True,
            text=True,
            check=False,
            timeout=120,
        )
        if check and process.returncode != 0:
            raise KubectlError(process.returncode, process.args, process.stdout, process.stderr)
        return process

    def wait_established(self, crd: str, timeout: float = 60.0) -> None:
        """Wait until the CRD named ``crd`` is Established. Polled, not `kubectl wait`: that
        fails at once while a CRD just applied has no conditions yet."""
        established = "jsonpath={.status.conditions[?(@.type=='Established')].status}"
        wait_until(lambda: self.kubectl("get", "crd", crd, "-o", established,
                                        check=False).stdout.strip() == "True",
                   timeout=timeout, interval=0.2, description=f"CRD {crd} Established")  # fmt: skip

    def api_client(self) -> ApiClient:
        """A kubernetes-client ApiClient configured from this cluster's kubeconfig."""
        client: ApiClient = kubernetes.config.new_client_from_config(  # type: ignore[no-untyped-call]
            config_file=str(self.kubeconfig)
        )
        return client


@dataclass
class LocalControlPlane:
    """etcd and kube-apiserver as child processes on free loopback ports.

    Authentication: a client certificate for user ``admin`` in group ``system:masters``,
    written into the kubeconfig. Authorization: RBAC. Service-account tokens are signed
    with a key generated at start. All state lives in ``state_dir`` (a temporary folder
    removed on stop unless one is given).
    """

    state_dir: Path | None = None
    etcd_port: int | None = None
    apiserver_port: int | None = None
    binaries: Binaries | None = None
    startup_timeout: float = 90.0
    extra_apiserver_flags: list[str] = field(default_factory=list)
    # Node mode: serve on this address (one pods reach), advertise it as the `kubernetes`
    # Service's endpoint, and let the apiserver reach kubelets. None: loopback only.
    node_ip: str | None = None

    _processes: list[tuple[str, subprocess.Popen[bytes]]] = field(default_factory=list, init=False)
    _owns_state_dir: bool = field(default=False, init=False)
    _cluster: KubeCluster | None = field(default=None, init=False)
    _apiserver_command: list[str] = field(default_factory=list, init=False)
    pki: ControlPlanePKI | None = field(default=None, init=False)

    @property
    def cluster(self) -> KubeCluster:
        if self._cluster is None:
            raise ControlPlaneError("the control plane is not running; call start() first")
        return self._cluster

    @property
    def host(self) -> str:
        return self.node_ip or _HOST

    @property
    def server(self) -> str:
        return f"https://{self.host}:{self.apiserver_port}"

    @property
    def pids(self) -> list[int]:
        return [process.pid for _, process in self._processes]

    def start(self) -> KubeCluster:
        if self._processes:
            return self.cluster
        binaries = self.binaries or ensure_binaries()
        self.binaries = binaries
        if self.state_dir is None:
            self.state_dir = Path(tempfile.mkdtemp(prefix="sagemaker-operator-cp-"))
            self._owns_state_dir = True
        self.state_dir.mkdir(parents=True, exist_ok=True)
        try:
            self._start(binaries, self.state_dir)
        except BaseException:
            self.stop()
            raise
        return self.cluster

    def _start(self, binaries: Binaries, state: Path) -> None:
        self.etcd_port, peer_port, self.apiserver_port = self._choose_ports()
        addresses = (self.node_ip, KUBERNETES_SERVICE_IP) if self.node_ip else ()
        pki = self.pki = write_pki(state / "pki", addresses)
        etcd_url = f"http://{_HOST}:{self.etcd_port}"
        peer_url = f"http://{_HOST}:{peer_port}"
        etcd = [
            str(binaries.etcd),
            f"--data-dir={state / 'etcd-data'}",
            f"--listen-client-urls={etcd_url}",
            f"--advertise-client-urls={etcd_url}",
            f"--listen-peer-urls={peer_url}",
            f"--initial-advertise-peer-urls={peer_url}",
            f"--initial-cluster=default={peer_url}",
            "--unsafe-no-fsync",  # throw-away data: durability costs seconds per run
            "--log-level=warn",
        ]
        self._run("etcd", etcd, state / "etcd.log", f"{etcd_url}/health", None)

        if self.node_ip:
            node_flags = [
                # The apiserver calls kubelets (logs, exec) as admin, at their node IP.
                f"--kubelet-client-certificate={pki.admin_cert}",
                f"--kubelet-client-key={pki.admin_key}",
                "--kubelet-preferred-address-types=InternalIP",
            ]
        else:
            # No node here: nothing may point the kubernetes Service at a loopback
            # address, so the apiserver must not try to.
            node_flags = ["--endpoint-reconciler-type=none"]
        self._apiserver_command = [
            str(binaries.kube_apiserver),
            f"--etcd-servers={etcd_url}",
            f"--bind-address={self.host}",
            f"--advertise-address={self.host}",
            f"--secure-port={self.apiserver_port}",
            f"--tls-cert-file={pki.serving_cert}",
            f"--tls-private-key-file={pki.serving_key}",
            f"--client-ca-file={pki.ca_cert}",
            "--authorization-mode=RBAC",
            f"--service-account-issuer=https://{self.host}:{self.apiserver_port}",
            f"--service-account-key-file={pki.service_account_public_key}",
            f"--service-account-signing-key-file={pki.service_account_key}",
            f"--service-cluster-ip-range={_SERVICE_CLUSTER_IP_RANGE}",
            "--allow-privileged=true",
            *node_flags,
            "--v=1",
            *self.extra_apiserver_flags,
        ]
        self.start_apiserver()

        kubeconfig = state / "kubeconfig"
        write_kubeconfig(kubeconfig, self.server, pki)
        self._cluster = KubeCluster(kubeconfig, binaries.kubectl, local=True)

    def stop_apiserver(self) -> None:
        """Stop kube-apiserver alone (an outage); etcd and its data stay."""
        for entry in [entry for entry in self._processes if entry[0] == "kube-apiserver"]:
            processes.terminate(entry[1])
            self._processes.remove(entry)

    def start_apiserver(self) -> None:
        """Start kube-apiserver (again, after stop_apiserver) on the same port and etcd."""
        assert self.state_dir is not None
        assert self.pki is not None
        self._run(
            "kube-apiserver", self._apiserver_command, self.state_dir / "kube-apiserver.log",
            f"{self.server}/readyz", _client_ssl_context(self.pki),
        )  # fmt: skip

    def _run(
        self, name: str, command: list[str], log: Path, ready_url: str,
        context: ssl.SSLContext | None,
    ) -> None:  # fmt: skip
        """Start one process and wait until ready_url answers 200, or say why not."""
        process = processes.spawn(command, log)
        self._processes.append((name, process))
        deadline = time.monotonic() + self.startup_timeout
        last_error = "no answer yet"
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise ControlPlaneError(
                    f"{name} exited with code {process.returncode} during start-up; "
                    f"last lines of {log}:\n{processes.log_tail(log)}"
                )
            try:
                with urllib.request.urlopen(ready_url, timeout=2, context=context) as answer:  # noqa: S310
                    if answer.status == 200:
                        return
            except (urllib.error.URLError, OSError) as error:
                last_error = str(error)
            time.sleep(0.1)
        raise ControlPlaneError(
            f"{name} was not ready at {ready_url} within {self.startup_timeout:.0f} s "
            f"({last_error}); last lines of {log}:\n{processes.log_tail(log)}"
        )

    def _choose_ports(self) -> tuple[int, int, int]:
        for port, what in ((self.etcd_port, "etcd"), (self.apiserver_port, "kube-apiserver")):
            if port is not None:
                processes.ensure_port_free(port, _HOST, what=what)
        chosen: set[int] = set()

        def pick(requested: int | None) -> int:
            port = requested or processes.free_port(_HOST)
            while port in chosen:
                port = processes.free_port(_HOST)
            chosen.add(port)
            return port

        return pick(self.etcd_port), pick(None), pick(self.apiserver_port)

    def stop(self) -> None:
        """Stop kube-apiserver, then etcd; remove the state folder if we made it."""
        for _, process in reversed(self._processes):
            processes.terminate(process)
        self._processes.clear()
        self._cluster = None
        if self._owns_state_dir and self.state_dir is not None:
            shutil.rmtree(self.state_dir, ignore_errors=True)
            self.state_dir = None
            self._owns_state_dir = False

    def __enter__(self) -> LocalControlPlane:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()


def write_kubeconfig(path: Path, server: str, pki: ControlPlanePKI) -> None:
    def data(file: Path) -> str:
        return base64.b64encode(file.read_bytes()).decode()

    config: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {
                "name": "sagemaker-operator-local",
                "cluster": {"server": server, "certificate-authority-data": data(pki.ca_cert)},
            }
        ],
        "users": [
            {
                "name": "admin",
                "user": {
                    "client-certificate-data": data(pki.admin_cert),
                    "client-key-data": data(pki.admin_key),
                },
            }
        ],
        "contexts": [
            {
                "name": "sagemaker-operator-local",
                "context": {"cluster": "sagemaker-operator-local", "user": "admin"},
            }
        ],
        "current-context": "sagemaker-operator-local",
    }
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    path.chmod(0o600)


def _client_ssl_context(pki: ControlPlanePKI) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=str(pki.ca_cert))
    context.load_cert_chain(str(pki.admin_cert), str(pki.admin_key))
    return context
