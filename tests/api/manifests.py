"""TrainingJob manifests for tests, and the translation of API requests into them."""

from __future__ import annotations

import copy
from typing import Any

from botocore.model import ListShape, MapShape, Shape, StructureShape

from sagemaker_lab.codegen.crd import lower_first

API_VERSION = "sagemaker-operator.dev/v1alpha1"


def to_spec(shape: Shape, value: Any) -> Any:
    """An API request value as spec JSON: structure members' first letters lowered, map keys
    and scalars untouched. Unknown members are lowered too, so they reach the apiserver."""
    if isinstance(shape, StructureShape) and isinstance(value, dict):
        return {
            lower_first(key): to_spec(shape.members[key], item) if key in shape.members else item
            for key, item in value.items()
        }
    if isinstance(shape, ListShape) and isinstance(value, list):
        return [to_spec(shape.member, item) for item in value]
    if isinstance(shape, MapShape) and isinstance(value, dict):
        return {key: to_spec(shape.value, item) for key, item in value.items()}
    return value


def manifest(name: str, spec: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": API_VERSION,
        "kind": "TrainingJob",
        "metadata": {"name": name},
        "spec": copy.deepcopy(spec),
    }


def typical_spec(**overrides: Any) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "roleArn": "arn:aws:iam::123456789012:role/SageMakerRole",
        "algorithmSpecification": {
            "trainingImage": "683313688378.dkr.ecr.us-east-1.amazonaws.com/xgboost:1.7-1",
            "trainingInputMode": "File",
        },
        "hyperParameters": {"max_depth": "5"},
        "inputDataConfig": [{
            "channelName": "train",
            "dataSource": {"s3DataSource": {"s3DataType": "S3Prefix",
                                             "s3Uri": "s3://my-bucket/train"}},
        }],
        "outputDataConfig": {"s3OutputPath": "s3://my-bucket/output"},
        "resourceConfig": {"instanceType": "ml.m5.large", "instanceCount": 1,
                           "volumeSizeInGB": 5},
        "stoppingCondition": {"maxRuntimeInSeconds": 3600},
        "tags": [{"key": "team", "value": "ml"}],
    }  # fmt: skip
    spec.update(copy.deepcopy(overrides))
    return spec
