"""A SageMaker emulator that real boto3 talks to (``endpoint_url``), for tests, demos and
benchmarks: SageMaker's training jobs, SQS, STS, an EventBridge rule and CloudWatch Logs,
each request validated with botocore's service model. See README.md beside this package.

    from sagemaker_emulator import Emulator

    with Emulator() as emulator:
        sagemaker = emulator.sagemaker_client()
"""

from sagemaker_emulator.control import EmulatorControl
from sagemaker_emulator.jobs import PHASE_NAMES, PROFILES
from sagemaker_emulator.server import DEFAULT_ACCOUNT_ID, DEFAULT_REGION, Emulator
from sagemaker_emulator.waiting import wait_until

__all__ = [
    "DEFAULT_ACCOUNT_ID",
    "DEFAULT_REGION",
    "PHASE_NAMES",
    "PROFILES",
    "Emulator",
    "EmulatorControl",
    "wait_until",
]
