"""`sagemaker-lab cluster start --node` and `cluster stop`, as a user runs them: a node
that runs pods, and nothing of it left behind (process, mount, bridge, iptables chain,
cgroup). First in the node suite: the other tests' node takes the same bridge and address."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from sagemaker_lab import KubeCluster, wait_until
from sagemaker_lab.binaries import ensure_binaries
from sagemaker_lab.images import PAUSE_IMAGE
from sagemaker_lab.node import NODE_NAME, leftovers

pytestmark = pytest.mark.node


def cli(*arguments: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "sagemaker_lab", *arguments],
                          capture_output=True, text=True, check=False, timeout=600,
                          env=env)  # fmt: skip


def test_a_started_node_runs_a_pod_and_stop_leaves_nothing_behind(tmp_path: Path) -> None:
    state = tmp_path / "cluster"
    began = time.monotonic()
    started = cli("cluster", "start", "--node", f"--state-dir={state}")
    print(f"cluster start --node: {time.monotonic() - began:.1f} s")
    try:
        assert started.returncode == 0, started.stderr + (state / "cluster.log").read_text()
        cluster = KubeCluster(state / "kubeconfig", ensure_binaries().kubectl, local=True)
        ready = cluster.kubectl(
            "get",
            "node",
            NODE_NAME,
            "-o",
            "jsonpath={.status.conditions[?(@.type=='Ready')].status}",
        )
        assert ready.stdout == "True"
        cluster.kubectl("run", "sleeper", f"--image={PAUSE_IMAGE}", "--image-pull-policy=Never",
                        "--restart=Never")  # fmt: skip
        wait_until(lambda: cluster.kubectl("get", "pod", "sleeper", "-o",
                                           "jsonpath={.status.phase}").stdout == "Running",
                   timeout=60, interval=0.5, description="a pod Running")  # fmt: skip
    finally:
        began = time.monotonic()
        stopped = cli("cluster", "stop", f"--state-dir={state}")
        print(f"cluster stop: {time.monotonic() - began:.1f} s")
    assert stopped.returncode == 0, stopped.stderr
    log = (state / "cluster.log").read_text()
    assert "the node left behind" not in log, log
    assert leftovers(state / "node") == []


def test_a_machine_without_podman_is_told_so_before_anything_starts(tmp_path: Path) -> None:
    bare = tmp_path / "bin"  # every tool the node needs, except podman
    bare.mkdir()
    for tool in ("containerd", "ctr", "runc", "iptables", "ip", "go"):
        found = shutil.which(tool)
        if found:
            (bare / tool).symlink_to(found)
    state = tmp_path / "cluster"
    refused = cli("cluster", "start", "--node", f"--state-dir={state}",
                  env={**os.environ, "PATH": str(bare)})  # fmt: skip
    assert refused.returncode == 1
    assert "it lacks:" in refused.stderr
    assert "podman (apt-get install podman)" in refused.stderr
    assert not (state / "cluster.log").exists()  # nothing was started
