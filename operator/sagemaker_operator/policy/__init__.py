"""The namespace policy: the iam:PassRole guard, and more.

The operator can pass any role its own credentials may pass and use any bucket, key or
network they reach; whoever may create a TrainingJob in a namespace must not thereby get
all of them. The policy maps namespaces to what their jobs may name: role ARNs, S3
prefixes, other ARNs (KMS keys, training plans, model package groups, MLflow servers,
…), file systems, subnets, security groups and regions. Which request members are
checked is derived from botocore's model (policy/locations.py): every member naming an
ARN, an S3 URI or a file system, in channels, outputs, rules and all.

The first rule whose namespaces match applies; no matching rule denies. A job outside its
rule is refused at admission and before any SageMaker call::

    rules:
      - namespaces: ["team-a"]                 # exact names
        roles: ["arn:aws:iam::111122223333:role/team-a/*"]
        s3Prefixes: ["s3://team-a-bucket/"]
        arns: ["arn:aws:kms:*:111122223333:key/*"]
        regions: ["us-east-1", "eu-west-1"]
      - namespaceSelector:                     # namespaces by label
          matchLabels: {tenant: team-b}
        roles: ["arn:aws:iam::111122223333:role/team-b-*"]

Matching, precisely:

- ``namespaces``: exact names, or globs (``*``, ``?``, ``[…]``). A glob matches every
  namespace whose name fits, including namespaces a tenant creates (HNC, Capsule):
  ``team-a-*`` matches ``team-a-hijack``. Prefer exact names, or a ``namespaceSelector``
  on a label tenants cannot set. Both given: both must match.
- ARNs (``roles``, ``arns``): by segment. An ARN's six ``:`` fields are matched one by
  one, and its resource part segment by segment at ``/``; ``*`` never crosses a ``/`` or
  ``:`` (``role/team-a-*`` does not admit ``role/team-a-x/Admin``), and a ``**`` segment
  matches any number of segments (``role/**``: any path). ``*`` alone allows anything. A
  value that is not an ARN (a KMS key id or alias, an algorithm's name: they name
  resources of the operator's own account) is matched, as a glob, by the patterns that
  are not ARN patterns only: ``?*`` allows every such name.
- ``s3Prefixes``: at ``/`` boundaries: ``s3://team-a`` admits ``s3://team-a`` and
  ``s3://team-a/…``, never ``s3://team-a-other/``. ``*`` allows any URI.
- ``fileSystems``, ``subnets``, ``securityGroups``, ``regions``: exact values or globs.

Every list defaults to ``["*"]`` but ``s3Prefixes`` (``["s3://"]``: any bucket). The
default policy, when no file is given, allows every namespace the roles and other ARNs of
the operator's own account only.

A rule may name a role the operator assumes for its namespaces (``assumeRole``: roleArn,
optional externalId and sessionName, which defaults to ``sagemaker-operator-<namespace>``):
their jobs then run in that role's account, and ``roles`` and ``arns`` default to that
account's (``arn:aws*:iam::<account>:role/**``, ``arn:aws*:*:*:<account>:**``). A
namespace reaches only the account its rule names.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, model_validator

from sagemaker_operator.aws.accounts import OWN, Account
from sagemaker_operator.policy.locations import Kind, locations

ANY = "*"
# Every value that is not an ARN (a KMS key id or alias, an algorithm's name).
OWN_ACCOUNT_NAMES = "?*"


class LabelRequirement(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    key: str
    operator: Literal["In", "NotIn", "Exists", "DoesNotExist"]
    values: list[str] = Field(default_factory=list)

    def holds(self, labels: Mapping[str, str]) -> bool:
        if self.operator == "Exists":
            return self.key in labels
        if self.operator == "DoesNotExist":
            return self.key not in labels
        inside = self.key in labels and labels[self.key] in self.values
        return inside if self.operator == "In" else not inside


class LabelSelector(BaseModel):
    """A Kubernetes label selector (matchLabels and matchExpressions, ANDed)."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True, frozen=True)

    match_labels: dict[str, str] = Field(default_factory=dict, alias="matchLabels")
    match_expressions: list[LabelRequirement] = Field(
        default_factory=list, alias="matchExpressions"
    )

    def matches(self, labels: Mapping[str, str]) -> bool:
        return all(labels.get(key) == value for key, value in self.match_labels.items()) and all(
            requirement.holds(labels) for requirement in self.match_expressions
        )


