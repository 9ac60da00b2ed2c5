"""The operator's image, built here with podman, and images handed to the local node.

No registry can be reached here, so nothing is pulled:

- the Python base image is made from Debian packages with mmdebstrap and imported into
  podman (``localhost/sagemaker-operator/python:3.11-bookworm``), once; it is passed to the
  Dockerfile as its one switch, ``--build-arg PYTHON_IMAGE=…`` (a laptop with a registry
  runs ``docker build .`` and gets ``python:3.11-slim``);
- the pod sandbox image is a static Go program (``testing/pause``) in a ``FROM scratch``
  image tagged as the one containerd would pull;
- images reach the node's containerd as ``podman save`` archives, imported with ``ctr``.

podman itself needs two settings on this kind of machine (``containers.conf``, written into
the cache and passed as ``CONTAINERS_CONF``): runc, because crun refuses hybrid cgroup v1
hierarchies, and ulimits no higher than the hard limits the caller has, because without
CAP_SYS_RESOURCE raising them fails every ``podman run``.
"""

from __future__ import annotations

import json
import logging
import os
import resource
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from sagemaker_lab.binaries import cache_root

logger = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parents[2]
BASE_IMAGE = "localhost/sagemaker-operator/python:3.11-bookworm"
OPERATOR_IMAGE = "localhost/sagemaker-operator:dev"
PAUSE_IMAGE = "registry.k8s.io/pause:3.10"
# The Debian packages of the base image: Python, venv (the Dockerfile's build stage makes
# a virtual environment with it) and the CA bundle. No pip, no compiler.
BASE_PACKAGES = ("python3", "python3-venv", "python-is-python3", "ca-certificates")
_TAIL = 40


class ImageError(RuntimeError):
    """An image could not be built, imported or run; the message says why and what to do."""


@dataclass(frozen=True)
class BuiltImage:
    tag: str
    id: str
    size_bytes: int
    seconds: float


def podman() -> str:
    found = shutil.which("podman")
    if found is None:
        raise ImageError(
            "podman is not installed: the image and the local node's images are built with "
            "it (Debian: apt-get install podman; `make image` installs it)"
        )
    return found


def ulimits() -> list[str]:
    """Container ulimits no higher than this process's hard limits (``nofile=N:N``, …)."""
    limits = []
    for name, kind, fallback in (("nofile", resource.RLIMIT_NOFILE, 1048576),
                                 ("nproc", resource.RLIMIT_NPROC, 32768)):  # fmt: skip
        hard = resource.getrlimit(kind)[1]
        value = fallback if hard == resource.RLIM_INFINITY else min(hard, fallback)
        limits.append(f"{name}={value}:{value}")
    return limits


