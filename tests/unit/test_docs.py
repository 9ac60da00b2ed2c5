"""The README and docs/: links that resolve, chart values that exist, a reason table that
covers the code, and a quick start whose manifest the CRD's model takes."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from sagemaker_operator.api.trainingjob import Spec
from sagemaker_operator.aws import servicemodel
from sagemaker_operator.settings import OperatorSettings

ROOT = Path(__file__).resolve().parents[2]
PAGES = [ROOT / "README.md", ROOT / "CHANGELOG.md", *sorted((ROOT / "docs").glob("*.md")),
         ROOT / "emulator" / "README.md", ROOT / "lab" / "README.md"]  # fmt: skip
SCHEMA: dict[str, Any] = json.loads(
    (ROOT / "helm" / "sagemaker-operator" / "values.schema.json").read_text()
)
_LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")
_FENCE = re.compile(r"```.*?```", re.DOTALL)


def _anchors(page: Path) -> set[str]:
    """GitHub's heading anchors: lowercase, punctuation dropped, spaces as hyphens."""
    found = set()
    for line in _FENCE.sub("", page.read_text()).splitlines():
        if match := re.match(r"^#+ (.*)", line):
            slug = re.sub(r"[^\w\- ]", "", match[1].strip().lower()).replace(" ", "-")
            found.add(slug)
    return found


@pytest.mark.parametrize("page", PAGES, ids=lambda page: str(page.relative_to(ROOT)))
def test_every_relative_link_resolves_to_a_file_and_heading(page: Path) -> None:
    for target in _LINK.findall(_FENCE.sub("", page.read_text())):
        if re.match(r"^[a-z]+:", target):
            continue  # https:, mailto:
        path, _, anchor = target.partition("#")
        linked = (page.parent / path).resolve() if path else page
        assert linked.exists(), f"{page.name}: {target} does not exist"
        if anchor and linked.suffix == ".md":
            assert anchor in _anchors(linked), f"{page.name}: {target}: no such heading"


def _schema_node(path: list[str]) -> dict[str, Any] | None:
    node: dict[str, Any] = SCHEMA
    for part in path:
        properties = node.get("properties") or {}
        if part == "*" and properties:
            return node
        if part not in properties:
            return None
        node = properties[part]
    return node


def _named_values(text: str) -> set[str]:
    """`operator.pollInterval`, `rateLimits.{create,list}` (under the value it follows),
    `--set aws.region=…`: dotted names whose first part is a top-level chart value."""
    found = set()
    tops = set(SCHEMA["properties"])
    prose = _FENCE.sub("", text)
    for quoted in re.findall(r"`([^`\n]+)`", prose) + re.findall(r"--set ([\w.\"\\-]+)=", text):
        token = quoted.split("=", 1)[0].replace('"', "").replace("\\", "")
        match = re.fullmatch(r"([a-zA-Z]+(?:\.[a-zA-Z*]+)*)(?:\.\{([\w,]+)\})?", token)
        if not match or match[1].split(".")[0] not in tops or "." not in token:
            continue
        if match[2]:
            found |= {f"{match[1]}.{leaf}" for leaf in match[2].split(",")}
        else:
            found.add(match[1])
    return found


@pytest.mark.parametrize("page", PAGES, ids=lambda page: str(page.relative_to(ROOT)))
def test_every_chart_value_the_docs_name_is_in_the_schema(page: Path) -> None:
    text = page.read_text()
    missing = sorted(name for name in _named_values(text)
                     if not name.startswith("operator.region")
                     and not name.startswith("serviceAccount.annotations.")
                     and _schema_node(name.split(".")) is None)  # fmt: skip
    assert not missing, f"{page.name} names values the chart does not have: {missing}"


def _schema_values(node: dict[str, Any], prefix: str = "", depth: int = 0) -> list[str]:
    found = []
    for name, child in (node.get("properties") or {}).items():
        path = f"{prefix}{name}"
        children = child.get("properties")
        if children and depth < 2 and name not in ("namespacePolicy",):
            found += _schema_values(child, f"{path}.", depth + 1)
        else:
            found.append(path)
    return found