ROLE_ARN = r"^arn:aws[a-z-]*:iam::[0-9]{12}:role/[\w+=,.@/-]+$"
SESSION_PREFIX = "sagemaker-operator-"


class AssumeRole(BaseModel):
    """The role the operator assumes for a rule's namespaces: their jobs run in its account."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True, frozen=True)

    role_arn: str = Field(alias="roleArn", pattern=ROLE_ARN)
    external_id: str | None = Field(default=None, alias="externalId", min_length=2,
                                    max_length=1224, pattern=r"^[\w+=,.@:/-]+$")  # fmt: skip
    # Default: sagemaker-operator-<namespace>, so CloudTrail names the namespace.
    session_name: str | None = Field(default=None, alias="sessionName",
                                     pattern=r"^[\w+=,.@-]{2,64}$")  # fmt: skip

    @property
    def account_id(self) -> str:
        return self.role_arn.split(":")[4]


class Rule(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True, frozen=True)

    namespaces: list[str] = Field(default_factory=list)
    assume_role: AssumeRole | None = Field(default=None, alias="assumeRole")
    namespace_selector: LabelSelector | None = Field(default=None, alias="namespaceSelector")
    roles: list[str] = Field(default_factory=lambda: [ANY])
    s3_prefixes: list[str] = Field(default_factory=lambda: ["s3://"], alias="s3Prefixes")
    arns: list[str] = Field(default_factory=lambda: [ANY])
    file_systems: list[str] = Field(default_factory=lambda: [ANY], alias="fileSystems")
    subnets: list[str] = Field(default_factory=lambda: [ANY])
    security_groups: list[str] = Field(default_factory=lambda: [ANY], alias="securityGroups")
    regions: list[str] = Field(default_factory=lambda: [ANY])

    @model_validator(mode="before")
    @classmethod
    def _in_the_assumed_account(cls, data: Any) -> Any:
        """A rule that assumes a role allows, unless it says otherwise, the roles and ARNs
        of that role's account only."""
        if not isinstance(data, dict) or not isinstance(data.get("assumeRole"), dict):
            return data
        arn = str(data["assumeRole"].get("roleArn", ""))
        account = arn.split(":")[4] if arn.count(":") >= 5 else ""
        if not account.isdigit():
            return data  # the field's own validation says what is wrong
        data = dict(data)
        data.setdefault("roles", [f"arn:aws*:iam::{account}:role/**"])
        data.setdefault("arns", [f"arn:aws*:*:*:{account}:**", OWN_ACCOUNT_NAMES])
        return data

    @model_validator(mode="after")
    def _names_a_namespace(self) -> Rule:
        if not self.namespaces and self.namespace_selector is None:
            raise ValueError("a rule needs namespaces, a namespaceSelector, or both")
        return self

    def matches(self, namespace: str, labels: Mapping[str, str] | None) -> bool:
        if self.namespaces and not any(
            fnmatch.fnmatchcase(namespace, pattern) for pattern in self.namespaces
        ):
            return False
        if self.namespace_selector is not None:
            return labels is not None and self.namespace_selector.matches(labels)
        return True

    def allowed(self, kind: Kind) -> list[str]:
        return {
            Kind.ROLE: self.roles,
            Kind.S3: self.s3_prefixes,
            Kind.ARN: self.arns,
            Kind.FILE_SYSTEM: self.file_systems,
            Kind.SUBNET: self.subnets,
            Kind.SECURITY_GROUP: self.security_groups,
        }[kind]


