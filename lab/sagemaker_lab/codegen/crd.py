"""The TrainingJob CustomResourceDefinition, derived from SageMaker's botocore service model.

Every member of ``CreateTrainingJobRequest`` becomes a spec field named as the API member
with its first letter lowered (``RoleArn`` → ``roleArn``), nested to the bottom, with the
model's constraints carried into the OpenAPI schema:

- required members, types (long → int64, timestamp → date-time), min/max, min/maxLength,
  min/maxItems, min/maxProperties, enums;
- patterns translated exactly to the apiserver's RE2 dialect and anchored (see
  ``patterns``);
- **open enums**: an enum whose values are all instance types (``ml.<family>.<size>``)
  grows every few months as AWS launches instances, so it becomes the pattern
  ``^ml\\.[a-z0-9-]+\\.[a-z0-9]+$`` instead: a new instance type is not refused by an
  old CRD, and SageMaker itself still refuses one that does not exist. Every other enum
  is closed and kept as an enum;
- what OpenAPI cannot say about map keys (length, pattern) becomes CEL.

Cross-field rules that SageMaker documents become CEL rules with messages a user
understands (``CROSS_FIELD_RULES``).

What may change is what UpdateTrainingJob's input carries (``updatable``): a member whose
update shape has every member of the create shape changes whole (``profilerConfig``,
``profilerRuleConfigurations``, ``remoteDebugConfig``); a ``…ForUpdate`` shape with fewer
members names the sub-fields that change (``resourceConfig.keepAlivePeriodInSeconds``).
Every other field gets a transition rule on ``spec`` refusing its change, addition or
removal, with a message naming it.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from typing import Any

from botocore.model import ListShape, MapShape, ServiceModel, Shape, StructureShape

from sagemaker_lab.codegen import patterns
from sagemaker_lab.codegen.docs import describe
from sagemaker_operator.api import GROUP, KIND, PLURAL, RESERVED_TAG_PREFIX, SINGULAR, VERSION
from sagemaker_operator.api.base import kubernetes_name
from sagemaker_operator.aws import servicemodel

SHORT_NAMES = ["smtj"]
CATEGORIES = ["sagemaker"]

INSTANCE_TYPE_PATTERN = r"^ml\.[a-z0-9-]+\.[a-z0-9]+$"
REGION_PATTERN = r"^[a-z]{2}(-[a-z]+)+-[0-9]+$"
DEFAULT_MAX_RUNTIME = 86_400  # SageMaker's default MaxRuntimeInSeconds
MAX_DESCRIPTION_STATUS = 200


lower_first = kubernetes_name  # RoleArn → roleArn


def rule(expression: str, message: str, field_path: str | None = None) -> dict[str, str]:
    result = {"rule": expression, "message": message}
    if field_path is not None:
        result["fieldPath"] = field_path
    return result


# Rules SageMaker documents that span fields, keyed by the schema path they sit on.
CROSS_FIELD_RULES: dict[str, list[dict[str, str]]] = {
    "spec": [
        rule(
            "!(has(self.enableManagedSpotTraining) && self.enableManagedSpotTraining)"
            " || (has(self.stoppingCondition)"
            " && has(self.stoppingCondition.maxWaitTimeInSeconds))",
            "managed spot training (enableManagedSpotTraining: true) needs "
            "stoppingCondition.maxWaitTimeInSeconds",
            ".stoppingCondition",
        ),
        rule(
            "!has(self.stoppingCondition) || !has(self.stoppingCondition.maxWaitTimeInSeconds)"
            " || (has(self.enableManagedSpotTraining) && self.enableManagedSpotTraining)",
            "stoppingCondition.maxWaitTimeInSeconds applies only to managed spot training: "
            "set enableManagedSpotTraining: true or remove it",
            ".stoppingCondition",
        ),
    ],
    "spec.algorithmSpecification": [
        rule(
            "has(self.trainingImage) != has(self.algorithmName)",
            "set exactly one of trainingImage and algorithmName",
        ),
    ],
    "spec.stoppingCondition": [
        rule(
            "!has(self.maxWaitTimeInSeconds) || self.maxWaitTimeInSeconds >= "
            f"(has(self.maxRuntimeInSeconds) ? self.maxRuntimeInSeconds : {DEFAULT_MAX_RUNTIME})",
            "maxWaitTimeInSeconds must be at least maxRuntimeInSeconds "
            f"(which defaults to {DEFAULT_MAX_RUNTIME} seconds)",
            ".maxWaitTimeInSeconds",
        ),
    ],
    "spec.inputDataConfig": [
        rule(
            "self.all(c, self.exists_one(d, d.channelName == c.channelName))",
            "channel names must be unique",
        ),
    ],
    "spec.tags": [
        rule("self.all(t, self.exists_one(u, u.key == t.key))", "tag keys must be unique"),
        rule(
            "self.all(t, !t.key.startsWith('aws:'))",
            "tag keys starting with 'aws:' are reserved by AWS",
        ),
        rule(
            f"self.all(t, !t.key.startsWith('{RESERVED_TAG_PREFIX}'))",
            f"tag keys starting with '{RESERVED_TAG_PREFIX}' are reserved for the "
            "operator's ownership tags",
        ),
    ],
}

# Limits SageMaker documents that the service model does not carry.
DOCUMENTED_MAXIMUMS: dict[str, int] = {
    # "The maximum value is 28 days."
    "spec.stoppingCondition.maxRuntimeInSeconds": 28 * 86_400,
}


@dataclasses.dataclass(frozen=True)
class OperatorCheck:
    """A constraint the schema cannot state; the operator checks it before calling SageMaker."""

    path: str
    constraint: str


@dataclasses.dataclass
class SchemaStats:
    constraints: Counter[str] = dataclasses.field(default_factory=Counter)
    cel_rules: int = 0
    operator_checks: list[OperatorCheck] = dataclasses.field(default_factory=list)


class SchemaBuilder:
    """Turns botocore shapes into OpenAPI v3 schemas, counting what it carried over."""

    def __init__(self, model: ServiceModel) -> None:
        self.model = model
        self.stats = SchemaStats()

    def shape_schema(self, shape: Shape, path: str, documentation: str | None) -> dict[str, Any]:
        schema: dict[str, Any] = {}
        text = describe(documentation or shape.documentation)
        if text:
            schema["description"] = text
        if isinstance(shape, StructureShape):
            schema.update(self._structure(shape, path))
        elif isinstance(shape, ListShape):
            schema.update(self._list(shape, path))
        elif isinstance(shape, MapShape):
            schema.update(self._map(shape, path))
        else:
            schema.update(self._scalar(shape, path))
        rules = CROSS_FIELD_RULES.get(path, [])
        if rules:
            schema.setdefault("x-kubernetes-validations", []).extend(rules)
        self.stats.cel_rules += len(schema.get("x-kubernetes-validations", []))
        return schema

    def _structure(self, shape: StructureShape, path: str) -> dict[str, Any]:
        properties = {
            lower_first(name): self.shape_schema(
                member, f"{path}.{lower_first(name)}", member.documentation
            )
            for name, member in shape.members.items()
        }
        schema: dict[str, Any] = {"type": "object", "properties": properties}
        required = [lower_first(name) for name in shape.required_members]
        if required:
            schema["required"] = required
            self.stats.constraints["required"] += len(required)
        return schema

    def _list(self, shape: ListShape, path: str) -> dict[str, Any]:
        schema: dict[str, Any] = {
            "type": "array",
            "items": self.shape_schema(shape.member, f"{path}[]", shape.member.documentation),
        }
        self._bounds(shape, schema, "minItems", "maxItems")
        return schema

    def _map(self, shape: MapShape, path: str) -> dict[str, Any]:
        schema: dict[str, Any] = {
            "type": "object",
            "additionalProperties": self.shape_schema(
                shape.value, f"{path}.*", shape.value.documentation
            ),
        }
        self._bounds(shape, schema, "minProperties", "maxProperties")
        # OpenAPI cannot constrain map keys; CEL can.
        key = shape.key.metadata
        rules: list[dict[str, str]] = []
        if key.get("min", 0) > 0:
            rules.append(
                rule(
                    f"self.all(k, size(k) >= {key['min']})",
                    f"keys must be at least {key['min']} characters long",
                )
            )
        if "max" in key:
            rules.append(
                rule(
                    f"self.all(k, size(k) <= {key['max']})",
                    f"keys must be at most {key['max']} characters long",
                )
            )
        if "pattern" in key and key["pattern"] not in {".*", "[\\S\\s]*"}:
            translated = patterns.translate(key["pattern"])
            rules.append(rule(
                f"self.all(k, k.matches('{_cel_string(translated.pattern)}'))",
                f"keys must match {translated.pattern}",
            ))  # fmt: skip
        if rules:
            schema["x-kubernetes-validations"] = rules
        return schema

    def _scalar(self, shape: Shape, path: str) -> dict[str, Any]:
        kind = shape.type_name
        if kind == "string":
            return self._string(shape, path)
        if kind in {"integer", "long"}:
            schema: dict[str, Any] = {
                "type": "integer",
                "format": "int32" if kind == "integer" else "int64",
            }
            self._bounds(shape, schema, "minimum", "maximum")
            if path in DOCUMENTED_MAXIMUMS:
                schema["maximum"] = DOCUMENTED_MAXIMUMS[path]
                self.stats.constraints["maximum"] += 1
            return schema
        if kind in {"float", "double"}:
            schema = {"type": "number"}
            self._bounds(shape, schema, "minimum", "maximum")
            return schema
        if kind == "boolean":
            return {"type": "boolean"}
        if kind == "timestamp":
            return {"type": "string", "format": "date-time"}
        raise ValueError(f"{path}: no schema for botocore type {kind!r}")

    def _string(self, shape: Shape, path: str) -> dict[str, Any]:
        schema: dict[str, Any] = {"type": "string"}
        self._bounds(shape, schema, "minLength", "maxLength")
        enum: list[str] = shape.metadata.get("enum", [])
        if enum and all(value.startswith("ml.") for value in enum):
            schema["pattern"] = INSTANCE_TYPE_PATTERN
            self.stats.constraints["pattern (open enum)"] += 1
            self.stats.operator_checks.append(OperatorCheck(
                path, f"one of the {len(enum)} instance types botocore knows (open enum)"
            ))  # fmt: skip
        elif enum:
            schema["enum"] = list(enum)
            self.stats.constraints["enum"] += 1
        java = shape.metadata.get("pattern")
        if java is not None:
            try:
                translated = patterns.translate(java)
            except patterns.UntranslatablePatternError:
                self.stats.operator_checks.append(OperatorCheck(path, f"pattern {java}"))
            else:
                schema["pattern"] = translated.pattern
                self.stats.constraints["pattern"] += 1
                if translated.must_not_end_with is not None:
                    character = translated.must_not_end_with
                    schema["x-kubernetes-validations"] = [rule(
                        f"!self.endsWith('{_cel_string(character)}')",
                        f"must not end with '{character}'",
                    )]  # fmt: skip
        return schema

    def _bounds(self, shape: Shape, schema: dict[str, Any], low: str, high: str) -> None:
        metadata = shape.metadata
        if metadata.get("min") is not None and metadata["min"] > 0:
            schema[low] = metadata["min"]
            self.stats.constraints[low] += 1
        elif metadata.get("min") == 0 and low == "minimum":
            schema[low] = 0
            self.stats.constraints[low] += 1
        if metadata.get("max") is not None:
            schema[high] = metadata["max"]
            self.stats.constraints[high] += 1


def _cel_string(text: str) -> str:
    return text.replace("\\", "\\\\").replace("'", "\\'")


def spec_schema(builder: SchemaBuilder) -> dict[str, Any]:
    request = builder.model.operation_model("CreateTrainingJob").input_shape
    assert isinstance(request, StructureShape)
    schema = builder.shape_schema(request, "spec", None)
    schema["description"] = (
        "The CreateTrainingJob request, with member names' first letters lowered "
        "(RoleArn is roleArn). Only what UpdateTrainingJob changes can change once "
        "created."
    )
    # The name defaults to one made from metadata.name and the resource's UID.
    schema["required"] = [name for name in schema["required"] if name != "trainingJobName"]
    name = schema["properties"]["trainingJobName"]
    name["description"] = (
        "The SageMaker training job name, unique per account and region for good. Defaults "
        "to metadata.name (its dots as dashes, cut to fit) and the first 8 hex digits of "
        "the resource's UID: a resource applied again, or in another namespace, runs a job "
        "of its own. " + name.get("description", "")
    ).strip()
    schema["properties"]["region"] = {
        "type": "string",
        "pattern": REGION_PATTERN,
        "maxLength": 32,
        "description": "The AWS region to run the job in (not an API member). "
        "Defaults to the operator's region.",
    }
    return schema


def updatable(model: ServiceModel) -> dict[str, frozenset[str] | None]:
    """The spec fields UpdateTrainingJob changes (aws/servicemodel.updatable, in spec
    names): field → None when it changes whole, or the set of its sub-fields that change."""
    return {
        lower_first(name): None if subs is None else frozenset(lower_first(sub) for sub in subs)
        for name, subs in servicemodel.updatable(model).items()
    }


def updatable_paths(fields: dict[str, frozenset[str] | None]) -> list[str]:
    """``updatable``'s fields as dotted spec paths, sorted."""
    return sorted(f"spec.{name}" if subs is None else f"spec.{name}.{sub}"
                  for name, subs in fields.items() for sub in (subs or [""]))  # fmt: skip


