"""A node for the local control plane: containerd, kubelet, kube-proxy, the scheduler and the
controller-manager, so what users run as a pod is tested as a pod (what kind gives, built
here from real components, since kind's node image cannot be pulled).

    prepare_bridge()  # the node IP must exist before the apiserver binds to it
    with LocalControlPlane(node_ip=NODE_IP) as control_plane, LocalNode(control_plane) as node:
        node.import_images(["localhost/sagemaker-operator:dev"])
        control_plane.cluster.kubectl("run", ...)

Everything the node makes is its own and goes with ``stop()``: containerd has its own root
and state under the state folder and its socket in ``/run/sagemaker-operator/<hash>``
(``socket_dir``); pods live on the bridge ``smop0`` (10.244.0.0/24,
the node IP 10.244.0.1 on it, where the apiserver serves); kube-proxy's iptables rules are
removed with ``kube-proxy --cleanup``; the kubelet's cgroups (``kubepods``) are removed.
``leftovers()`` says what, if anything, is still there.

This machine kind's quirks (``shared/reference/node.md``) are handled, not assumed:
cgroup v1 needs the kubelet's ``failCgroupV1: false``; without CAP_SYS_RESOURCE the pause
container's oom_score_adj is refused unless containerd restricts it; the pause image is
built (testing/pause), not pulled. ``preflight()`` turns what the machine lacks into one
clear error.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import shutil
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any, Literal

import yaml

from sagemaker_emulator import DEFAULT_ACCOUNT_ID, DEFAULT_REGION
from sagemaker_emulator.waiting import wait_until
from sagemaker_lab import images, processes
from sagemaker_lab.binaries import NodeBinaries, ensure_node_binaries
from sagemaker_lab.controlplane import LocalControlPlane

logger = logging.getLogger(__name__)

NODE_NAME = "local-node"
NODE_IP = "10.244.0.1"
POD_SUBNET = "10.244.0.0/24"
SERVICE_SUBNET = "10.96.0.0/16"
BRIDGE = "smop0"
CNI_PLUGINS = (Path("/usr/lib/cni"), Path("/opt/cni/bin"))
_CAP_SYS_RESOURCE = 24
_CHAIN_PREFIXES = ("KUBE-", "CNI-")


class NodeError(RuntimeError):
    """The node cannot start here, or did not; the message says why and what to do."""


@dataclass(frozen=True)
class MachineFacts:
    """What a node needs from the machine, as found (``machine_facts()``)."""

    root: bool
    cgroup: Literal["v1", "v2", "none"]
    cap_sys_resource: bool
    podman: bool
    containerd: bool
    runc: bool
    cni_plugins: bool
    iptables: bool


@dataclass(frozen=True)
class NodePlan:
    """How the node is set up on a machine with these facts."""

    fail_cgroup_v1: bool  # the kubelet's failCgroupV1
    restrict_oom_score_adj: bool  # containerd CRI's restrict_oom_score_adj
    notes: tuple[str, ...] = ()


def preflight(facts: MachineFacts) -> NodePlan:
    """The plan for this machine, or a NodeError that names everything it lacks."""
    missing = []
    if not facts.root:
        missing.append("root: containerd, the kubelet and kube-proxy need it (run as root)")
    if facts.cgroup == "none":
        missing.append("a cgroup file system at /sys/fs/cgroup (the kubelet needs cgroups)")
    for present, what in (
        (facts.podman, "podman (apt-get install podman): the node's images are built with it"),
        (facts.containerd, "containerd (apt-get install containerd)"),
        (facts.runc, "runc (apt-get install runc)"),
        (facts.cni_plugins, "the CNI plugins bridge and host-local in /usr/lib/cni or "
                            "/opt/cni/bin (apt-get install containernetworking-plugins)"),
        (facts.iptables, "iptables (apt-get install iptables): kube-proxy programs it"),
    ):  # fmt: skip
        if not present:
            missing.append(what)
    if missing:
        raise NodeError("cannot start a node on this machine; it lacks:\n  - "
                        + "\n  - ".join(missing))  # fmt: skip
    notes = []
    if facts.cgroup == "v1":
        notes.append("cgroup v1: the kubelet runs with failCgroupV1: false (deprecated by "
                     "Kubernetes; a cgroup v2 machine needs nothing)")  # fmt: skip
    if not facts.cap_sys_resource:
        notes.append("no CAP_SYS_RESOURCE: containerd restricts oom_score_adj, or the pause "
                     "container's -998 is refused and no pod sandbox starts")  # fmt: skip
    return NodePlan(
        fail_cgroup_v1=facts.cgroup != "v1",
        restrict_oom_score_adj=not facts.cap_sys_resource,
        notes=tuple(notes),
    )


def machine_facts() -> MachineFacts:
    """Look at this machine."""
    if Path("/sys/fs/cgroup/cgroup.controllers").exists():
        cgroup: Literal["v1", "v2", "none"] = "v2"
    elif any(Path("/sys/fs/cgroup").glob("*/tasks")):
        cgroup = "v1"
    else:
        cgroup = "none"
    effective = 0
    with contextlib.suppress(OSError):
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("CapEff:"):
                effective = int(line.split()[1], 16)
    return MachineFacts(
        root=os.geteuid() == 0,
        cgroup=cgroup,
        cap_sys_resource=bool(effective >> _CAP_SYS_RESOURCE & 1),
        podman=shutil.which("podman") is not None,
        containerd=shutil.which("containerd") is not None and shutil.which("ctr") is not None,
        runc=shutil.which("runc") is not None,
        cni_plugins=any(
            (folder / "bridge").exists() and (folder / "host-local").exists()
            for folder in CNI_PLUGINS
        ),
        iptables=shutil.which("iptables") is not None,
    )


def _cni_bin_dir() -> Path:
    return next(folder for folder in CNI_PLUGINS if (folder / "bridge").exists())


@dataclass
class LocalNode:
    """One node joined to a LocalControlPlane started with ``node_ip=NODE_IP``."""

    control_plane: LocalControlPlane
    binaries: NodeBinaries | None = None
    ready_timeout: float = 120.0
    plan: NodePlan | None = None

    _processes: list[tuple[str, subprocess.Popen[bytes]]] = field(default_factory=list, init=False)
    state: Path = field(default=Path(), init=False)

    @property
    def containerd_socket(self) -> Path:
        return socket_dir(self.state) / "containerd.sock"

    def start(self) -> None:
        if self.control_plane.node_ip != NODE_IP or self.control_plane.state_dir is None:
            raise NodeError(f"the control plane must run with node_ip={NODE_IP!r}")
        self.plan = preflight(machine_facts())
        for note in self.plan.notes:
            logger.info("node: %s", note)
        self.binaries = self.binaries or ensure_node_binaries()
        self.state = self.control_plane.state_dir / "node"
        self.state.mkdir(parents=True, exist_ok=True)
        try:
            self._start(self.binaries, self.plan)
        except BaseException:
            self.stop()
            raise

    def _start(self, binaries: NodeBinaries, plan: NodePlan) -> None:
        started = time.monotonic()
        kubeconfig = self.control_plane.cluster.kubeconfig
        pki = self.control_plane.pki
        assert pki is not None
        self._containerd(plan)
        self.import_images([images.ensure_pause_image(binaries.pause)])
        self._spawn("kube-controller-manager", [
            str(binaries.kube_controller_manager), f"--kubeconfig={kubeconfig}",
            f"--service-account-private-key-file={pki.service_account_key}",
            f"--root-ca-file={pki.ca_cert}", "--leader-elect=false", "--secure-port=0",
            "--v=1",
        ])  # fmt: skip
        self._spawn("kube-scheduler", [str(binaries.kube_scheduler), f"--kubeconfig={kubeconfig}",
                    "--leader-elect=false", "--secure-port=0", "--v=1"])  # fmt: skip
        kubelet_config = self.state / "kubelet.yaml"
        kubelet_config.write_text(yaml.safe_dump(self._kubelet_config(plan, pki.ca_cert)))
        self._spawn("kubelet", [
            str(binaries.kubelet), f"--config={kubelet_config}", f"--kubeconfig={kubeconfig}",
            # Its sockets (pod-resources/<n>) too must fit a unix socket path's 107 bytes.
            f"--root-dir={socket_dir(self.state) / 'kubelet'}",
            f"--cert-dir={self.state / 'kubelet-pki'}",
            f"--hostname-override={NODE_NAME}", f"--node-ip={NODE_IP}", "--v=1",
        ])  # fmt: skip
        proxy_config = self.state / "kube-proxy.yaml"
        proxy_config.write_text(yaml.safe_dump({
            "apiVersion": "kubeproxy.config.k8s.io/v1alpha1",
            "kind": "KubeProxyConfiguration",
            "clientConnection": {"kubeconfig": str(kubeconfig)},
            "mode": "iptables",
            "clusterCIDR": POD_SUBNET,
            "hostnameOverride": NODE_NAME,
            "bindAddress": NODE_IP,
            "healthzBindAddress": f"127.0.0.1:{processes.free_port()}",
            "metricsBindAddress": f"127.0.0.1:{processes.free_port()}",
            "conntrack": {"maxPerCore": 0},  # leave the machine's conntrack sysctls alone
            "iptables": {"localhostNodePorts": False},  # nor route_localnet
        }))  # fmt: skip
        self._spawn("kube-proxy", [str(binaries.kube_proxy), f"--config={proxy_config}",
                                   "--v=1"])  # fmt: skip
        wait_until(self._ready, timeout=self.ready_timeout, interval=0.5,
                   description=f"node {NODE_NAME} Ready", diagnose=self._diagnose)  # fmt: skip
        logger.info("node %s Ready in %.1f s", NODE_NAME, time.monotonic() - started)

    def _containerd(self, plan: NodePlan) -> None:
        root = self.state / "containerd"
        (root / "cni").mkdir(parents=True, exist_ok=True)
        socket_dir(self.state).mkdir(parents=True, exist_ok=True)
        (root / "cni" / "10-bridge.conflist").write_text(json.dumps({
            "cniVersion": "0.4.0",
            "name": "sagemaker-operator-node",
            "plugins": [{
                "type": "bridge", "bridge": BRIDGE, "isDefaultGateway": True, "ipMasq": False,
                "hairpinMode": True,
                "ipam": {"type": "host-local", "dataDir": str(root / "ipam"),
                         "ranges": [[{"subnet": POD_SUBNET, "gateway": NODE_IP}]]},
            }],
        }, indent=2))  # fmt: skip
        cri = 'plugins."io.containerd.grpc.v1.cri"'
        config = root / "config.toml"
        config.write_text(f"""# Written by sagemaker-operator (testing/node.py): all under {root}.
