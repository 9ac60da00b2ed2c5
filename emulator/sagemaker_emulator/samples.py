"""CreateTrainingJob requests SageMaker accepts, for tests that talk to the emulator (or to
SageMaker): the three members it requires, and a request like most users send."""

from __future__ import annotations

import copy
from typing import Any

ROLE = "arn:aws:iam::123456789012:role/SageMakerRole"


def minimal(name: str = "job-1") -> dict[str, Any]:
    """Only the three members CreateTrainingJob requires."""
    return {
        "TrainingJobName": name,
        "RoleArn": ROLE,
        "OutputDataConfig": {"S3OutputPath": "s3://my-bucket/output"},
    }


def typical(name: str = "job-1", **overrides: Any) -> dict[str, Any]:
    """A request like most users send: image, one S3 channel, instance, stopping condition."""
    request: dict[str, Any] = {
        **minimal(name),
        "AlgorithmSpecification": {
            "TrainingImage": "683313688378.dkr.ecr.us-east-1.amazonaws.com/xgboost:1.7-1",
            "TrainingInputMode": "File",
        },
        "HyperParameters": {"max_depth": "5", "num_round": "10"},
        "InputDataConfig": [
            {
                "ChannelName": "train",
                "DataSource": {
                    "S3DataSource": {
                        "S3DataType": "S3Prefix",
                        "S3Uri": "s3://my-bucket/train",
                        "S3DataDistributionType": "FullyReplicated",
                    }
                },
            }
        ],
        "ResourceConfig": {"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 5},
        "StoppingCondition": {"MaxRuntimeInSeconds": 3600},
        "Tags": [{"Key": "team", "Value": "ml"}],
    }
    request.update(copy.deepcopy(overrides))
    return request
