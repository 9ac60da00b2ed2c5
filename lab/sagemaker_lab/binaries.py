"""Control-plane binaries (etcd, kube-apiserver, kubectl), built from source and cached.

The binaries are built once per version through the Go module proxy into
``${XDG_CACHE_HOME:-~/.cache}/sagemaker-operator/`` and reused afterwards. A folder named
by ``KUBEBUILDER_ASSETS`` (controller-runtime's envtest convention) that holds all three
is used instead, without building anything.

``go install k8s.io/kubernetes/cmd/kube-apiserver@v…`` does not work: kubernetes' go.mod
replaces its staging modules (k8s.io/api, k8s.io/client-go, …) with local paths. So we
build from a small wrapper module that requires ``k8s.io/kubernetes`` and replaces each
staging module with its published ``v0.<minor>.<patch>`` tag; the list is read from
kubernetes' own go.mod of that version, not hard-coded.
"""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import hashlib
import json
import logging
import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

logger = logging.getLogger(__name__)

KUBERNETES_VERSION = "v1.37.2"
# The newest v3.6.x that builds with the Go toolchain we document (checked 2026-11-28).
ETCD_VERSION = "v3.6.16"
MINIMUM_GO = (1, 25)
# For the chart's tests: `helm lint`, `helm template`, `helm install` into the local
# control plane.
HELM_VERSION = "v3.22.0"
HELM_KUBERNETES_MINOR = "37"  # helm v3.22.0 builds with k8s.io/client-go v0.37.0

_TAIL_LINES = 40
_GO_VERSION = re.compile(r"go(\d+)\.(\d+)")
_STAGING_REQUIREMENT = re.compile(r"^\s*(k8s\.io/[\w.-]+)\s+v0\.0\.0\s*$", re.MULTILINE)


class BinariesError(RuntimeError):
    """The control-plane binaries could not be found or built; the message says why."""


@dataclass(frozen=True)
class Binaries:
    """Paths to the three executables the local control plane runs."""

    etcd: Path
    kube_apiserver: Path
    kubectl: Path
    source: str  # "cache", "build" or "KUBEBUILDER_ASSETS"


def cache_root() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "sagemaker-operator"


def kubernetes_dir(version: str = KUBERNETES_VERSION) -> Path:
    return cache_root() / "k8s" / version


def etcd_dir(version: str = ETCD_VERSION) -> Path:
    return cache_root() / "etcd" / version


def helm_dir(version: str = HELM_VERSION) -> Path:
    return cache_root() / "helm" / f"{version}-k8s1.{HELM_KUBERNETES_MINOR}"


def ensure_helm(version: str = HELM_VERSION) -> Path:
    """The helm binary of ``version``, built from source through the Go module proxy once."""
    helm = helm_dir(version) / "helm"
    if not _is_executable(helm):
        logger.info("building helm %s from source into %s (a few minutes)", version, helm.parent)
        # As helm's Makefile does: the default Kubernetes version (for `helm template`
        # and `helm lint`) follows the client-go helm builds with (v0.37 → 1.37).
        stamps = [f"helm.sh/helm/v3/internal/version.version={version}"] + [
            f"helm.sh/helm/v3/pkg/{package}.k8sVersion{part}={number}"
            for package in ("chartutil", "lint/rules")
            for part, number in (("Major", "1"), ("Minor", HELM_KUBERNETES_MINOR))
        ]
        ldflags = " ".join(["-s -w", *(f"-X {stamp}" for stamp in stamps)])
        build_go_command(find_go(), "helm.sh/helm/v3", version, "cmd/helm", helm, ldflags=ldflags)
    return helm


# The CNCF distribution registry (an OCI registry) for testing a release on loopback, and
# GitHub's workflow linter for the release workflow: both built like helm.
REGISTRY_VERSION = "v3.0.0"
ACTIONLINT_VERSION = "v1.7.12"


def ensure_registry(version: str = REGISTRY_VERSION) -> Path:
    """The ``registry`` binary of github.com/distribution/distribution/v3, built once."""
    binary = cache_root() / "registry" / version / "registry"
    if not _is_executable(binary):
        logger.info("building the distribution registry %s into %s", version, binary.parent)
        build_go_command(find_go(), "github.com/distribution/distribution/v3", version,
                         "cmd/registry", binary)  # fmt: skip
    return binary


