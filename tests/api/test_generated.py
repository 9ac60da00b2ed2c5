"""The CRD and the models are generated from botocore's model, and the committed files are fresh."""

from __future__ import annotations

import re
from pathlib import Path

import botocore
import pytest
import yaml

from sagemaker_lab import codegen
from sagemaker_lab.codegen import crd, patterns
from sagemaker_lab.codegen.docs import describe

ROOT = Path(__file__).resolve().parents[2]


def test_the_committed_crd_and_models_equal_a_fresh_generation() -> None:
    assert codegen.stale_files(ROOT) == [], "run `make generate` and commit the result"


def test_generating_twice_gives_identical_bytes() -> None:
    assert codegen.generate().files == codegen.generate().files


def test_both_files_name_the_botocore_version_and_how_to_regenerate() -> None:
    for text in codegen.generate().files.values():
        head = "\n".join(text.splitlines()[:3])
        assert f"botocore {botocore.__version__}" in head
        assert "make generate" in head
        assert "Do not edit" in head


def test_the_spec_has_every_create_training_job_member_named_with_its_first_letter_lowered() -> (
    None
):
    document = yaml.safe_load((ROOT / codegen.CRD_FILE).read_text())
    spec = document["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]
    request = botocore.session.get_session().get_service_model("sagemaker").operation_model(
        "CreateTrainingJob").input_shape  # fmt: skip
    assert request is not None
    expected = {crd.lower_first(member) for member in request.members} | {"region"}
    assert set(spec["properties"]) == expected
    assert len(request.members) == 28
    resources = spec["properties"]["resourceConfig"]["properties"]
    assert "volumeSizeInGB" in resources
    assert spec["properties"]["outputDataConfig"]["properties"]["s3OutputPath"]["maxLength"] == 1024


@pytest.mark.parametrize(("java", "re2", "must_not_end_with"), [
    ("[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}", "^(?:[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62})$", None),
    ("^already-anchored$", "^(?:already-anchored)$", None),
    ("arn:[\\p{Alnum}\\-]+:lambda", "^(?:arn:[[:alnum:]\\-]+:lambda)$", None),
    ("x\\p{Alnum}y", "^(?:x[[:alnum:]]y)$", None),
    ("model-package/[\\S]{1,2048}",
     "^(?:model-package/[\\S]{1,1000}[\\S]{0,1000}[\\S]{0,48})$", None),
    ("([a-z]([a-z-]){0,62})(?<!-)", "^(?:([a-z]([a-z-]){0,62}))$", "-"),
    ("([\\p{L}\\p{Z}\\p{N}_.:/=+\\-@]*)", "^(?:([\\p{L}\\p{Z}\\p{N}_.:/=+\\-@]*))$", None),
])  # fmt: skip
def test_patterns_are_translated_exactly_to_re2(
    java: str, re2: str, must_not_end_with: str | None
) -> None:
    translated = patterns.translate(java)
    assert translated.pattern == re2
    assert translated.must_not_end_with == must_not_end_with


def test_a_split_repeat_matches_exactly_the_same_lengths() -> None:
    pattern = re.compile(patterns.translate("a{1,2048}").pattern)
    assert all(pattern.fullmatch("a" * n) for n in (1, 1000, 1001, 2000, 2048))
    assert not pattern.fullmatch("")
    assert not pattern.fullmatch("a" * 2049)


def test_look_ahead_and_back_references_are_refused() -> None:
    for java in ("(?=x)y", "(a)\\1", "a(?<=b)c"):
        with pytest.raises(patterns.UntranslatablePatternError):
            patterns.translate(java)


def test_descriptions_are_plain_text_cut_at_a_sentence() -> None:
    html = "<p>The ML compute <code>instance</code> type. </p><p>Second paragraph.</p>"
    assert describe(html) == "The ML compute instance type. Second paragraph."
    long = "<p>" + "A sentence of words. " * 40 + "</p>"
    text = describe(long, 100)
    assert len(text) <= 100
    assert text.endswith(".")


def test_open_enums_are_instance_types_and_stay_open() -> None:
    generated = codegen.generate()
    assert all("instance types" in check.constraint for check in generated.stats.operator_checks)
    model = botocore.session.get_session().get_service_model("sagemaker")
    instance_types = model.shape_for("TrainingInstanceType").metadata["enum"]
    open_pattern = re.compile(crd.INSTANCE_TYPE_PATTERN)
    assert all(open_pattern.fullmatch(value) for value in instance_types)
    assert open_pattern.fullmatch("ml.p9-next.96xlarge")  # launched after this CRD


def test_what_cannot_change_is_a_policy_on_updates_that_status_writes_never_reach() -> None:
    """The apiserver runs every CEL rule of a CRD on every status write; the immutability
    checks (deep comparisons, 35 of them) halved what it takes (bench/status_writes.py).
    They live in a ValidatingAdmissionPolicy matching UPDATE of trainingjobs, not of
    trainingjobs/status."""
    text = (ROOT / codegen.CRD_FILE).read_text()
    assert "oldSelf" not in text  # no transition rule in the CRD
    policy, binding = yaml.safe_load_all((ROOT / codegen.POLICY_FILE).read_text())
    (matched,) = policy["spec"]["matchConstraints"]["resourceRules"]
    assert matched["resources"] == ["trainingjobs"]  # the resource, not its status
    assert matched["operations"] == ["UPDATE"]
    assert policy["spec"]["failurePolicy"] == "Fail"
    assert binding["spec"] == {"policyName": policy["metadata"]["name"],
                               "validationActions": ["Deny"]}  # fmt: skip
    messages = [check["message"] for check in policy["spec"]["validations"]]
    assert any(message.startswith("spec.roleArn is immutable") for message in messages)
    assert any(message.startswith("spec.resourceConfig.instanceCount is immutable")
               for message in messages)  # fmt: skip
    assert not any("keepAlivePeriodInSeconds is immutable" in message for message in messages)
