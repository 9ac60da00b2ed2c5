"""The services' botocore models, as the emulator's server side reads them: every request
is refused as AWS would refuse it, and every answer is cut to what the model declares.

AWS validates every request on the server. botocore's client-side ``ParamValidator`` checks
required members, types, unknown members and minimums; it deliberately leaves ``max``,
``maxLength``, ``maxItems``, ``enum`` and ``pattern`` to the service. The emulator checks
both, and words each refusal as AWS's ValidationException does ("Value … at
'resourceConfig.instanceType' failed to satisfy constraint: Member must satisfy enum value
set: [...]"), so a request it accepts is one SageMaker would accept.

The models are the installed botocore's own (not AWS_DATA_PATH's, which a test may point at
a newer model for its client: the emulator is the service, not a client of it).

Patterns in the model are Java regular expressions that SageMaker applies to the whole
value, so they are matched whole. They use ``\\p{L}``, ``\\p{Alnum}`` and look-behind,
which the standard ``re`` module lacks; the ``regex`` module supports all of them.

This module is the emulator's own on purpose: the operator has its own check of the
requests it makes. Were they one piece of code, a mistake in it would pass on both sides
of the wire and no test would see it.
"""

from __future__ import annotations

import datetime
import functools
from collections.abc import Mapping
from typing import Any

import botocore.loaders
import regex
from botocore.model import ListShape, MapShape, OperationModel, ServiceModel, Shape, StructureShape
from botocore.validate import ParamValidator

_MAX_VALUE_IN_MESSAGE = 100


@functools.cache
def service_model(service: str = "sagemaker") -> ServiceModel:
    """The installed botocore's model of ``service``, parsed once per process."""
    return ServiceModel(botocore.loaders.Loader().load_service_model(service, "service-2"),
                        service_name=service)  # fmt: skip


def operation_model(name: str, service: str = "sagemaker") -> OperationModel:
    return service_model(service).operation_model(name)


def operation_names(service: str = "sagemaker") -> frozenset[str]:
    return frozenset(service_model(service).operation_names)


def refusals(operation: str, params: Mapping[str, Any], service: str = "sagemaker") -> list[str]:
    """Every reason the service refuses ``params`` for ``operation``; empty when valid."""
    shape = operation_model(operation, service).input_shape
    if shape is None:
        return [] if not params else [f"{operation} takes no parameters"]
    report = ParamValidator().validate(dict(params), shape)
    found: list[str] = []
    if report.has_errors():
        # One problem a line, naming the member: 'Missing required parameter in input: "RoleArn"'.
        found += [line.strip() for line in report.generate_report().splitlines() if line.strip()]
    found += [f"Value {_render(value)} at '{path}' failed to satisfy constraint: {constraint}"
              for path, constraint, value in _constraints(shape, params, "")]  # fmt: skip
    return found


Broken = list[tuple[str, str, Any]]  # (member path, constraint, value)


def _constraints(shape: Shape, value: Any, path: str) -> Broken:
    """What the service checks and botocore does not, over a value of ``shape``. Values of
    the wrong type are skipped: ParamValidator reported them."""
    if isinstance(shape, StructureShape) and isinstance(value, Mapping):
        found: Broken = []
        for name, member in shape.members.items():
            if value.get(name) is not None:
                # AWS prints paths in lower camel case: 'resourceConfig.instanceType'.
                step = name[:1].lower() + name[1:]
                found += _constraints(member, value[name], f"{path}.{step}" if path else step)
        return found
    limit = shape.metadata.get("max")
    if isinstance(value, str | list | Mapping) and limit is not None and len(value) > limit:
        return [(path, f"Member must have length less than or equal to {limit}", value),
                *_inner(shape, value, path)]  # fmt: skip
    if _is_number(value) and shape.type_name in _NUMBERS and limit is not None and value > limit:
        return [(path, f"Member must have value less than or equal to {limit}", value)]
    return _inner(shape, value, path)


_NUMBERS = frozenset({"integer", "long", "float", "double"})


def _inner(shape: Shape, value: Any, path: str) -> Broken:
    """A list's items, a map's keys and values, a string's enum and pattern."""
    found: Broken = []
    if isinstance(shape, ListShape) and isinstance(value, list):
        for index, item in enumerate(value, start=1):
            found += _constraints(shape.member, item, f"{path}.{index}.member")
    elif isinstance(shape, MapShape) and isinstance(value, Mapping):
        for key, item in value.items():
            found += _constraints(shape.key, key, f"{path}.key")
            found += _constraints(shape.value, item, f"{path}.value")
    elif shape.type_name == "string" and isinstance(value, str):
        enum: list[str] = shape.metadata.get("enum", [])
        if enum and value not in enum:
            found.append((path, f"Member must satisfy enum value set: [{', '.join(enum)}]", value))
        pattern = shape.metadata.get("pattern")
        if pattern is not None and _compiled(pattern).fullmatch(value) is None:
            found.append((path, "Member must satisfy regular expression pattern: "
                          f"^{pattern.lstrip('^')}", value))  # fmt: skip
    return found


@functools.cache
def _compiled(pattern: str) -> regex.Pattern[str]:
    return regex.compile(pattern)


def conform(shape: StructureShape, value: Mapping[str, Any]) -> dict[str, Any]:
    """The members of ``value`` that ``shape`` declares, recursively, as JSON values: the
    emulator never answers a member the model does not have. Timestamps become epoch
    seconds, as the JSON protocol sends them."""
    result = _conform(shape, value)
    assert isinstance(result, dict)
    return result


def _conform(shape: Shape, value: Any) -> Any:
    if isinstance(shape, StructureShape):
        return {name: _conform(member, value[name]) for name, member in shape.members.items()
                if name in value and value[name] is not None}  # fmt: skip
    if isinstance(shape, ListShape):
        return [_conform(shape.member, item) for item in value]
    if isinstance(shape, MapShape):
        return {key: _conform(shape.value, item) for key, item in value.items()}
    if shape.type_name == "timestamp" and isinstance(value, datetime.datetime):
        return value.timestamp()
    return value


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _render(value: Any) -> str:
    text = repr(value) if not isinstance(value, str) else f"'{value}'"
    if len(text) > _MAX_VALUE_IN_MESSAGE:
        text = text[: _MAX_VALUE_IN_MESSAGE - 3] + "..."
    return text
