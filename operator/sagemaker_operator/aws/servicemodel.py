"""SageMaker's botocore service model: request validation and response shaping.

Used on both sides of the wire: the operator checks the exact request before it calls
SageMaker, and the emulator refuses what SageMaker would. AWS validates every request
on the server. botocore's client-side ``ParamValidator``
checks required members, types, unknown members and minimums; it deliberately leaves
``max``, ``maxLength``, ``maxItems``, ``enum`` and ``pattern`` to the service. The
emulator checks both, so a request it accepts is one SageMaker would accept.

Patterns in the model are Java regular expressions that SageMaker applies to the whole
value (its errors print them anchored, ``^…``), so we use full-match semantics. They use
``\\p{L}``, ``\\p{Alnum}`` and look-behind, which the standard ``re`` module lacks; the
``regex`` module supports all of them.
"""

from __future__ import annotations

import datetime
import difflib
import functools
import json
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import botocore.loaders
import botocore.session
import regex
from botocore.model import ListShape, MapShape, OperationModel, ServiceModel, Shape, StructureShape
from botocore.validate import ParamValidator

_SERVICE = "sagemaker"
_MAX_VALUE_IN_MESSAGE = 100


@dataclass(frozen=True)
class ConstraintViolation:
    """One broken constraint, with the member path as AWS prints it.

    Paths are lower camel case with list items numbered from one, as in AWS's messages:
    ``resourceConfig.instanceType``, ``inputDataConfig.1.member.channelName``.
    """

    path: str
    constraint: str
    value: Any

    def __str__(self) -> str:
        return (
            f"Value {_render(self.value)} at '{self.path}' failed to satisfy constraint: "
            f"{self.constraint}"
        )


# What the operator calls (aws/gateway.py). A process that calls nothing else loads only
# their part of SageMaker's model (``load_only``): about 1 MB of its 9 MB once parsed.
OPERATOR_OPERATIONS = frozenset({
    "CreateTrainingJob", "DescribeTrainingJob", "ListTrainingJobs", "StopTrainingJob",
    "UpdateTrainingJob", "AddTags", "ListTags",
})  # fmt: skip
# The operations ``load_only`` named (none: the whole model).
_only: list[frozenset[str]] = []


class _Loader(botocore.loaders.Loader):
    """botocore's loader (AWS_DATA_PATH, sdk-extras and all), but each model is parsed once
    however it is asked for (botocore's own cache keys on the call's form: a session's
    ``get_service_model`` and a client's creation each parsed SageMaker's 9 MB model), and
    SageMaker's is cut to the operations ``load_only`` named."""

    def __init__(self, search_paths: list[str], only: frozenset[str] | None) -> None:
        super().__init__(extra_search_paths=search_paths)
        self._only = only
        self._models: dict[tuple[str, str, str | None], Any] = {}

    def load_service_model(
        self, service_name: str, type_name: str, api_version: str | None = None
    ) -> Any:
        key = (service_name, type_name, api_version)
        if key not in self._models:
            data = super().load_service_model(service_name, type_name, api_version=api_version)
            if self._only is not None and (service_name, type_name) == (_SERVICE, "service-2"):
                # botocore's cache keeps the whole model: let it go.
                cache: dict[Any, Any] = self.__dict__["_cache"]
                for cached in [cached for cached, value in cache.items()
                               if value is data or (isinstance(value, tuple) and value
                                                    and value[0] is data)]:  # fmt: skip
                    del cache[cached]
                data = trimmed(data, self._only)
            self._models[key] = data
        return self._models[key]


def trimmed(model: Mapping[str, Any], operations: Iterable[str]) -> dict[str, Any]:
    """A service model with only ``operations``, the shapes they reach, and no
    documentation: what a client that calls only these needs (its requests, answers and
    errors parse and validate as with the whole model). Parsed afresh, so the whole
    model's objects can all be freed."""
    kept = {name: model["operations"][name] for name in operations}
    shapes = model["shapes"]
    needed: set[str] = set()
    pending = [ref["shape"] for operation in kept.values()
               for ref in (operation.get("input"), operation.get("output"),
                           *operation.get("errors", [])) if ref]  # fmt: skip
    while pending:
        name = pending.pop()
        if name not in needed:
            needed.add(name)
            shape = shapes[name]
            refs = [*shape.get("members", {}).values(),
                    *(shape.get(part) for part in ("member", "key", "value"))]  # fmt: skip
            pending += [ref["shape"] for ref in refs if ref]
    cut = {key: value for key, value in model.items() if key not in {"operations", "shapes"}}
    cut |= {"operations": kept, "shapes": {name: shapes[name] for name in sorted(needed)}}
    return json.loads(json.dumps(cut), object_hook=_undocumented)  # type: ignore[no-any-return]