def _unchanged(path: str, new: str = "object.spec", old: str = "oldObject.spec") -> str:
    """CEL: the field at ``path`` (below ``new`` and ``old``) is as it was: present in both
    and equal, or absent from both."""
    parts = path.split(".")
    present = " && ".join(f"has(SELF.{'.'.join(parts[: i + 1])})" for i in range(len(parts)))
    now, before = present.replace("SELF", new), present.replace("SELF", old)
    return f"({now}) == ({before}) && (!({now}) || {new}.{path} == {old}.{path})"


IMMUTABILITY_POLICY = f"{PLURAL}.{GROUP}-immutable-spec"


def frozen_paths(spec: dict[str, Any], fields: dict[str, frozenset[str] | None]) -> list[str]:
    """The spec fields (dotted) that cannot change once the job exists."""
    frozen: list[str] = []
    for name, schema in spec["properties"].items():
        if name not in fields:
            frozen.append(name)
        elif fields[name] is not None:
            frozen += [f"{name}.{sub}" for sub in schema["properties"]
                       if sub not in (fields[name] or ())]  # fmt: skip
    return frozen


def immutability_policy(
    spec: dict[str, Any], fields: dict[str, frozenset[str] | None], header: dict[str, str]
) -> list[dict[str, Any]]:
    """A ValidatingAdmissionPolicy (and its binding) with a check per field that cannot
    change once the job exists, on updates of the TrainingJob itself.

    Not CEL rules in the CRD: the apiserver evaluates every rule of a CRD on every update,
    status writes included (apiextensions-apiserver's status strategy runs the whole
    object's CEL validator; ratcheting turns a failure on an unchanged field into a
    warning, it does not skip the rule), and these comparisons halved the status writes it
    takes (bench/status_writes.py). A policy matching the resource's UPDATE never sees its
    status subresource, which the operator writes.
    """
    changeable = ", ".join(updatable_paths(fields))
    validations = [{
        "expression": _unchanged(path),
        "message": f"spec.{path} is immutable: SageMaker cannot change it in a created "
                   f"training job; create a new TrainingJob instead (what can change: "
                   f"{changeable})",
        "reason": "Invalid",
    } for path in frozen_paths(spec, fields)]  # fmt: skip
    policy = {
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "ValidatingAdmissionPolicy",
        "metadata": {"name": IMMUTABILITY_POLICY, "annotations": header},
        "spec": {
            "failurePolicy": "Fail",
            "matchConstraints": {"resourceRules": [{
                "apiGroups": [GROUP], "apiVersions": ["*"], "operations": ["UPDATE"],
                "resources": [PLURAL],  # not trainingjobs/status: the operator's writes
            }]},
            "validations": validations,
        },
    }  # fmt: skip
    binding = {
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "ValidatingAdmissionPolicyBinding",
        "metadata": {"name": IMMUTABILITY_POLICY, "annotations": header},
        "spec": {"policyName": IMMUTABILITY_POLICY, "validationActions": ["Deny"]},
    }
    return [policy, binding]


