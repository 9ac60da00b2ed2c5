"""Training jobs move through SageMaker's statuses in time, as a real job does."""

from __future__ import annotations

import itertools
from typing import TYPE_CHECKING, Any

import pytest

from sagemaker_emulator import Emulator, EmulatorControl, wait_until
from sagemaker_emulator.control import EmulatorControlError
from tests.requests import typical

if TYPE_CHECKING:
    from mypy_boto3_sagemaker import SageMakerClient

RUNNING_PHASES = ["Starting", "Downloading", "Training", "Uploading"]


@pytest.fixture
def control(emulator: Emulator) -> EmulatorControl:
    return EmulatorControl(emulator.endpoint_url)


def statuses(described: Any) -> list[str]:
    return [transition["Status"] for transition in described["SecondaryStatusTransitions"]]


def test_a_job_runs_to_completion_in_the_fast_profile(sagemaker: SageMakerClient) -> None:
    sagemaker.create_training_job(**typical("whole-life"))
    seen: list[str] = []

    def completed() -> Any:
        described = sagemaker.describe_training_job(TrainingJobName="whole-life")
        if not seen or seen[-1] != described["SecondaryStatus"]:
            seen.append(described["SecondaryStatus"])
        return described if described["TrainingJobStatus"] == "Completed" else None

    described = wait_until(completed, timeout=15, interval=0.1, description="job completed")
    assert statuses(described) == [*RUNNING_PHASES, "Completed"]
    assert seen[-1] == "Completed"
    assert set(seen) <= {*RUNNING_PHASES, "Completed"}
    assert described["SecondaryStatus"] == "Completed"
    assert described["ModelArtifacts"]["S3ModelArtifacts"] == (
        "s3://my-bucket/output/whole-life/output/model.tar.gz"
    )
    transitions = described["SecondaryStatusTransitions"]
    for earlier, later in itertools.pairwise(transitions):
        assert earlier["EndTime"] == later["StartTime"]
    assert described["TrainingStartTime"] == transitions[1]["StartTime"]
    assert described["TrainingEndTime"] == transitions[-1]["StartTime"]
    assert described["LastModifiedTime"] == described["TrainingEndTime"]
    assert described["TrainingTimeInSeconds"] >= 1
    assert described["BillableTimeInSeconds"] == described["TrainingTimeInSeconds"]


def test_a_paused_clock_freezes_jobs_and_advancing_it_plays_each_phase(
    sagemaker: SageMakerClient, control: EmulatorControl
) -> None:
    control.set_profile(
        "realistic", {"Starting": 60, "Downloading": 60, "Training": 600, "Uploading": 60}
    )
    control.pause_clock()
    sagemaker.create_training_job(**typical("clocked"))

    def secondary() -> str:
        return sagemaker.describe_training_job(TrainingJobName="clocked")["SecondaryStatus"]

    assert secondary() == "Starting"
    expected = [
        (59, "Starting"),
        (1, "Downloading"),
        (60, "Training"),
        (599, "Training"),
        (1, "Uploading"),
        (60, "Completed"),
    ]
    for seconds, status in expected:
        control.advance_clock(seconds)
        assert secondary() == status, f"after +{seconds} s"
    described = sagemaker.describe_training_job(TrainingJobName="clocked")
    assert described["TrainingTimeInSeconds"] == 720
    elapsed = described["TrainingEndTime"] - described["CreationTime"]
    assert elapsed.total_seconds() == pytest.approx(780, abs=1e-3)


def test_every_transition_bumps_last_modified_time(
    sagemaker: SageMakerClient, control: EmulatorControl
) -> None:
    control.set_profile("realistic")
    control.pause_clock()
    sagemaker.create_training_job(**typical("bumped"))
    created = sagemaker.describe_training_job(TrainingJobName="bumped")["LastModifiedTime"]
    control.advance_clock(10)
    assert sagemaker.describe_training_job(TrainingJobName="bumped")["LastModifiedTime"] == created
    control.advance_clock(85)  # past Starting (90 s)
    later = sagemaker.describe_training_job(TrainingJobName="bumped")["LastModifiedTime"]
    assert (later - created).total_seconds() == pytest.approx(90, abs=1e-3)


def test_stop_goes_through_stopping_to_stopped(
    sagemaker: SageMakerClient, control: EmulatorControl
) -> None:
    control.pause_clock()
    sagemaker.create_training_job(**typical("stopped"))
    control.advance_clock(1.2)  # into Training
    sagemaker.stop_training_job(TrainingJobName="stopped")
    assert sagemaker.describe_training_job(TrainingJobName="stopped")["TrainingJobStatus"] == (
        "Stopping"
    )
    control.advance_clock(0.5)
    described = sagemaker.describe_training_job(TrainingJobName="stopped")
    assert (described["TrainingJobStatus"], described["SecondaryStatus"]) == ("Stopped", "Stopped")
    assert statuses(described) == ["Starting", "Downloading", "Training", "Stopping", "Stopped"]
    control.advance_clock(60)  # a stopped job never resumes its phases
    assert sagemaker.describe_training_job(TrainingJobName="stopped")["SecondaryStatus"] == (
        "Stopped"
    )


