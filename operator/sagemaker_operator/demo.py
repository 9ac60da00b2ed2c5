"""``sagemaker-operator demo``: the whole product on this machine, in about half a minute.

Starts a real control plane and the SageMaker emulator (short phases), installs the CRD,
runs the operator, applies ``examples/``, and prints a live table of the jobs until each
reaches its end state. One example is made to fail through the emulator's controls, to
show a Stalled job with its reason. Ends with ``kubectl get trainingjobs -o wide`` and
the events, and exits 0 when every example ended as expected. Cleans up after itself.
"""

from __future__ import annotations

import json
import tempfile
import time
from collections.abc import Callable
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from sagemaker_operator.testing.controlplane import KubeCluster, LocalControlPlane
from sagemaker_operator.testing.emulator import Emulator, EmulatorControl
from sagemaker_operator.testing.operator import OperatorProcess, operator_environment
from sagemaker_operator.testing.processes import log_tail

Say = Callable[[str], None]
NAMESPACE = "demo"
FAILING_EXAMPLE = "vpc-kmeans"  # made to fail, to show a Stalled job and its reason
PHASES = {"Starting": 2.0, "Downloading": 2.0, "Training": 6.0, "Uploading": 2.0, "Stopping": 2.0}
DEADLINE = 120.0


class DemoError(RuntimeError):
    pass


def run_demo(say: Say, examples: Path = Path("examples")) -> None:
    documents = [yaml.safe_load(path.read_text()) for path in sorted(examples.glob("*.yaml"))]
    if not documents:
        raise DemoError(f"no examples in {examples.resolve()}: run the demo from the repository")
    expected = {document["metadata"]["name"]: "Completed" for document in documents}
    expected[FAILING_EXAMPLE] = "Failed"
    started = time.monotonic()
    say("starting a local control plane (etcd + kube-apiserver) and the SageMaker emulator…")
    with LocalControlPlane() as control_plane, Emulator(profile="fast", phases=PHASES) as emulator:
        cluster = control_plane.cluster
        say(f"  ready in {time.monotonic() - started:.1f} s: {control_plane.server}, "
            f"emulator {emulator.endpoint_url}")  # fmt: skip
        crd = resources.files("sagemaker_operator.api").joinpath("crd.yaml").read_text()
        cluster.kubectl("apply", "--server-side", "-f", "-", input=crd)
        cluster.kubectl("wait", "--for=condition=Established", "--timeout=60s",
                        "crd/trainingjobs.sagemaker-operator.dev")  # fmt: skip
        cluster.kubectl("create", "namespace", NAMESPACE)
        environment = operator_environment(cluster, emulator, poll_interval="1")
        with (
            tempfile.TemporaryDirectory(prefix="sagemaker-operator-demo-") as folder,
            OperatorProcess(environment, NAMESPACE, Path(folder) / "operator.log") as operator,
        ):
            for document in documents:
                cluster.kubectl("apply", "-n", NAMESPACE, "-f", "-", input=json.dumps(document))
            say(f"applied {len(documents)} examples: {', '.join(sorted(expected))}\n")
            final = _follow(say, cluster, emulator, expected, operator.log)
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


def _follow(
    say: Say, cluster: KubeCluster, emulator: Emulator, expected: dict[str, str], log: Path
) -> dict[str, str]:
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
                    f"{log_tail(log)}")  # fmt: skip


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
