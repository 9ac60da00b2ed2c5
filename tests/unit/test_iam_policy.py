"""docs/iam.md's least-privilege IAM policy: clean by an IAM linter, and exactly the calls made."""

from __future__ import annotations

import inspect
import json
import re
from pathlib import Path
from typing import Any

from parliament import analyze_policy_string

from sagemaker_operator.aws import gateway

PAGE = Path(__file__).resolve().parents[2] / "docs" / "iam.md"


def readme_policy() -> dict[str, Any]:
    section = PAGE.read_text().split("## The operator's permissions", 1)[1]
    block = re.search(r"```json\n(.*?)\n```", section, re.DOTALL)
    assert block is not None, "the IAM permissions section has no JSON policy"
    policy: dict[str, Any] = json.loads(block[1])
    return policy


def actions(policy: dict[str, Any]) -> set[str]:
    found: set[str] = set()
    for statement in policy["Statement"]:
        listed = statement["Action"]
        found.update([listed] if isinstance(listed, str) else listed)
    return found


def test_the_policy_passes_an_iam_linter_without_a_finding() -> None:
    analyzed = analyze_policy_string(json.dumps(readme_policy()))
    assert [str(finding) for finding in analyzed.findings] == []


def test_a_wrong_policy_is_caught_by_the_linter() -> None:
    """The linter can fail: an unknown action, and an action on a resource it cannot take."""
    policy = readme_policy()
    policy["Statement"][0]["Action"].append("sagemaker:DescribeTrainingJobs")
    policy["Statement"][1]["Action"] = ["sagemaker:StopTrainingJob"]
    policy["Statement"][1]["Resource"] = "arn:aws:s3:::bucket"
    issues = {finding.issue for finding in analyze_policy_string(json.dumps(policy)).findings}
    assert {"UNKNOWN_ACTION", "RESOURCE_MISMATCH"} <= issues


def test_the_policy_names_exactly_the_calls_the_operator_makes() -> None:
    """Every SageMaker call in the gateway (AddTags among them: adoption tags the job, and
    each create carries tags) and the PassRole of the job's role: nothing more, nothing less."""
    source = inspect.getsource(gateway)
    calls = {"sagemaker:" + "".join(part.title() for part in name.split("_"))
             for name in re.findall(r"client\.([a-z_]+)\(", source)}  # fmt: skip
    assert calls >= {"sagemaker:CreateTrainingJob", "sagemaker:ListTrainingJobs"}
    assert actions(readme_policy()) == calls | {"sagemaker:AddTags", "iam:PassRole"}
