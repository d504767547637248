"""Shared logic of the model-backed generators: prompt, complete, map citations, detect abstention.

A backend implements `_complete(prompt, max_tokens) -> str` and `_stream(prompt, max_tokens) -> Iterator[str]`;
everything else (numbered evidence, citation checks, timings) lives here once.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING

from core.types import Answer, Hit, Segment
from generation.citations import is_abstention, resolve_citations
from generation.prompts import IDK, Prompt, PromptPart, build_prompt

if TYPE_CHECKING:
    from PIL.Image import Image


class PromptedGenerator:
    """Base class: turns evidence into a prompt and the completion into a cited `Answer`.

    Args:
        max_tokens: Most tokens generated per answer.
        picture: Returns a visual segment's picture for generators that see images (None: text only).
    """

    name = "prompted"
    sees_images = False
    needs_evidence = False  # a language model can answer "no retrieval" questions itself

    def __init__(
        self, max_tokens: int = 256, picture: Callable[[Segment], Image | None] | None = None
    ) -> None:
        self.max_tokens = max_tokens
        self.picture = picture

    # --- backend hooks ---------------------------------------------------------------------------------
    def _complete(self, prompt: Prompt, max_tokens: int) -> str:
        raise NotImplementedError

    def _stream(self, prompt: Prompt, max_tokens: int) -> Iterator[str]:
        yield self._complete(prompt, max_tokens)

    # --- public ----------------------------------------------------------------------------------------
    def prompt(self, query: str, evidence: Sequence[Hit]) -> Prompt:
        """The prompt this generator sends for `query` and `evidence`."""
        picture = self.picture if self.sees_images else None
        return build_prompt(query, evidence, picture=picture)

    def complete(self, text: str, max_tokens: int = 32) -> str:
        """Complete a free prompt (the LLM router uses this)."""
        return self._complete(Prompt("Follow the instructions.", [PromptPart(text)]), max_tokens)

    def generate(self, query: str, evidence: Sequence[Hit]) -> Answer:
        """Answer from numbered evidence; citations checked against it."""
        start = time.perf_counter()
        raw = self._complete(self.prompt(query, evidence), self.max_tokens)
        return self.finish(raw, evidence, time.perf_counter() - start)

    def stream(self, query: str, evidence: Sequence[Hit]) -> Iterator[str]:
        """Yield answer text pieces as the model produces them (raw: citations unchecked)."""
        yield from self._stream(self.prompt(query, evidence), self.max_tokens)

    def finish(self, raw: str, evidence: Sequence[Hit], seconds: float = 0.0) -> Answer:
        """Turn a raw completion into an `Answer` (used after streaming too)."""
        text, citations = resolve_citations(raw.strip(), evidence)
        abstained = not text or is_abstention(text)
        if abstained:
            text, citations = (text or f"{IDK}."), ()
        return Answer(
            text=text, citations=citations, abstained=abstained, timings={"generate": round(seconds, 4)}
        )
