"""pytest fixtures for tests that talk to the emulator. Enable them in a ``conftest.py``::

    pytest_plugins = ["sagemaker_emulator.pytest_plugin"]

``emulator`` is a fresh emulator per test (fast profile, a free loopback port),
``sagemaker`` a real boto3 SageMaker client for it, and ``future_model`` an AWS_DATA_PATH
with a SageMaker model newer than the installed botocore's.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from botocore.config import Config

from sagemaker_emulator.future import write_future_model
from sagemaker_emulator.server import Emulator

if TYPE_CHECKING:
    from mypy_boto3_sagemaker import SageMakerClient


@pytest.fixture
def emulator() -> Iterator[Emulator]:
    """A fresh SageMaker emulator (fast profile) on a free loopback port."""
    with Emulator(profile="fast") as running:
        yield running


@pytest.fixture
def sagemaker(emulator: Emulator) -> SageMakerClient:
    """A real boto3 SageMaker client for the emulator, with botocore's standard retries."""
    return emulator.sagemaker_client(
        config=Config(retries={"mode": "standard", "total_max_attempts": 4})
    )


@pytest.fixture
def future_model(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """AWS_DATA_PATH with a SageMaker model newer than botocore's (the members the
    ``new_answer_members`` switch sends): clients made from now on parse them, as a client
    with a newer botocore parses what AWS adds."""
    folder = write_future_model(tmp_path / "future-model")
    monkeypatch.setenv("AWS_DATA_PATH", str(folder))
    return folder
