"""Pure logic of spec updates: what UpdateTrainingJob must send, and what the status says."""

from __future__ import annotations

from typing import Any

import pytest

from sagemaker_lab.codegen.crd import updatable, updatable_paths
from sagemaker_operator.api.trainingjob import SpecUpdate
from sagemaker_operator.aws import servicemodel
from sagemaker_operator.controller.requests import update_request
from sagemaker_operator.status.conditions import Verdict
from sagemaker_operator.status.fields import current_update, with_update

RUNNING = Verdict(False, True, False, "Training", "Training in progress")
COMPLETED = Verdict(True, False, False, "Completed", "Training job completed")
FAILED = Verdict(False, False, True, "Failed", "AlgorithmError")
RULE = {"RuleConfigurationName": "LowGPU", "RuleEvaluatorImage": "image"}


def wanted(**members: Any) -> dict[str, Any]:
    return {"TrainingJobName": "job", "RoleArn": "arn:aws:iam::1:role/r",
            "ResourceConfig": {"InstanceType": "ml.m5.large", "InstanceCount": 1,
                               "VolumeSizeInGB": 5}, **members}  # fmt: skip


def test_what_can_change_comes_from_update_training_jobs_input_shape() -> None:
    fields = updatable(servicemodel.service_model())
    assert updatable_paths(fields) == [
        "spec.profilerConfig", "spec.profilerRuleConfigurations", "spec.remoteDebugConfig",
        "spec.resourceConfig.keepAlivePeriodInSeconds",
    ]  # fmt: skip


def test_only_what_describe_does_not_report_is_sent() -> None:
    spec = wanted(ResourceConfig={"InstanceType": "ml.m5.large", "InstanceCount": 1,
                                  "VolumeSizeInGB": 5, "KeepAlivePeriodInSeconds": 600},
                  ProfilerConfig={"ProfilingIntervalInMilliseconds": 1000},
                  RemoteDebugConfig={"EnableRemoteDebug": False})  # fmt: skip
    described = {"ResourceConfig": {"InstanceType": "ml.m5.large", "InstanceCount": 1,
                                    "VolumeSizeInGB": 5, "KeepAlivePeriodInSeconds": 60},
                 # A default beside what the spec sets (S3OutputPath) is no difference.
                 "ProfilerConfig": {"ProfilingIntervalInMilliseconds": 1000,
                                    "S3OutputPath": "s3://default/"}}  # fmt: skip
    change = update_request(spec, described)
    assert change.request == {"ResourceConfig": {"KeepAlivePeriodInSeconds": 600}}
    assert change.fields == ["spec.resourceConfig.keepAlivePeriodInSeconds"]


def test_a_new_rule_is_sent_with_the_whole_list_and_a_reported_one_is_not() -> None:
    other = {**RULE, "RuleConfigurationName": "CPUBottleneck"}
    reported = {"ProfilerRuleConfigurations": [{**RULE, "LocalPath": "/opt/ml/processing/"}]}
    assert update_request(wanted(ProfilerRuleConfigurations=[RULE]), reported).request == {}
    change = update_request(wanted(ProfilerRuleConfigurations=[RULE, other]), reported)
    assert change.request == {"ProfilerRuleConfigurations": [RULE, other]}


@pytest.mark.parametrize("removed", ["ProfilerConfig", "RemoteDebugConfig"])
def test_a_field_left_out_of_the_spec_asks_for_nothing(removed: str) -> None:
    described = {"ProfilerConfig": {"ProfilingIntervalInMilliseconds": 500},
                 "RemoteDebugConfig": {"EnableRemoteDebug": True}}  # fmt: skip
    assert update_request(wanted(), described).request == {}


def test_an_accepted_update_is_reconciling_and_a_refused_one_stalled() -> None:
    pending = SpecUpdate(generation=2, state="Pending", fields=["spec.profilerConfig"])
    refused = SpecUpdate(generation=2, state="Refused", reason="ValidationException",
                         message="only while InProgress")  # fmt: skip
    applied = SpecUpdate(generation=2, state="Applied")
    assert with_update(COMPLETED, pending) == Verdict(False, True, False, "UpdatePending",
                                                      "spec.profilerConfig")  # fmt: skip
    assert with_update(RUNNING, refused) == Verdict(False, False, True, "ValidationException",
                                                    "only while InProgress")  # fmt: skip
    assert with_update(COMPLETED, applied) == COMPLETED
    assert with_update(FAILED, pending) == FAILED  # the job's end says more
    assert with_update(RUNNING, None) == RUNNING


def test_an_update_counts_only_for_the_generation_the_status_shows() -> None:
    update = {"generation": 2, "state": "Pending", "fields": []}
    assert current_update({"observedGeneration": 2, "update": update}) is not None
    assert current_update({"observedGeneration": 3, "update": update}) is None
    assert current_update({"observedGeneration": 2}) is None
