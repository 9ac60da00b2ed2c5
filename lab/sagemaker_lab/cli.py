"""``sagemaker-lab``: the local cluster (and node), the emulator, the operator's image, the
demo, the generator, the lock and the release. The operator's own command,
``sagemaker-operator``, has only ``run`` and ``crd``."""

from __future__ import annotations

import argparse
import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from sagemaker_emulator import cli as emulator_cli
from sagemaker_lab import codegen, lock, release
from sagemaker_lab.binaries import (
    BinariesError,
    ensure_binaries,
    ensure_helm,
    ensure_node_binaries,
)
from sagemaker_lab.controlplane import ControlPlaneError, LocalControlPlane
from sagemaker_lab.demo import DemoError, run_demo
from sagemaker_lab.images import OPERATOR_IMAGE, ImageError, build_operator_image
from sagemaker_lab.node import (
    NODE_IP,
    LocalNode,
    NodeError,
    machine_facts,
    preflight,
    prepare_bridge,
)
from sagemaker_lab.processes import (
    PortInUseError,
    log_tail,
    pid_alive,
    wait_for_exit,
)
from sagemaker_operator import __version__

_READY_FILE = "ready"
_PID_FILE = "pid"
_LOG_FILE = "cluster.log"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="sagemaker-lab",
        description="Build, test, demonstrate and release the SageMaker operator on this machine.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    add_commands(parser.add_subparsers(title="commands", metavar="COMMAND"))
    arguments = parser.parse_args(argv)
    if not hasattr(arguments, "run"):
        parser.print_help()
        return 2
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    result: int = arguments.run(arguments)
    return result


def add_commands(commands: Any) -> None:
    """The lab's commands, as subcommands of ``commands``."""
    cluster = commands.add_parser(
        "cluster", help="a local Kubernetes control plane (etcd + kube-apiserver) on loopback"
    )
    cluster_commands = cluster.add_subparsers(title="cluster commands", metavar="ACTION")
    build = cluster_commands.add_parser(
        "build", help="build (or find in the cache) etcd, kube-apiserver, kubectl and helm"
    )
    build.add_argument("--node", action="store_true",
                       help="also the node's binaries (kubelet, kube-proxy, ...)")  # fmt: skip
    build.set_defaults(run=_cluster_build)
    for name, run, help_text in (
        ("start", _cluster_start, "start in the background; writes STATE_DIR/kubeconfig"),
        ("run", _cluster_run, "run in the foreground until interrupted"),
        ("stop", _cluster_stop, "stop a control plane started with 'cluster start'"),
    ):
        action = cluster_commands.add_parser(name, help=help_text)
        action.add_argument(
            "--state-dir",
            type=Path,
            required=True,
            help="folder for the kubeconfig, certificates, logs and etcd data",
        )
        if name != "stop":
            action.add_argument("--apiserver-port", type=int, help="default: a free port")
            action.add_argument("--etcd-port", type=int, help="default: a free port")
            action.add_argument(
                "--node", action="store_true",
                help=f"add a node (containerd, kubelet, kube-proxy, scheduler, controller-"
                f"manager): pods run; the apiserver serves on {NODE_IP}; needs root",
            )  # fmt: skip
            action.add_argument(
                "--image", action="append", default=[], metavar="TAG",
                help="with --node: a podman image to import into the node's containerd "
                "(repeatable; pods use it with imagePullPolicy: Never or IfNotPresent)",
            )  # fmt: skip
        action.set_defaults(run=run)

    image = commands.add_parser(
        "image", help="build the operator's image with podman (base made from Debian packages)"
    )
    image.add_argument("--tag", default=OPERATOR_IMAGE, help=f"default: {OPERATOR_IMAGE}")
    image.add_argument("--base", help="the PYTHON_IMAGE to build on (default: made with "
                       "mmdebstrap from Debian packages, once)")  # fmt: skip
    image.set_defaults(run=_image)

    released = commands.add_parser("release", help=(
        "build the image, the chart and the plugin's wheel of one version; push the image "
        "and the chart to an OCI registry"))  # fmt: skip
    released.add_argument("--version", default="", help="default: pyproject.toml's")
    released.add_argument("--registry", required=True, help=(
        "registry and path: ghcr.io/my-org, 127.0.0.1:5000/test"))  # fmt: skip
    released.add_argument("--out", type=Path, default=Path("dist/release"),
                          help="where the chart archive and the wheel go")  # fmt: skip
    released.add_argument("--base", help="the image's PYTHON_IMAGE (default: made from Debian "
                          "packages with mmdebstrap)")  # fmt: skip
    released.add_argument("--plain-http", action="store_true",
                          help="the registry speaks HTTP (one on loopback)")  # fmt: skip
    released.set_defaults(run=_release)

    generate = commands.add_parser(
        "generate", help="regenerate the CRD and the pydantic models from botocore's model"
    )
    generate.add_argument(
        "--root",
        type=Path,
        default=Path(),
        help="the repository root (default: the current folder)",
    )
    generate.add_argument(
        "--check", action="store_true", help="write nothing; fail if the committed files are stale"
    )
    generate.set_defaults(run=_generate)

    lock = commands.add_parser(
        "lock", help="resolve the image's pinned dependencies into constraints.txt"
    )
    lock.add_argument("--root", type=Path, default=Path(), help="the repository root")
    lock.set_defaults(run=_lock)

    demo = commands.add_parser(
        "demo", help="run the examples end to end on a local control plane and the emulator"
    )
    demo.add_argument(
        "--examples",
        type=Path,
        default=Path("examples"),
        help="folder of TrainingJob manifests (default: examples)",
    )
    demo.add_argument(
        "--node",
        action="store_true",
        help="the operator as a Helm-installed pod "
        "on a local node, from its image built here (root; about a minute)",
    )
    demo.set_defaults(run=_demo)

    emulator = commands.add_parser(
        "emulator", help="serve the SageMaker emulator (boto3 endpoint_url) in the foreground"
    )
    emulator_cli.add_arguments(emulator)
    emulator.set_defaults(run=emulator_cli.serve)


