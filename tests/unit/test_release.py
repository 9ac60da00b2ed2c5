"""The release: one version everywhere, the chart's image pinned by digest, and the release
workflow clean by actionlint (which finds a broken copy)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import yaml

from sagemaker_lab.binaries import ensure_actionlint
from sagemaker_lab.release import (
    ROOT,
    ReleaseError,
    check_version,
    pinned_values,
    versions,
)

WORKFLOW = ROOT / ".github" / "workflows" / "release.yml"
DIGEST = "sha256:" + "ab" * 32


def test_the_package_the_chart_and_the_changelog_state_one_version() -> None:
    stated = versions()
    assert len(set(stated.values())) == 1, stated
    check_version(stated["pyproject.toml"])  # and CHANGELOG.md has its section


def test_a_version_the_files_do_not_state_is_refused_naming_each_file() -> None:
    with pytest.raises(ReleaseError, match=r"pyproject\.toml says .*Chart\.yaml appVersion says"):
        check_version("9.9.9")
    with pytest.raises(ReleaseError, match="not a semantic version"):
        check_version("v1")


def test_the_released_values_pin_the_image_and_keep_the_comments() -> None:
    text = (ROOT / "helm" / "sagemaker-operator" / "values.yaml").read_text()
    pinned = pinned_values(text, "127.0.0.1:5000/test/sagemaker-operator", "0.2.0", DIGEST)
    image = yaml.safe_load(pinned)["image"]
    assert image == {"repository": "127.0.0.1:5000/test/sagemaker-operator", "tag": "0.2.0",
                     "digest": DIGEST, "pullPolicy": "IfNotPresent"}  # fmt: skip
    assert "# sha256:…; wins over tag when set" in pinned
    assert len(pinned.splitlines()) == len(text.splitlines())


def _actionlint(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(ensure_actionlint()), "-no-color", str(path)], capture_output=True,
                          text=True, check=False, timeout=300)  # fmt: skip


def test_the_release_workflow_is_clean_by_actionlint(tmp_path: Path) -> None:
    linted = _actionlint(WORKFLOW)
    assert linted.returncode == 0, linted.stdout + linted.stderr
    broken = tmp_path / ".github" / "workflows" / "release.yml"
    broken.parent.mkdir(parents=True)
    text = WORKFLOW.read_text().replace("${{ github.repository_owner }}", "${{ github.owner }}")
    broken.write_text(text)  # github.owner is no property of the github context
    assert _actionlint(broken).returncode != 0


def test_the_workflow_runs_make_release_with_the_tags_version() -> None:
    text = WORKFLOW.read_text()
    assert 'make release VERSION="$version"' in text
    assert 'version="${GITHUB_REF_NAME#v}"' in text
