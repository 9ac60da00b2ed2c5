"""UpdateTrainingJob as SageMaker serves it, and Describe reporting SageMaker's defaults."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from botocore.exceptions import ClientError

from sagemaker_emulator import Emulator, EmulatorControl
from sagemaker_emulator.defaults import DEFAULTS
from tests.requests import minimal, typical

if TYPE_CHECKING:
    from mypy_boto3_sagemaker import SageMakerClient

RULE: Any = {"RuleConfigurationName": "LowGPUUtilization",
        "RuleEvaluatorImage": "503895931360.dkr.ecr.us-east-1.amazonaws.com/"
                              "sagemaker-debugger-rules:latest",
        "RuleParameters": {"rule_to_invoke": "LowGPUUtilization"}}  # fmt: skip
LONG = {"Starting": 100.0, "Downloading": 100.0, "Training": 100.0, "Uploading": 100.0}


@pytest.fixture
def control(emulator: Emulator) -> EmulatorControl:
    control = EmulatorControl(emulator.endpoint_url)
    control.pause_clock()
    return control


def refusal(call: Any) -> str:
    with pytest.raises(ClientError) as caught:
        call()
    assert caught.value.response["Error"]["Code"] == "ValidationException"
    return str(caught.value.response["Error"]["Message"])


def test_a_running_job_takes_new_profiler_settings_rules_and_remote_debug(
    sagemaker: SageMakerClient, control: EmulatorControl
) -> None:
    control.set_profile("fast", LONG)
    sagemaker.create_training_job(**typical("running"))
    control.advance_clock(150)  # Downloading: remote debugging may change now
    answer = sagemaker.update_training_job(
        TrainingJobName="running",
        ProfilerConfig={"S3OutputPath": "s3://my-bucket/profiler",
                        "ProfilingIntervalInMilliseconds": 1000},
        ProfilerRuleConfigurations=[RULE],
        RemoteDebugConfig={"EnableRemoteDebug": True},
    )  # fmt: skip
    described = sagemaker.describe_training_job(TrainingJobName="running")
    assert answer["TrainingJobArn"] == described["TrainingJobArn"]
    assert described["ProfilerConfig"] == {"S3OutputPath": "s3://my-bucket/profiler",
                                           "ProfilingIntervalInMilliseconds": 1000}  # fmt: skip
    assert described["RemoteDebugConfig"] == {"EnableRemoteDebug": True}
    assert [rule["RuleConfigurationName"] for rule in described["ProfilerRuleConfigurations"]
            ] == ["LowGPUUtilization"]  # fmt: skip
    # A rule configured once keeps its configuration.
    changed: Any = {**RULE, "RuleParameters": {"rule_to_invoke": "CPUBottleneck"}}
    message = refusal(lambda: sagemaker.update_training_job(
        TrainingJobName="running", ProfilerRuleConfigurations=[changed]))  # fmt: skip
    assert "LowGPUUtilization already exists" in message


def test_profiler_settings_cannot_change_after_the_job_ended(
    sagemaker: SageMakerClient, control: EmulatorControl
) -> None:
    sagemaker.create_training_job(**typical("ended"))
    control.advance_clock(10)
    message = refusal(lambda: sagemaker.update_training_job(
        TrainingJobName="ended", ProfilerConfig={"DisableProfiler": True}))  # fmt: skip
    assert "only while the training job is InProgress" in message
    assert "Completed" in message


def test_a_warm_pool_keep_alive_moves_its_expiry_and_zero_ends_it(
    sagemaker: SageMakerClient, control: EmulatorControl
) -> None:
    sagemaker.create_training_job(**typical("warm", ResourceConfig={
        "InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 5,
        "KeepAlivePeriodInSeconds": 60}))  # fmt: skip
    control.advance_clock(3)  # ended (fast profile): the pool is Available for 60 s
    described = sagemaker.describe_training_job(TrainingJobName="warm")
    assert described["WarmPoolStatus"]["Status"] == "Available"
    sagemaker.update_training_job(
        TrainingJobName="warm", ResourceConfig={"KeepAlivePeriodInSeconds": 600}
    )
    described = sagemaker.describe_training_job(TrainingJobName="warm")
    assert described["ResourceConfig"]["KeepAlivePeriodInSeconds"] == 600
    control.advance_clock(120)  # past the old expiry, before the new one
    assert sagemaker.describe_training_job(TrainingJobName="warm")["WarmPoolStatus"][
        "Status"] == "Available"  # fmt: skip
    sagemaker.update_training_job(
        TrainingJobName="warm", ResourceConfig={"KeepAlivePeriodInSeconds": 0}
    )
    pool = sagemaker.describe_training_job(TrainingJobName="warm")["WarmPoolStatus"]
    assert pool["Status"] == "Terminated"
    assert 120 <= pool["ResourceRetainedBillableTimeInSeconds"] <= 125
    message = refusal(lambda: sagemaker.update_training_job(
        TrainingJobName="warm", ResourceConfig={"KeepAlivePeriodInSeconds": 60}))  # fmt: skip
    assert "only while its warm pool is Available; it is Terminated" in message


def test_update_delay_shows_an_accepted_update_in_describe_later(
    sagemaker: SageMakerClient, control: EmulatorControl
) -> None:
    control.set_profile("fast", LONG)
    control.set_faults(update_delay=5)
    sagemaker.create_training_job(**typical("late"))
    control.advance_clock(150)  # Downloading
    sagemaker.update_training_job(
        TrainingJobName="late", RemoteDebugConfig={"EnableRemoteDebug": True}
    )
    assert "RemoteDebugConfig" not in sagemaker.describe_training_job(TrainingJobName="late")
    control.advance_clock(6)
    described = sagemaker.describe_training_job(TrainingJobName="late")
    assert described["RemoteDebugConfig"] == {"EnableRemoteDebug": True}


def test_an_update_of_an_unknown_job_or_with_nothing_to_update_is_refused(
    sagemaker: SageMakerClient, control: EmulatorControl
) -> None:
    assert refusal(lambda: sagemaker.update_training_job(
        TrainingJobName="nobody", RemoteDebugConfig={"EnableRemoteDebug": True})
    ) == "Requested resource not found."  # fmt: skip
    sagemaker.create_training_job(**typical("idle"))
    assert "at least one setting" in refusal(
        lambda: sagemaker.update_training_job(TrainingJobName="idle")
    )


def test_describe_reports_sagemakers_defaults_for_what_the_request_left_out(
    sagemaker: SageMakerClient, control: EmulatorControl
) -> None:
    sagemaker.create_training_job(**typical(
        "defaults", CheckpointConfig={"S3Uri": "s3://my-bucket/checkpoints"}))  # fmt: skip
    described = sagemaker.describe_training_job(TrainingJobName="defaults")
    assert described["EnableManagedSpotTraining"] is False
    assert described["EnableNetworkIsolation"] is False
    assert described["OutputDataConfig"]["CompressionType"] == "GZIP"
    assert described["AlgorithmSpecification"]["EnableSageMakerMetricsTimeSeries"] is False
    assert described["StoppingCondition"]["MaxRuntimeInSeconds"] == 3600  # as requested
    assert described["InputDataConfig"][0]["CompressionType"] == "None"
    assert described["CheckpointConfig"]["LocalPath"] == "/opt/ml/checkpoints/"
    assert "DebugHookConfig" not in described  # a nested default needs its structure
    sagemaker.create_training_job(**minimal("bare"))
    assert sagemaker.describe_training_job(TrainingJobName="bare")["StoppingCondition"] == {
        "MaxRuntimeInSeconds": 86_400}  # fmt: skip


def test_every_default_is_listed_in_the_readme_with_its_value() -> None:
    text = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    for default in DEFAULTS:
        assert f"| `{default.path}` | `{json.dumps(default.value)}` |" in text


def test_remote_debugging_changes_only_while_downloading_or_training(
    sagemaker: SageMakerClient, control: EmulatorControl
) -> None:
    """UpdateTrainingJob's API reference: "You can update the remote debugging configuration
    when the SecondaryStatus of the job is Downloading or Training" (before: taken in any
    InProgress state)."""
    control.set_profile("fast", LONG)
    sagemaker.create_training_job(**typical("debugged"))

    def update() -> Any:
        return sagemaker.update_training_job(
            TrainingJobName="debugged", RemoteDebugConfig={"EnableRemoteDebug": True}
        )

    message = refusal(update)  # Starting
    assert "Downloading or Training" in message
    assert "Starting" in message
    for phase in ("Downloading", "Training"):
        control.advance_clock(100)
        assert sagemaker.describe_training_job(TrainingJobName="debugged")[
            "SecondaryStatus"] == phase  # fmt: skip
        update()
    control.advance_clock(100)  # Uploading
    assert "Uploading" in refusal(update)
