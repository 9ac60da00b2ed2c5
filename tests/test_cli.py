"""The commands the README tells people to paste."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from sagemaker_operator import __version__
from sagemaker_operator.settings import OperatorSettings

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.cluster
@pytest.mark.local_only
@pytest.mark.slow
def test_the_demo_runs_every_example_to_its_expected_end() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "sagemaker_lab", "demo"],
        capture_output=True, text=True, timeout=300, check=False, cwd=ROOT,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr
    final_table = result.stdout.split("$ kubectl get trainingjobs -o wide")[1]
    rows = {line.split()[0]: line.split()[1] for line in final_table.splitlines()[2:6]
            if line.strip()}  # fmt: skip
    assert rows == {"minimal": "Completed", "seed-xgboost": "Completed",
                    "spot-resnet": "Completed", "vpc-kmeans": "Failed"}  # fmt: skip
    assert "AlgorithmError: the demo's injected failure" in final_table
    assert "Warning   Failed" in result.stdout  # the events
    assert "every example ended as expected" in result.stdout


@pytest.mark.parametrize(
    ("module", "program", "commands", "not_there"),
    [
        ("sagemaker_operator", "sagemaker-operator", ("run", "crd"),
         ("cluster", "emulator", "demo", "generate")),
        ("sagemaker_lab", "sagemaker-lab",
         ("cluster", "emulator", "image", "demo", "generate", "lock", "release"), ("run",)),
    ],
)  # fmt: skip
def test_each_command_reports_its_version_and_lists_its_own_subcommands_only(
    module: str, program: str, commands: tuple[str, ...], not_there: tuple[str, ...]
) -> None:
    version = subprocess.run(
        [sys.executable, "-m", module, "--version"],
        capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    assert version.stdout.strip() == f"{program} {__version__}"
    usage = subprocess.run(
        [sys.executable, "-m", module],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert usage.returncode == 2
    listed = re.findall(r"^    (\w+)", usage.stdout.split("commands:")[1], re.MULTILINE)
    for command in commands:
        assert command in listed
    for command in not_there:
        assert command not in listed


def test_the_crd_command_prints_the_committed_crd_and_its_policy() -> None:
    printed = subprocess.run(
        [sys.executable, "-m", "sagemaker_operator", "crd"],
        capture_output=True, text=True, timeout=60, check=True,
    ).stdout  # fmt: skip
    crd = (ROOT / "crds" / "trainingjobs.sagemaker-operator.dev.yaml").read_text()
    policy = (ROOT / "crds" / "trainingjobs.sagemaker-operator.dev.immutable-spec.yaml").read_text()
    assert printed == f"{crd}---\n{policy}"


def test_every_operator_setting_is_also_a_flag_of_run() -> None:
    shown = subprocess.run(
        [sys.executable, "-m", "sagemaker_operator", "run", "--help"],
        capture_output=True, text=True, timeout=60, check=True,
    ).stdout  # fmt: skip
    for name in OperatorSettings.model_fields:
        flag = "--namespace" if name == "namespaces" else f"--{name.replace('_', '-')}"
        assert flag in shown, name


def test_a_wrong_setting_is_refused_before_anything_starts_naming_it() -> None:
    refused = subprocess.run(
        [sys.executable, "-m", "sagemaker_operator", "run", "--poll-interval", "0"],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert refused.returncode == 2
    assert "poll_interval" in refused.stderr
    assert "greater than 0" in refused.stderr