def _undocumented(value: dict[str, Any]) -> dict[str, Any]:
    value.pop("documentation", None)
    return value


def load_only(operations: Iterable[str] = OPERATOR_OPERATIONS) -> None:
    """From now on, SageMaker's model holds only ``operations`` (the operator's process)."""
    _only[:] = [frozenset(operations)]
    forget()


@functools.cache
def _loading_session() -> botocore.session.Session:
    loading = botocore.session.get_session()
    data_path = loading.get_config_variable("data_path")  # AWS_DATA_PATH
    search_paths = [os.path.expanduser(os.path.expandvars(path))
                    for path in (data_path or "").split(os.pathsep) if path]  # fmt: skip
    loading.register_component("data_loader", _Loader(search_paths, _only[0] if _only else None))
    return loading


def session() -> botocore.session.Session:
    """A new botocore session that shares one loader with every other: the SageMaker model
    (tens of MB once parsed) is read once per process, not once per client."""
    fresh = botocore.session.get_session()
    fresh.register_component("data_loader", _loading_session().get_component("data_loader"))
    return fresh


def forget() -> None:
    """Load the models afresh on next use (after AWS_DATA_PATH changed: tests)."""
    _loading_session.cache_clear()
    service_model.cache_clear()


@functools.cache
def service_model(service: str = _SERVICE) -> ServiceModel:
    return _loading_session().get_service_model(service)


def operation_model(name: str, service: str = _SERVICE) -> OperationModel:
    return service_model(service).operation_model(name)


def operation_names(service: str = _SERVICE) -> frozenset[str]:
    return frozenset(service_model(service).operation_names)


def validate_request(
    operation: str, params: Mapping[str, Any], service: str = _SERVICE
) -> list[str]:
    """Every reason the service would refuse ``params`` for ``operation``; empty when valid."""
    shape = operation_model(operation, service).input_shape
    if shape is None:
        return [] if not params else [f"{operation} takes no parameters"]
    report = ParamValidator().validate(dict(params), shape)
    problems: list[str] = []
    if report.has_errors():
        # generate_report() lists one problem a line and names the member, e.g.
        # 'Missing required parameter in input: "RoleArn"'.
        problems.extend(
            line.strip() for line in report.generate_report().splitlines() if line.strip()
        )
    problems.extend(str(violation) for violation in _service_constraints(shape, params, ""))
    return problems


Violations = list[ConstraintViolation]


def _service_constraints(shape: Shape, value: Any, path: str) -> Violations:
    """The constraints botocore leaves to the service, walked over a value of ``shape``.

    Values of the wrong type are skipped: ParamValidator already reported them.
    """
    if isinstance(shape, StructureShape):
        return _structure_constraints(shape, value, path)
    if isinstance(shape, ListShape | MapShape):
        return _collection_constraints(shape, value, path)
    if shape.type_name == "string" and isinstance(value, str):
        return _string_constraints(shape, value, path)
    if shape.type_name in {"integer", "long", "float", "double"} and _is_number(value):
        limit = shape.metadata.get("max")
        if limit is not None and value > limit:
            return [ConstraintViolation(
                path, f"Member must have value less than or equal to {limit}", value
            )]  # fmt: skip
    return []


def _structure_constraints(shape: StructureShape, value: Any, path: str) -> Violations:
    if not isinstance(value, Mapping):
        return []
    found: Violations = []
    for name, member in shape.members.items():
        if value.get(name) is not None:
            found += _service_constraints(member, value[name], _join(path, name))
    return found


def _collection_constraints(shape: ListShape | MapShape, value: Any, path: str) -> Violations:
    found = _length_constraint(shape, value, path)
    if isinstance(shape, ListShape) and isinstance(value, list):
        for index, item in enumerate(value, start=1):
            found += _service_constraints(shape.member, item, f"{path}.{index}.member")
    elif isinstance(shape, MapShape) and isinstance(value, Mapping):
        for key, item in value.items():
            found += _service_constraints(shape.key, key, f"{path}.key")
            found += _service_constraints(shape.value, item, f"{path}.value")
    return found


