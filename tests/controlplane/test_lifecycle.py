"""Starting and stopping the local control plane, its binaries, and what a bad environment says."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from sagemaker_lab import (
    BinariesError,
    ControlPlaneError,
    LocalControlPlane,
    ensure_binaries,
    wait_until,
)
from sagemaker_lab.binaries import build_kubernetes, find_go
from sagemaker_lab.processes import PortInUseError, pid_alive

pytestmark = [pytest.mark.cluster, pytest.mark.local_only]


@pytest.fixture
def no_go_on_path(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))


def test_stop_leaves_no_process_and_no_state_behind() -> None:
    control_plane = LocalControlPlane()
    control_plane.start()
    pids = control_plane.pids
    state = control_plane.state_dir
    assert len(pids) == 2
    assert all(pid_alive(pid) for pid in pids)
    assert state is not None
    assert (state / "kubeconfig").exists()

    control_plane.stop()

    assert not any(pid_alive(pid) for pid in pids)
    assert not state.exists()


def test_children_die_with_a_killed_parent(tmp_path: Path) -> None:
    # A test run killed with SIGKILL runs no clean-up code; the kernel must end etcd and
    # kube-apiserver (PR_SET_PDEATHSIG) so nothing is left listening.
    script = textwrap.dedent(f"""
        import json, sys, threading
        from pathlib import Path
        from sagemaker_lab import LocalControlPlane
        control_plane = LocalControlPlane(state_dir=Path({str(tmp_path)!r}))
        control_plane.start()
        print(json.dumps(control_plane.pids), flush=True)
        threading.Event().wait()
    """)
    parent = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    assert parent.stdout is not None
    pids = json.loads(parent.stdout.readline())
    assert all(pid_alive(pid) for pid in pids)

    parent.send_signal(signal.SIGKILL)
    parent.wait(10)

    wait_until(
        lambda: not any(pid_alive(pid) for pid in pids),
        timeout=20,
        description="etcd and kube-apiserver to exit after their parent was killed",
    )


def test_a_second_start_reuses_the_cached_binaries_without_go(no_go_on_path: None) -> None:
    binaries = ensure_binaries()
    assert binaries.source == "cache"
    with LocalControlPlane(binaries=binaries) as control_plane:
        assert "default" in control_plane.cluster.kubectl("get", "namespaces").stdout


def test_kubebuilder_assets_are_used_instead_of_building(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    cached = ensure_binaries()
    for binary in (cached.etcd, cached.kube_apiserver, cached.kubectl):
        (tmp_path / binary.name).symlink_to(binary)
    monkeypatch.setenv("KUBEBUILDER_ASSETS", str(tmp_path))
    binaries = ensure_binaries()
    assert binaries.source == "KUBEBUILDER_ASSETS"
    assert binaries.kube_apiserver == tmp_path / "kube-apiserver"


def test_kubebuilder_assets_missing_a_binary_is_named(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    (tmp_path / "etcd").write_text("#!/bin/sh\n")
    (tmp_path / "etcd").chmod(0o755)
    monkeypatch.setenv("KUBEBUILDER_ASSETS", str(tmp_path))
    with pytest.raises(BinariesError, match="lacks executable kube-apiserver, kubectl"):
        ensure_binaries()


def test_no_go_toolchain_and_no_cache_says_what_to_install(
    no_go_on_path: None, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "empty-cache"))
    with pytest.raises(BinariesError) as raised:
        ensure_binaries()
    message = str(raised.value)
    assert "no Go toolchain on PATH" in message
    assert "Go 1.25+" in message
    assert "KUBEBUILDER_ASSETS" in message


def test_a_failing_build_shows_the_tail_of_go_output(tmp_path: Path) -> None:
    if shutil.which("go") is None:
        pytest.skip("needs a Go toolchain")
    with pytest.raises(BinariesError) as raised:
        build_kubernetes(find_go(), "v1.37.99", tmp_path / "k8s")
    message = str(raised.value)
    assert "go mod download -json k8s.io/kubernetes@v1.37.99" in message
    assert "failed with exit code" in message
    assert "v1.37.99" in message.split("last lines of its output:")[1]
    assert not (tmp_path / "k8s" / "kube-apiserver").exists()


def test_a_port_in_use_is_named() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(PortInUseError, match=f"port 127.0.0.1:{port} is in use"):
            LocalControlPlane(apiserver_port=port).start()


@pytest.fixture
def broken_etcd(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    cached = ensure_binaries()
    (tmp_path / "etcd").write_text(
        "#!/bin/sh\necho 'etcd: cannot open data dir: permission denied' >&2\nexit 3\n"
    )
    (tmp_path / "etcd").chmod(0o755)
    (tmp_path / "kube-apiserver").symlink_to(cached.kube_apiserver)
    (tmp_path / "kubectl").symlink_to(cached.kubectl)
    monkeypatch.setenv("KUBEBUILDER_ASSETS", str(tmp_path))
    return tmp_path


def test_a_binary_that_dies_on_start_shows_its_log(broken_etcd: Path) -> None:
    control_plane = LocalControlPlane()
    with pytest.raises(ControlPlaneError) as raised:
        control_plane.start()
    message = str(raised.value)
    assert "etcd exited with code 3 during start-up" in message
    assert "cannot open data dir: permission denied" in message
    assert control_plane.pids == []


def test_the_cli_starts_the_control_plane_in_the_background_and_stops_it(tmp_path: Path) -> None:
    state = tmp_path / "state"
    command = [sys.executable, "-m", "sagemaker_lab", "cluster"]
    started = subprocess.run(
        [*command, "start", f"--state-dir={state}"],
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert started.returncode == 0, started.stderr
    assert f"export KUBECONFIG={state / 'kubeconfig'}" in started.stdout
    pid = int((state / "pid").read_text())
    try:
        kubectl = ensure_binaries().kubectl
        namespaces = subprocess.run(
            [str(kubectl), "get", "namespaces", "-o", "name"],
            env={**os.environ, "KUBECONFIG": str(state / "kubeconfig")},
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        ).stdout
        assert "namespace/default" in namespaces
        again = subprocess.run(
            [*command, "start", f"--state-dir={state}"],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert again.returncode == 1
        assert "already runs" in again.stderr
    finally:
        stopped = subprocess.run(
            [*command, "stop", f"--state-dir={state}"],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    assert stopped.returncode == 0, stopped.stderr
    assert not pid_alive(pid)
    assert not (state / "pid").exists()
