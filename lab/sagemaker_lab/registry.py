"""An OCI registry on loopback: the CNCF distribution registry (v3, built from the Go module
proxy), for testing a release the way users consume one (``helm install oci://…``, an image
pulled by containerd) without any registry on the network."""

from __future__ import annotations

import contextlib
import subprocess
import urllib.request
from pathlib import Path
from types import TracebackType

from sagemaker_emulator.waiting import wait_until
from sagemaker_lab import processes
from sagemaker_lab.binaries import ensure_registry


class LocalRegistry:
    """``with LocalRegistry(folder) as registry:`` serves ``registry.host`` (plain HTTP on
    127.0.0.1, storage in ``folder``) until the block ends."""

    def __init__(self, state: Path, host: str = "127.0.0.1", port: int | None = None) -> None:
        self.state = state
        self.address = f"{host}:{port or processes.free_port(host)}"
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def host(self) -> str:
        """``127.0.0.1:PORT``: the registry part of image references and oci:// URLs."""
        return self.address

    @property
    def log(self) -> Path:
        return self.state / "registry.log"

    def start(self) -> LocalRegistry:
        self.state.mkdir(parents=True, exist_ok=True)
        config = self.state / "config.yml"
        config.write_text(
            "version: 0.1\n"
            "log: {level: info}\n"
            f"storage: {{filesystem: {{rootdirectory: {self.state / 'storage'}}}}}\n"
            f"http: {{addr: {self.address}}}\n"
        )
        self._process = processes.spawn([str(ensure_registry()), "serve", str(config)], self.log)
        wait_until(self._answers, timeout=30, interval=0.2, description="the registry to answer",
                   diagnose=lambda: processes.log_tail(self.log))  # fmt: skip
        return self

    def _answers(self) -> bool:
        if self._process is not None and self._process.poll() is not None:
            raise RuntimeError(f"the registry exited:\n{processes.log_tail(self.log)}")
        url = f"http://{self.address}/v2/"
        with contextlib.suppress(OSError), urllib.request.urlopen(url, timeout=2) as answer:
            return int(answer.status) == 200
        return False

    def stop(self) -> None:
        if self._process is not None:
            processes.terminate(self._process)
            self._process = None

    def __enter__(self) -> LocalRegistry:
        return self.start()

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:  # fmt: skip
        self.stop()
