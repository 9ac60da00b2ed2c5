"""Every place a CreateTrainingJob request names something of someone's: derived from the model.

Walking botocore's input shape, each string member is classified by its shape: the job's
role (``RoleArn``), an S3 URI (shape ``S3Uri``), another ARN (a shape or member named
``…Arn``, a KMS key, an algorithm given by ARN), an EFS or FSx file system
(``FileSystemId``), a subnet or a security group (``SubnetId``, ``SecurityGroupId``). A
member AWS adds to the request is covered when botocore's model is upgraded, without code.
"""

from __future__ import annotations

import enum
import functools
from collections.abc import Iterator
from typing import Any

from botocore.model import ListShape, MapShape, Shape, StructureShape

from sagemaker_operator.aws import servicemodel


class Kind(enum.Enum):
    ROLE = "roles"
    S3 = "s3Prefixes"
    ARN = "arns"
    FILE_SYSTEM = "fileSystems"
    SUBNET = "subnets"
    SECURITY_GROUP = "securityGroups"


_BY_SHAPE = {
    "S3Uri": Kind.S3,
    "FileSystemId": Kind.FILE_SYSTEM,
    "SubnetId": Kind.SUBNET,
    "SecurityGroupId": Kind.SECURITY_GROUP,
    "KmsKeyId": Kind.ARN,
    "ArnOrName": Kind.ARN,
}


def kind_of(member: str, shape: Shape) -> Kind | None:
    """What a string member names, from its member and shape names."""
    if member == "RoleArn":
        return Kind.ROLE
    if shape.name in _BY_SHAPE:
        return _BY_SHAPE[shape.name]
    if member.endswith(("Arn", "Arns")) or shape.name.endswith("Arn"):
        return Kind.ARN
    return None


def locations(request: dict[str, Any]) -> list[tuple[Kind, str, str]]:
    """(kind, Kubernetes field path, value) of every such member set in ``request``."""
    return list(_walk(_input_shape(), request, "spec", None))


@functools.cache
def _input_shape() -> StructureShape:
    shape = servicemodel.operation_model("CreateTrainingJob").input_shape
    assert isinstance(shape, StructureShape)
    return shape


def _walk(
    shape: Shape, value: Any, path: str, kind: Kind | None
) -> Iterator[tuple[Kind, str, str]]:
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
    elif kind is not None and isinstance(value, str):
        yield kind, path, value
