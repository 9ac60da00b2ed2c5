"""The commands the README tells people to paste."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from sagemaker_operator import __version__

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.cluster
@pytest.mark.local_only
def test_the_demo_shows_the_control_plane_and_the_emulator_working() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "sagemaker_operator", "demo"],
        capture_output=True, text=True, timeout=180, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "kube-apiserver v1.37.2 at https://127.0.0.1:" in result.stdout
    assert "namespace/demo" in result.stdout
    assert "describe-training-job -> InProgress / Training" in result.stdout
    assert "describe-training-job -> Completed / Completed" in result.stdout
    assert "everything stopped" in result.stdout


def test_the_command_reports_its_version_and_lists_its_subcommands() -> None:
    version = subprocess.run(
        [sys.executable, "-m", "sagemaker_operator", "--version"],
        capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    assert version.stdout.strip() == f"sagemaker-operator {__version__}"
    usage = subprocess.run(
        [sys.executable, "-m", "sagemaker_operator"],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert usage.returncode == 2
    for command in ("cluster", "emulator", "demo", "run", "crd", "generate"):
        assert command in usage.stdout


def test_the_crd_command_prints_the_committed_crd() -> None:
    printed = subprocess.run(
        [sys.executable, "-m", "sagemaker_operator", "crd"],
        capture_output=True, text=True, timeout=60, check=True,
    ).stdout  # fmt: skip
    committed = (ROOT / "crds" / "trainingjobs.sagemaker-operator.dev.yaml").read_text()
    assert printed == committed
