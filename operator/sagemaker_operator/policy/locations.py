"""Every place a CreateTrainingJob request names something of someone's, or costs money:
derived from the model.

Walking botocore's input shape, each member is classified by its member and shape names:

- what it names: the job's role (``RoleArn``), an S3 URI (shape ``S3Uri``), another ARN (a
  shape or member named ``…Arn``, a KMS key, an algorithm given by ARN), an EFS or FSx
  file system (``FileSystemId``) and the directory mounted from it (``DirectoryPath`` of
  a ``FileSystemDataSource``), a subnet or a security group (``SubnetId``,
  ``SecurityGroupId``), a container image (shape ``AlgorithmImage``: the training image
  and every rule evaluator's), an experiment or trial (``ExperimentName``, ``TrialName``);
- what it costs: instance types (shapes ``TrainingInstanceType``,
  ``ProcessingInstanceType``), instance counts (``TrainingInstanceCount``), volume sizes
  (``…VolumeSizeInGB``), the longest run (``MaxRuntimeInSeconds``), a warm pool's
  keep-alive (``KeepAlivePeriodInSeconds``), managed spot (``EnableManagedSpotTraining``);
- what it opens: remote debugging (``EnableRemoteDebug``), session tag chaining
  (``EnableSessionTagChaining``).

A member AWS adds to the request is covered when botocore's model is upgraded, without
code, when its names follow these conventions. What no shape tells is not checked: an S3
URI or a secret inside ``hyperParameters`` or ``environment`` (free-form strings) is the
job role's IAM policy's to refuse.
"""

from __future__ import annotations

import enum
import functools
from collections.abc import Iterator
from typing import Any

from botocore.model import ListShape, MapShape, Shape, StructureShape

from sagemaker_operator.aws import servicemodel


class Kind(enum.Enum):
    # What a request names: matched against the rule's list of that name.
    ROLE = "roles"
    S3 = "s3Prefixes"
    ARN = "arns"
    FILE_SYSTEM = "fileSystems"
    FILE_SYSTEM_PATH = "fileSystemPaths"
    SUBNET = "subnets"
    SECURITY_GROUP = "securityGroups"
    IMAGE = "images"
    EXPERIMENT = "experiments"
    INSTANCE_TYPE = "instanceTypes"
    # What it costs or opens: compared with the rule's limit or switch of that name.
    INSTANCE_COUNT = "maxInstanceCount"
    VOLUME_SIZE = "maxVolumeSizeInGB"
    MAX_RUNTIME = "maxRuntimeInSeconds"
    KEEP_ALIVE = "maxKeepAliveInSeconds"
    SPOT = "spotOnly"
    REMOTE_DEBUG = "remoteDebug"
    SESSION_TAG_CHAINING = "sessionTagChaining"


NAMED = frozenset({Kind.ROLE, Kind.S3, Kind.ARN, Kind.FILE_SYSTEM, Kind.FILE_SYSTEM_PATH,
                   Kind.SUBNET, Kind.SECURITY_GROUP, Kind.IMAGE, Kind.EXPERIMENT,
                   Kind.INSTANCE_TYPE})  # fmt: skip
LIMITS = frozenset({Kind.INSTANCE_COUNT, Kind.VOLUME_SIZE, Kind.MAX_RUNTIME, Kind.KEEP_ALIVE})
SWITCHES = frozenset({Kind.REMOTE_DEBUG, Kind.SESSION_TAG_CHAINING})

_BY_SHAPE = {
    "S3Uri": Kind.S3,
    "FileSystemId": Kind.FILE_SYSTEM,
    "SubnetId": Kind.SUBNET,
    "SecurityGroupId": Kind.SECURITY_GROUP,
    "KmsKeyId": Kind.ARN,
    "ArnOrName": Kind.ARN,
    "AlgorithmImage": Kind.IMAGE,
    "TrainingInstanceType": Kind.INSTANCE_TYPE,
    "ProcessingInstanceType": Kind.INSTANCE_TYPE,
    "TrainingInstanceCount": Kind.INSTANCE_COUNT,
    "MaxRuntimeInSeconds": Kind.MAX_RUNTIME,
    "KeepAlivePeriodInSeconds": Kind.KEEP_ALIVE,
}
_BY_MEMBER = {
    "RoleArn": Kind.ROLE,
    "DirectoryPath": Kind.FILE_SYSTEM_PATH,  # a FileSystemDataSource's (LocalPath is another)
    "ExperimentName": Kind.EXPERIMENT,
    "TrialName": Kind.EXPERIMENT,
    "VolumeSizeInGB": Kind.VOLUME_SIZE,
    "EnableManagedSpotTraining": Kind.SPOT,
    "EnableRemoteDebug": Kind.REMOTE_DEBUG,
    "EnableSessionTagChaining": Kind.SESSION_TAG_CHAINING,
}


def kind_of(member: str, shape: Shape) -> Kind | None:
    """What a member names or costs, from its member and shape names."""
    if member in _BY_MEMBER:
        return _BY_MEMBER[member]
    if shape.name in _BY_SHAPE:
        return _BY_SHAPE[shape.name]
    if shape.type_name == "string" and (
        member.endswith(("Arn", "Arns")) or shape.name.endswith("Arn")
    ):
        return Kind.ARN
    return None


def locations(request: dict[str, Any]) -> list[tuple[Kind, str, Any]]:
    """(kind, Kubernetes field path, value) of every such member set in ``request``."""
    return list(_walk(_input_shape(), request, "spec", None))


@functools.cache
def _input_shape() -> StructureShape:
    shape = servicemodel.operation_model("CreateTrainingJob").input_shape
    assert isinstance(shape, StructureShape)
    return shape


def _walk(
    shape: Shape, value: Any, path: str, kind: Kind | None
) -> Iterator[tuple[Kind, str, Any]]:
    if isinstance(shape, StructureShape) and isinstance(value, dict):
        for member, inner in shape.members.items():
            if member in value:
                name = member[:1].lower() + member[1:]
                yield from _walk(inner, value[member], f"{path}.{name}", kind_of(member, inner))
    elif isinstance(shape, ListShape) and isinstance(value, list):
        for index, item in enumerate(value):
            inner_kind = kind or kind_of("", shape.member)
            yield from _walk(shape.member, item, f"{path}[{index}]", inner_kind)
    elif isinstance(shape, MapShape) and isinstance(value, dict):
        for key, item in value.items():
            yield from _walk(shape.value, item, f"{path}[{key}]", None)
    elif kind is not None and isinstance(value, str | int | bool):
        yield kind, path, value


def every_location() -> list[tuple[str, Kind]]:
    """Every member of the request the policy checks (its Kubernetes field path, ``[]`` for
    a list's items), and what it is: the model's walk without a request."""
    found: list[tuple[str, Kind]] = []

    def walk(shape: Shape, path: str, kind: Kind | None) -> None:
        if isinstance(shape, StructureShape):
            for member, inner in shape.members.items():
                walk(inner, f"{path}.{member[:1].lower() + member[1:]}", kind_of(member, inner))
        elif isinstance(shape, ListShape):
            walk(shape.member, f"{path}[]", kind or kind_of("", shape.member))
        elif kind is not None and not isinstance(shape, MapShape):
            found.append((path, kind))

    walk(_input_shape(), "spec", None)
    return found