# DescribeTrainingJob members the status carries, in the order kubectl shows them.
STATUS_MEMBERS = [
    "TrainingJobArn", "TrainingJobName", "TrainingJobStatus", "SecondaryStatus",
    "FailureReason", "ModelArtifacts", "CreationTime", "TrainingStartTime", "TrainingEndTime",
    "LastModifiedTime", "TrainingTimeInSeconds", "BillableTimeInSeconds",
    "SecondaryStatusTransitions", "FinalMetricDataList", "WarmPoolStatus",
    "DebugRuleEvaluationStatuses", "ProfilerRuleEvaluationStatuses", "ProfilingStatus",
]  # fmt: skip

CONDITION_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "A standard Kubernetes condition (kstatus: Ready, Reconciling, Stalled).",
    "required": ["type", "status", "lastTransitionTime"],
    "properties": {
        "type": {"type": "string", "maxLength": 316},
        "status": {"type": "string", "enum": ["True", "False", "Unknown"]},
        "reason": {"type": "string", "maxLength": 1024},
        "message": {"type": "string", "maxLength": 32768},
        "lastTransitionTime": {"type": "string", "format": "date-time"},
        "observedGeneration": {"type": "integer", "format": "int64", "minimum": 0},
    },
}


UPDATE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "The last change of the spec's updatable fields (UpdateTrainingJob) and "
    "SageMaker's answer: Pending (accepted, not yet reported by DescribeTrainingJob), "
    "Applied, or Refused (reason and message are SageMaker's).",
    "required": ["generation", "state"],
    "properties": {
        "generation": {"type": "integer", "format": "int64",
                       "description": "The metadata.generation of the change."},
        "state": {"type": "string", "enum": ["Pending", "Applied", "Refused"]},
        "fields": {"type": "array", "items": {"type": "string"},
                   "description": "The spec fields the change sent."},
        "reason": {"type": "string"},
        "message": {"type": "string"},
    },
}  # fmt: skip


