"""``sagemaker-lab demo``: the whole product on this machine, in about half a minute.
With ``--node``, the operator runs as users run it: its image, installed by Helm as a pod on
a local node.

Starts a real control plane and the SageMaker emulator (short phases), installs the CRD,
runs the operator, applies ``examples/``, and prints a live table of the jobs until each
reaches its end state. One example is made to fail through the emulator's controls, to
show a Stalled job with its reason. Ends with ``kubectl get trainingjobs -o wide`` and
the events, and exits 0 when every example ended as expected. Cleans up after itself.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import yaml

from sagemaker_emulator import (
    Emulator,
    EmulatorControl,
)
from sagemaker_lab.binaries import ensure_helm
from sagemaker_lab.controlplane import KubeCluster, LocalControlPlane
from sagemaker_lab.images import build_operator_image
from sagemaker_lab.node import NODE_IP, LocalNode, chart_values, prepare_bridge
from sagemaker_lab.operator import OperatorProcess, operator_environment
from sagemaker_lab.processes import log_tail
from sagemaker_operator import api

Say = Callable[[str], None]
NAMESPACE = "demo"
FAILING_EXAMPLE = "vpc-kmeans"  # made to fail, to show a Stalled job and its reason
PHASES = {"Starting": 2.0, "Downloading": 2.0, "Training": 6.0, "Uploading": 2.0, "Stopping": 2.0}
DEADLINE = 120.0


class DemoError(RuntimeError):
    pass


def run_demo(say: Say, examples: Path = Path("examples"), *, node: bool = False) -> None:
    """``node``: the operator as a Helm-installed pod on a local node (its image built),
    instead of a local process."""
    documents = [yaml.safe_load(path.read_text()) for path in sorted(examples.glob("*.yaml"))]
    if not documents:
        raise DemoError(f"no examples in {examples.resolve()}: run the demo from the repository")
    expected = {document["metadata"]["name"]: "Completed" for document in documents}
    expected[FAILING_EXAMPLE] = "Failed"
    started = time.monotonic()
    platform = _on_a_node(say, examples) if node else _as_a_process(say)
    with platform as (cluster, emulator, logs):
        for document in documents:
            cluster.kubectl("apply", "-n", NAMESPACE, "-f", "-", input=json.dumps(document))
        say(f"applied {len(documents)} examples: {', '.join(sorted(expected))}\n")
        final = _follow(say, cluster, emulator, expected, logs)
        say("\n$ kubectl get trainingjobs -o wide")
        say(cluster.kubectl("get", "trainingjobs", "-n", NAMESPACE, "-o", "wide").stdout)
        say("$ kubectl get events")
        say(cluster.kubectl("get", "events", "-n", NAMESPACE,
                            "--sort-by=.lastTimestamp").stdout)  # fmt: skip
    wrong = {name: final.get(name) for name, outcome in expected.items()
             if final.get(name) != outcome}  # fmt: skip
    if wrong:
        raise DemoError(f"unexpected end states: {wrong} (expected {expected})")
    say(f"every example ended as expected in {time.monotonic() - started:.0f} s; "
        "everything stopped and removed")  # fmt: skip


Platform = tuple[KubeCluster, Emulator, Callable[[], str]]


@contextlib.contextmanager
def _as_a_process(say: Say) -> Iterator[Platform]:
    started = time.monotonic()
    say("starting a local control plane (etcd + kube-apiserver) and the SageMaker emulator…")
    with LocalControlPlane() as control_plane, Emulator(profile="fast", phases=PHASES) as emulator:
        cluster = control_plane.cluster
        say(f"  ready in {time.monotonic() - started:.1f} s: {control_plane.server}, "
            f"emulator {emulator.endpoint_url}")  # fmt: skip
        crd = api.manifests()
        cluster.kubectl("apply", "--server-side", "-f", "-", input=crd)
        cluster.wait_established("trainingjobs.sagemaker-operator.dev")
        cluster.kubectl("create", "namespace", NAMESPACE)
        environment = operator_environment(cluster, emulator, poll_interval="1")
        with (
            tempfile.TemporaryDirectory(prefix="sagemaker-operator-demo-") as folder,
            OperatorProcess(environment, NAMESPACE, Path(folder) / "operator.log") as operator,
        ):
            yield cluster, emulator, lambda: log_tail(operator.log)


@contextlib.contextmanager
def _on_a_node(say: Say, examples: Path) -> Iterator[Platform]:
    chart = examples.resolve().parent / "helm" / "sagemaker-operator"
    if not chart.is_dir():
        raise DemoError(f"no chart at {chart}: run the demo from the repository")
    started = time.monotonic()
    say("building the operator's image with podman…")
    image = build_operator_image()
    say(f"  {image.tag}: {image.size_bytes / 1e6:.0f} MB in {image.seconds:.0f} s")
    say("starting a local control plane with a node (containerd, kubelet, kube-proxy, …)…")
    prepare_bridge()
    with (
        tempfile.TemporaryDirectory(prefix="sagemaker-operator-demo-") as folder,
        LocalControlPlane(state_dir=Path(folder) / "cluster", node_ip=NODE_IP) as control_plane,
        LocalNode(control_plane) as node,
        Emulator(NODE_IP, profile="fast", phases=PHASES) as emulator,
    ):
        node.import_images([image.tag])
        cluster = control_plane.cluster
        say(f"  node Ready in {time.monotonic() - started:.1f} s (with the image build); "
            f"emulator {emulator.endpoint_url}")  # fmt: skip
        cluster.kubectl("create", "namespace", NAMESPACE)
        values = chart_values(image.tag, emulator.endpoint_url, NAMESPACE)
        values_file = Path(folder) / "values.yaml"
        values_file.write_text(yaml.safe_dump(values))
        say("$ helm install demo helm/sagemaker-operator --wait …")
        installed = subprocess.run(
            [str(ensure_helm()), "install", "demo", str(chart), "--namespace", NAMESPACE,
             "--values", str(values_file), "--wait", "--timeout=180s"],
            env={**os.environ, "KUBECONFIG": str(cluster.kubeconfig),
                 "HELM_CACHE_HOME": folder, "HELM_CONFIG_HOME": folder, "HELM_DATA_HOME": folder},
            capture_output=True, text=True, check=False, timeout=240,
        )  # fmt: skip
        if installed.returncode != 0:
            raise DemoError(f"helm install failed: {installed.stderr.strip()}")
        say(cluster.kubectl("get", "pods", "-n", NAMESPACE, "-o", "wide").stdout)

        def logs() -> str:
            return cluster.kubectl("logs", "-n", NAMESPACE, "deployment/demo-sagemaker-operator",
                                   "--tail=40", check=False).stdout  # fmt: skip

        yield cluster, emulator, logs


def _follow(
    say: Say, cluster: KubeCluster, emulator: Emulator, expected: dict[str, str],
    logs: Callable[[], str],
) -> dict[str, str]:  # fmt: skip
    """Print the table whenever it changes, until every job has ended; the end states."""
    control = EmulatorControl(emulator.endpoint_url)
    failed = False
    last = ""
    deadline = time.monotonic() + DEADLINE
    while time.monotonic() < deadline:
        items = json.loads(cluster.kubectl("get", "trainingjobs", "-n", NAMESPACE, "-o",
                                           "json").stdout)["items"]  # fmt: skip
        rows = {item["metadata"]["name"]: item.get("status", {}) for item in items}
        failing = rows.get(FAILING_EXAMPLE, {})
        if not failed and failing.get("secondaryStatus") == "Training":
            control.fail_job(failing["trainingJobName"], "AlgorithmError: the demo's "
                             "injected failure (exit code 137, out of memory)",
                             region=failing["region"])  # fmt: skip
            failed = True
        table = _table(rows)
        if table != last:
            say(f"[{time.strftime('%H:%M:%S')}]\n{table}")
            last = table
        ended = {name: status.get("trainingJobStatus", "") for name, status in rows.items()}
        if all(state in {"Completed", "Failed", "Stopped"} for state in ended.values()) and (
            set(ended) == set(expected)
        ):
            return ended
        time.sleep(0.5)
    raise DemoError(f"the jobs did not all end within {DEADLINE:.0f} s; operator log:\n"
                    f"{logs()}")  # fmt: skip


def _table(rows: dict[str, dict[str, Any]]) -> str:
    lines = [f"  {'NAME':<14} {'STATUS':<11} {'SECONDARY':<12} {'READY':<6} REASON"]
    for name, status in sorted(rows.items()):
        conditions = {c["type"]: c for c in status.get("conditions") or []}
        ready = conditions.get("Ready", {}).get("status", "")
        stalled = conditions.get("Stalled", {})
        reason = stalled.get("message", "") if stalled.get("status") == "True" else ""
        lines.append(f"  {name:<14} {status.get('trainingJobStatus', '-')!s:<11} "
                     f"{status.get('secondaryStatus', '-')!s:<12} {ready:<6} {reason}")  # fmt: skip
    return "\n".join(lines)
