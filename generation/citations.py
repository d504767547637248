"""Map `[n]` markers in generated text to the evidence segments; drop markers that point nowhere.

Evidence is numbered [1]..[k] for the generator; the answer the user sees numbers its citations from 1 in
the order they are used (`renumber`), so there is never a `[2]` without a `[1]`.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import replace

from core.types import Answer, Citation, Hit
from generation.moments import at_moment, locate

_MARKER = re.compile(r"\[(\d+(?:\s*,\s*\d+)*)\]")
_SPACED_MARKER = re.compile(r"(\s*)" + _MARKER.pattern)
_IDK = re.compile(r"\b(i (do not|don't|cannot|can't) (know|answer|tell)|not enough (evidence|information))\b")
_CLAUSE_END = re.compile(r"[.!?]\s|\n")


def resolve_citations(text: str, evidence: Sequence[Hit]) -> tuple[str, tuple[Citation, ...]]:
    """Keep the markers that point at evidence, remove the rest, and list what is cited.

    `[2, 5]` is read as two citations. Numbers outside 1..len(evidence) (a model inventing sources) are
    removed from the text, so every citation left maps to a retrieved segment. A citation of a recording is
    narrowed to the moment where the sentence before its first marker is said or shown.

    Returns:
        The cleaned text and the citations in order of first mention, each number once (evidence numbers).
    """
    cited: list[int] = []
    claims: dict[int, str] = {}

    def keep(match: re.Match[str]) -> str:
        numbers = [int(x) for x in match.group(1).split(",")]
        valid = [n for n in numbers if 1 <= n <= len(evidence)]
        for n in valid:
            if n not in cited:
                cited.append(n)
                claims[n] = _claim_before(text, match.start())
        return "".join(f"[{n}]" for n in valid)

    cleaned = _MARKER.sub(keep, text)
    cleaned = re.sub(r"[ \t]+([.,;:!?])", r"\1", re.sub(r"[ \t]{2,}", " ", cleaned)).strip()
    citations = []
    for n in cited:
        segment = evidence[n - 1].segment
        citations.append(Citation(n=n, segment=at_moment(segment, locate(segment, claims[n]))))
    return cleaned, tuple(citations)


def _claim_before(text: str, end: int) -> str:
    """The sentence (or clause) of `text` that ends at a marker: what the marker cites."""
    head = _MARKER.sub(" ", text[:end])
    starts = [m.end() for m in _CLAUSE_END.finditer(head.rstrip())]
    return head[starts[-1] if starts else 0 :].strip()


def renumber(answer: Answer) -> Answer:
    """Number the citations 1, 2, ... in the order the text first uses them, and rewrite the markers.

    Citations the text never marks keep their relative order after the used ones; markers pointing at no
    citation are dropped.
    """
    by_n = {c.n: c for c in answer.citations}
    order: list[int] = []
    for match in _MARKER.finditer(answer.text):
        for x in match.group(1).split(","):
            n = int(x)
            if n in by_n and n not in order:
                order.append(n)
    order += [c.n for c in answer.citations if c.n not in order]
    new = {old: i for i, old in enumerate(order, start=1)}
    dangling = any(int(x) not in by_n for m in _MARKER.finditer(answer.text) for x in m.group(1).split(","))
    if not dangling and all(old == n for old, n in new.items()):
        return answer

    def rewrite(match: re.Match[str]) -> str:
        numbers = [new[int(x)] for x in match.group(2).split(",") if int(x) in new]
        if not numbers:  # a marker pointing nowhere goes with the space before it
            return ""
        return match.group(1) + "".join(f"[{n}]" for n in dict.fromkeys(numbers))

    text = _SPACED_MARKER.sub(rewrite, answer.text)
    citations = tuple(replace(by_n[old], n=new[old]) for old in order)
    return replace(answer, text=text, citations=citations)


def is_abstention(text: str) -> bool:
    """Whether the answer says it does not know."""
    return bool(_IDK.search(text.lower().replace("’", "'")))


_OPEN_MARKER = re.compile(r"\[[\d\s,]*$")
_MAX_MARKER = 40  # a held-back "[..." longer than this is text, not a marker


class StreamRenumber:
    """Renumber the `[n]` markers of streamed text as they arrive, the way `resolve_citations` + `renumber`
    number the final answer: the first evidence number used becomes [1], the next new one [2], ...

    Markers pointing at no evidence are dropped; a piece that ends inside a possible marker (`"... [1"`) is
    held back until the marker closes or turns out to be text. `seed` is text that will precede the answer
    (a conflict note): its markers take the first numbers.
    """

    def __init__(self, evidence_count: int, seed: str = "") -> None:
        self.evidence_count = evidence_count
        self.numbers: dict[int, int] = {}
        self._held = ""
        self.rewrite(seed)

    def rewrite(self, text: str) -> str:
        """`text` (whole markers only) with its markers renumbered."""
        return _MARKER.sub(self._marker, text)

    def _marker(self, match: re.Match[str]) -> str:
        out: list[int] = []
        for x in match.group(1).split(","):
            n = int(x)
            if 1 <= n <= self.evidence_count:
                out.append(self.numbers.setdefault(n, len(self.numbers) + 1))
        return "".join(f"[{n}]" for n in dict.fromkeys(out))

    def feed(self, piece: str) -> str:
        """The part of the stream so far that can be shown, markers renumbered ('' while one is open)."""
        text = self._held + piece
        tail = _OPEN_MARKER.search(text)
        if tail is not None and len(text) - tail.start() <= _MAX_MARKER:
            text, self._held = text[: tail.start()], text[tail.start() :]
        else:
            self._held = ""
        return self.rewrite(text)

    def flush(self) -> str:
        """Whatever is still held back at the end of the stream."""
        text, self._held = self._held, ""
        return self.rewrite(text)
