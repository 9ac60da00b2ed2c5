"""The operator's image, built from the Dockerfile: small, production-only, and starting as
UID 65532 where no runtime adds a passwd line for it (containerd, Docker, podman with
``--passwd=false``)."""

from __future__ import annotations

import json
import subprocess
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from sagemaker_emulator import DEFAULT_ACCOUNT_ID, DEFAULT_REGION
from sagemaker_lab import Emulator, wait_until
from sagemaker_lab.images import BuiltImage, podman, podman_env, ulimits
from sagemaker_lab.processes import free_port
from tests.node.conftest import NodeCluster

pytestmark = pytest.mark.node

SIZE_GOAL = 228e6  # bytes: no larger than before the packages were split (issue O)


def run_in_image(*arguments: str) -> subprocess.CompletedProcess[str]:
    """``podman run`` as the image's user, with no passwd line added for it (as containerd)."""
    return subprocess.run(
        [podman(), "run", "--rm", "--passwd=false", *(f"--ulimit={u}" for u in ulimits()),
         *arguments],
        env=podman_env(), capture_output=True, text=True, check=False, timeout=120,
    )  # fmt: skip


def test_the_image_is_under_228_mb_and_holds_only_what_production_runs(
    operator_image: BuiltImage,
) -> None:
    print(f"image {operator_image.tag}: {operator_image.size_bytes / 1e6:.0f} MB, "
          f"built in {operator_image.seconds:.0f} s")  # fmt: skip
    assert operator_image.size_bytes <= SIZE_GOAL
    script = (
        "import importlib.util as u, shutil, sysconfig, pathlib;"
        "site = pathlib.Path(sysconfig.get_path('purelib'));"
        "print([m for m in ('pip', 'setuptools', 'pytest', 'mypy', 'hypothesis', 'ruff',"
        " 'sagemaker_lab', 'sagemaker_emulator', 'sagemaker_operator.testing',"
        " 'sagemaker_operator.codegen', 'kubernetes', 'requests', 'websocket')"
        " if u.find_spec(m)]);"
        "print([t for t in ('gcc', 'cc', 'make', 'go') if shutil.which(t)]);"
        "models = {p.name for p in (site / 'botocore' / 'data').iterdir()};"
        "print(sorted({'logs', 'sagemaker', 'sts'} & models))"
    )
    shown = run_in_image("--entrypoint=python", operator_image.tag, "-c",
                         script)  # fmt: skip
    assert shown.returncode == 0, shown.stderr
    modules, tools, services = shown.stdout.splitlines()
    assert modules == "[]"
    assert tools == "[]"
    assert services == "['logs', 'sagemaker', 'sts']"


def test_uid_65532_has_a_passwd_entry_and_an_unlisted_uid_would_still_crash(
    operator_image: BuiltImage,
) -> None:
    """The fix, and the control that shows this test can see the crash: the same call for a
    UID without an entry raises kopf's KeyError, so podman added no line here."""
    who = "import getpass, os; print(os.getuid(), getpass.getuser())"
    ours = run_in_image("--entrypoint=python", operator_image.tag, "-c", who)
    assert ours.stdout.split() == ["65532", "nonroot"], ours.stderr
    other = run_in_image("--user=65533", "--entrypoint=python",
                         operator_image.tag, "-c", who)  # fmt: skip
    assert "getpwuid(): uid not found: 65533" in other.stderr


@pytest.fixture
def container(operator_image: BuiltImage) -> Iterator[list[str]]:
    names: list[str] = []
    yield names
    for name in names:
        subprocess.run([podman(), "rm", "--force", name], env=podman_env(),
                       capture_output=True, check=False, timeout=60)  # fmt: skip


def test_the_image_starts_the_operator_as_65532_on_a_read_only_root(
    operator_image: BuiltImage, node_cluster: NodeCluster, container: list[str], tmp_path: Path,
) -> None:  # fmt: skip
    """`sagemaker-operator run` from the image, against the cluster and the emulator,
    answers its liveness probe: past kopf's identity, the login and the AWS set-up."""
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(node_cluster.cluster.kubeconfig.read_text())
    kubeconfig.chmod(0o644)  # readable by 65532
    probe = free_port()
    with Emulator("127.0.0.1", profile="fast") as emulator:
        name = f"image-start-{probe}"
        container.append(name)
        started = run_in_image(
            "--detach", f"--name={name}", "--network=host", "--read-only",
            f"--volume={kubeconfig}:/kubeconfig:ro", "--env=KUBECONFIG=/kubeconfig",
            f"--env=SAGEMAKER_OPERATOR_ENDPOINT_URL={emulator.endpoint_url}",
            f"--env=SAGEMAKER_OPERATOR_ACCOUNT_ID={DEFAULT_ACCOUNT_ID}",
            f"--env=SAGEMAKER_OPERATOR_PROBE_PORT={probe}",
            f"--env=AWS_REGION={DEFAULT_REGION}",
            "--env=AWS_ACCESS_KEY_ID=emulator", "--env=AWS_SECRET_ACCESS_KEY=emulator",
            operator_image.tag, "--namespace=default",
        )  # fmt: skip
        assert started.returncode == 0, started.stderr

        def healthy() -> bool:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{probe}/healthz", timeout=2) as r:
                    return r.status == 200 and "tracker" in json.loads(r.read())
            except OSError:
                return False

        def logs() -> str:
            return subprocess.run([podman(), "logs", name], env=podman_env(),
                                  capture_output=True, text=True, check=False,
                                  timeout=30).stderr[-3000:]  # fmt: skip

        wait_until(healthy, timeout=60, interval=0.5, description="the image's /healthz",
                   diagnose=logs)  # fmt: skip
        user = subprocess.run(
            [podman(), "top", name, "user", "huser"],
            env=podman_env(),
            capture_output=True,
            text=True,
            check=True,
            timeout=30,
        ).stdout
        assert "65532" in user.split()
