"""The namespace policy: the iam:PassRole guard, and more.

The operator can pass any role its own credentials may pass and use any bucket, key or
network they reach; whoever may create a TrainingJob in a namespace must not thereby get
all of them. The policy maps namespaces to what their jobs may name (role ARNs, S3
prefixes, other ARNs such as KMS keys, training plans, model package groups and MLflow
servers, file systems and their directories, subnets, security groups, images,
experiments, regions), spend (instance types, counts, volume sizes, runtime, warm-pool
keep-alive, spot only) and open (remote debugging, session tag chaining). Which request
members are checked is derived from botocore's model (policy/locations.py), in
channels, outputs, rules and all.

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
- ``fileSystemPaths``: at ``/`` boundaries; a path with a ``..`` or ``.`` segment is
  never allowed.
- ``images``: registry and repository (tag and digest set aside), segment by segment at
  ``/`` as for ARNs.
- ``fileSystems``, ``subnets``, ``securityGroups``, ``experiments``, ``instanceTypes``,
  ``regions``: exact values or globs.
- limits (``max…``): every value of the request (SageMaker's documented defaults filled
  in) at most the limit; a job's own instance counts add up.

Without ``strict``, a list left out allows anything (``["*"]``; ``s3Prefixes``:
``["s3://"]``), a limit left out is no limit, a switch left out is allowed: one team's
policy stays short. With ``strict: true`` each of them denies, and a rule's namespaces
must be exact names (or a selector). The default policy, when no file is given, allows
every namespace the roles and other ARNs of the operator's own account only.

A rule may name a role the operator assumes for its namespaces (``assumeRole``: roleArn,
optional externalId and sessionName, which defaults to ``sagemaker-operator-rule-<n>``):
their jobs then run in that role's account, and ``roles`` and ``arns`` default to that
account's (``arn:aws*:iam::<account>:role/**``, ``arn:aws*:*:*:<account>:**``). A
namespace reaches only the account its rule names.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from sagemaker_operator.aws.accounts import OWN, Account
from sagemaker_operator.aws.defaults import with_defaults
from sagemaker_operator.policy.locations import LIMITS, NAMED, Kind, locations
from sagemaker_operator.policy.matching import ANY, allows

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
    # Default: sagemaker-operator-rule-<n>: one session (and its clients) for all the
    # namespaces of the rule, named in CloudTrail by the rule.
    session_name: str | None = Field(default=None, alias="sessionName",
                                     pattern=r"^[\w+=,.@-]{2,64}$")  # fmt: skip

    @property
    def account_id(self) -> str:
        return self.role_arn.split(":")[4]


S3Prefix = Annotated[str, StringConstraints(pattern=r"^(\*|s3://.*)$")]
OPEN_DEFAULTS: dict[Kind, list[str]] = {kind: [ANY] for kind in NAMED} | {Kind.S3: ["s3://"]}


class Rule(BaseModel):
    """What a rule's namespaces may name, spend and open. A list or switch left out allows
    anything (a limit: no limit), unless the policy is strict: then it denies."""

    model_config = ConfigDict(
        extra="forbid", populate_by_name=True, frozen=True,
        # What _names_a_namespace checks, for the chart's values schema too.
        json_schema_extra={"anyOf": [{"required": ["namespaces"]},
                                     {"required": ["namespaceSelector"]}]},
    )  # fmt: skip

    namespaces: list[str] = Field(default_factory=list)
    assume_role: AssumeRole | None = Field(default=None, alias="assumeRole")
    namespace_selector: LabelSelector | None = Field(default=None, alias="namespaceSelector")
    # What the jobs may name (policy/locations.py derives where each kind is named).
    roles: list[str] | None = None
    s3_prefixes: list[S3Prefix] | None = Field(default=None, alias="s3Prefixes")
    arns: list[str] | None = None
    file_systems: list[str] | None = Field(default=None, alias="fileSystems")
    file_system_paths: list[str] | None = Field(default=None, alias="fileSystemPaths")
    subnets: list[str] | None = None
    security_groups: list[str] | None = Field(default=None, alias="securityGroups")
    images: list[str] | None = None
    experiments: list[str] | None = None
    instance_types: list[str] | None = Field(default=None, alias="instanceTypes")
    regions: list[str] | None = None
    # What they may spend: each value of the request at most this.
    max_instance_count: int | None = Field(default=None, ge=1, alias="maxInstanceCount")
    max_volume_size_in_gb: int | None = Field(default=None, ge=1, alias="maxVolumeSizeInGB")
    max_runtime_in_seconds: int | None = Field(default=None, ge=1, alias="maxRuntimeInSeconds")
    max_keep_alive_in_seconds: int | None = Field(default=None, ge=0,
                                                  alias="maxKeepAliveInSeconds")  # fmt: skip
    spot_only: bool = Field(default=False, alias="spotOnly")
    # What they may open.
    remote_debug: bool | None = Field(default=None, alias="remoteDebug")
    session_tag_chaining: bool | None = Field(default=None, alias="sessionTagChaining")

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

    @property
    def globbed(self) -> bool:
        """Whether a namespace pattern is a glob (it may serve namespaces nobody listed)."""
        return any(set(pattern) & set("*?[") for pattern in self.namespaces)

    def allowed(self, kind: Kind, strict: bool = False) -> list[str]:
        """The patterns a value of this kind must match (a kind left out: anything, or in a
        strict policy nothing)."""
        given = getattr(self, _FIELDS[kind])
        if given is not None:
            return list(given)
        return [] if strict else OPEN_DEFAULTS[kind]

    def limit(self, kind: Kind) -> int | None:
        value: int | None = getattr(self, _FIELDS[kind])
        return value

    def opens(self, kind: Kind, strict: bool = False) -> bool:
        """Whether the rule lets a job switch this on (left out: yes, or in a strict
        policy no)."""
        value: bool | None = getattr(self, _FIELDS[kind])
        return (not strict) if value is None else value

    def described(self, kind: Kind, strict: bool) -> str:
        """What the rule allows of a kind, for messages."""
        if kind in NAMED:
            allowed = self.allowed(kind, strict)
            return f"{kind.value}: {', '.join(allowed)}" if allowed else f"no {kind.value} listed"
        if getattr(self, _FIELDS[kind]) is None:  # a switch a strict policy's rule left out
            return f"{kind.value} left out, and a strict policy denies what a rule does not allow"
        return f"{kind.value}: false"


# The Rule field of each kind (its alias is the kind's value).
_FIELDS = {kind: next(name for name, field in Rule.model_fields.items()
                      if (field.alias or name) == kind.value) for kind in Kind}  # fmt: skip


class Policy(BaseModel):
    """The rules, first match wins. ``strict``: for several tenants, every kind a rule does
    not list is denied, and each namespace needs a rule that names it (no globs)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    strict: bool = False
    rules: list[Rule]

    @model_validator(mode="after")
    def _strict_rules_name_their_namespaces(self) -> Policy:
        if self.strict:
            for number, rule in enumerate(self.rules, 1):
                if rule.globbed:
                    raise ValueError(
                        f"rules[{number - 1}].namespaces {rule.namespaces}: a strict policy "
                        "needs each namespace named (exact names, or a namespaceSelector on a "
                        "label only the platform sets), not a glob"
                    )
        return self

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
    def accounts(self) -> frozenset[str]:
        """The accounts the rules assume roles in."""
        return frozenset(rule.assume_role.account_id for rule in self.rules
                         if rule.assume_role is not None)  # fmt: skip

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
                       session_name=assumed.session_name or f"{SESSION_PREFIX}rule-{number}",
                       rule=f"policy rule {number}")  # fmt: skip

    def violations(
        self, namespace: str, region: str, request: dict[str, Any],
        labels: Mapping[str, str] | None = None,
    ) -> list[str]:  # fmt: skip
        """Why this namespace (with these labels) may not send this request; empty when it
        may. SageMaker's documented defaults count as set (a job without a stopping
        condition runs for a day)."""
        covering = self.rule_for(namespace, labels)
        if covering is None:
            return [f"no policy rule covers namespace {namespace}"]
        number, rule = covering
        found = []
        instances = 0
        for kind, path, value in locations(with_defaults(request)):
            if kind in NAMED:
                if not any(allows(kind, pattern, str(value))
                           for pattern in rule.allowed(kind, self.strict)):  # fmt: skip
                    found.append(f"{path} {value} is not allowed in namespace {namespace} "
                                 f"({rule.described(kind, self.strict)})")  # fmt: skip
            elif kind in LIMITS:
                if kind is Kind.INSTANCE_COUNT and _job_instances(path):
                    instances += int(value)
                found += self._over(rule, number, kind, path, int(value), namespace=namespace)
            elif kind is Kind.SPOT:
                if rule.spot_only and value is not True:
                    found.append(f"{path} must be true in namespace {namespace} (spotOnly)")
            elif value is True and not rule.opens(kind, self.strict):
                found.append(f"{path} is not allowed in namespace {namespace} "
                             f"({rule.described(kind, self.strict)})")  # fmt: skip
        limit = rule.limit(Kind.INSTANCE_COUNT)
        if limit is not None and instances > limit:
            found.append(f"spec.resourceConfig asks for {instances} instances in all; at "
                         f"most {limit} are allowed in namespace {namespace} "
                         "(maxInstanceCount)")  # fmt: skip
        regions = rule.regions if rule.regions is not None else ([] if self.strict else [ANY])
        if not any(fnmatch.fnmatchcase(region, pattern) for pattern in regions):
            found.append(f"region {region} is not allowed in namespace {namespace} "
                         f"(allowed: {', '.join(regions) or 'none listed'})")  # fmt: skip
        return found

    def _over(self, rule: Rule, number: int, kind: Kind, path: str, value: int, *,
              namespace: str) -> list[str]:  # fmt: skip
        limit = rule.limit(kind)
        if limit is None:
            if not self.strict:
                return []
            return [f"{path} {value} is not allowed in namespace {namespace}: its policy rule "
                    f"(rule {number}) sets no {kind.value}, and a strict policy denies what a "
                    "rule does not allow"]  # fmt: skip
        if value > limit:
            return [f"{path} {value} is over the limit of namespace {namespace} "
                    f"({kind.value}: {limit})"]  # fmt: skip
        return []


def _job_instances(path: str) -> bool:
    """Whether an instance count is one of the job's own (its homogeneous count, or one of
    its heterogeneous groups): these add up; preferences and placements are alternatives
    or parts of them."""
    return path == "spec.resourceConfig.instanceCount" or (
        path.startswith("spec.resourceConfig.instanceGroups[")
    )
