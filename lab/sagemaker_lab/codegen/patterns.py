"""SageMaker's Java regular expressions, translated for the Kubernetes apiserver.

The apiserver checks OpenAPI ``pattern`` and CEL ``matches()`` with Go's RE2-style
``regexp``, which searches rather than matches and lacks some Java syntax. SageMaker applies
its patterns to the whole value. Every translation here is exact, so a value passes the
translated pattern if and only if SageMaker's pattern matches it whole:

- anchoring: ``^(?:…)$``;
- ``\\p{Alnum}`` (ASCII in Java) becomes ``[:alnum:]`` inside a class, ``[[:alnum:]]`` outside;
- a repeat count above RE2's limit of 1000, ``X{1,2048}``, becomes ``X{1,1000}X{0,1000}X{0,48}``;
- a trailing negative look-behind of one literal character, ``…(?<!-)``, which RE2 cannot
  express, is cut from the pattern and returned as a separate "must not end with" rule,
  which the CRD states in CEL (``!self.endsWith('-')``).

Anything else RE2 cannot express raises ``UntranslatablePatternError``; the generator
then leaves that pattern to the operator's own check before it calls SageMaker.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

RE2_MAX_REPEAT = 1000

_TRAILING_LOOKBEHIND = re.compile(r"\(\?<!(\\?.)\)$")
_UNSUPPORTED = re.compile(r"\(\?<[=!]|\(\?[=!]|\\[1-9]|\\p\{(?!L\}|N\}|Z\}|Alnum\})")
_BOUNDED_REPEAT = re.compile(r"(\[[^\]]*\]|\\.|\.|[^\\\[\](){}|*+?])\{(\d+),(\d+)\}")


class UntranslatablePatternError(ValueError):
    pass


@dataclass(frozen=True)
class TranslatedPattern:
    pattern: str  # anchored, RE2 syntax
    must_not_end_with: str | None = None


def translate(java: str) -> TranslatedPattern:
    body = java.removeprefix("^").removesuffix("$")
    must_not_end_with = None
    lookbehind = _TRAILING_LOOKBEHIND.search(body)
    if lookbehind is not None:
        must_not_end_with = lookbehind[1].removeprefix("\\")
        body = body[: lookbehind.start()]
    if _UNSUPPORTED.search(body):
        raise UntranslatablePatternError(f"RE2 cannot express {java!r}")
    body = _translate_alnum(body)
    body = _BOUNDED_REPEAT.sub(_split_repeat, body)
    return TranslatedPattern(f"^(?:{body})$", must_not_end_with)


def _translate_alnum(body: str) -> str:
    result: list[str] = []
    in_class = False
    index = 0
    while index < len(body):
        if body.startswith(r"\p{Alnum}", index):
            result.append("[:alnum:]" if in_class else "[[:alnum:]]")
            index += len(r"\p{Alnum}")
            continue
        character = body[index]
        if character == "\\":
            result.append(body[index : index + 2])
            index += 2
            continue
        if character == "[":
            in_class = True
        elif character == "]":
            in_class = False
        result.append(character)
        index += 1
    return "".join(result)


def _split_repeat(match: re.Match[str]) -> str:
    atom, low, high = match[1], int(match[2]), int(match[3])
    if high <= RE2_MAX_REPEAT:
        return match[0]
    parts = [f"{atom}{{{min(low, RE2_MAX_REPEAT)},{RE2_MAX_REPEAT}}}"]
    remaining_low, remaining_high = max(0, low - RE2_MAX_REPEAT), high - RE2_MAX_REPEAT
    while remaining_high > 0:
        chunk_high = min(remaining_high, RE2_MAX_REPEAT)
        chunk_low = min(remaining_low, chunk_high)
        parts.append(f"{atom}{{{chunk_low},{chunk_high}}}")
        remaining_low -= chunk_low
        remaining_high -= chunk_high
    return "".join(parts)
