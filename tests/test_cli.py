"""The commands the README tells people to paste."""

from __future__ import annotations

import subprocess
import sys

import pytest

from sagemaker_operator import __version__


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
    for command in ("cluster", "emulator", "demo"):
        assert command in usage.stdout
