"""Prompts for generators: evidence first, numbered [1]..[n], then the question and the rules.

Evidence goes before the question (models attend best to what they read last, the question) and each item
carries its number, where it comes from (file, page, time) and its text. Visual evidence is passed as an
image part next to its number when the generator can see images.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from core.types import Hit, Segment

if TYPE_CHECKING:
    from PIL.Image import Image

IDK = "I don't know"
"""What generators answer when the evidence does not answer the question."""

SYSTEM = (
    "You answer questions using only the numbered evidence you are given. Cite every claim with the "
    "number of the evidence it comes from, in square brackets, like [1] or [2][3]. If the evidence does "
    f'not answer the question, reply exactly "{IDK}." and nothing else. Be brief.'
)
SYSTEM_NO_EVIDENCE = (
    f'Answer the question briefly from your own knowledge. If you are not sure, reply exactly "{IDK}."'
)


@dataclass
class PromptPart:
    """One piece of a user message: text, or a picture with the evidence number it belongs to."""

    text: str = ""
    image: Image | None = None


@dataclass
class Prompt:
    """A system instruction and the user message parts, ready for any chat format."""

    system: str
    parts: list[PromptPart] = field(default_factory=list)

    def text(self) -> str:
        """The user message as plain text (pictures left out)."""
        return "".join(p.text for p in self.parts)


def describe(segment: Segment) -> str:
    """Where a segment comes from: `uri, p. 3` / `uri, 01:05-01:35` / `uri`."""
    loc = segment.locator
    where = segment.uri
    if loc.page is not None:
        where += f", p. {loc.page}" + (
            f"-{loc.page_end}" if loc.page_end and loc.page_end != loc.page else ""
        )
    if loc.start_s is not None:
        end = f"-{_clock(loc.end_s)}" if loc.end_s is not None else ""
        where += f", {_clock(loc.start_s)}{end}"
    return f"{where} ({segment.granularity.value})"


def _clock(seconds: float) -> str:
    minutes, secs = divmod(int(seconds), 60)
    return f"{minutes:02d}:{secs:02d}"


def build_prompt(
    question: str,
    evidence: Sequence[Hit],
    *,
    picture: Callable[[Segment], Image | None] | None = None,
    max_chars: int = 1500,
) -> Prompt:
    """Evidence first with numbers [1]..[n], then the question.

    Args:
        question: The user's question.
        evidence: Selected hits, in the order they will be numbered.
        picture: Returns the picture of a visual segment (for generators that see images), or None.
        max_chars: Each evidence text is cut to this many characters.
    """
    if not evidence:
        return Prompt(SYSTEM_NO_EVIDENCE, [PromptPart(f"Question: {question.strip()}\nAnswer:")])
    parts = [PromptPart("Evidence:\n")]
    for n, hit in enumerate(evidence, start=1):
        seg = hit.segment
        parts.append(PromptPart(f"[{n}] {describe(seg)}\n"))
        image = picture(seg) if picture is not None else None
        if image is not None:
            parts.append(PromptPart(image=image))
        body = " ".join(seg.text.split())[:max_chars]
        parts.append(PromptPart(f"{body or '(picture only)'}\n\n"))
    parts.append(
        PromptPart(
            f"Question: {question.strip()}\n"
            f"Answer using only the evidence above and cite it as [n]. If it does not answer the question, "
            f'reply "{IDK}."\nAnswer:'
        )
    )
    return Prompt(SYSTEM, parts)
