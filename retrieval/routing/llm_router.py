"""A router that asks the configured generator (UniversalRAG's prompted-LLM router).

The model sees the label set with one line per route and answers with route names; every route it names is
selected with equal probability. An answer that names no route (or a generator that cannot complete free
prompts, like the extractive one) falls back to searching every route, so the reranker decides.
"""

from __future__ import annotations

import logging
import re

from core.errors import MmragError
from core.protocols import Completer, Generator
from core.types import Route, RouteDecision
from retrieval.routing.route_selection import RETRIEVAL_ROUTES

log = logging.getLogger(__name__)

ROUTE_HELP = {
    Route.NONE: "no retrieval needed: general knowledge, reasoning, maths, or chit-chat",
    Route.PARAGRAPH: "a short text passage answers it (a single fact)",
    Route.DOCUMENT: "whole documents are needed (multi-hop, comparing or combining several facts)",
    Route.IMAGE: "a photo or picture answers it (what something looks like: colour, shape, count)",
    Route.CLIP: "a moment in a long video answers it (a scene, an event at some time)",
    Route.VIDEO: "a whole video answers it (how-to, steps, a procedure shown start to end)",
}

PROMPT = """Decide where the answer to a question can be found. Options:
{options}

Answer with the option name only (two names separated by a comma if truly unsure).

Question: {question}
Option:"""


def routing_prompt(question: str) -> str:
    """The prompt listing the label set."""
    options = "\n".join(f"- {route.value}: {text}" for route, text in ROUTE_HELP.items())
    return PROMPT.format(options=options, question=question.strip())


def parse_routes(text: str) -> tuple[Route, ...]:
    """Route names in the model's answer, in order of first mention, without duplicates.

    "no" counts only as a whole answer item ("no", "no.", "no, image", "no retrieval"), not in "no idea".
    """
    found: list[Route] = []
    lowered = text.lower()
    for match in re.finditer(r"[a-z]+", lowered):
        word = match.group()
        alias = {"none": "no", "passage": "paragraph", "photo": "image", "picture": "image"}.get(word, word)
        if alias == "no" and re.match(r"\s*(retrieval\b|[,.;:)\n]|$)", lowered[match.end() :]) is None:
            continue
        if alias in Route._value2member_map_ and Route(alias) not in found:
            found.append(Route(alias))
    return tuple(found)


class LlmRouter:
    """Routes by prompting the generator; needs a generator that is a `Completer` (`complete(text) -> str`).

    Args:
        generator: The configured generator. When it cannot complete prompts every route is searched.
        max_routes: Most routes taken from the answer.
    """

    name = "llm"

    def __init__(self, generator: Generator, max_routes: int = 2) -> None:
        self.generator = generator
        self.max_routes = max_routes

    def route(self, query: str) -> RouteDecision:
        """Ask the generator; fall back to every retrieval route when it cannot tell."""
        if not isinstance(self.generator, Completer):
            log.warning("llm router: %s cannot complete prompts; searching every route", self.generator)
            return self._fallback("generator cannot complete prompts")
        try:
            answer = self.generator.complete(routing_prompt(query), max_tokens=12)
        except MmragError as exc:
            log.warning("llm router: generator failed (%s); searching every route", exc)
            return self._fallback("generator failed")
        routes = parse_routes(answer)[: self.max_routes]
        if not routes:
            log.info("llm router: no route in %r; searching every route", answer[:80])
            return self._fallback("no route in the answer")
        share = 1.0 / len(routes)
        return RouteDecision(probabilities={r: share for r in routes}, selected=routes, router=self.name)

    def _fallback(self, why: str) -> RouteDecision:
        share = 1.0 / len(RETRIEVAL_ROUTES)
        return RouteDecision(
            probabilities={r: share for r in RETRIEVAL_ROUTES},
            selected=RETRIEVAL_ROUTES,
            router=f"{self.name} (fallback: {why})",
        )