version = 2
root = "{root / "root"}"
state = "{root / "state"}"
disabled_plugins = ["io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs",
                    "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.aufs"]
[grpc]
  address = "{self.containerd_socket}"
[plugins."io.containerd.internal.v1.opt"]
  path = "{root / "opt"}"
[{cri}]
  sandbox_image = "{images.PAUSE_IMAGE}"
  restrict_oom_score_adj = {str(plan.restrict_oom_score_adj).lower()}
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  [{cri}.cni]
    bin_dir = "{_cni_bin_dir()}"
    conf_dir = "{root / "cni"}"
  [{cri}.registry]
    config_path = "{self.registries}"
  [{cri}.containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [{cri}.containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
""")
        self._spawn("containerd", ["containerd", f"--config={config}", "--log-level=warn"])
        wait_until(lambda: self._ctr("version", check=False).returncode == 0, timeout=30,
                   interval=0.2, description="containerd to answer")  # fmt: skip

    def _kubelet_config(self, plan: NodePlan, ca: Path) -> dict[str, object]:
        return {
            "apiVersion": "kubelet.config.k8s.io/v1beta1",
            "kind": "KubeletConfiguration",
            "failCgroupV1": plan.fail_cgroup_v1,
            "cgroupDriver": "cgroupfs",
            "containerRuntimeEndpoint": f"unix://{self.containerd_socket}",
            "address": NODE_IP,
            "port": processes.free_port(NODE_IP),
            "readOnlyPort": 0,
            "healthzBindAddress": "127.0.0.1",
            "healthzPort": processes.free_port(),
            "authentication": {
                "anonymous": {"enabled": False},
                "webhook": {"enabled": False},
                "x509": {"clientCAFile": str(ca)},
            },
            "authorization": {"mode": "AlwaysAllow"},  # only the apiserver's client cert gets in
            "failSwapOn": False,
            "podLogsDir": str(self.state / "pod-logs"),
            "resolvConf": "/etc/resolv.conf",
            # Imported images are the only copies (no registry): never garbage-collect them.
            "imageGCHighThresholdPercent": 100,
            "imageGCLowThresholdPercent": 99,
            "evictionHard": {
                "memory.available": "100Mi",
                "nodefs.available": "1%",
                "imagefs.available": "1%",
            },
            "serializeImagePulls": False,
        }

    @property
    def registries(self) -> Path:
        """containerd's hosts.toml folder (one subfolder per registry host)."""
        return self.state / "containerd" / "certs.d"

    def trust_plain_http_registry(self, host: str) -> None:
        """Let the node pull from ``host`` (``127.0.0.1:PORT``) over plain HTTP, as a
        registry on loopback speaks; containerd reads this on every pull."""
        folder = self.registries / host
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "hosts.toml").write_text(
            f'server = "http://{host}"\n\n[host."http://{host}"]\n'
            '  capabilities = ["pull", "resolve"]\n'
        )

    def import_images(self, tags: list[str]) -> None:
        images.import_into_containerd(tags, "ctr", self.containerd_socket)

    def _ctr(self, *arguments: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return subprocess.run(["ctr", f"--address={self.containerd_socket}", *arguments],
                              capture_output=True, text=True, check=check, timeout=60)  # fmt: skip

    def _spawn(self, name: str, command: list[str]) -> None:
        log = self.state / "logs" / f"{name}.log"
        process = processes.spawn(command, log)
        self._processes.append((name, process))

    def _ready(self) -> bool:
        for name, process in self._processes:
            if process.poll() is not None:
                log = self.state / "logs" / f"{name}.log"
                raise NodeError(f"{name} exited with code {process.returncode}; last lines of "
                                f"{log}:\n{processes.log_tail(log)}")  # fmt: skip
        found = self.control_plane.cluster.kubectl(
            "get", "node", NODE_NAME, "-o",
            "jsonpath={.status.conditions[?(@.type=='Ready')].status}", check=False,
        )  # fmt: skip
        return found.stdout.strip() == "True"

    def _diagnose(self) -> str:
        logs = self.state / "logs"
        return "\n".join(f"--- {name}:\n{processes.log_tail(logs / f'{name}.log', 8)}"
                         for name, _ in self._processes)  # fmt: skip

    def logs(self, name: str) -> str:
        return processes.log_tail(self.state / "logs" / f"{name}.log", 200)

    def stop(self) -> None:
        """Stop everything and remove what it made: pods, processes, mounts, the bridge,
        iptables chains, cgroups."""
        running = dict(self._processes)
        if "kubelet" in running:  # first, or it would start the pods again
            processes.terminate(running.pop("kubelet"), grace_seconds=15)
        if "containerd" in running and self.binaries is not None:
            # Every pod sandbox removed through CRI: containerd stops its containers and
            # tears down its network namespace and mounts itself.
            endpoint = f"--runtime-endpoint=unix://{self.containerd_socket}"
            subprocess.run([str(self.binaries.crictl), endpoint, "--timeout=30s", "rmp",
                            "--all", "--force"], capture_output=True, check=False,
                           timeout=120)  # fmt: skip
        for name in ("kube-proxy", "kube-scheduler", "kube-controller-manager", "containerd"):
            if name in running:
                processes.terminate(running.pop(name), grace_seconds=15)
        self._processes.clear()
        if self.binaries is not None:
            subprocess.run([str(self.binaries.kube_proxy), "--cleanup"], capture_output=True,
                           check=False, timeout=60)  # fmt: skip
        if self.state != Path():
            self._kill_shims()
            _unmount_under(self.state)
            _unmount_under(socket_dir(self.state))
            shutil.rmtree(socket_dir(self.state), ignore_errors=True)
        _remove_chains()
        subprocess.run(["ip", "link", "delete", BRIDGE], capture_output=True, check=False,
                       timeout=30)  # fmt: skip
        _remove_cgroups("kubepods")

    def _kill_shims(self) -> None:
        """containerd's shims outlive it by design; ours (by their -address) go too."""
        for pid in _pids_with_argument(str(self.containerd_socket)):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, 9)

    def leftovers(self) -> list[str]:
        return leftovers(self.state)

    def __enter__(self) -> LocalNode:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()


def socket_dir(state: Path) -> Path:
    """Where containerd's sockets and the kubelet's root go: a unix socket path has at most
    107 bytes, which a state folder under pytest's tmp_path exceeds (the kubelet's
    pod-resources socket did once pytest's folder counter reached three digits), so a
    short folder named by its hash."""
    digest = hashlib.sha256(str(state.resolve()).encode()).hexdigest()[:12]
    return Path("/run/sagemaker-operator") / digest


def chart_values(image: str, emulator_url: str, namespace: str, **more: Any) -> dict[str, Any]:
    """Values of the chart for the operator on this node: ``image`` (imported into the node,
    never pulled), the emulator at ``emulator_url`` as SageMaker, ``namespace`` only, 1 s
    polling; ``more`` merged in (dicts merged by key, anything else replaced)."""
    repository, tag = image.rsplit(":", 1)
    values: dict[str, Any] = {
        "image": {"repository": repository, "tag": tag, "pullPolicy": "Never"},
        "aws": {"region": DEFAULT_REGION},
        "operator": {"endpointUrl": emulator_url, "accountId": DEFAULT_ACCOUNT_ID,
                     "watchNamespaces": [namespace], "pollInterval": 1,
                     "extraEnv": [{"name": "AWS_ACCESS_KEY_ID", "value": "emulator"},
                                  {"name": "AWS_SECRET_ACCESS_KEY", "value": "emulator"}]},
    }  # fmt: skip
    return merge_values(values, more)


def merge_values(base: dict[str, Any], more: dict[str, Any]) -> dict[str, Any]:
    for key, value in more.items():
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            base[key] = merge_values(dict(base[key]), value)
        else:
            base[key] = value
    return base


def leftovers(state: Path) -> list[str]:
    """What of the node whose state folder is ``state`` is still on the machine (empty
    after a clean stop)."""
    found = [f"process {pid}" for place in (state, socket_dir(state))
             for pid in _pids_with_argument(str(place))]  # fmt: skip
    if socket_dir(state).exists():
        found.append(f"folder {socket_dir(state)}")
    found += [f"mount {mount}" for place in (state, socket_dir(state))
              for mount in _mounts_under(place)]  # fmt: skip
    if Path(f"/sys/class/net/{BRIDGE}").exists():
        found.append(f"bridge {BRIDGE}")
    found += [f"iptables chain {chain}" for chain in _chains()]
    found += [f"cgroup {path}" for path in _cgroups("kubepods")]
    return found


def prepare_bridge() -> None:
    """The pods' bridge with the node IP, made before the apiserver starts (it serves on
    that address); the CNI bridge plugin finds and uses it. Host → Service traffic routes
    over it too."""
    if not Path(f"/sys/class/net/{BRIDGE}").exists():
        _ip("link", "add", BRIDGE, "type", "bridge")
    _ip("addr", "replace", f"{NODE_IP}/24", "dev", BRIDGE)
    _ip("link", "set", BRIDGE, "up")
    _ip("route", "replace", SERVICE_SUBNET, "dev", BRIDGE, "src", NODE_IP)


def _ip(*arguments: str) -> None:
    process = subprocess.run(["ip", *arguments], capture_output=True, text=True, check=False,
                             timeout=30)  # fmt: skip
    if process.returncode != 0:
        raise NodeError(f"`ip {' '.join(arguments)}` failed: {process.stderr.strip()}")


def _pids_with_argument(text: str) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and int(entry.name) != os.getpid():
            with contextlib.suppress(OSError):
                if text in (entry / "cmdline").read_bytes().decode(errors="replace"):
                    found.append(int(entry.name))
    return found


def _mounts_under(folder: Path) -> list[str]:
    prefix = str(folder.resolve()) + "/"
    mounts = []
    with contextlib.suppress(OSError):
        for line in Path("/proc/self/mountinfo").read_text().splitlines():
            point = line.split()[4].replace("\\040", " ")
            if point.startswith(prefix):
                mounts.append(point)
    return mounts


def _unmount_under(folder: Path) -> None:
    for point in sorted(_mounts_under(folder), key=len, reverse=True):
        subprocess.run(["umount", "--lazy", point], capture_output=True, check=False, timeout=30)


def _chains() -> list[str]:
    found = []
    for binary in ("iptables", "ip6tables"):
        for table in ("filter", "nat", "mangle"):
            listing = subprocess.run([binary, "-w", "-t", table, "-S"], capture_output=True,
                                     text=True, check=False, timeout=30).stdout  # fmt: skip
            found += [
                f"{binary} {table} {line.split()[1]}"
                for line in listing.splitlines()
                if line.startswith("-N ") and line.split()[1].startswith(_CHAIN_PREFIXES)
            ]
    return found


def _remove_chains() -> None:
    """The KUBE-* and CNI-* chains the kubelet, kube-proxy or CNI left: rules jumping to them
    first, then the chains."""
    for binary in ("iptables", "ip6tables"):
        for table in ("filter", "nat", "mangle"):

            def run(*arguments: str, table: str = table, binary: str = binary) -> str:
                return subprocess.run([binary, "-w", "-t", table, *arguments],
                                      capture_output=True, text=True, check=False,
                                      timeout=30).stdout  # fmt: skip

            rules = run("-S").splitlines()
            ours = [
                line.split()[1]
                for line in rules
                if line.startswith("-N ") and line.split()[1].startswith(_CHAIN_PREFIXES)
            ]
            for line in rules:
                words = line.split()
                if (
                    words[:1] == ["-A"]
                    and words[1] not in ours
                    and any(f"-j {chain}" in line or f"-g {chain}" in line for chain in ours)
                ):
                    run("-D", *words[1:])
            for chain in ours:
                run("-F", chain)
            for chain in ours:
                run("-X", chain)


def _cgroups(name: str) -> list[Path]:
    return [path for path in Path("/sys/fs/cgroup").glob(f"*/{name}") if path.is_dir()] + [
        path for path in Path("/sys/fs/cgroup").glob(name) if path.is_dir()
    ]


def _remove_cgroups(name: str) -> None:
    for top in _cgroups(name):
        for folder in sorted((p for p in top.rglob("*") if p.is_dir()),
                             key=lambda p: len(p.parts), reverse=True):  # fmt: skip
            with contextlib.suppress(OSError):
                folder.rmdir()
        with contextlib.suppress(OSError):
            top.rmdir()
