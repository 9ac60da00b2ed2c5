"""API documentation as short plain text, for ``kubectl explain`` and the model docstrings."""

from __future__ import annotations

import html.parser
import re

MAX_DESCRIPTION = 400


class _Text(html.parser.HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.paragraphs: list[list[str]] = [[]]

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in {"p", "li", "ul", "ol", "br"} and self.paragraphs[-1]:
            self.paragraphs.append([])

    def handle_data(self, data: str) -> None:
        self.paragraphs[-1].append(data)


def describe(documentation: str | None, limit: int = MAX_DESCRIPTION) -> str:
    """The first paragraph(s) of an HTML documentation string, up to about ``limit`` characters.

    Cut at a sentence end where possible, so the help never stops mid-word.
    """
    if not documentation:
        return ""
    parser = _Text()
    parser.feed(documentation)
    paragraphs = [re.sub(r"\s+", " ", "".join(parts)).strip() for parts in parser.paragraphs]
    text = ""
    for paragraph in filter(None, paragraphs):
        candidate = f"{text} {paragraph}".strip()
        if len(candidate) > limit and text:
            break
        text = candidate
    if len(text) <= limit:
        return text
    sentences = re.split(r"(?<=[.!?])\s+", text)
    cut = ""
    for sentence in sentences:
        if len(cut) + len(sentence) + 1 > limit:
            break
        cut = f"{cut} {sentence}".strip()
    return cut or text[: limit - 1].rsplit(" ", 1)[0] + "…"
