"""Which deletion policy applies: the resource's annotation, its namespace's, the operator's."""

from __future__ import annotations

import pytest

from sagemaker_operator.api import DELETION_POLICY_ANNOTATION
from sagemaker_operator.controller.delete import (
    InvalidDeletionPolicyError,
    deletion_policy,
)

RETAIN = {DELETION_POLICY_ANNOTATION: "retain"}
DELETE = {DELETION_POLICY_ANNOTATION: "delete"}


def test_without_annotations_the_operator_setting_applies() -> None:
    assert deletion_policy({}, {}, "delete") == "delete"
    assert deletion_policy({}, {}, "retain") == "retain"


def test_a_namespace_annotation_overrides_the_operator_setting() -> None:
    assert deletion_policy({}, RETAIN, "delete") == "retain"
    assert deletion_policy({}, DELETE, "retain") == "delete"


def test_the_resource_annotation_overrides_its_namespace() -> None:
    assert deletion_policy(DELETE, RETAIN, "retain") == "delete"
    assert deletion_policy(RETAIN, DELETE, "delete") == "retain"


def test_values_are_read_without_regard_to_case_or_surrounding_space() -> None:
    assert deletion_policy({DELETION_POLICY_ANNOTATION: " Retain "}, {}, "delete") == "retain"


@pytest.mark.parametrize("where", ["resource", "namespace"])
def test_an_unknown_value_is_refused_naming_the_annotation_and_where_it_is(where: str) -> None:
    wrong = {DELETION_POLICY_ANNOTATION: "keep"}
    resource, namespace = (wrong, {}) if where == "resource" else ({}, wrong)
    with pytest.raises(InvalidDeletionPolicyError) as refused:
        deletion_policy(resource, namespace, "delete")
    assert str(refused.value) == (
        f"the {where} annotation sagemaker-operator.dev/deletion-policy='keep' "
        "is neither delete nor retain"
    )
