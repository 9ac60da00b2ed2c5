"""The kubectl plugin installs without the controller: `pip install 'sagemaker-operator[kubectl]'`
brings kubectl-sagemaker and none of kopf, aiolimiter, pydantic-settings, prometheus-client
or cryptography; `sagemaker-operator run` then says which extra it needs. Without the
[kubectl] extra, `convert` works and the commands that read the cluster name the extra."""

from __future__ import annotations

import subprocess
import sys
import venv
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[2]
CONTROLLER_ONLY = ("kopf", "aiolimiter", "pydantic_settings", "prometheus_client", "cryptography")

pytestmark = pytest.mark.slow  # a fresh virtualenv from PyPI: about a minute


def run(environment: Path, command: str, *arguments: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(environment / "bin" / command), *arguments],
                          capture_output=True, text=True, check=False, timeout=60)  # fmt: skip


ACK_MANIFEST = str(ROOT / "tests" / "kubectl" / "ack" / "xgboost.yaml")


def test_the_plugin_installs_and_converts_without_the_controllers_dependencies(
    tmp_path: Path,
) -> None:
    wheels = tmp_path / "wheels"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps",
                    "--wheel-dir", str(wheels), str(ROOT)], check=True, timeout=300)  # fmt: skip
    (wheel,) = wheels.glob("sagemaker_operator-*.whl")
    environment = tmp_path / "venv"
    venv.create(environment, with_pip=True)
    python = environment / "bin" / "python"
    subprocess.run([str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                    "-c", str(ROOT / "constraints.txt"), f"{wheel}[kubectl]"],
                   check=True, timeout=600)  # fmt: skip
    for module in CONTROLLER_ONLY:
        found = subprocess.run([str(python), "-c", f"import {module}"], capture_output=True,
                               check=False, timeout=60)  # fmt: skip
        assert found.returncode != 0, f"{module} was installed with the plugin"
    converted = run(environment, "kubectl-sagemaker", "convert", "-f", ACK_MANIFEST)
    assert converted.returncode == 0, converted.stderr
    assert "roleArn: arn:aws:iam::123456789012:role/sagemaker-execution" in converted.stdout
    operator = run(environment, "sagemaker-operator", "run")
    assert operator.returncode == 2
    assert "pip install 'sagemaker-operator[controller]'" in operator.stderr
    # Without the [kubectl] extra, `convert` still works and a command that reads the cluster
    # names the extra it needs.
    subprocess.run([str(python), "-m", "pip", "uninstall", "--quiet", "--yes", "kubernetes"],
                   check=True, timeout=120)  # fmt: skip
    offline = run(environment, "kubectl-sagemaker", "convert", "-f", ACK_MANIFEST)
    assert offline.returncode == 0, offline.stderr
    described = run(environment, "kubectl-sagemaker", "describe", "some-job")
    assert described.returncode == 1
    assert "pip install 'sagemaker-operator[kubectl]'" in described.stderr
