"""The chart's schema for ``operator.namespacePolicy``, from the policy's own pydantic model.

The operator refuses a policy file its model does not take; the chart's
``values.schema.json`` must refuse the same values at ``helm install``, naming the field,
rather than let a pod start and exit. So that part of the schema is the model's JSON
schema (references inlined, titles, descriptions and defaults left out, an optional value
given as its type), written by ``make generate`` like the CRD.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from sagemaker_operator.policy import Policy

VALUES_SCHEMA = Path("helm") / "sagemaker-operator" / "values.schema.json"
_DROPPED = frozenset({"title", "description", "default"})


def policy_schema() -> dict[str, Any]:
    schema = Policy.model_json_schema(by_alias=True)
    definitions = schema.pop("$defs", {})

    def inline(node: Any) -> Any:
        if isinstance(node, list):
            return [inline(item) for item in node]
        if not isinstance(node, dict):
            return node
        if "$ref" in node:
            return inline(definitions[node["$ref"].rsplit("/", 1)[-1]])
        options = node.get("anyOf")
        if isinstance(options, list) and {"type": "null"} in options:
            kept = [option for option in options if option != {"type": "null"}]
            return inline({**{k: v for k, v in node.items() if k != "anyOf"},
                           **(kept[0] if len(kept) == 1 else {"anyOf": kept})})  # fmt: skip
        return {key: inline(value) for key, value in node.items() if key not in _DROPPED}

    inlined: dict[str, Any] = inline(schema)
    return inlined


def values_schema(committed: str) -> str:
    """The chart's values schema (``committed``, its current text) with the policy's part
    as the model says."""
    document = json.loads(committed)
    # Empty: the default policy (the chart writes no policy file).
    document["properties"]["operator"]["properties"]["namespacePolicy"] = {
        "anyOf": [{"type": "object", "maxProperties": 0}, policy_schema()]
    }
    return json.dumps(document, indent=2) + "\n"
