"""The AWS side of the event mode (deploy/sagemaker-events.cfn.yaml, shown in docs/event-mode.md):
clean by AWS's CloudFormation linter, and exactly the SQS calls the operator makes."""

from __future__ import annotations

import inspect
import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml
from parliament import analyze_policy_string

from sagemaker_operator.aws import events
from sagemaker_operator.controller.events import WRITE_PATIENCE
from sagemaker_operator.controller.requests import UID_TAG

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "deploy" / "sagemaker-events.cfn.yaml"


class _Loader(yaml.SafeLoader):
    """YAML with CloudFormation's short tags (!Ref, !GetAtt), kept as plain values."""


_Loader.add_multi_constructor("!", lambda loader, suffix, node: (
    f"{suffix} {loader.construct_scalar(node)}"))  # fmt: skip


def template() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.load(TEMPLATE.read_text(), Loader=_Loader)
    return loaded


def cfn_lint(path: Path) -> subprocess.CompletedProcess[str]:
    command = [str(Path(sys.executable).with_name("cfn-lint")), str(path)]
    return subprocess.run(command, capture_output=True, text=True, check=False, timeout=120)


def test_the_template_passes_cfn_lint() -> None:
    linted = cfn_lint(TEMPLATE)
    assert linted.returncode == 0, linted.stdout + linted.stderr


def test_a_wrong_template_is_caught_by_the_linter(tmp_path: Path) -> None:
    """The linter can fail: a visibility timeout past SQS's maximum, a type that does not exist."""
    broken = TEMPLATE.read_text().replace("VisibilityTimeout: 60", "VisibilityTimeout: 600000")
    broken = broken.replace("Type: AWS::Events::Rule", "Type: AWS::Events::Rules")
    (tmp_path / "broken.yaml").write_text(broken)
    linted = cfn_lint(tmp_path / "broken.yaml")
    assert linted.returncode != 0
    assert "E3034" in linted.stdout
    assert "AWS::Events::Rules" in linted.stdout


def test_the_readme_shows_the_template_as_it_is() -> None:
    readme = (ROOT / "docs" / "event-mode.md").read_text()
    blocks = re.findall(r"```yaml\n(AWSTemplateFormatVersion.*?)```", readme, re.DOTALL)
    assert blocks == [TEMPLATE.read_text()]


def test_the_rule_sends_the_operators_training_job_events_to_the_queue() -> None:
    resources = template()["Resources"]
    rule = resources["TrainingJobStateChanges"]["Properties"]
    assert rule["EventPattern"]["source"] == ["aws.sagemaker"]
    assert rule["EventPattern"]["detail-type"] == [events.DETAIL_TYPE]
    assert list(rule["EventPattern"]["detail"]["Tags"]) == [UID_TAG]
    assert rule["Targets"][0]["Arn"] == "GetAtt EventsQueue.Arn"
    # Visibility outlasts what a batch waits for its writes: a message being written is
    # not received twice meanwhile.
    assert resources["EventsQueue"]["Properties"]["VisibilityTimeout"] > WRITE_PATIENCE


def test_the_operators_permissions_are_exactly_its_sqs_calls_and_lint_clean() -> None:
    statement = template()["Resources"]["OperatorReadsTheEvents"]["Properties"][
        "PolicyDocument"]["Statement"]  # fmt: skip
    granted = {action for item in statement for action in item["Action"]}
    source = inspect.getsource(events)
    called = {"sqs:" + "".join(part.title() for part in name.split("_"))
              for name in re.findall(r"self\._client\.([a-z_]+)\(", source)}  # fmt: skip
    # DeleteMessageBatch is authorised as sqs:DeleteMessage (SQS's IAM reference).
    called = {"sqs:DeleteMessage" if name == "sqs:DeleteMessageBatch" else name
              for name in called}  # fmt: skip
    assert granted == called == {"sqs:ReceiveMessage", "sqs:DeleteMessage",
                                 "sqs:GetQueueAttributes"}  # fmt: skip
    policy = {"Version": "2012-10-17", "Statement": [
        item | {"Resource": "arn:aws:sqs:us-east-1:123456789012:sagemaker-operator-events"}
        for item in statement]}  # fmt: skip
    assert [str(finding) for finding in analyze_policy_string(json.dumps(policy)).findings] == []


def test_the_queue_refuses_messages_from_anyone_but_the_rule() -> None:
    """Whoever may send to the queue could write any state into any resource: the queue
    policy denies SendMessage to every principal whose source is not the rule (an explicit
    deny: a same-account identity policy allowing sqs:SendMessage cannot override it)."""
    statements = template()["Resources"]["EventsQueuePolicy"]["Properties"]["PolicyDocument"][
        "Statement"]  # fmt: skip
    rule = "GetAtt TrainingJobStateChanges.Arn"
    (deny,) = [statement for statement in statements if statement["Effect"] == "Deny"]
    assert deny["Principal"] == "*"
    assert deny["Action"] == "sqs:SendMessage"
    assert deny["Resource"] == "GetAtt EventsQueue.Arn"
    assert deny["Condition"] == {"ArnNotEquals": {"aws:SourceArn": rule}}
    (allow,) = [statement for statement in statements if statement["Effect"] == "Allow"]
    assert allow["Principal"] == {"Service": "events.amazonaws.com"}
    assert allow["Condition"] == {"ArnEquals": {"aws:SourceArn": rule}}
