"""The base of the generated TrainingJob models: Kubernetes names in, API names out.

A field's alias is its Kubernetes name, the API member name with its first letter
lowered (``roleArn``); the API name is that alias with its first letter raised back
(``RoleArn``). Models accept either spelling, so the same class parses a manifest's spec
and a DescribeTrainingJob answer.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict
from pydantic.config import JsonDict

# Marks a field the API does not have (spec.region), so to_api() leaves it out.
NOT_AN_API_MEMBER: JsonDict = {"api_member": False}


def api_name(alias: str) -> str:
    return alias[:1].upper() + alias[1:]


def kubernetes_name(member: str) -> str:
    """An API member's name in the spec and status (``RoleArn`` → ``roleArn``)."""
    return member[:1].lower() + member[1:]


class ApiModel(BaseModel):
    model_config = ConfigDict(
        populate_by_name=True,
        extra="forbid",
        frozen=True,
        protected_namespaces=(),  # API members such as ModelArtifacts start with "model"
    )

    def to_api(self) -> dict[str, Any]:
        """The members set on this model, as boto3 takes them (API names, maps untouched)."""
        result: dict[str, Any] = {}
        for name, field in type(self).model_fields.items():
            value = getattr(self, name)
            if value is None or field.json_schema_extra == NOT_AN_API_MEMBER:
                continue
            result[api_name(field.alias or name)] = _to_api(value)
        return result

    def to_kubernetes(self) -> dict[str, Any]:
        """The members set on this model, as JSON for a Kubernetes object."""
        dumped: dict[str, Any] = self.model_dump(mode="json", by_alias=True, exclude_none=True)
        return dumped


class AnswerModel(ApiModel):
    """A model of what SageMaker answers (the status): members this model does not know are
    ignored. AWS adds members to its answers over time, and a newer botocore parses them;
    tracking must not stop at the first one. Requests (the spec) stay strict."""

    model_config = ConfigDict(extra="ignore")


def _to_api(value: Any) -> Any:
    if isinstance(value, ApiModel):
        return value.to_api()
    if isinstance(value, list):
        return [_to_api(item) for item in value]
    if isinstance(value, dict):
        return {key: _to_api(item) for key, item in value.items()}
    return value  # scalars, and datetimes, which boto3 takes as they are