def status_schema(builder: SchemaBuilder) -> dict[str, Any]:
    describe_output = builder.model.operation_model("DescribeTrainingJob").output_shape
    assert isinstance(describe_output, StructureShape)
    status = SchemaBuilder(builder.model)  # status fields are written by us: count apart
    properties: dict[str, Any] = {}
    for member in STATUS_MEMBERS:
        shape = describe_output.members[member]
        schema = status.shape_schema(shape, f"status.{lower_first(member)}", shape.documentation)
        properties[lower_first(member)] = _without_constraints(schema)
    properties["region"] = {"type": "string", "description": "The AWS region of the job."}
    properties["cloudWatchLogsUrl"] = {
        "type": "string",
        "description": "The AWS console page of the job's CloudWatch logs.",
    }
    properties["observedGeneration"] = {
        "type": "integer",
        "format": "int64",
        "description": "The metadata.generation this status describes.",
    }
    properties["conditions"] = {
        "type": "array",
        "description": "Ready, Reconciling and Stalled, as Flux and Argo CD read them.",
        "items": CONDITION_SCHEMA,
        "x-kubernetes-list-type": "map",
        "x-kubernetes-list-map-keys": ["type"],
    }
    properties["update"] = UPDATE_SCHEMA
    properties["announced"] = {
        "type": "string",
        "maxLength": 512,
        "description": "The state (trainingJobStatus/secondaryStatus) whose Kubernetes Event "
        "the operator has posted. A state shown but not yet announced (the Event could not be "
        "posted, or the operator restarted between the two) is announced by a later tick.",
    }
    properties["reason"] = {
        "type": "string",
        "maxLength": 1024,
        "description": "Why the job is not running or did not complete, in a word or a "
        "line (the REASON column): SageMaker's failureReason, else the reason of the Stalled "
        "or Reconciling condition (PolicyDenied, InvalidSpec, NameConflict, a quota or role "
        "wait, MaxRuntimeExceeded, …). Empty while the job runs or once it completed.",
    }
    properties["operator"] = {
        "type": "object",
        "description": "The operator's own bookkeeping; not for users.",
        "x-kubernetes-preserve-unknown-fields": True,
    }
    return {"type": "object", "description": "What SageMaker reports, and conditions.",
            "properties": properties}  # fmt: skip


