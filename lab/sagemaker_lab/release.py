"""``make release``: the image, the chart and the plugin's wheel of one version, the image and
the chart pushed to an OCI registry.

One version names everything: the Python package's (pyproject.toml, which the wheel and
``sagemaker-operator --version`` carry), the chart's ``version`` and ``appVersion``, the
image's tag; CHANGELOG.md has its section. The published chart pins the image by tag and
digest (the digest wins in the chart's template), so ``helm install oci://…/sagemaker-operator
--version X`` runs exactly the image built with it.

Pushing to a registry that needs credentials uses what podman and helm already hold
(``podman login``, ``helm registry login``); ``plain_http`` is for a registry on loopback.
"""

from __future__ import annotations

import hashlib
import io
import re
import shutil
import subprocess
import sys
import tarfile
import tomllib
from dataclasses import dataclass
from pathlib import Path

import yaml

from sagemaker_lab.binaries import ensure_helm
from sagemaker_lab.images import build_operator_image, run_podman
from sagemaker_operator import __version__

ROOT = Path(__file__).resolve().parents[2]
CHART = "sagemaker-operator"
IMAGE = "sagemaker-operator"
_SEMVER = re.compile(r"^\d+\.\d+\.\d+(?:-[0-9A-Za-z.-]+)?$")
_REGISTRY = re.compile(r"^[a-z0-9.-]+(?::\d+)?(?:/[a-z0-9._-]+)*$")


class ReleaseError(RuntimeError):
    """A release that cannot be made; the message says what to change."""


# Where a release's plugin archive is downloaded from (the workflow's GitHub release).
DOWNLOADS = "https://github.com/sagemaker-operator/sagemaker-operator/releases/download"


@dataclass(frozen=True)
class Released:
    version: str
    image: str  # repository@sha256:…, as the chart pins it
    chart: str  # oci://REGISTRY/charts/sagemaker-operator, with --version VERSION
    chart_archive: Path
    wheel: Path
    krew_archive: Path
    krew_manifest: Path


def versions(root: Path = ROOT) -> dict[str, str]:
    """Every place that states the version, and what it says."""
    chart = yaml.safe_load((root / "helm" / CHART / "Chart.yaml").read_text())
    project = tomllib.loads((root / "pyproject.toml").read_text())["project"]
    return {
        "pyproject.toml": str(project["version"]),
        "sagemaker_operator.__version__": __version__,
        "Chart.yaml version": str(chart["version"]),
        "Chart.yaml appVersion": str(chart["appVersion"]),
    }


def check_version(version: str, root: Path = ROOT) -> None:
    if not _SEMVER.match(version):
        raise ReleaseError(f"VERSION={version!r} is not a semantic version (such as 0.2.0)")
    wrong = {place: said for place, said in versions(root).items() if said != version}
    if wrong:
        listed = ", ".join(f"{place} says {said}" for place, said in wrong.items())
        raise ReleaseError(f"VERSION={version}, but {listed}: set them all to {version} first")
    if not re.search(rf"^## {re.escape(version)}\b", (root / "CHANGELOG.md").read_text(), re.M):
        raise ReleaseError(f"CHANGELOG.md has no '## {version}' section")


def release(version: str, registry: str, out: Path, *, plain_http: bool = False,
            base: str | None = None, root: Path = ROOT) -> Released:  # fmt: skip
    """Build and push the image (on ``base``, else the Python base made from Debian
    packages), package the chart pinned to its digest and push it, and build the plugin's
    wheel into ``out``."""
    check_version(version, root)
    registry = registry.rstrip("/")
    if not _REGISTRY.match(registry):
        raise ReleaseError(f"REGISTRY={registry!r} is not a registry and path such as "
                           "ghcr.io/my-org or 127.0.0.1:5000/test")  # fmt: skip
    out.mkdir(parents=True, exist_ok=True)
    tag = f"{registry}/{IMAGE}:{version}"
    build_operator_image(tag, base)
    digest_file = out / "image.digest"
    run_podman("push", f"--tls-verify={'false' if plain_http else 'true'}",
               f"--digestfile={digest_file}", tag)  # fmt: skip
    digest = digest_file.read_text().strip()
    if not digest.startswith("sha256:"):
        raise ReleaseError(f"podman push gave no digest for {tag}: {digest!r}")
    archive = package_chart(version, f"{registry}/{IMAGE}", digest, out, root=root)
    helm = str(ensure_helm())
    _run([helm, "push", str(archive), f"oci://{registry}/charts",
          *(["--plain-http"] if plain_http else [])])  # fmt: skip
    wheel = build_wheel(out, root=root)
    plugin = krew_archive(wheel, version, out, root=root)
    manifest = krew_manifest(plugin, version, out, f"{DOWNLOADS}/v{version}/{plugin.name}")
    return Released(version, f"{registry}/{IMAGE}@{digest}", f"oci://{registry}/charts/{CHART}",
                    archive, wheel, plugin, manifest)  # fmt: skip


