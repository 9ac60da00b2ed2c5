"""`kubectl sagemaker convert -f FILE`: ACK sagemaker-controller TrainingJob manifests in this
CRD's terms.

Both CRDs carry CreateTrainingJob's members, spelt differently: ACK upper-cases initialisms
(``roleARN``, ``s3URI``, ``kmsKeyID``, ``securityGroupIDs``), this CRD keeps the API's own
spelling with the first letter lowered (``roleArn``, ``s3Uri``, ``kmsKeyId``,
``securityGroupIds``). A member is matched ignoring case, which names one member in every
structure of SageMaker's model (tests/unit/test_convert.py checks it); the keys of maps
(``hyperParameters``, ``environment``, ``ruleParameters``) are the user's and are copied as
they are. ACK's region annotation becomes ``spec.region``, its deletion policy this CRD's;
ACK's status, and the annotations only ACK reads, are left out and said so.
"""

from __future__ import annotations

import types
import typing
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import pydantic

from sagemaker_operator.api import DELETION_POLICY_ANNOTATION, GROUP, KIND, VERSION
from sagemaker_operator.api.base import ApiModel
from sagemaker_operator.api.trainingjob import Spec

ACK_GROUP = "sagemaker.services.k8s.aws"
_ACK_ANNOTATIONS = "services.k8s.aws/"
_ACK_REGION = "services.k8s.aws/region"
_ACK_DELETION_POLICY = "services.k8s.aws/deletion-policy"
_ACK_ACCOUNT = "services.k8s.aws/owner-account-id"


class ConversionError(ValueError):
    """A manifest that cannot be converted; the message names the document and the field."""


@dataclass(frozen=True)
class Converted:
    manifest: dict[str, Any]
    notes: tuple[str, ...]  # what was left out or needs the user's attention


def convert_all(documents: list[Any]) -> list[Converted]:
    """Every document of a file (a ``kind: List`` is unpacked); empty documents are skipped."""
    found: list[Converted] = []
    for number, document in enumerate(_unpacked(documents), start=1):
        if not isinstance(document, Mapping):
            raise ConversionError(f"document {number}: not a Kubernetes object")
        found.append(convert(document, where=f"document {number}"))
    if not found:
        raise ConversionError("no ACK TrainingJob in the input")
    return found


def convert(document: Mapping[str, Any], *, where: str = "the manifest") -> Converted:
    api_version = str(document.get("apiVersion", ""))
    if api_version.split("/", maxsplit=1)[0] != ACK_GROUP or document.get("kind") != KIND:
        raise ConversionError(
            f"{where}: apiVersion {api_version or '(none)'}, kind {document.get('kind')}: "
            f"only ACK's TrainingJob ({ACK_GROUP}/…, kind {KIND}) is converted"
        )
    metadata = document.get("metadata") or {}
    named = {key: str(metadata[key]) for key in ("name", "generateName") if metadata.get(key)}
    if not named:
        raise ConversionError(f"{where}: metadata.name is missing")
    where = f"{where} (TrainingJob {next(iter(named.values()))})"
    notes: list[str] = []
    spec = _renamed(document.get("spec") or {}, Spec, "spec", where)
    kept, region, left_out = _annotations(metadata.get("annotations") or {}, where)
    notes += left_out
    if region and "region" not in spec:
        spec["region"] = region
    try:
        Spec.model_validate(spec)
    except pydantic.ValidationError as error:
        problems = "; ".join(
            f"spec.{'.'.join(str(part) for part in item['loc'])}: {item['msg']}"
            for item in error.errors()
        )
        raise ConversionError(f"{where}: {problems}") from error
    if "trainingJobName" in spec:
        notes.append(
            f"{where}: spec.trainingJobName {spec['trainingJobName']} is kept; if ACK already "
            f"ran that job, take it over instead: kubectl sagemaker adopt "
            f"{spec['trainingJobName']} (docs/migrating-from-ack.md)"
        )
    if document.get("status"):
        notes.append(f"{where}: ACK's status left out (the operator writes its own)")
    out_metadata: dict[str, Any] = dict(named)
    for key in ("namespace", "labels"):
        if metadata.get(key):
            out_metadata[key] = dict(metadata[key]) if key == "labels" else metadata[key]
    if kept:
        out_metadata["annotations"] = kept
    manifest = {"apiVersion": f"{GROUP}/{VERSION}", "kind": KIND, "metadata": out_metadata,
                "spec": spec}  # fmt: skip
    return Converted(manifest, tuple(notes))


def _annotations(
    annotations: Mapping[str, Any], where: str
) -> tuple[dict[str, str], str | None, list[str]]:
    """The annotations kept (ACK's deletion policy as this CRD's), ACK's region, and notes
    on what was left out."""
    kept: dict[str, str] = {}
    notes: list[str] = []
    for key, value in annotations.items():
        if key == _ACK_DELETION_POLICY:
            kept[DELETION_POLICY_ANNOTATION] = str(value)
        elif key == _ACK_ACCOUNT:
            notes.append(
                f"{where}: {key}={value} left out: a namespace's jobs run in the "
                "account its namespace policy rule assumes (docs/accounts.md)"
            )
        elif key.startswith(_ACK_ANNOTATIONS):
            if key != _ACK_REGION:
                notes.append(f"{where}: annotation {key} left out: only ACK reads it")
        else:
            kept[key] = str(value)
    region = annotations.get(_ACK_REGION)
    return kept, str(region) if region else None, notes


def _unpacked(documents: list[Any]) -> Iterator[Any]:
    for document in documents:
        if document is None:
            continue
        if isinstance(document, Mapping) and document.get("kind") == "List":
            yield from document.get("items") or []
        else:
            yield document


def _renamed(value: Any, model: type[ApiModel], path: str, where: str) -> dict[str, Any]:
    """An ACK object as this CRD spells model's members; unknown members are refused."""
    if not isinstance(value, Mapping):
        raise ConversionError(f"{where}: {path} is not an object")
    members = {(field.alias or name).lower(): (field.alias or name, field.annotation)
               for name, field in model.model_fields.items()}  # fmt: skip
    renamed: dict[str, Any] = {}
    for key, item in value.items():
        found = members.get(str(key).lower())
        if found is None:
            raise ConversionError(f"{where}: {path}.{key} is not a member of {path} in "
                                  "CreateTrainingJob; remove it or check its spelling")  # fmt: skip
        alias, annotation = found
        renamed[alias] = _value(item, annotation, f"{path}.{alias}", where)
    return renamed


def _value(value: Any, annotation: Any, path: str, where: str) -> Any:
    """A member's value: structures renamed member by member, lists item by item; maps and
    scalars as they are."""
    annotation = _without_none(annotation)
    origin = typing.get_origin(annotation)
    if isinstance(annotation, type) and issubclass(annotation, ApiModel):
        return _renamed(value, annotation, path, where)
    if origin is list and isinstance(value, list):
        (item_type,) = typing.get_args(annotation)
        return [_value(item, item_type, f"{path}[{index}]", where)
                for index, item in enumerate(value)]  # fmt: skip
    return value


def _without_none(annotation: Any) -> Any:
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        kept = [arg for arg in typing.get_args(annotation) if arg is not type(None)]
        if len(kept) == 1:
            return kept[0]
    return annotation
