"""A SageMaker emulator that real boto3 talks to, for tests, demos and benchmarks."""

from sagemaker_operator.testing.emulator.control import EmulatorControl
from sagemaker_operator.testing.emulator.jobs import PHASE_NAMES, PROFILES
from sagemaker_operator.testing.emulator.server import (
    DEFAULT_ACCOUNT_ID,
    DEFAULT_REGION,
    Emulator,
)

__all__ = [
    "DEFAULT_ACCOUNT_ID",
    "DEFAULT_REGION",
    "PHASE_NAMES",
    "PROFILES",
    "Emulator",
    "EmulatorControl",
]