def ensure_actionlint(version: str = ACTIONLINT_VERSION) -> Path:
    """actionlint (github.com/rhysd/actionlint), built once."""
    binary = cache_root() / "actionlint" / version / "actionlint"
    if not _is_executable(binary):
        logger.info("building actionlint %s into %s", version, binary.parent)
        build_go_command(find_go(), "github.com/rhysd/actionlint", version, "cmd/actionlint",
                         binary)  # fmt: skip
    return binary


KREW_VERSION = "v0.4.3"


def ensure_krew(version: str = KREW_VERSION) -> Path:
    """krew (sigs.k8s.io/krew), built once: the release's plugin manifest is installed with it."""
    binary = cache_root() / "krew" / version / "kubectl-krew"
    if not _is_executable(binary):
        logger.info("building krew %s into %s", version, binary.parent)
        build_go_command(find_go(), "sigs.k8s.io/krew", version, "cmd/krew", binary)
    return binary


KSTATUS_SOURCE = Path(__file__).resolve().parent / "kstatus"


def ensure_kstatus() -> Path:
    """The kstatus helper (Flux's health library on the command line), built once per
    version of its source (go.mod, go.sum and main.go are committed beside this file)."""
    binary = _source_binary(KSTATUS_SOURCE, "kstatus")
    if not _is_executable(binary):
        logger.info("building the kstatus helper into %s", binary.parent)
        build_go_source(find_go(), KSTATUS_SOURCE, binary)
    return binary


def build_go_command(
    go: str, module: str, version: str, command: str, output: Path, *, ldflags: str = "-s -w"
) -> None:
    """Build the main package ``module/command`` of ``module@version`` into ``output``."""
    with _build_lock(output.parent), tempfile.TemporaryDirectory(prefix="go-build-") as tmp:
        if _is_executable(output):
            return  # another process built it while we waited for the lock
        work = Path(tmp)
        (work / "go.mod").write_text(
            f"module sagemaker-operator.local/{output.name}-build\n\ngo 1.25\n\n"
            f"require {module} {version}\n"
        )
        package = f"{module}/{command}" if command else module
        _go_build(go, work, ldflags, work / "out" / output.name, package)
        _install(work / "out", output.parent, (output.name,))


def build_go_source(go: str, source: Path, output: Path) -> None:
    """Build the Go module in ``source`` (go.mod and go.sum committed) into ``output``."""
    with _build_lock(output.parent), tempfile.TemporaryDirectory(prefix="go-build-") as tmp:
        if _is_executable(output):
            return
        work = Path(tmp) / "src"
        shutil.copytree(source, work)  # never write into the source tree
        command = [go, "build", "-mod=readonly", "-trimpath", "-ldflags", "-s -w",
                   "-o", str(work / "out" / output.name), "."]  # fmt: skip
        _run_go(command, work, _go_env(work))
        _install(work / "out", output.parent, (output.name,))


def ensure_binaries(
    kubernetes_version: str = KUBERNETES_VERSION,
    etcd_version: str = ETCD_VERSION,
) -> Binaries:
    """Return the binaries, building whatever is missing from the cache."""
    assets = os.environ.get("KUBEBUILDER_ASSETS")
    if assets:
        folder = Path(assets)
        found = [folder / name for name in ("etcd", "kube-apiserver", "kubectl")]
        if all(_is_executable(path) for path in found):
            return Binaries(
                folder / "etcd",
                folder / "kube-apiserver",
                folder / "kubectl",
                source="KUBEBUILDER_ASSETS",
            )
        missing = ", ".join(path.name for path in found if not _is_executable(path))
        raise BinariesError(
            f"KUBEBUILDER_ASSETS={assets} is set but lacks executable {missing}; "
            "unset it to build the binaries from source instead"
        )

    k8s = kubernetes_dir(kubernetes_version)
    etcd = etcd_dir(etcd_version)
    cached = Binaries(etcd / "etcd", k8s / "kube-apiserver", k8s / "kubectl", source="cache")
    if all(_is_executable(path) for path in (cached.etcd, cached.kube_apiserver, cached.kubectl)):
        return cached

    go = find_go()
    if not (_is_executable(cached.kube_apiserver) and _is_executable(cached.kubectl)):
        logger.info(
            "building kube-apiserver and kubectl %s from source into %s "
            "(about 10 minutes on 2 cores; once per version)", kubernetes_version, k8s
        )  # fmt: skip
        build_kubernetes(go, kubernetes_version, k8s)
    if not _is_executable(cached.etcd):
        logger.info("building etcd %s from source into %s (a few minutes)", etcd_version, etcd)
        build_etcd(go, etcd_version, etcd)
    return dataclasses.replace(cached, source="build")


