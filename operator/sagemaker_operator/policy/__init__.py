"""The namespace policy: the iam:PassRole guard.

The operator can pass any role its own credentials may pass; whoever may create a
TrainingJob in a namespace must not thereby get all of them. The policy maps namespaces
(globs) to the role ARNs (globs), S3 prefixes (for output and checkpoints) and regions
their jobs may use. The first rule whose namespaces match applies; no matching rule
denies. A job outside its rule is refused before any SageMaker call.

The default policy, when no file is given, allows every namespace the roles of the
operator's own account only, any S3 prefix and any region. A file opens it further::

    rules:
      - namespaces: ["team-a-*"]
        roles: ["arn:aws:iam::111122223333:role/team-a-*"]
        s3Prefixes: ["s3://team-a-bucket/"]
        regions: ["us-east-1", "eu-west-1"]
      - namespaces: ["*"]
        roles: ["arn:aws:iam::111122223333:role/SageMakerDefault"]
"""

from __future__ import annotations

import fnmatch
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field


class Rule(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True, frozen=True)

    namespaces: list[str] = Field(min_length=1)
    roles: list[str] = Field(default_factory=lambda: ["*"])
    s3_prefixes: list[str] = Field(default_factory=lambda: ["s3://"], alias="s3Prefixes")
    regions: list[str] = Field(default_factory=lambda: ["*"])

    def matches(self, namespace: str) -> bool:
        return any(fnmatch.fnmatchcase(namespace, pattern) for pattern in self.namespaces)


class Policy(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    rules: list[Rule]

    @classmethod
    def own_account(cls, account_id: str) -> Policy:
        return cls(rules=[Rule(namespaces=["*"], roles=[f"arn:aws*:iam::{account_id}:role/*"])])

    @classmethod
    def load(cls, path: Path) -> Policy:
        document: Any = yaml.safe_load(path.read_text())
        return cls.model_validate(document)

    def violations(self, namespace: str, region: str, request: dict[str, Any]) -> list[str]:
        """Why this namespace may not send this request; empty when it may."""
        rule = next((rule for rule in self.rules if rule.matches(namespace)), None)
        if rule is None:
            return [f"no policy rule covers namespace {namespace}"]
        found = []
        role = str(request.get("RoleArn", ""))
        if not any(fnmatch.fnmatchcase(role, pattern) for pattern in rule.roles):
            found.append(f"spec.roleArn {role} is not allowed in namespace {namespace} "
                         f"(allowed: {', '.join(rule.roles)})")  # fmt: skip
        for field, uri in _s3_locations(request):
            if not any(uri.startswith(prefix) for prefix in rule.s3_prefixes):
                found.append(f"{field} {uri} is outside the S3 prefixes allowed in namespace "
                             f"{namespace} ({', '.join(rule.s3_prefixes)})")  # fmt: skip
        if not any(fnmatch.fnmatchcase(region, pattern) for pattern in rule.regions):
            found.append(f"region {region} is not allowed in namespace {namespace} "
                         f"(allowed: {', '.join(rule.regions)})")  # fmt: skip
        return found


def _s3_locations(request: dict[str, Any]) -> list[tuple[str, str]]:
    """Where the job writes: output, checkpoints, and the debugging and profiling outputs."""
    locations = [
        ("spec.outputDataConfig.s3OutputPath", (request.get("OutputDataConfig") or {}).get(
            "S3OutputPath")),
        ("spec.checkpointConfig.s3Uri", (request.get("CheckpointConfig") or {}).get("S3Uri")),
        ("spec.debugHookConfig.s3OutputPath", (request.get("DebugHookConfig") or {}).get(
            "S3OutputPath")),
        ("spec.tensorBoardOutputConfig.s3OutputPath",
         (request.get("TensorBoardOutputConfig") or {}).get("S3OutputPath")),
        ("spec.profilerConfig.s3OutputPath", (request.get("ProfilerConfig") or {}).get(
            "S3OutputPath")),
    ]  # fmt: skip
    return [(field, str(uri)) for field, uri in locations if uri]
