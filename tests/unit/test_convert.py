"""`kubectl sagemaker convert`: ACK's TrainingJob manifests in this CRD's names."""

from __future__ import annotations

import typing
from pathlib import Path
from typing import Any

import pytest
import yaml

from sagemaker_operator.api import DELETION_POLICY_ANNOTATION, GROUP, VERSION
from sagemaker_operator.api import trainingjob as models
from sagemaker_operator.api.base import ApiModel
from sagemaker_operator.api.trainingjob import Spec
from sagemaker_operator.kubectl.convert import ConversionError, convert, convert_all

ACK = Path(__file__).parents[1] / "kubectl" / "ack"


def ack(name: str) -> list[Any]:
    return list(yaml.safe_load_all((ACK / name).read_text()))


def test_acks_spelling_becomes_the_apis_and_the_region_annotation_spec_region() -> None:
    (converted,) = convert_all(ack("xgboost.yaml"))
    manifest = converted.manifest
    assert manifest["apiVersion"] == f"{GROUP}/{VERSION}"
    spec = manifest["spec"]
    assert spec["roleArn"] == "arn:aws:iam::123456789012:role/sagemaker-execution"
    assert spec["region"] == "us-east-1"
    source = spec["inputDataConfig"][0]["dataSource"]["s3DataSource"]
    assert source["s3Uri"] == "s3://example-bucket/ack/train"
    assert spec["resourceConfig"]["volumeSizeInGB"] == 5
    assert spec["tags"] == [{"key": "cost-center", "value": "ml-42"}]
    assert manifest["metadata"] == {
        "name": "ack-xgboost", "labels": {"team": "forecasting"},
        "annotations": {DELETION_POLICY_ANNOTATION: "retain"},
    }  # fmt: skip
    Spec.model_validate(spec)


def test_initialisms_in_nested_members_and_lists_are_renamed_and_map_keys_kept() -> None:
    first, second = convert_all(ack("spot-vpc-debugger.yaml"))
    spec = first.manifest["spec"]
    assert spec["vpcConfig"] == {"securityGroupIds": ["sg-0123456789abcdef0"],
                                 "subnets": ["subnet-0123456789abcdef0"]}  # fmt: skip
    assert spec["outputDataConfig"]["kmsKeyId"].startswith("arn:aws:kms:")
    assert spec["resourceConfig"]["volumeKmsKeyId"].startswith("arn:aws:kms:")
    assert spec["checkpointConfig"]["s3Uri"] == "s3://example-bucket/ack/checkpoints"
    assert spec["algorithmSpecification"]["metricDefinitions"] == [
        {"name": "train:loss", "regex": "loss=([0-9.]+)"}]  # fmt: skip
    assert spec["debugHookConfig"]["collectionConfigurations"][0]["collectionParameters"] == {
        "save_interval": "50"}  # fmt: skip
    assert spec["debugRuleConfigurations"][0]["ruleParameters"] == {
        "rule_to_invoke": "LossNotDecreasing"}  # fmt: skip
    assert spec["environment"] == {"LOG_LEVEL": "debug"}
    assert first.manifest["metadata"]["namespace"] == "team-a"
    assert "status" not in first.manifest
    assert second.manifest["metadata"]["name"] == "ack-second"


def test_what_is_left_out_is_said() -> None:
    first, _ = convert_all(ack("spot-vpc-debugger.yaml"))
    notes = "\n".join(first.notes)
    assert "services.k8s.aws/owner-account-id=210987654321 left out" in notes
    assert "docs/accounts.md" in notes
    assert "ACK's status left out" in notes
    assert "kubectl sagemaker adopt ack-spot-vpc" in notes


def test_a_member_create_training_job_does_not_have_is_refused_naming_its_path() -> None:
    document = ack("xgboost.yaml")[0]
    document["spec"]["resourceConfig"]["volumeSizeGiB"] = 5
    with pytest.raises(ConversionError, match=r"spec\.resourceConfig\.volumeSizeGiB is not"):
        convert(document)


def test_a_value_this_crd_refuses_is_refused_naming_the_field() -> None:
    document = ack("xgboost.yaml")[0]
    del document["spec"]["roleARN"]
    with pytest.raises(ConversionError, match=r"TrainingJob ack-xgboost.*roleArn"):
        convert(document)


def test_only_acks_training_jobs_are_converted() -> None:
    with pytest.raises(ConversionError, match="only ACK's TrainingJob"):
        convert({"apiVersion": f"{GROUP}/{VERSION}", "kind": "TrainingJob", "spec": {}})
    with pytest.raises(ConversionError, match="only ACK's TrainingJob"):
        convert({"apiVersion": "sagemaker.services.k8s.aws/v1alpha1", "kind": "Model"})
    with pytest.raises(ConversionError, match="no ACK TrainingJob"):
        convert_all([None])


def test_a_list_is_unpacked() -> None:
    listed = {"apiVersion": "v1", "kind": "List", "items": ack("spot-vpc-debugger.yaml")}
    assert [c.manifest["metadata"]["name"] for c in convert_all([listed])] == [
        "ack-spot-vpc", "ack-second"]  # fmt: skip


def _models() -> list[type[ApiModel]]:
    return [value for value in vars(models).values()
            if isinstance(value, type) and issubclass(value, ApiModel)]  # fmt: skip


@pytest.mark.parametrize("model", _models(), ids=lambda model: model.__name__)
def test_ignoring_case_names_one_member_in_every_structure(model: type[ApiModel]) -> None:
    names = [(field.alias or name).lower() for name, field in model.model_fields.items()]
    assert len(names) == len(set(names)), typing.cast(Any, model).__name__


def test_a_manifest_without_a_name_is_refused_and_generate_name_is_kept() -> None:
    document = ack("xgboost.yaml")[0]
    del document["metadata"]["name"]
    with pytest.raises(ConversionError, match=r"metadata\.name is missing"):
        convert(document)
    document["metadata"]["generateName"] = "nightly-"
    assert convert(document).manifest["metadata"]["generateName"] == "nightly-"