def test_every_chart_value_has_a_row_in_the_configuration_table() -> None:
    table = (ROOT / "docs" / "configuration.md").read_text().split("### Every value", 1)[1]
    rows = " ".join(line.split("|")[1] for line in table.splitlines()
                    if line.startswith("| `"))  # fmt: skip
    missing = [value for value in _schema_values(SCHEMA)
               if f"`{value}`" not in rows and f"`{value.split('.')[0]}`" not in rows]  # fmt: skip
    assert not missing, f"docs/configuration.md's table lacks {missing}"


def test_every_operator_setting_has_a_row_in_the_flags_table() -> None:
    text = (ROOT / "docs" / "configuration.md").read_text()
    for name in OperatorSettings.model_fields:  # each flag's variable is SAGEMAKER_OPERATOR_<NAME>
        flag = f"`--{name.replace('_', '-')}`" if name != "namespaces" else "`--namespace`"
        assert flag in text, f"docs/configuration.md lacks {flag}"


_REASON_PATTERNS = (
    r'RefusedError\("([A-Z]\w+)"', r'verdict_for_problem\("([A-Z]\w+)"',
    r'refuse\("([A-Z]\w+)"', r'(?:event|error_event)\(\s*ref, "([A-Z]\w+)"',
    r'event\(ref, "([A-Z]\w+)" if \w+ else "([A-Z]\w+)"', r'Announcement\("([A-Z]\w+)"',
    r'Verdict\((?:[^()]|\([^()]*\))*?"([A-Z]\w+)"', r'^[A-Z_]+ = "([A-Z][A-Za-z]+)"\s+#.*reason',
)  # fmt: skip


def reasons_in_the_code() -> set[str]:
    """The reasons the operator's code sets on a condition or an Event, and SageMaker's
    job and secondary statuses, which become the Reconciling or Stalled reason."""
    found: set[str] = set()
    package = ROOT / "operator" / "sagemaker_operator"
    for source in package.rglob("*.py"):
        text = source.read_text()
        for pattern in _REASON_PATTERNS:
            for match in re.findall(pattern, text, re.MULTILINE):
                found |= set(match) if isinstance(match, tuple) else {match}
    model = servicemodel.service_model()
    found |= set(model.shape_for("SecondaryStatus").enum)  # type: ignore[attr-defined]
    found |= set(model.shape_for("TrainingJobStatus").enum) - {"InProgress", "Deleting"}  # type: ignore[attr-defined]
    return found - {""}


def test_every_reason_the_code_sets_is_in_the_troubleshooting_table() -> None:
    reasons = reasons_in_the_code()
    assert {"PolicyDenied", "NameConflict", "NotOwned", "Created", "MaxRuntimeExceeded",
            "AssumeRoleFailed", "UpdatePending"} <= reasons  # the scan finds them  # fmt: skip
    table = (ROOT / "docs" / "troubleshooting.md").read_text()
    rows = " ".join(line.split("|")[1] for line in table.splitlines() if line.startswith("| `"))
    missing = sorted(reason for reason in reasons if f"`{reason}`" not in rows)
    assert not missing, f"docs/troubleshooting.md's table lacks {missing}"


def test_the_readme_is_for_users_and_short() -> None:
    text = (ROOT / "README.md").read_text()
    assert len(text.splitlines()) <= 300
    assert not re.search(r"\bissue [A-Z]\b", text), "issue letters belong in the changelog"


def test_the_quick_starts_first_job_is_a_spec_the_crd_takes() -> None:
    text = (ROOT / "README.md").read_text()
    (manifest,) = re.findall(r"cat > first-job.yaml <<EOF\n(.*?)\nEOF", text, re.DOTALL)
    values = {"$ACCOUNT": "111122223333", "$BUCKET": "my-bucket"}
    for variable, value in values.items():
        manifest = manifest.replace(variable, value)
    document = yaml.safe_load(manifest)
    Spec.model_validate(document["spec"])
    assert document["spec"]["roleArn"] == "arn:aws:iam::111122223333:role/sagemaker/training"


def test_the_readme_installs_this_version() -> None:
    text = (ROOT / "README.md").read_text()
    project = re.search(r'^version = "([^"]+)"', (ROOT / "pyproject.toml").read_text(), re.M)
    assert project
    assert f"--version {project[1]} " in text, "the quick start's helm install names the release"
