"""Pydantic v2 models of the TrainingJob spec and status, as Python source.

The models carry types and required members (the CRD carries every constraint; the
operator checks the request with botocore's validator before it calls SageMaker). One
class per botocore structure, named as the shape; ``Spec`` and ``Status`` on top.
"""

from __future__ import annotations

import keyword
import re
from collections.abc import Iterator

from botocore.model import ListShape, MapShape, ServiceModel, Shape, StructureShape
from pydantic import BaseModel

from sagemaker_lab.codegen.crd import STATUS_MEMBERS, lower_first
from sagemaker_lab.codegen.docs import describe

_DOCSTRING = 160
_TYPES = {
    "string": "str",
    "integer": "int",
    "long": "int",
    "boolean": "bool",
    "float": "float",
    "double": "float",
    "timestamp": "datetime.datetime",
}

_STATUS_EXTRAS = '''
class Condition(AnswerModel):
    """A standard Kubernetes condition (kstatus: Ready, Reconciling, Stalled)."""

    type: str = Field(alias="type")
    status: Literal["True", "False", "Unknown"] = Field(alias="status")
    reason: str | None = Field(default=None, alias="reason")
    message: str | None = Field(default=None, alias="message")
    last_transition_time: datetime.datetime = Field(alias="lastTransitionTime")
    observed_generation: int | None = Field(default=None, alias="observedGeneration")


class SpecUpdate(AnswerModel):
    """The last change of the spec's updatable fields, and SageMaker's answer to it."""

    generation: int = Field(alias="generation")
    state: Literal["Pending", "Applied", "Refused"] = Field(alias="state")
    fields: list[str] = Field(default_factory=list, alias="fields")
    reason: str | None = Field(default=None, alias="reason")
    message: str | None = Field(default=None, alias="message")
'''


def snake(name: str) -> str:
    words = re.sub(r"([A-Z]+)([A-Z][a-z])", r"\1_\2", name)
    words = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", words)
    return words.lower()


class ModelWriter:
    def __init__(self, model: ServiceModel, *, closed_enums: bool, base: str) -> None:
        self.model = model
        self.closed_enums = closed_enums
        self.base = base
        self.classes: dict[str, str] = {}

    def type_of(self, shape: Shape) -> str:
        if isinstance(shape, StructureShape):
            self.add_class(shape, shape.name)
            return shape.name
        if isinstance(shape, ListShape):
            return f"list[{self.type_of(shape.member)}]"
        if isinstance(shape, MapShape):
            return f"dict[str, {self.type_of(shape.value)}]"
        enum: list[str] = shape.metadata.get("enum", [])
        if self.closed_enums and enum and not all(value.startswith("ml.") for value in enum):
            return "Literal[" + ", ".join(f'"{value}"' for value in enum) + "]"
        return _TYPES[shape.type_name]

    def add_class(self, shape: StructureShape, name: str, extra: list[str] | None = None) -> None:
        if name in self.classes:
            return
        self.classes[name] = ""  # reserve: recursive shapes refer to themselves
        lines = [
            f"class {name}({self.base}):",
            f'    """{_docstring(shape.documentation, name)}"""',
            "",
        ]
        lines += [
            line
            for member, field in shape.members.items()
            for line in self.field(member, field, member in shape.required_members)
        ]
        lines += extra or []
        self.classes.pop(name)
        self.classes[name] = "\n".join(lines) + "\n"  # after its dependencies

    def field(self, member: str, shape: Shape, required: bool) -> Iterator[str]:
        alias = lower_first(member)
        name = snake(member)
        if keyword.iskeyword(name) or hasattr(BaseModel, name):
            raise ValueError(f"member {member} would shadow {name!r}")
        annotation = self.type_of(shape)
        aliases = f'alias="{alias}", validation_alias=AliasChoices("{alias}", "{member}")'
        if required:
            yield f"    {name}: {annotation} = Field({aliases})"
        else:
            yield f"    {name}: {annotation} | None = Field(default=None, {aliases})"


def _docstring(documentation: str | None, fallback: str) -> str:
    text = describe(documentation, _DOCSTRING) or fallback
    return text.replace("\\", "\\\\").replace('"""', "'''")


def module_source(model: ServiceModel, header: str) -> str:
    spec_writer = ModelWriter(model, closed_enums=True, base="ApiModel")
    request = model.operation_model("CreateTrainingJob").input_shape
    assert isinstance(request, StructureShape)
    for shape in request.members.values():
        spec_writer.type_of(shape)
    spec_lines = [
        "class Spec(ApiModel):",
        '    """The TrainingJob spec: the CreateTrainingJob request, plus region."""',
        "",
    ]
    for member, shape in request.members.items():
        # trainingJobName may come from metadata.name, so it is optional here.
        required = member in request.required_members and member != "TrainingJobName"
        spec_lines += list(spec_writer.field(member, shape, required))
    spec_lines.append(
        '    region: str | None = Field(default=None, alias="region", '
        "json_schema_extra=NOT_AN_API_MEMBER)"
    )

    # Answers: unknown members ignored (AWS adds members; requests stay strict).
    status_writer = ModelWriter(model, closed_enums=False, base="AnswerModel")
    describe_output = model.operation_model("DescribeTrainingJob").output_shape
    assert isinstance(describe_output, StructureShape)
    status_lines = [
        "class Status(AnswerModel):",
        '    """The TrainingJob status: what SageMaker reports, and conditions."""',
        "",
    ]
    for member in STATUS_MEMBERS:
        status_lines += list(status_writer.field(member, describe_output.members[member], False))
    status_lines += [
        '    region: str | None = Field(default=None, alias="region")',
        '    cloud_watch_logs_url: str | None = Field(default=None, alias="cloudWatchLogsUrl")',
        '    observed_generation: int | None = Field(default=None, alias="observedGeneration")',
        '    conditions: list[Condition] | None = Field(default=None, alias="conditions")',
        '    update: SpecUpdate | None = Field(default=None, alias="update")',
        '    announced: str | None = Field(default=None, alias="announced")',
        '    reason: str | None = Field(default=None, alias="reason")',
        '    operator: dict[str, Any] | None = Field(default=None, alias="operator")',
    ]
    status_classes = []
    for name, source in status_writer.classes.items():
        if name not in spec_writer.classes:
            status_classes.append(source)
        elif spec_writer.classes[name] != source.replace("(AnswerModel):", "(ApiModel):", 1):
            raise ValueError(f"shape {name} would be two different classes")
    imports = (
        "from __future__ import annotations\n\n"
        "import datetime\n"
        "from typing import Any, Literal\n\n"
        "from pydantic import AliasChoices, Field\n\n"
        "from sagemaker_operator.api.base import NOT_AN_API_MEMBER, AnswerModel, ApiModel\n"
    )
    parts = [
        header + "\n" + imports,
        *spec_writer.classes.values(),
        "\n".join(spec_lines) + "\n",
        *status_classes,
        _STATUS_EXTRAS.strip() + "\n",
        "\n".join(status_lines) + "\n",
    ]
    return "\n\n".join(parts)
