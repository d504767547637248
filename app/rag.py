"""The RAG pipeline: route → search every corpus → rerank with the route as a prior → select → generate.

Routes map to segment granularities (UniversalRAG's corpora): paragraph → paragraph, document → document,
image → image, clip → clip + frame, video → video, no → no retrieval. The route is a prior, not a gate: a
person asking about their own files does not know whether the answer was said, shown or written, so every
granularity the index holds is searched (the best `candidates` plus a `share` of each granularity reach the
reranker), candidates are compared on the reranker's one scale, and the route probability only breaks ties
(`rerank.route_prior`) and picks the citation's granularity (a clip moment rather than the whole video).
`no` skips retrieval when the generator can answer without evidence. The answer's `route` reports per route
what was searched, found and used (`searched`), and citations are numbered 1.. in the order used.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator, Sequence
from dataclasses import replace
from typing import Any

from core.protocols import Generator, Reranker, Router, StreamingGenerator
from core.settings import Settings
from core.types import Answer, Granularity, Hit, Route, RouteDecision, SearchFilter
from generation.citations import StreamRenumber, renumber
from generation.conflicts import (
    Conflict,
    conflict_note,
    detect_conflicts,
    follow_renumbering,
    with_conflicts,
)
from generation.extractive_generator import ExtractiveGenerator
from rerank.route_prior import (
    DEFAULT_PRIOR_WEIGHT,
    apply_route_prior,
    collapse_duplicates,
    merge_contained,
)
from rerank.selection import select_evidence
from retrieval.retriever import EncodedQuery, Retriever
from retrieval.routing.route_selection import granularity_prior, searched_summary, share_candidates

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
        candidates: How many fused hits go to the reranker (plus `share` of each other granularity).
        pool: How many fused hits the search returns, across every granularity.
        share: Hits of each granularity that reach the reranker even outside the top `candidates`.
        prior_weight: Weight of the route probability added to the rerank score (a tie-break).
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
        pool: int = 100,
        share: int = 3,
        prior_weight: float = DEFAULT_PRIOR_WEIGHT,
    ) -> None:
        self.retriever = retriever
        self.router = router
        self.reranker = reranker
        self.generator = generator
        self.settings = settings
        self.candidates = candidates
        self.pool = pool
        self.share = share
        self.prior_weight = prior_weight
        if isinstance(generator, ExtractiveGenerator) and generator.text_encoder is None:
            # The extractive generator matches meaning with the text encoder when it has one; one built
            # without it (a script, a test) borrows the retriever's, already loaded.
            generator.text_encoder = retriever.text_encoder

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
        answer = renumber(answer)  # citations [1], [2], ... in the order the text uses them
        answer = follow_renumbering(answer)  # the conflicts' [n] too
        return replace(answer, route=decision, timings={k: round(v, 4) for k, v in timings.items()})

    def _prompt_question(self, question: str, conflicts: list[Conflict]) -> str:
        """Prompted generators read the conflict in their prompt; the extractive one matches the bare question."""
        return question if self.generator.needs_evidence else conflict_note(question, conflicts)

    def evidence(self, question: str, timings: dict[str, float]) -> tuple[RouteDecision, list[Hit]]:
        """Route, search, rerank and select; stage seconds are added to `timings`."""
        t = time.perf_counter()
        decision = self.router.route(question)
        timings["route"] = time.perf_counter() - t
        if set(decision.selected) <= {Route.NONE} and not self.generator.needs_evidence:
            # Nothing to look up, and a model that knows things answers: no retrieval.
            return searched_summary(decision, (), (), ()), []
        held, candidates, reranked = self.rank(question, decision, timings)
        selected = select_evidence(
            reranked,
            threshold=self.settings.rerank_threshold,
            min_k=self.settings.rerank_min_k,
            max_k=self.settings.rerank_max_k,
        )
        selected = merge_contained(selected)  # a document next to its own paragraph: the paragraph
        return searched_summary(decision, held, candidates, selected), selected

    def rank(
        self, question: str, decision: RouteDecision, timings: dict[str, float] | None = None
    ) -> tuple[tuple[Granularity, ...], list[Hit], list[Hit]]:
        """Search every granularity and rerank with the route as a prior.

        The question is encoded once (`Retriever.encode`) for every search here; the router, reranker and
        generator get the same dense vector from the container's query-caching encoder.

        Returns:
            (granularities the hits hold, the candidates reranked, the reranked hits best first).
        """
        timings = {} if timings is None else timings
        t = time.perf_counter()
        encoded = self.retriever.encode(question)
        hits = list(self.retriever.search(encoded, k=self.pool))
        hits += self._missing_granularities(encoded, hits)
        held = tuple(g for g in Granularity if any(h.segment.granularity is g for h in hits))
        candidates = share_candidates(hits, self.candidates, self.share)
        timings["retrieve"] = time.perf_counter() - t
        t = time.perf_counter()
        reranked = self.reranker.rerank(question, candidates)
        reranked = collapse_duplicates(
            apply_route_prior(reranked, granularity_prior(decision.probabilities), self.prior_weight)
        )
        timings["rerank"] = time.perf_counter() - t
        return held, candidates, reranked

    def search(self, question: str, k: int) -> list[Hit]:
        """The `k` best hits ranked as `ask` ranks its evidence (every granularity, the route as a prior)."""
        return self.rank(question, self.router.route(question))[2][:k]

    def _missing_granularities(self, encoded: EncodedQuery, hits: Sequence[Hit]) -> list[Hit]:
        """The best `share` hits of each granularity the index holds but the pool lacks (large indexes)."""
        found = {h.segment.granularity for h in hits}
        if len(hits) < self.pool:
            return []  # the search returned everything that matched: nothing is missing
        out: list[Hit] = []
        for g in Granularity:
            flt = SearchFilter(granularities=(g,))
            if g not in found and self.retriever.store.count(flt) > 0:
                out += self.retriever.search(encoded, k=self.share, flt=flt)
        return out

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
        if isinstance(
            self.generator, StreamingGenerator
        ):  # tokens as the model writes them, `[n]` numbered as `done` numbers them
            note = " ".join(c.message() for c in conflicts)  # `with_conflicts` puts it before the answer
            numbering = StreamRenumber(len(evidence), seed=note)
            if note:
                yield {"event": "token", "data": numbering.rewrite(note) + " "}
            pieces = []
            for piece in self.generator.stream(self._prompt_question(question, conflicts), evidence):
                pieces.append(piece)
                if shown := numbering.feed(piece):
                    yield {"event": "token", "data": shown}
            if rest := numbering.flush():
                yield {"event": "token", "data": rest}
            answer = self.generator.finish("".join(pieces), evidence)
        else:
            answer = self.generator.generate(self._prompt_question(question, conflicts), evidence)
        answer = with_conflicts(answer, conflicts, evidence)
        timings["generate"] = time.perf_counter() - t
        timings["total"] = time.perf_counter() - start
        answer = replace(
            follow_renumbering(renumber(answer)),
            route=decision,
            timings={k: round(v, 4) for k, v in timings.items()},
        )
        if not isinstance(
            self.generator, StreamingGenerator
        ):  # a whole answer at once: stream its final text, word by word
            for i, word in enumerate(answer.text.split(" ")):
                yield {"event": "token", "data": word if i == 0 else " " + word}
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