def find_go() -> str:
    go = shutil.which("go")
    if go is None:
        raise BinariesError(
            "no Go toolchain on PATH: the local control plane builds etcd and kube-apiserver "
            f"from source and needs Go {MINIMUM_GO[0]}.{MINIMUM_GO[1]}+ "
            "(https://go.dev/doc/install), or set KUBEBUILDER_ASSETS to a folder with "
            "etcd, kube-apiserver and kubectl, or run the tests against an existing "
            "cluster with --kubeconfig"
        )
    output = subprocess.run([go, "version"], capture_output=True, text=True, check=False).stdout
    match = _GO_VERSION.search(output)
    if match is None or (int(match[1]), int(match[2])) < MINIMUM_GO:
        raise BinariesError(
            f"{go} reports {output.strip()!r}; the local control plane needs Go "
            f"{MINIMUM_GO[0]}.{MINIMUM_GO[1]} or newer"
        )
    return go


def build_kubernetes(
    go: str, version: str, destination: Path,
    commands: tuple[str, ...] = ("kube-apiserver", "kubectl"),
) -> None:  # fmt: skip
    """Build ``commands`` of ``k8s.io/kubernetes@version`` into destination."""
    minor_patch = version.removeprefix("v1.")
    with _build_lock(destination), tempfile.TemporaryDirectory(prefix="k8s-build-") as tmp:
        if all(_is_executable(destination / command) for command in commands):
            return  # another process built it while we waited for the lock
        work = Path(tmp)
        env = _go_env(work)
        info = _run_go([go, "mod", "download", "-json", f"k8s.io/kubernetes@{version}"], work, env)
        go_mod = Path(json.loads(info)["GoMod"]).read_text()
        staging = sorted(set(_STAGING_REQUIREMENT.findall(go_mod)))
        if not staging:
            raise BinariesError(f"found no staging modules in k8s.io/kubernetes@{version} go.mod")
        replaces = "\n".join(f"\t{module} => {module} v0.{minor_patch}" for module in staging)
        go_directive = re.search(r"^go (\S+)$", go_mod, re.MULTILINE)
        (work / "go.mod").write_text(
            "module sagemaker-operator.local/k8s-build\n\n"
            f"go {go_directive[1] if go_directive else '1.25'}\n\n"
            f"require k8s.io/kubernetes {version}\n\n"
            f"replace (\n{replaces}\n)\n"
        )
        staged = Path(tmp) / "out"
        major, minor = version.removeprefix("v").split(".")[:2]
        stamp = "-X k8s.io/component-base/version."
        ldflags = (
            f"-s -w {stamp}gitVersion={version} {stamp}gitMajor={major} "
            f"{stamp}gitMinor={minor} {stamp}gitTreeState=clean"
        )
        missing = [command for command in commands if not _is_executable(destination / command)]
        for command in missing:
            _go_build(go, work, ldflags, staged / command, f"k8s.io/kubernetes/cmd/{command}")
        _install(staged, destination, tuple(missing))


@dataclass(frozen=True)
class NodeBinaries:
    """What a node adds to the control plane (``cluster start --node``), Go-built and cached
    beside kube-apiserver; containerd, runc and the CNI plugins come from the system."""

    kube_controller_manager: Path
    kube_scheduler: Path
    kubelet: Path
    kube_proxy: Path
    crictl: Path
    pause: Path  # the pod sandbox's program: sleeps until SIGTERM or SIGINT


