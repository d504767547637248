"""Turn route probabilities into the router's choice, and use it as a prior over every corpus.

`select_routes` names the likely routes (one when the router is sure, several when not). The RAG pipeline
searches every granularity the index holds anyway (`share_candidates` keeps a share of each for the
reranker) and reports what each route contributed (`SearchedRoutes`): the router weighs evidence and picks
the citation granularity, it never hides a corpus that holds the answer.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from core.types import Granularity, Hit, Route, RouteDecision

RETRIEVAL_ROUTES = tuple(r for r in Route if r is not Route.NONE)


def select_routes(
    probabilities: Mapping[Route, float],
    *,
    router: str,
    confident: float = 0.6,
    margin: float = 0.25,
    cumulative: float = 0.9,
    max_routes: int = 3,
) -> RouteDecision:
    """Pick the routes to search from probabilities.

    The top route alone when its probability is at least `confident` and it leads the runner-up by `margin`;
    otherwise routes in probability order until their mass reaches `cumulative` (at most `max_routes`), so
    the reranker decides between the candidates (UniversalRAG's fallback for ambiguous queries).

    Args:
        probabilities: Probability per route (need not cover every route).
        router: Name recorded in the decision.
        confident: Top probability needed to search one route only.
        margin: Lead over the second route needed to search one route only.
        cumulative: Probability mass to cover when unsure.
        max_routes: Most routes searched when unsure.
    """
    ranked = sorted(probabilities.items(), key=lambda kv: kv[1], reverse=True)
    if not ranked:
        return RouteDecision(probabilities={}, selected=RETRIEVAL_ROUTES, router=router)
    top_p = ranked[0][1]
    second_p = ranked[1][1] if len(ranked) > 1 else 0.0
    selected = [ranked[0][0]]
    if top_p < confident or top_p - second_p < margin:
        mass = top_p
        for route, p in ranked[1:max_routes]:
            if mass >= cumulative - 1e-9:  # float sums like 0.48 + 0.42 fall just short
                break
            selected.append(route)
            mass += p
    return RouteDecision(probabilities=dict(ranked), selected=tuple(selected), router=router)


ROUTE_OF: dict[Granularity, Route] = {
    Granularity.PARAGRAPH: Route.PARAGRAPH,
    Granularity.DOCUMENT: Route.DOCUMENT,
    Granularity.IMAGE: Route.IMAGE,
    Granularity.CLIP: Route.CLIP,
    Granularity.FRAME: Route.CLIP,
    Granularity.VIDEO: Route.VIDEO,
}
"""The route (UniversalRAG corpus) each segment granularity belongs to."""


def granularity_prior(probabilities: Mapping[Route, float]) -> dict[Granularity, float]:
    """The route probabilities carried over to the granularities each route covers."""
    return {g: float(probabilities.get(route, 0.0)) for g, route in ROUTE_OF.items()}


@dataclass(frozen=True)
class SearchedRoutes(RouteDecision):
    """A route decision used as a prior, with what was searched and found per route.

    `selected` stays the router's choice (the likely corpora); `searched` says, per route, which
    granularities were searched, how many candidates reached the reranker and how many became evidence.
    `mode` is "prior" (every corpus searched, the route weighs the evidence) or "none" (no retrieval).
    """

    searched: dict[str, dict[str, Any]] = field(default_factory=dict)
    mode: str = "prior"

    def to_dict(self) -> dict[str, Any]:
        return {**super().to_dict(), "mode": self.mode, "searched": self.searched}


def share_candidates(hits: Sequence[Hit], k: int, share: int) -> list[Hit]:
    """The `k` best hits plus the `share` best of every granularity that did not make the top `k`.

    A corpus the router thinks unlikely still reaches the reranker (a spoken answer among many notes), so the
    reranker, not the router, decides between granularities.
    """
    top = list(hits[:k])
    counts = Counter(h.segment.granularity for h in top)
    for hit in hits[k:]:
        g = hit.segment.granularity
        if counts[g] < share:
            top.append(hit)
            counts[g] += 1
    return top


def searched_summary(
    decision: RouteDecision, held: Sequence[Granularity], candidates: Sequence[Hit], evidence: Sequence[Hit]
) -> SearchedRoutes:
    """`decision` with, per retrieval route, the granularities searched and the candidates and evidence found."""
    searched: dict[str, dict[str, Any]] = {}
    for route in RETRIEVAL_ROUTES:
        grans = [g for g in held if ROUTE_OF[g] is route]
        searched[route.value] = {
            "granularities": [g.value for g in grans],
            "candidates": sum(ROUTE_OF[h.segment.granularity] is route for h in candidates),
            "evidence": sum(ROUTE_OF[h.segment.granularity] is route for h in evidence),
        }
    return SearchedRoutes(
        probabilities=decision.probabilities,
        selected=decision.selected,
        router=decision.router,
        searched=searched,
    )
