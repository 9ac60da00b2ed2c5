"""A newer SageMaker model than the installed botocore's: members AWS added since.

Written to a folder for ``AWS_DATA_PATH`` (botocore reads models there before its own),
a client then parses the members the emulator's ``new_answer_members`` switch sends, as
a client with a newer botocore parses what AWS adds: what the operator must accept.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import botocore.loaders

from sagemaker_emulator.operations import NEW_MEMBERS


def write_future_model(folder: Path) -> Path:
    """The SageMaker model with NEW_MEMBERS in their structures; returns ``folder``."""
    loader = botocore.loaders.Loader()
    model: dict[str, Any] = loader.load_service_model("sagemaker", "service-2")
    shapes = model["shapes"]
    shapes["EmulatorFutureStructure"] = {
        "type": "structure", "members": {"Detail": {"shape": "EmulatorFutureString"}},
    }  # fmt: skip
    shapes["EmulatorFutureString"] = {"type": "string"}
    for structure, members in NEW_MEMBERS.items():
        for member, value in members.items():
            shape = "EmulatorFutureStructure" if isinstance(value, dict) else "EmulatorFutureString"
            shapes[structure]["members"][member] = {"shape": shape}
    version = model["metadata"]["apiVersion"]
    target = folder / "sagemaker" / version / "service-2.json"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(model))
    return folder