def test_stopping_a_finished_job_is_refused(
    sagemaker: SageMakerClient, control: EmulatorControl
) -> None:
    control.pause_clock()
    sagemaker.create_training_job(**typical("done"))
    control.advance_clock(10)
    with pytest.raises(sagemaker.exceptions.ClientError, match="is in status Completed"):
        sagemaker.stop_training_job(TrainingJobName="done")


def test_max_runtime_stops_the_job_as_max_runtime_exceeded(
    sagemaker: SageMakerClient, control: EmulatorControl
) -> None:
    control.set_profile("realistic")
    control.pause_clock()
    sagemaker.create_training_job(
        **typical("too-long", StoppingCondition={"MaxRuntimeInSeconds": 200})
    )
    control.advance_clock(199)
    assert sagemaker.describe_training_job(TrainingJobName="too-long")["SecondaryStatus"] == (
        "Training"
    )
    control.advance_clock(1)
    assert sagemaker.describe_training_job(TrainingJobName="too-long")["TrainingJobStatus"] == (
        "Stopping"
    )
    control.advance_clock(30)
    described = sagemaker.describe_training_job(TrainingJobName="too-long")
    assert (described["TrainingJobStatus"], described["SecondaryStatus"]) == (
        "Stopped",
        "MaxRuntimeExceeded",
    )


def test_an_injected_failure_fails_the_job_with_its_reason(
    sagemaker: SageMakerClient, control: EmulatorControl
) -> None:
    control.pause_clock()
    sagemaker.create_training_job(**typical("doomed"))
    control.advance_clock(1.5)
    control.fail_job("doomed", "AlgorithmError: out of memory")
    described = sagemaker.describe_training_job(TrainingJobName="doomed")
    assert (described["TrainingJobStatus"], described["SecondaryStatus"]) == ("Failed", "Failed")
    assert described["FailureReason"] == "AlgorithmError: out of memory"
    assert described["SecondaryStatusTransitions"][-1]["StatusMessage"] == (
        "AlgorithmError: out of memory"
    )
    control.advance_clock(60)
    assert sagemaker.describe_training_job(TrainingJobName="doomed")["TrainingJobStatus"] == (
        "Failed"
    )


def test_managed_spot_bills_less_than_it_trains(
    sagemaker: SageMakerClient, control: EmulatorControl
) -> None:
    control.set_profile("realistic")
    control.pause_clock()
    sagemaker.create_training_job(
        **typical(
            "spot",
            EnableManagedSpotTraining=True,
            StoppingCondition={"MaxRuntimeInSeconds": 3600, "MaxWaitTimeInSeconds": 7200},
        )
    )
    control.advance_clock(3600)
    described = sagemaker.describe_training_job(TrainingJobName="spot")
    assert described["TrainingJobStatus"] == "Completed"
    assert 0 < described["BillableTimeInSeconds"] < described["TrainingTimeInSeconds"]


def test_a_kept_alive_warm_pool_is_available_then_terminated(
    sagemaker: SageMakerClient, control: EmulatorControl
) -> None:
    control.pause_clock()
    sagemaker.create_training_job(
        **typical(
            "warm",
            ResourceConfig={
                "InstanceType": "ml.m5.large",
                "InstanceCount": 1,
                "VolumeSizeInGB": 5,
                "KeepAlivePeriodInSeconds": 600,
            },
        )
    )
    control.advance_clock(5)
    assert sagemaker.describe_training_job(TrainingJobName="warm")["WarmPoolStatus"] == {
        "Status": "Available"
    }
    available = sagemaker.list_training_jobs(WarmPoolStatusEquals="Available")
    assert [s["TrainingJobName"] for s in available["TrainingJobSummaries"]] == ["warm"]
    control.advance_clock(600)
    assert (
        sagemaker.describe_training_job(TrainingJobName="warm")["WarmPoolStatus"]["Status"]
        == "Terminated"
    )


def test_clock_and_profile_controls_refuse_nonsense(control: EmulatorControl) -> None:
    with pytest.raises(EmulatorControlError, match="only moves forward"):
        control.advance_clock(-1)
    with pytest.raises(EmulatorControlError, match="unknown phase 'Sleeping'"):
        control.set_profile("fast", {"Sleeping": 3})
    with pytest.raises(EmulatorControlError, match="unknown profile"):
        control.set_profile("glacial")
    with pytest.raises(EmulatorControlError, match="404"):
        control.fail_job("no-such-job", "reason")