NODE_COMMANDS = ("kube-controller-manager", "kube-scheduler", "kubelet", "kube-proxy")
# crictl talks CRI to containerd: `cluster stop` removes every pod sandbox through it, so
# containerd itself unmounts and tears down what it made (network namespaces, shm).
CRI_TOOLS_VERSION = "v1.37.0"
PAUSE_SOURCE = Path(__file__).resolve().parent / "pause"


def ensure_node_binaries(kubernetes_version: str = KUBERNETES_VERSION) -> NodeBinaries:
    """The node's binaries, building whatever is missing (about 5 minutes with the
    apiserver's Go build cache warm; once per version)."""
    k8s = kubernetes_dir(kubernetes_version)
    crictl = cache_root() / "cri-tools" / CRI_TOOLS_VERSION / "crictl"
    found = NodeBinaries(
        kube_controller_manager=k8s / "kube-controller-manager",
        kube_scheduler=k8s / "kube-scheduler",
        kubelet=k8s / "kubelet",
        kube_proxy=k8s / "kube-proxy",
        crictl=crictl,
        pause=_source_binary(PAUSE_SOURCE, "pause"),
    )
    go: str | None = None
    if not all(_is_executable(k8s / command) for command in NODE_COMMANDS):
        go = find_go()
        logger.info("building %s %s from source into %s (about 5 minutes; once per version)",
                    ", ".join(NODE_COMMANDS), kubernetes_version, k8s)  # fmt: skip
        build_kubernetes(go, kubernetes_version, k8s, NODE_COMMANDS)
    if not _is_executable(crictl):
        go = go or find_go()
        build_go_command(go, "sigs.k8s.io/cri-tools", CRI_TOOLS_VERSION, "cmd/crictl", crictl)
    if not _is_executable(found.pause):
        build_go_source(go or find_go(), PAUSE_SOURCE, found.pause)
    return found


def _source_binary(source: Path, name: str) -> Path:
    """Where the binary of a Go module committed in this package is cached: one folder per
    digest of its go.mod, go.sum (if any) and main.go."""
    digest = hashlib.sha256()
    for file in ("go.mod", "go.sum", "main.go"):
        if (source / file).exists():
            digest.update((source / file).read_bytes())
    return cache_root() / name / digest.hexdigest()[:16] / name


def build_etcd(go: str, version: str, destination: Path) -> None:
    """Build the etcd server of ``go.etcd.io/etcd/server/v3@version`` into destination."""
    build_go_command(go, "go.etcd.io/etcd/server/v3", version, "", destination / "etcd")


def _go_build(go: str, work: Path, ldflags: str, output: Path, package: str) -> None:
    """``go build`` one main package of the wrapper module in ``work``, static and trimmed."""
    command = [go, "build", "-mod=mod", "-trimpath", "-ldflags", ldflags, "-o", str(output)]
    _run_go([*command, package], work, _go_env(work))


def _go_env(work: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["CGO_ENABLED"] = "0"
    env["GOFLAGS"] = "-buildvcs=false"
    env.setdefault("GOTOOLCHAIN", "auto")
    env["GOWORK"] = "off"
    env["PWD"] = str(work)
    return env


def _run_go(command: list[str], work: Path, env: dict[str, str]) -> str:
    process = subprocess.run(
        command, cwd=work, env=env, capture_output=True, text=True, check=False
    )
    if process.returncode != 0:
        tail = "\n".join((process.stdout + process.stderr).splitlines()[-_TAIL_LINES:])
        raise BinariesError(
            f"`{' '.join(command)}` failed with exit code {process.returncode}; "
            f"last lines of its output:\n{tail}"
        )
    return process.stdout


def _install(staged: Path, destination: Path, names: tuple[str, ...]) -> None:
    destination.mkdir(parents=True, exist_ok=True)
    for name in names:
        # A rename within one file system is atomic: a reader never sees half a binary.
        target = destination / name
        partial = destination / f".{name}.partial"
        shutil.copy2(staged / name, partial)
        partial.chmod(0o755)
        partial.replace(target)


@contextlib.contextmanager
def _build_lock(destination: Path) -> Iterator[None]:
    """Serialise builds of one version across processes (parallel test runs, CLI)."""
    destination.parent.mkdir(parents=True, exist_ok=True)
    with (destination.parent / f".{destination.name}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _is_executable(path: Path) -> bool:
    return path.is_file() and os.access(path, os.X_OK)
