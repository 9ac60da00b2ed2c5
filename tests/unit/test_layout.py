"""The house: three packages with their own import roots (import-linter holds who imports
whom), and no hand-written file of the operator so long that it holds more than one job."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LONGEST = 400  # lines


def test_no_hand_written_file_of_the_operator_is_over_400_lines() -> None:
    long = {
        str(path.relative_to(ROOT)): lines
        for path in (ROOT / "operator" / "sagemaker_operator").rglob("*.py")
        if (lines := len(path.read_text().splitlines())) > LONGEST
        and "GENERATED" not in path.read_text()[:300]
    }
    assert long == {}


def test_each_package_has_its_own_project_and_import_root() -> None:
    for folder, package in (("operator", "sagemaker_operator"), ("emulator", "sagemaker_emulator"),
                            ("lab", "sagemaker_lab")):  # fmt: skip
        assert (ROOT / folder / package / "__init__.py").is_file()
    assert (ROOT / "pyproject.toml").is_file()
    assert (ROOT / "emulator" / "pyproject.toml").is_file()
    assert (ROOT / "lab" / "pyproject.toml").is_file()
    assert not (ROOT / "operator" / "sagemaker_operator" / "testing").exists()