def containers_conf() -> Path:
    """podman's settings for this machine (see the module docstring)."""
    path = cache_root() / "podman" / "containers.conf"
    text = (
        "# Written by sagemaker-operator (testing/images.py): runc, not crun, which refuses\n"
        "# hybrid cgroup v1; ulimits within the hard limits (no CAP_SYS_RESOURCE needed).\n"
        "[containers]\n"
        f"default_ulimits = {json.dumps(ulimits())}\n"
        "[engine]\n"
        'runtime = "runc"\n'
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists() or path.read_text() != text:
        path.write_text(text)
    return path


def podman_env() -> dict[str, str]:
    return {**os.environ, "CONTAINERS_CONF": str(containers_conf())}


def run_podman(*arguments: str, timeout: float = 900, input: bytes | None = None) -> str:
    command = [podman(), *arguments]
    try:
        process = subprocess.run(command, env=podman_env(), capture_output=True, check=False,
                                 timeout=timeout, input=input)  # fmt: skip
    except subprocess.TimeoutExpired as error:
        raise ImageError(f"`{' '.join(command)}` did not finish in {timeout:.0f} s") from error
    if process.returncode != 0:
        said = (process.stdout + process.stderr).decode(errors="replace").splitlines()
        raise ImageError(
            f"`{' '.join(command)}` failed with exit code {process.returncode}:\n"
            + "\n".join(said[-_TAIL:])
        )
    return process.stdout.decode(errors="replace")


def image_exists(tag: str) -> bool:
    return subprocess.run([podman(), "image", "exists", tag], env=podman_env(),
                          check=False, timeout=60).returncode == 0  # fmt: skip


def ensure_base_image(tag: str = BASE_IMAGE) -> str:
    """The Python base image made from Debian packages (about 1.5 minutes, once)."""
    if image_exists(tag):
        return tag
    mmdebstrap = shutil.which("mmdebstrap")
    if mmdebstrap is None:
        raise ImageError(
            "mmdebstrap is not installed: the base image is made from Debian packages with it "
            "when no registry can be reached (Debian: apt-get install mmdebstrap), or pass "
            "a Python image you have: --base python:3.11-slim-bookworm"
        )
    logger.info("making the base image %s from Debian packages (about 1.5 minutes, once)", tag)
    with tempfile.TemporaryDirectory(prefix="base-image-") as tmp:
        archive = Path(tmp) / "base.tar"
        command = [
            mmdebstrap, "--variant=minbase", "--quiet",
            # Merged /usr without the usrmerge package, which would pull in Perl (47 MB).
            "--hook-dir=/usr/share/mmdebstrap/hooks/merged-usr",
            "--aptopt=APT::Install-Recommends \"false\"",
            f"--include={','.join(BASE_PACKAGES)}",
            *(f"--dpkgopt=path-exclude=/usr/share/{folder}/*"
              for folder in ("doc", "man", "locale", "info")),
            "--dpkgopt=path-include=/usr/share/doc/*/copyright",
            "bookworm", str(archive),
        ]  # fmt: skip
        process = subprocess.run(command, capture_output=True, text=True, check=False,
                                 timeout=1200)  # fmt: skip
        if process.returncode != 0:
            said = (process.stdout + process.stderr).splitlines()
            raise ImageError(f"mmdebstrap failed ({process.returncode}):\n"
                             + "\n".join(said[-_TAIL:]))  # fmt: skip
        run_podman("import", "--change", 'CMD ["python3"]', str(archive), tag)
    return tag


def build_operator_image(tag: str = OPERATOR_IMAGE, base: str | None = None) -> BuiltImage:
    """``podman build`` of the repository's Dockerfile, on ``base`` or the Debian-made base.

    The build's pip reaches PyPI as pip does on this host: the host's CA bundle and pip
    configuration (a proxy that re-signs TLS, a mirror) are lent to the build read-only,
    never copied into the image.
    """
    started = time.monotonic()
    python_image = base or ensure_base_image()
    lent = [f"--volume={path}:{path}:ro"
            for path in ("/etc/ssl/certs/ca-certificates.crt", "/etc/pip.conf")
            if Path(path).is_file()]  # fmt: skip
    run_podman(
        "build", "--quiet", f"--build-arg=PYTHON_IMAGE={python_image}", *lent,
        *(f"--ulimit={limit}" for limit in ulimits()),  # `build` ignores default_ulimits
        f"--tag={tag}", "--file", str(ROOT / "Dockerfile"), str(ROOT),
        timeout=1800,
    )  # fmt: skip
    found = json.loads(run_podman("image", "inspect", tag))[0]
    return BuiltImage(tag, str(found["Id"]), int(found["Size"]), time.monotonic() - started)


def ensure_pause_image(pause_binary: Path, tag: str = PAUSE_IMAGE) -> str:
    """The pod sandbox image: the pause program alone in a scratch image (1.4 MB)."""
    if image_exists(tag):
        return tag
    with tempfile.TemporaryDirectory(prefix="pause-image-") as tmp:
        context = Path(tmp)
        shutil.copy2(pause_binary, context / "pause")
        (context / "Containerfile").write_text(
            'FROM scratch\nCOPY pause /pause\nUSER 65535:65535\nENTRYPOINT ["/pause"]\n'
        )
        run_podman("build", "--quiet", f"--tag={tag}", str(context),
                   *(f"--ulimit={limit}" for limit in ulimits()))  # fmt: skip
    return tag


def import_into_containerd(tags: list[str], ctr: str, address: Path) -> None:
    """Hand images to the node's containerd (namespace k8s.io), as a registry would."""
    with tempfile.TemporaryDirectory(prefix="images-") as tmp:
        for tag in tags:
            archive = Path(tmp) / "image.tar"
            run_podman("save", "--quiet", "--format=docker-archive", f"--output={archive}", tag)
            process = subprocess.run(
                [ctr, f"--address={address}", "--namespace=k8s.io", "images", "import",
                 str(archive)],
                capture_output=True, text=True, check=False, timeout=300,
            )  # fmt: skip
            if process.returncode != 0:
                raise ImageError(f"ctr could not import {tag}: {process.stderr.strip()}")
            archive.unlink()
