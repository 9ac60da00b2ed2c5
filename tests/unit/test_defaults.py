"""The operator's idea of SageMaker's defaults is the emulator's: adoption takes a default
that Describe reports for no difference, and the emulator's Describe reports them as AWS
documents them. The two lists are kept apart (the emulator must not import the operator);
this holds them equal."""

from __future__ import annotations

from sagemaker_emulator import defaults as played
from sagemaker_operator.aws import defaults as expected


def test_the_operator_expects_every_default_the_emulator_reports_and_no_other() -> None:
    assert {(d.path, repr(d.value)) for d in expected.DEFAULTS} == {
        (d.path, repr(d.value)) for d in played.DEFAULTS
    }
