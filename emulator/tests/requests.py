"""Test data: the sample requests, and real-world CreateTrainingJob requests."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from sagemaker_emulator.samples import ROLE, minimal, typical

__all__ = ["ROLE", "corpus", "minimal", "typical"]

# Real-world requests from public projects (see SOURCES.md there), kept in the repository
# so the tests need nothing beside it.
CORPUS = Path(__file__).resolve().parent / "corpus"


def corpus(kind: str) -> list[tuple[str, dict[str, Any]]]:
    """The real-world requests in emulator/tests/corpus/<kind>/, by file name."""
    folder = CORPUS / kind
    return [(path.name, json.loads(path.read_text())) for path in sorted(folder.glob("*.json"))]
