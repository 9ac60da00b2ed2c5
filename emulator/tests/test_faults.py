"""Injected faults reach boto3 as AWS's would, and botocore's retry modes cope with them."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Literal

import pytest
from botocore.config import Config
from botocore.exceptions import ClientError, ConnectionClosedError, EndpointConnectionError

from sagemaker_emulator import Emulator, EmulatorControl, wait_until
from sagemaker_emulator.control import EmulatorControlError
from tests.requests import typical

if TYPE_CHECKING:
    from mypy_boto3_sagemaker import SageMakerClient


def client(
    emulator: Emulator, attempts: int, mode: Literal["standard", "adaptive"] = "standard"
) -> SageMakerClient:
    """A client making at most ``attempts`` attempts per call (the first one included)."""
    return emulator.sagemaker_client(
        config=Config(
            retries={"mode": mode, "total_max_attempts": attempts},
            connect_timeout=1,
            read_timeout=5,
        ),
    )


@pytest.fixture
def seeded() -> Iterator[Emulator]:
    # A fixed seed makes the fault dice repeatable from run to run.
    with Emulator(seed=7) as emulator:
        yield emulator


def test_throttling_is_retried_by_botocore_and_counted(seeded: Emulator) -> None:
    control = EmulatorControl(seeded.endpoint_url)
    control.set_faults(throttle_rate=0.2)
    sagemaker = client(seeded, attempts=10)
    for index in range(10):
        sagemaker.create_training_job(**typical(f"job-{index}"))
    outcomes = control.stats()["outcomes"]["CreateTrainingJob"]
    assert outcomes["ok"] == 10  # every job created exactly once, despite the retries
    assert outcomes["ThrottlingException"] >= 1
    assert control.calls("CreateTrainingJob") == 10 + outcomes["ThrottlingException"]


def test_throttling_past_the_retry_budget_surfaces_as_throttling_exception(
    emulator: Emulator,
) -> None:
    control = EmulatorControl(emulator.endpoint_url)
    control.set_faults(throttle_rate=1.0, throttle_operations=["ListTrainingJobs"])
    sagemaker = client(emulator, attempts=2)
    with pytest.raises(ClientError) as raised:
        sagemaker.list_training_jobs()
    assert raised.value.response["Error"]["Code"] == "ThrottlingException"
    assert raised.value.response["ResponseMetadata"]["RetryAttempts"] == 1
    assert control.stats()["outcomes"]["ListTrainingJobs"] == {"ThrottlingException": 2}
    # Only the named operation is throttled.
    sagemaker.create_training_job(**typical("not-throttled"))


def test_adaptive_retry_mode_also_recovers_from_throttling(seeded: Emulator) -> None:
    EmulatorControl(seeded.endpoint_url).set_faults(throttle_rate=0.2)
    sagemaker = client(seeded, attempts=10, mode="adaptive")
    for index in range(5):
        sagemaker.create_training_job(**typical(f"adaptive-{index}"))
    assert len(sagemaker.list_training_jobs()["TrainingJobSummaries"]) == 5


def test_http_500_is_internal_failure_and_retried(seeded: Emulator) -> None:
    control = EmulatorControl(seeded.endpoint_url)
    control.set_faults(error_rate=0.5)
    sagemaker = client(seeded, attempts=10)
    sagemaker.create_training_job(**typical("survivor"))
    assert sagemaker.describe_training_job(TrainingJobName="survivor")["TrainingJobName"]
    control.set_faults(error_rate=1.0)
    with pytest.raises(ClientError) as raised:
        client(seeded, attempts=2).describe_training_job(TrainingJobName="survivor")
    assert raised.value.response["Error"]["Code"] == "InternalFailure"
    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 500


def test_added_latency_delays_every_answer(emulator: Emulator) -> None:
    EmulatorControl(emulator.endpoint_url).set_faults(latency=0.3)
    sagemaker = client(emulator, attempts=1)
    started = time.monotonic()
    sagemaker.list_training_jobs()
    assert time.monotonic() - started >= 0.3


def test_refused_connections_fail_then_recover(emulator: Emulator) -> None:
    control = EmulatorControl(emulator.endpoint_url)
    sagemaker = client(emulator, attempts=1)
    sagemaker.create_training_job(**typical("before-outage"))
    control.set_faults(refuse_connections_for=1.0)
    fresh = client(emulator, attempts=1)  # no pooled connection to reuse
    with pytest.raises(EndpointConnectionError):
        fresh.list_training_jobs()
    # After the outage the same emulator, with its jobs, answers again.
    recovered = wait_until(control.health, timeout=10, description="emulator accepting connections")
    assert recovered
    assert [
        s["TrainingJobName"]
        for s in client(emulator, 1).list_training_jobs()["TrainingJobSummaries"]
    ] == ["before-outage"]


def test_counters_count_each_operation_and_outcome_and_reset_clears_them(
    emulator: Emulator, sagemaker: SageMakerClient
) -> None:
    control = EmulatorControl(emulator.endpoint_url)
    sagemaker.create_training_job(**typical("counted"))
    sagemaker.describe_training_job(TrainingJobName="counted")
    sagemaker.describe_training_job(TrainingJobName="counted")
    with pytest.raises(ClientError):
        sagemaker.describe_training_job(TrainingJobName="missing")
    stats = control.stats()
    assert stats["calls"] == {"CreateTrainingJob": 1, "DescribeTrainingJob": 3}
    assert stats["outcomes"]["DescribeTrainingJob"] == {"ok": 2, "ValidationException": 1}
    assert stats["total"] == 4
    assert stats["jobs"] == 1
    control.reset()
    stats = control.stats()
    assert (stats["total"], stats["jobs"]) == (0, 0)


def test_fault_settings_are_checked(emulator: Emulator) -> None:
    control = EmulatorControl(emulator.endpoint_url)
    with pytest.raises(EmulatorControlError, match="probability"):
        control.set_faults(throttle_rate=2)
    with pytest.raises(EmulatorControlError, match="unknown fault setting"):
        control.set_faults(explode=True)
    with pytest.raises(EmulatorControlError, match="rate_limits must be positive"):
        control.set_faults(rate_limits={"CreateTrainingJob": 0})


def test_a_rate_limit_throttles_calls_beyond_so_many_per_second(emulator: Emulator) -> None:
    control = EmulatorControl(emulator.endpoint_url)
    control.set_faults(rate_limits={"DescribeTrainingJob": 5})
    sagemaker = client(emulator, 1)  # no retry: every throttle shows
    sagemaker.create_training_job(**typical("limited"))
    started = time.monotonic()
    outcomes = []
    for _ in range(20):  # far faster than 5 a second
        try:
            sagemaker.describe_training_job(TrainingJobName="limited")
            outcomes.append("ok")
        except ClientError as error:
            outcomes.append(error.response["Error"]["Code"])
    elapsed = time.monotonic() - started
    allowed = 5 + 5 * elapsed  # a full bucket, then the refill
    assert 5 <= outcomes.count("ok") <= allowed + 1
    assert outcomes.count("ThrottlingException") == 20 - outcomes.count("ok")
    assert control.stats()["calls"]["CreateTrainingJob"] == 1  # other operations unlimited


def test_an_outage_also_resets_connections_already_open(emulator: Emulator) -> None:
    pooled = client(emulator, attempts=1)
    pooled.list_training_jobs()  # opens a keep-alive connection
    EmulatorControl(emulator.endpoint_url).set_faults(refuse_connections_for=1.0)
    with pytest.raises((EndpointConnectionError, ConnectionClosedError)):
        pooled.list_training_jobs()