def _generate(arguments: argparse.Namespace) -> int:
    root: Path = arguments.root
    if arguments.check:
        stale = codegen.stale_files(root)
        for path in stale:
            print(f"{path} differs from a fresh generation: run `make generate`", file=sys.stderr)
        return 1 if stale else 0
    generated = codegen.write(root)
    for path in generated.files:
        print(f"wrote {path}")
    stats = generated.stats
    print(
        f"{sum(stats.constraints.values())} schema constraints, {stats.cel_rules} CEL rules, "
        f"{len(stats.operator_checks)} checks left to the operator"
    )
    return 0


def _lock(arguments: argparse.Namespace) -> int:
    print(f"wrote {lock.write(arguments.root)}")
    return 0


def _demo(arguments: argparse.Namespace) -> int:
    try:
        run_demo(lambda line: print(line, flush=True), arguments.examples, node=arguments.node)
    except (BinariesError, ControlPlaneError, PortInUseError, DemoError, NodeError,
            ImageError) as error:  # fmt: skip
        print(f"sagemaker-lab demo: {error}", file=sys.stderr)
        return 1
    return 0


def _cluster_build(arguments: argparse.Namespace) -> int:
    started = time.monotonic()
    try:
        binaries = ensure_binaries()
        helm = ensure_helm()
        node = ensure_node_binaries() if getattr(arguments, "node", False) else None
    except BinariesError as error:
        print(f"sagemaker-lab cluster build: {error}", file=sys.stderr)
        return 1
    print(f"{binaries.source} ({time.monotonic() - started:.0f} s):")
    paths = [binaries.etcd, binaries.kube_apiserver, binaries.kubectl, helm]
    if node is not None:
        paths += [node.kube_controller_manager, node.kube_scheduler, node.kubelet,
                  node.kube_proxy, node.crictl, node.pause]  # fmt: skip
    for path in paths:
        print(f"  {path}")
    return 0


def _release(arguments: argparse.Namespace) -> int:
    version = arguments.version or release.versions()["pyproject.toml"]
    try:
        made = release.release(version, arguments.registry, arguments.out,
                               plain_http=arguments.plain_http, base=arguments.base)  # fmt: skip
    except (release.ReleaseError, ImageError, BinariesError) as error:
        print(f"sagemaker-lab release: {error}", file=sys.stderr)
        return 1
    print(f"released {made.version}:\n  image  {made.image}\n  chart  {made.chart} "
          f"--version {made.version}\n  wheel  {made.wheel}\n  krew   {made.krew_manifest} "
          f"({made.krew_archive.name})")  # fmt: skip
    return 0


def _image(arguments: argparse.Namespace) -> int:
    try:
        built = build_operator_image(arguments.tag, arguments.base)
    except ImageError as error:
        print(f"sagemaker-lab image: {error}", file=sys.stderr)
        return 1
    print(f"built {built.tag} ({built.id[:12]}): {built.size_bytes / 1e6:.0f} MB "
          f"in {built.seconds:.0f} s")  # fmt: skip
    return 0