def _without_constraints(schema: dict[str, Any]) -> dict[str, Any]:
    """Status is written by the operator from SageMaker's answers: keep types, drop limits.

    A new status value that SageMaker starts sending must not make the status write fail.
    """
    dropped = {"enum", "pattern", "minLength", "maxLength", "minItems", "maxItems",
               "minimum", "maximum", "required", "x-kubernetes-validations",
               "minProperties", "maxProperties"}  # fmt: skip
    result: dict[str, Any] = {}
    for key, value in schema.items():
        if key in dropped:
            continue
        if key == "properties":
            result[key] = {name: _without_constraints(item) for name, item in value.items()}
        elif key in {"items", "additionalProperties"} and isinstance(value, dict):
            result[key] = _without_constraints(value)
        elif key == "description":
            result[key] = describe(value, MAX_DESCRIPTION_STATUS)
        else:
            result[key] = value
    return result


PRINTER_COLUMNS: list[dict[str, Any]] = [
    {"name": "Status", "type": "string", "jsonPath": ".status.trainingJobStatus"},
    {"name": "Secondary", "type": "string", "jsonPath": ".status.secondaryStatus"},
    {"name": "Ready", "type": "string",
     "jsonPath": '.status.conditions[?(@.type=="Ready")].status'},
    {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"},
    {"name": "Instance", "type": "string", "priority": 1,
     "jsonPath": ".spec.resourceConfig.instanceType"},
    {"name": "ARN", "type": "string", "priority": 1, "jsonPath": ".status.trainingJobArn"},
    {"name": "Reason", "type": "string", "priority": 1, "jsonPath": ".status.reason"},
]  # fmt: skip


def custom_resource_definition(model: ServiceModel, header: dict[str, str]) -> tuple[
    dict[str, Any], SchemaStats
]:  # fmt: skip
    builder = SchemaBuilder(model)
    schema = {
        "type": "object",
        "description": "A SageMaker training job, run and tracked by sagemaker-operator.",
        "required": ["spec"],
        "properties": {
            "apiVersion": {"type": "string"},
            "kind": {"type": "string"},
            "metadata": {"type": "object"},
            "spec": spec_schema(builder),
            "status": status_schema(builder),
        },
    }
    crd = {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"{PLURAL}.{GROUP}", "annotations": header},
        "spec": {
            "group": GROUP,
            "scope": "Namespaced",
            "names": {
                "kind": KIND,
                "listKind": f"{KIND}List",
                "plural": PLURAL,
                "singular": SINGULAR,
                "shortNames": SHORT_NAMES,
                "categories": CATEGORIES,
            },
            "versions": [
                {
                    "name": VERSION,
                    "served": True,
                    "storage": True,
                    "subresources": {"status": {}},
                    "additionalPrinterColumns": PRINTER_COLUMNS,
                    "schema": {"openAPIV3Schema": schema},
                }
            ],
        },
    }
    return crd, builder.stats
