"""The RAG pipeline: route → search the routed corpora → rerank → adaptive selection → generate, cited.

Routes map to segment granularities (UniversalRAG's corpora): paragraph → paragraph, document → document,
image → image, clip → clip + frame, video → video, no → no retrieval. When the routed corpora hold nothing
for the query (say, the router picks `image` over a text-only index) every corpus is searched instead, and
the reranker decides; the route shows that as `router: "... (fallback: all corpora)"`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator, Sequence
from dataclasses import replace
from typing import Any

from core.protocols import Generator, Reranker, Router
from core.settings import Settings
from core.types import Answer, Granularity, Hit, Route, RouteDecision, SearchFilter
from generation.conflicts import Conflict, conflict_note, detect_conflicts, with_conflicts
from rerank.selection import select_evidence
from retrieval.retriever import Retriever

log = logging.getLogger(__name__)

ROUTE_GRANULARITIES: dict[Route, tuple[Granularity, ...]] = {
    Route.NONE: (),
    Route.PARAGRAPH: (Granularity.PARAGRAPH,),
    Route.DOCUMENT: (Granularity.DOCUMENT,),
    Route.IMAGE: (Granularity.IMAGE,),
    Route.CLIP: (Granularity.CLIP, Granularity.FRAME),
    Route.VIDEO: (Granularity.VIDEO,),
}


def granularities_for(routes: Sequence[Route]) -> tuple[Granularity, ...]:
    """The granularities to search for the selected routes (empty: no retrieval)."""
    out: list[Granularity] = []
    for route in routes:
        out.extend(g for g in ROUTE_GRANULARITIES[route] if g not in out)
    return tuple(out)


class RagPipeline:
    """Answers questions over the index with citations.

    Args:
        retriever: Hybrid search over the store.
        router: Picks the corpora (routes) to search.
        reranker: Rescores candidates.
        generator: Writes the answer from numbered evidence.
        settings: Uses `rerank_threshold`, `rerank_min_k`, `rerank_max_k`.
        candidates: How many fused hits go to the reranker.
    """

    def __init__(
        self,
        *,
        retriever: Retriever,
        router: Router,
        reranker: Reranker,
        generator: Generator,
        settings: Settings,
        candidates: int = 20,
    ) -> None:
        self.retriever = retriever
        self.router = router
        self.reranker = reranker
        self.generator = generator
        self.settings = settings
        self.candidates = candidates
        if getattr(generator, "text_encoder", False) is None:
            # The extractive generator matches meaning with the text encoder when it has one; the factory
            # builds it from settings alone, so lend it the retriever's (already loaded) encoder.
            generator.text_encoder = retriever.text_encoder  # type: ignore[attr-defined]

    def ask(self, question: str) -> Answer:
        """Route, retrieve, rerank, select and answer; `Answer.timings` has seconds per stage."""
        timings: dict[str, float] = {}
        start = time.perf_counter()
        decision, evidence = self.evidence(question, timings)
        conflicts = detect_conflicts(question, evidence)  # the sources disagree: say so, cite each side
        t = time.perf_counter()
        answer = self.generator.generate(self._prompt_question(question, conflicts), evidence)
        answer = with_conflicts(answer, conflicts, evidence)
        timings["generate"] = time.perf_counter() - t
        timings["total"] = time.perf_counter() - start
        return replace(answer, route=decision, timings={k: round(v, 4) for k, v in timings.items()})

    def _prompt_question(self, question: str, conflicts: list[Conflict]) -> str:
        """Prompted generators read the conflict in their prompt; the extractive one matches the bare question."""
        return (
            question
            if getattr(self.generator, "needs_evidence", False)
            else conflict_note(question, conflicts)
        )

    def evidence(self, question: str, timings: dict[str, float]) -> tuple[RouteDecision, list[Hit]]:
        """Route, search, rerank and select; stage seconds are added to `timings`."""
        t = time.perf_counter()
        decision = self.router.route(question)
        timings["route"] = time.perf_counter() - t
        routes = decision.selected
        if set(routes) <= {Route.NONE} and getattr(self.generator, "needs_evidence", False):
            # "no retrieval" only works with a model that knows things; the extractive one must search.
            routes = tuple(r for r in Route if r is not Route.NONE)
            decision = replace(
                decision, router=f"{decision.router} (no-retrieval needs a model: searched all)"
            )
        granularities = granularities_for(routes)
        if not granularities:
            return decision, []
        t = time.perf_counter()
        hits = self.retriever.search(
            question, k=self.candidates, flt=SearchFilter(granularities=granularities)
        )
        if not hits:
            hits = self.retriever.search(question, k=self.candidates)
            if hits:
                decision = replace(decision, router=f"{decision.router} (fallback: all corpora)")
        timings["retrieve"] = time.perf_counter() - t
        t = time.perf_counter()
        reranked = self.reranker.rerank(question, hits)
        timings["rerank"] = time.perf_counter() - t
        selected = select_evidence(
            reranked,
            threshold=self.settings.rerank_threshold,
            min_k=self.settings.rerank_min_k,
            max_k=self.settings.rerank_max_k,
        )
        return decision, selected

    def stream(self, question: str) -> Iterator[dict[str, Any]]:
        """Events for server-sent events: `route`, `evidence`, `token`..., then `done` with the answer.

        Each event is `{"event": name, "data": ...}`; `done` carries `answer_to_dict(answer)`.
        """
        timings: dict[str, float] = {}
        start = time.perf_counter()
        decision, evidence = self.evidence(question, timings)
        conflicts = detect_conflicts(question, evidence)
        yield {"event": "route", "data": decision.to_dict()}
        yield {"event": "evidence", "data": [evidence_to_dict(n, h) for n, h in enumerate(evidence, start=1)]}
        t = time.perf_counter()
        finish = getattr(self.generator, "finish", None)
        if finish is not None:
            pieces = []
            for piece in self.generator.stream(self._prompt_question(question, conflicts), evidence):
                pieces.append(piece)
                yield {"event": "token", "data": piece}
            answer = finish("".join(pieces), evidence)
        else:
            answer = self.generator.generate(question, evidence)
            for i, word in enumerate(answer.text.split(" ")):
                yield {"event": "token", "data": word if i == 0 else " " + word}
        answer = with_conflicts(answer, conflicts, evidence)
        timings["generate"] = time.perf_counter() - t
        timings["total"] = time.perf_counter() - start
        answer = replace(answer, route=decision, timings={k: round(v, 4) for k, v in timings.items()})
        yield {"event": "done", "data": answer_to_dict(answer)}


def evidence_to_dict(n: int, hit: Hit) -> dict[str, Any]:
    """One numbered piece of evidence for clients (stream `evidence` event)."""
    seg = hit.segment
    return {
        "n": n,
        "segment_id": seg.segment_id,
        "source_id": seg.source_id,
        "uri": seg.uri,
        "granularity": seg.granularity.value,
        "locator": seg.locator.to_dict(),
        "media_ref": seg.media_ref,
        "score": round(hit.score, 6),
        "text": seg.text[:1000],
    }


def answer_to_dict(answer: Answer) -> dict[str, Any]:
    """`{"answer", "citations": [{"n", "segment_id", "uri", "locator"}], "route", "timings", "conflicts"}`."""
    return {
        "answer": answer.text,
        "citations": [
            {
                "n": c.n,
                "segment_id": c.segment.segment_id,
                "uri": c.segment.uri,
                "locator": c.segment.locator.to_dict(),
            }
            for c in answer.citations
        ],
        "route": answer.route.to_dict() if answer.route else {},
        "timings": dict(answer.timings),
        "conflicts": list(answer.conflicts),
    }