def _cluster_start(arguments: argparse.Namespace) -> int:
    state: Path = arguments.state_dir.resolve()
    pid = _read_pid(state)
    if pid is not None:
        print(
            f"a control plane already runs from {state} (pid {pid}); "
            f"stop it with: sagemaker-lab cluster stop --state-dir {state}",
            file=sys.stderr,
        )
        return 1
    if arguments.node:
        try:
            preflight(machine_facts())  # say what the machine lacks here, not in a log
        except NodeError as error:
            print(f"sagemaker-lab cluster start: {error}", file=sys.stderr)
            return 1
    if _cluster_build(arguments) != 0:  # build in the foreground, where the user sees it
        return 1
    state.mkdir(parents=True, exist_ok=True)
    (state / _READY_FILE).unlink(missing_ok=True)
    log = state / _LOG_FILE
    command = [sys.executable, "-m", "sagemaker_lab", "cluster", "run", f"--state-dir={state}"]
    for flag in ("apiserver_port", "etcd_port"):
        value = getattr(arguments, flag)
        if value is not None:
            command.append(f"--{flag.replace('_', '-')}={value}")
    if arguments.node:
        command += ["--node", *(f"--image={tag}" for tag in arguments.image)]
    with log.open("ab") as output:
        supervisor = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # outlives this command, like a daemon
        )
    patience = 300 if arguments.node else 120
    deadline = time.monotonic() + patience
    while time.monotonic() < deadline:
        if (state / _READY_FILE).exists():
            kubeconfig = state / "kubeconfig"
            print(
                f"control plane running (pid {supervisor.pid}); use it with:\n"
                f"  export KUBECONFIG={kubeconfig}\n"
                f"  {ensure_binaries().kubectl} get namespaces\n"
                f"stop it with:\n"
                f"  sagemaker-lab cluster stop --state-dir {state}"
            )
            return 0
        if supervisor.poll() is not None:
            print(
                f"the control plane failed to start; last lines of {log}:\n{log_tail(log)}",
                file=sys.stderr,
            )
            return 1
        time.sleep(0.2)
    print(f"the control plane did not become ready in {patience} s; see {log}", file=sys.stderr)
    return 1


def _cluster_run(arguments: argparse.Namespace) -> int:
    state: Path = arguments.state_dir.resolve()
    state.mkdir(parents=True, exist_ok=True)
    control_plane = LocalControlPlane(
        state_dir=state, etcd_port=arguments.etcd_port, apiserver_port=arguments.apiserver_port,
        node_ip=NODE_IP if arguments.node else None,
    )  # fmt: skip
    node = LocalNode(control_plane) if arguments.node else None
    # Handle SIGTERM from 'cluster stop' like Ctrl-C, so the children are stopped in order.
    emulator_cli.stop_on_sigterm()
    try:
        (state / _PID_FILE).write_text(str(os.getpid()))
        if node is not None:
            prepare_bridge()
        control_plane.start()
        if node is not None:
            node.start()
            node.import_images(arguments.image)
        (state / _READY_FILE).write_text(control_plane.server)
        print(
            f"control plane ready at {control_plane.server}; kubeconfig: {state / 'kubeconfig'}",
            flush=True,
        )
        emulator_cli.wait_until_interrupted()
    except (BinariesError, ControlPlaneError, PortInUseError, NodeError, ImageError,
            TimeoutError) as error:  # fmt: skip
        print(f"sagemaker-lab cluster: {error}", file=sys.stderr, flush=True)
        return 1
    except KeyboardInterrupt:
        return 130
    finally:
        if node is not None:
            node.stop()
            left = node.leftovers()
            if left:
                print(f"the node left behind: {', '.join(left)}", file=sys.stderr, flush=True)
        control_plane.stop()
        (state / _READY_FILE).unlink(missing_ok=True)
        (state / _PID_FILE).unlink(missing_ok=True)
    return 0


def _cluster_stop(arguments: argparse.Namespace) -> int:
    state: Path = arguments.state_dir.resolve()
    pid = _read_pid(state)
    if pid is None:
        print(f"no control plane runs from {state}")
        return 0
    os.kill(pid, signal.SIGTERM)
    # A node takes its pods down first (about 20 s).
    if not wait_for_exit(pid, timeout=90):
        os.killpg(pid, signal.SIGKILL)
        print(f"control plane (pid {pid}) did not stop in 90 s; killed it", file=sys.stderr)
        return 1
    print(f"control plane (pid {pid}) stopped")
    return 0


def _read_pid(state: Path) -> int | None:
    try:
        pid = int((state / _PID_FILE).read_text().strip())
    except (FileNotFoundError, ValueError):
        return None
    return pid if pid_alive(pid) else None
