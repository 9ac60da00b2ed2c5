"""Property: what SageMaker refuses, the apiserver refuses at apply time.

Hypothesis breaks a rich, valid request in one or two places at a time, each break aimed
at one constraint of the service model (length, pattern, enum, range, item count, type,
required or unknown member). The emulator's validation (botocore's service model) says
what SageMaker would refuse; a server-side dry run of the TrainingJob says what the
apiserver refuses. The only refusals the apiserver may leave to the operator are the
listed operator-side checks (instance types outside the installed botocore's list).
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import botocore.session
import pytest
import yaml
from botocore.model import ListShape, MapShape, Shape, StructureShape
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from sagemaker_lab import KubeCluster, codegen
from sagemaker_operator.api import GROUP, PLURAL, VERSION, trainingjob
from sagemaker_operator.aws.servicemodel import compiled_pattern, validate_request
from tests.api.manifests import manifest, to_spec

pytestmark = pytest.mark.cluster

ROOT = Path(__file__).resolve().parents[2]


def request_shape() -> StructureShape:
    model = botocore.session.get_session().get_service_model("sagemaker")
    shape = model.operation_model("CreateTrainingJob").input_shape
    assert isinstance(shape, StructureShape)
    return shape


REQUEST_SHAPE = request_shape()
DELETE = object()
NAME = "agreement"

Path_ = tuple[str | int, ...]
Mutation = tuple[str, Path_, Any]


def base_request() -> dict[str, Any]:
    seed = yaml.safe_load((ROOT / "examples" / "seed-training-job.yaml").read_text())
    request = trainingjob.Spec.model_validate(seed["spec"]).to_api()
    request["Environment"] = {"LOG_LEVEL": "info"}
    request["CheckpointConfig"] = {"S3Uri": "s3://my-bucket/checkpoints"}
    request["RetryStrategy"] = {"MaximumRetryAttempts": 2}
    assert validate_request("CreateTrainingJob", request) == []
    return request


def mutations(shape: Shape, value: Any, path: Path_) -> Iterator[Mutation]:
    """Breaks of one constraint each, at path or below it."""
    metadata = shape.metadata
    where = ".".join(map(str, path))
    if isinstance(shape, StructureShape):
        for member in shape.required_members:
            if member in value and member != "TrainingJobName":
                yield f"{where}.{member} missing", (*path, member), DELETE
        yield f"{where} unknown member", (*path, "Bogus"), 1
        for member, item in value.items():
            yield from mutations(shape.members[member], item, (*path, member))
    elif isinstance(shape, ListShape):
        if "max" in metadata:
            yield f"{where} too many items", path, [value[0]] * (metadata["max"] + 1)
        if metadata.get("min", 0) > 0:
            yield f"{where} too few items", path, []
        for index, item in enumerate(value):
            yield from mutations(shape.member, item, (*path, index))
    elif isinstance(shape, MapShape):
        if "max" in metadata:
            yield (
                f"{where} too many entries",
                path,
                {f"k{index}": next(iter(value.values())) for index in range(metadata["max"] + 1)},
            )
        if "max" in shape.key.metadata:
            yield f"{where} key too long", path, {"k" * (shape.key.metadata["max"] + 1): "v"}
        key_pattern = shape.key.metadata.get("pattern", ".*")
        if compiled_pattern(key_pattern).fullmatch("9 bad") is None:
            yield f"{where} key breaks its pattern", path, {"9 bad": "v"}
    elif shape.type_name == "string":
        yield f"{where} wrong type", path, 12345
        if "max" in metadata:
            yield f"{where} too long", path, "a" * (metadata["max"] + 1)
        if metadata.get("min", 0) > 1:
            yield f"{where} too short", path, "a" * (metadata["min"] - 1)
        if metadata.get("enum"):
            yield f"{where} not in the enum", path, "NotAValue"
        pattern = metadata.get("pattern")
        if pattern is not None and compiled_pattern(pattern).fullmatch("line\nbreak") is None:
            yield f"{where} breaks the pattern", path, "line\nbreak"
    elif shape.type_name in {"integer", "long"}:
        yield f"{where} wrong type", path, "7"
        if "max" in metadata:
            yield f"{where} above the maximum", path, metadata["max"] + 1
        if "min" in metadata:
            yield f"{where} below the minimum", path, metadata["min"] - 1
    elif shape.type_name == "boolean":
        yield f"{where} wrong type", path, "true"


BASE = base_request()
CATALOG = sorted(mutations(REQUEST_SHAPE, BASE, ()), key=lambda mutation: mutation[0])
OPERATOR_SIDE = [
    check.path.removeprefix("spec.") for check in codegen.generate().stats.operator_checks
]


def apply(request: dict[str, Any], chosen: list[Mutation]) -> dict[str, Any]:
    broken = copy.deepcopy(request)
    for _, path, value in chosen:
        target: Any = broken
        for key in path[:-1]:
            target = target[key]
        if value is DELETE:
            del target[path[-1]]
        else:
            target[path[-1]] = copy.deepcopy(value)
    return broken


def refused_by_apiserver(api: client.CustomObjectsApi, namespace: str,
                         request: dict[str, Any]) -> bool:  # fmt: skip
    body = manifest(NAME, to_spec(REQUEST_SHAPE, request))
    try:
        # Strict, as kubectl apply sends it: unknown fields are errors, not warnings.
        api.create_namespaced_custom_object(
            GROUP, VERSION, namespace, PLURAL, body, dry_run="All", field_validation="Strict"
        )
    except ApiException as error:
        if error.status not in {400, 422}:  # a refusal, not a broken test platform
            raise
        return True
    return False


def is_operator_side(problem: str) -> bool:
    lowered = problem.replace("'", "").lower()
    return any(path.lower() in lowered for path in OPERATOR_SIDE)


def test_the_catalog_breaks_every_kind_of_constraint() -> None:
    kinds = {description.rsplit(" ", 2)[-2] + " " + description.rsplit(" ", 1)[-1]
             for description, _, _ in CATALOG}  # fmt: skip
    assert len(CATALOG) > 100
    for kind in ("wrong type", "too long", "the enum", "the pattern", "many items",
                 "many entries", "the maximum", "the minimum", "unknown member"):  # fmt: skip
        assert any(kind in description for description, _, _ in CATALOG), (kind, kinds)


@pytest.fixture(scope="module")
def custom_objects(kube_cluster: KubeCluster, trainingjob_crd: str) -> client.CustomObjectsApi:
    return client.CustomObjectsApi(kube_cluster.api_client())


@settings(max_examples=80, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture])  # fmt: skip
@given(chosen=st.lists(st.sampled_from(CATALOG), min_size=1, max_size=2,
                       unique_by=lambda mutation: mutation[1]))  # fmt: skip
def test_what_sagemaker_refuses_the_apiserver_refuses(
    custom_objects: client.CustomObjectsApi, namespace: str, chosen: list[Mutation]
) -> None:
    request = apply(BASE, chosen)
    problems = validate_request("CreateTrainingJob", request)
    refused = refused_by_apiserver(custom_objects, namespace, request)
    if problems and not refused:
        left_to_operator = [problem for problem in problems if not is_operator_side(problem)]
        assert left_to_operator == [], (
            f"the apiserver accepted what SageMaker refuses: {[c[0] for c in chosen]}: "
            f"{json.dumps(left_to_operator)}"
        )


@pytest.mark.parametrize("value", ["ml.m5.large", "ml.p9-next.96xlarge"])
def test_an_unknown_instance_type_is_the_only_listed_operator_side_check(
    custom_objects: client.CustomObjectsApi, namespace: str, value: str
) -> None:
    request = apply(BASE, [("instance type", ("ResourceConfig", "InstanceType"), value)])
    problems = validate_request("CreateTrainingJob", request)
    assert not refused_by_apiserver(custom_objects, namespace, request)
    assert all(is_operator_side(problem) for problem in problems)
    assert bool(problems) == (value == "ml.p9-next.96xlarge")
