"""What DescribeTrainingJob reports for members a CreateTrainingJob left out.

AWS fills in documented defaults, and the emulator's Describe reports them as AWS does: an
emulator that echoed the request would let a client's comparison of its request with
Describe pass here and fail in AWS. Each default names its source; the README's table
("What Describe reports that a request left out") is checked against this list by a test.
The operator keeps its own list of what it expects (its adoption must not take a default
for a difference); a test of the repository holds the two equal.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

MODEL = "the member's documentation in botocore's SageMaker model (and the API reference)"
DESCRIBE = "the DescribeTrainingJob API reference: a boolean the response always carries"


@dataclass(frozen=True)
class Default:
    path: str  # API member names; "[]" walks into each item of a list
    value: Any
    source: str


DEFAULTS: tuple[Default, ...] = (
    Default("EnableManagedSpotTraining", False, DESCRIBE),
    Default("EnableNetworkIsolation", False, DESCRIBE),
    Default("EnableInterContainerTrafficEncryption", False, DESCRIBE),
    Default("AlgorithmSpecification.EnableSageMakerMetricsTimeSeries", False,
            f"{MODEL}: \"The default is false\""),
    Default("OutputDataConfig.CompressionType", "GZIP", f"{MODEL}: \"Defaults to gzip\""),
    Default("StoppingCondition", {"MaxRuntimeInSeconds": 86_400},
            f"{MODEL} (MaxRuntimeInSeconds): \"The default value is 1 day\""),
    Default("StoppingCondition.MaxRuntimeInSeconds", 86_400,
            f"{MODEL}: \"The default value is 1 day\""),
    Default("InputDataConfig[].CompressionType", "None",
            f"{MODEL}: \"The default value is None\""),
    Default("CheckpointConfig.LocalPath", "/opt/ml/checkpoints/",
            f"{MODEL}: \"The default directory is /opt/ml/checkpoints/\""),
    Default("DebugHookConfig.LocalPath", "/opt/ml/output/tensors/",
            f"{MODEL}: \"Defaults to /opt/ml/output/tensors/\""),
    Default("DebugRuleConfigurations[].LocalPath", "/opt/ml/processing/output/rule/",
            f"{MODEL}: \"Defaults to /opt/ml/processing/output/rule/\""),
    Default("ProfilerRuleConfigurations[].LocalPath", "/opt/ml/processing/output/rule/",
            f"{MODEL}: \"Defaults to /opt/ml/processing/output/rule/\""),
    Default("TensorBoardOutputConfig.LocalPath", "/opt/ml/output/tensorboard",
            f"{MODEL}: \"Defaults to /opt/ml/output/tensorboard\""),
    Default("ProfilerConfig.ProfilingIntervalInMilliseconds", 500,
            f"{MODEL}: \"The default value is 500 milliseconds\""),
)  # fmt: skip


def with_defaults(request: dict[str, Any]) -> dict[str, Any]:
    """A deep copy of ``request`` with every default AWS fills in where its parent exists
    (a nested default needs its structure in the request: no CheckpointConfig, no
    LocalPath)."""
    answer = copy.deepcopy(request)
    for default in DEFAULTS:
        _fill(answer, default.path.split("."), default.value)
    return answer


def _fill(target: Any, path: list[str], value: Any) -> None:
    head, rest = path[0], path[1:]
    listed = head.endswith("[]")
    name = head.removesuffix("[]")
    if not isinstance(target, dict):
        return
    if not rest:
        target.setdefault(name, copy.deepcopy(value))
        return
    if name not in target:
        return
    for item in target[name] if listed else [target[name]]:
        _fill(item, rest, value)