_ENUM_SHOWN = 12


def _enum_message(enum: list[str], value: str) -> str:
    """AWS's wording; a long set (instance types: 100+) is cut to the closest values, so
    the message stays readable in `kubectl` output and in a condition."""
    if len(enum) <= _ENUM_SHOWN:
        return f"Member must satisfy enum value set: [{', '.join(enum)}]"
    closest = difflib.get_close_matches(value, enum, n=5, cutoff=0.0)
    return (f"Member must satisfy enum value set ({len(enum)} values; closest: "
            f"{', '.join(closest)})")  # fmt: skip


def _string_constraints(shape: Shape, value: str, path: str) -> Violations:
    found = _length_constraint(shape, value, path)
    enum: list[str] = shape.metadata.get("enum", [])
    if enum and value not in enum:
        found.append(ConstraintViolation(path, _enum_message(enum, value), value))
    pattern = shape.metadata.get("pattern")
    if pattern is not None and compiled_pattern(pattern).fullmatch(value) is None:
        found.append(ConstraintViolation(
            path, f"Member must satisfy regular expression pattern: ^{pattern.lstrip('^')}", value
        ))  # fmt: skip
    return found


def _length_constraint(shape: Shape, value: Any, path: str) -> Violations:
    limit = shape.metadata.get("max")
    if isinstance(value, str | list | Mapping) and limit is not None and len(value) > limit:
        return [ConstraintViolation(
            path, f"Member must have length less than or equal to {limit}", value
        )]  # fmt: skip
    return []


@functools.cache
def compiled_pattern(pattern: str) -> regex.Pattern[str]:
    return regex.compile(pattern)


def conform(shape: StructureShape, value: Mapping[str, Any]) -> dict[str, Any]:
    """Keep the members of ``value`` that ``shape`` declares, recursively, as JSON values.

    Used to build responses (a TrainingJobSummary is a Describe answer cut to the
    summary's members) and guarantees the emulator never answers a member the model
    does not have. Timestamps become epoch seconds, as the JSON protocol sends them.
    """
    result = _conform(shape, value)
    assert isinstance(result, dict)
    return result


def _conform(shape: Shape, value: Any) -> Any:
    if isinstance(shape, StructureShape):
        return {
            name: _conform(member, value[name])
            for name, member in shape.members.items()
            if name in value and value[name] is not None
        }
    if isinstance(shape, ListShape):
        return [_conform(shape.member, item) for item in value]
    if isinstance(shape, MapShape):
        return {key: _conform(shape.value, item) for key, item in value.items()}
    if shape.type_name == "timestamp" and isinstance(value, datetime.datetime):
        return value.timestamp()
    return value


def _join(path: str, member: str) -> str:
    # AWS prints member paths in lower camel case: 'resourceConfig.instanceType'.
    name = member[:1].lower() + member[1:]
    return f"{path}.{name}" if path else name


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _render(value: Any) -> str:
    text = repr(value) if not isinstance(value, str) else f"'{value}'"
    if len(text) > _MAX_VALUE_IN_MESSAGE:
        text = text[: _MAX_VALUE_IN_MESSAGE - 3] + "..."
    return text


def updatable(model: ServiceModel | None = None) -> dict[str, frozenset[str] | None]:
    """What UpdateTrainingJob changes of a created job, by CreateTrainingJob member: None
    when the member changes whole (its update shape has every member of the create shape),
    else the sub-members that change (a ``…ForUpdate`` shape with fewer members). The
    CRD's immutability rules (codegen/crd.py) and the update request are both made from it."""
    model = model or service_model()
    create = model.operation_model("CreateTrainingJob").input_shape
    update = model.operation_model("UpdateTrainingJob").input_shape
    assert isinstance(create, StructureShape)
    assert isinstance(update, StructureShape)
    result: dict[str, frozenset[str] | None] = {}
    for name, shape in update.members.items():
        if name == "TrainingJobName":
            continue
        created = create.members[name]
        if (
            isinstance(shape, StructureShape)
            and isinstance(created, StructureShape)
            and (set(created.members) - set(shape.members))
        ):
            result[name] = frozenset(shape.members)
        else:
            result[name] = None
    return result
