"""The plugin as krew installs it: the release's krew manifest and archive, installed by real
krew (built from the Go module proxy), run through kubectl."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
import yaml

from sagemaker_lab.binaries import ensure_binaries, ensure_krew
from sagemaker_lab.release import build_wheel, krew_archive, krew_manifest

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.slow  # the first run installs the plugin from PyPI: about a minute


def test_krew_installs_the_release_manifest_and_kubectl_runs_the_plugin(tmp_path: Path) -> None:
    out = tmp_path / "release"
    wheel = build_wheel(out)
    archive = krew_archive(wheel, "0.0.0-test", out)
    manifest = krew_manifest(archive, "0.0.0-test", out, "https://example.invalid/plugin.tar.gz")
    assert yaml.safe_load(manifest.read_text())["spec"]["platforms"][0]["sha256"]
    environment = {**os.environ, "KREW_ROOT": str(tmp_path / "krew"),
                   "XDG_CACHE_HOME": str(tmp_path / "cache"),
                   "KREW_NO_UPGRADE_CHECK": "1"}  # fmt: skip
    installed = subprocess.run(
        [str(ensure_krew()), "install", f"--manifest={manifest}", f"--archive={archive}"],
        env=environment, capture_output=True, text=True, check=False, timeout=300,
    )  # fmt: skip
    assert installed.returncode == 0, installed.stdout + installed.stderr
    kubectl = ensure_binaries().kubectl
    environment["PATH"] = f"{tmp_path / 'krew' / 'bin'}:{os.environ['PATH']}"
    converted = subprocess.run(
        [str(kubectl), "sagemaker", "convert", "-f",
         str(ROOT / "tests" / "kubectl" / "ack" / "xgboost.yaml")],
        env=environment, capture_output=True, text=True, check=False, timeout=600,
    )  # fmt: skip
    assert converted.returncode == 0, converted.stderr
    assert "first run: installing the plugin" in converted.stderr
    assert "s3Uri: s3://example-bucket/ack/train" in converted.stdout
    again = subprocess.run([str(kubectl), "sagemaker", "--help"], env=environment,
                           capture_output=True, text=True, check=False, timeout=60)  # fmt: skip
    assert again.returncode == 0
    assert "first run" not in again.stderr
