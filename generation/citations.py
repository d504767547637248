"""Map `[n]` markers in generated text to the evidence segments; drop markers that point nowhere."""

from __future__ import annotations

import re
from collections.abc import Sequence

from core.types import Citation, Hit

_MARKER = re.compile(r"\[(\d+(?:\s*,\s*\d+)*)\]")
_IDK = re.compile(r"\b(i (do not|don't|cannot|can't) (know|answer|tell)|not enough (evidence|information))\b")


def resolve_citations(text: str, evidence: Sequence[Hit]) -> tuple[str, tuple[Citation, ...]]:
    """Keep the markers that point at evidence, remove the rest, and list what is cited.

    `[2, 5]` is read as two citations. Numbers outside 1..len(evidence) (a model inventing sources) are
    removed from the text, so every citation left maps to a retrieved segment.

    Returns:
        The cleaned text and the citations in order of first mention, each number once.
    """
    cited: list[int] = []

    def keep(match: re.Match[str]) -> str:
        numbers = [int(x) for x in match.group(1).split(",")]
        valid = [n for n in numbers if 1 <= n <= len(evidence)]
        for n in valid:
            if n not in cited:
                cited.append(n)
        return "".join(f"[{n}]" for n in valid)

    cleaned = _MARKER.sub(keep, text)
    cleaned = re.sub(r"[ \t]+([.,;:!?])", r"\1", re.sub(r"[ \t]{2,}", " ", cleaned)).strip()
    return cleaned, tuple(Citation(n=n, segment=evidence[n - 1].segment) for n in cited)


def is_abstention(text: str) -> bool:
    """Whether the answer says it does not know."""
    return bool(_IDK.search(text.lower().replace("’", "'")))