class Policy(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    rules: list[Rule]

    @classmethod
    def own_account(cls, account_id: str) -> Policy:
        own = f"arn:aws*:*:*:{account_id}:**"
        return cls(rules=[Rule(namespaces=[ANY], roles=[f"arn:aws*:iam::{account_id}:role/**"],
                               arns=[own, OWN_ACCOUNT_NAMES])])  # fmt: skip

    @classmethod
    def load(cls, path: Path) -> Policy:
        document: Any = yaml.safe_load(path.read_text())
        return cls.model_validate(document)

    @property
    def needs_labels(self) -> bool:
        """Whether a rule selects namespaces by label (the namespace must then be read)."""
        return any(rule.namespace_selector is not None for rule in self.rules)

    def rule_for(self, namespace: str, labels: Mapping[str, str] | None) -> tuple[int, Rule] | None:
        """The first rule covering the namespace, and its number (from 1)."""
        return next(((number, rule) for number, rule in enumerate(self.rules, 1)
                     if rule.matches(namespace, labels)), None)  # fmt: skip

    def account_for(
        self, namespace: str, labels: Mapping[str, str] | None = None
    ) -> Account | None:
        """Whose account the namespace's jobs run in (None: no rule covers it)."""
        found = self.rule_for(namespace, labels)
        if found is None:
            return None
        number, rule = found
        if rule.assume_role is None:
            return OWN
        assumed = rule.assume_role
        return Account(role_arn=assumed.role_arn, external_id=assumed.external_id,
                       session_name=assumed.session_name or (SESSION_PREFIX + namespace)[:64],
                       rule=f"policy rule {number}")  # fmt: skip

    def violations(
        self, namespace: str, region: str, request: dict[str, Any],
        labels: Mapping[str, str] | None = None,
    ) -> list[str]:  # fmt: skip
        """Why this namespace (with these labels) may not send this request; empty when it may."""
        covering = self.rule_for(namespace, labels)
        if covering is None:
            return [f"no policy rule covers namespace {namespace}"]
        _, rule = covering
        found = []
        for kind, path, value in locations(request):
            allowed = rule.allowed(kind)
            if not any(_allows(kind, pattern, value) for pattern in allowed):
                found.append(f"{path} {value} is not allowed in namespace {namespace} "
                             f"({kind.value}: {', '.join(allowed)})")  # fmt: skip
        if not any(fnmatch.fnmatchcase(region, pattern) for pattern in rule.regions):
            found.append(f"region {region} is not allowed in namespace {namespace} "
                         f"(allowed: {', '.join(rule.regions)})")  # fmt: skip
        return found


def _allows(kind: Kind, pattern: str, value: str) -> bool:
    if pattern == ANY:
        return True
    if kind is Kind.S3:
        return s3_within(value, pattern)
    if kind in (Kind.ROLE, Kind.ARN):
        return arn_matches(pattern, value)
    return fnmatch.fnmatchcase(value, pattern)


def s3_within(uri: str, prefix: str) -> bool:
    """Whether ``uri`` lies under ``prefix``, at a ``/`` boundary."""
    if prefix.endswith("/"):
        return uri.startswith(prefix)
    return uri == prefix or uri.startswith(prefix + "/")


def arn_matches(pattern: str, arn: str) -> bool:
    """Segment-wise: ``*`` stays within a ``:`` field or ``/`` segment; ``**`` spans segments."""
    if not arn.startswith("arn:"):  # a name in the operator's account: non-ARN patterns only
        return not pattern.startswith("arn:") and fnmatch.fnmatchcase(arn, pattern)
    if not pattern.startswith("arn:"):
        return False
    pattern_fields, arn_fields = pattern.split(":", 5), arn.split(":", 5)
    if len(pattern_fields) != 6 or len(arn_fields) != 6:
        return False
    head = all(fnmatch.fnmatchcase(value, glob)
               for value, glob in zip(arn_fields[:5], pattern_fields[:5], strict=True))  # fmt: skip
    return head and _segments(pattern_fields[5].split("/"), arn_fields[5].split("/"))


def _segments(patterns: list[str], values: list[str]) -> bool:
    if not patterns:
        return not values
    first, rest = patterns[0], patterns[1:]
    if first == "**":
        return any(_segments(rest, values[index:]) for index in range(len(values) + 1))
    return bool(values) and _glob(values[0], first) and _segments(rest, values[1:])


def _glob(value: str, pattern: str) -> bool:
    # Within a segment, ':' is a character like any other (a KMS alias, a lambda version).
    return fnmatch.fnmatchcase(value, pattern)