def package_chart(version: str, repository: str, digest: str, out: Path, *,
                  root: Path = ROOT) -> Path:  # fmt: skip
    """``helm package`` of a copy of the chart whose values pin the image."""
    staging = out / "chart" / CHART
    shutil.rmtree(staging, ignore_errors=True)
    shutil.copytree(root / "helm" / CHART, staging, symlinks=False)  # the CRD, not a link
    values = staging / "values.yaml"
    values.write_text(pinned_values(values.read_text(), repository, version, digest))
    _run([str(ensure_helm()), "package", str(staging), "--destination", str(out)])
    archive = out / f"{CHART}-{version}.tgz"
    if not archive.is_file():
        raise ReleaseError(f"helm package made no {archive.name}")
    return archive


def pinned_values(text: str, repository: str, tag: str, digest: str) -> str:
    """values.yaml with ``image.repository``, ``.tag`` and ``.digest`` set, comments kept."""
    for key, value in (("repository", repository), ("tag", tag), ("digest", digest)):
        text, count = re.subn(rf"^(  {key}:)[^\n#]*?(\s*#.*)?$", rf"\1 {value}\2", text,
                              count=1, flags=re.MULTILINE)  # fmt: skip
        if count != 1:
            raise ReleaseError(f"values.yaml has no image.{key} line to pin")
    image = yaml.safe_load(text)["image"]
    if (image["repository"], str(image["tag"]), image["digest"]) != (repository, tag, digest):
        raise ReleaseError(f"values.yaml's image did not pin as meant: {image}")
    return text


def build_wheel(out: Path, *, root: Path = ROOT) -> Path:
    """The operator's wheel: ``pip install 'wheel[kubectl]'`` is the kubectl plugin (the
    controller adds the [controller] extra)."""
    _run([sys.executable, "-m", "pip", "wheel", "--quiet", "--disable-pip-version-check",
          "--no-deps", "--wheel-dir", str(out), str(root)])  # fmt: skip
    found = sorted(out.glob(f"sagemaker_operator-{versions(root)['pyproject.toml']}-*.whl"))
    if not found:
        raise ReleaseError("pip wheel made no wheel")
    return found[-1]


def krew_archive(wheel: Path, version: str, out: Path, *, root: Path = ROOT) -> Path:
    """The plugin as krew installs it: deploy/krew's launcher (which installs the wheel into
    a virtualenv of its own on the first run), the wheel and the licence."""
    archive = out / f"kubectl-sagemaker-{version}.tar.gz"
    launcher = (root / "deploy" / "krew" / "kubectl-sagemaker").read_text()
    with tarfile.open(archive, "w:gz") as packed:
        _add(packed, "kubectl-sagemaker", launcher.replace("@VERSION@", version).encode(), 0o755)
        _add(packed, wheel.name, wheel.read_bytes(), 0o644)
        _add(packed, "LICENSE", (root / "LICENSE").read_bytes(), 0o644)
    return archive


def _add(packed: tarfile.TarFile, name: str, data: bytes, mode: int) -> None:
    member = tarfile.TarInfo(name)
    member.size, member.mode, member.mtime = len(data), mode, 0  # reproducible
    packed.addfile(member, io.BytesIO(data))


def krew_manifest(archive: Path, version: str, out: Path, uri: str) -> Path:
    """krew's Plugin manifest for ``archive`` downloaded from ``uri``."""
    manifest = {
        "apiVersion": "krew.googlecontainertools.github.com/v1alpha2",
        "kind": "Plugin",
        "metadata": {"name": "sagemaker"},
        "spec": {
            "version": f"v{version}",
            "homepage": "https://github.com/sagemaker-operator/sagemaker-operator",
            "shortDescription": "Logs, summaries and manifests of SageMaker TrainingJobs",
            "description": (
                "Reads the CloudWatch logs and a summary of sagemaker-operator's TrainingJobs,\n"
                "writes the manifest that adopts an existing SageMaker training job, and\n"
                "converts ACK sagemaker-controller TrainingJob manifests.\n"
            ),
            "caveats": (
                "Needs Python 3.11 or newer on PATH. The first run installs the plugin's\n"
                "Python packages from PyPI into ~/.cache/kubectl-sagemaker.\n"
            ),
            "platforms": [{
                "selector": {"matchExpressions": [
                    {"key": "os", "operator": "In", "values": ["linux", "darwin"]}]},
                "uri": uri,
                "sha256": hashlib.sha256(archive.read_bytes()).hexdigest(),
                "bin": "kubectl-sagemaker",
            }],
        },
    }  # fmt: skip
    path = out / "krew" / "sagemaker.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(manifest, sort_keys=False))
    return path


def _run(command: list[str]) -> None:
    done = subprocess.run(command, capture_output=True, text=True, check=False, timeout=900)
    if done.returncode != 0:
        raise ReleaseError(f"{' '.join(command[:3])} … failed ({done.returncode}):\n"
                           f"{done.stdout[-2000:]}{done.stderr[-2000:]}")  # fmt: skip
