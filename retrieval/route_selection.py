"""Turn route probabilities into the routes to search: one when the router is sure, several when not."""

from __future__ import annotations

from collections.abc import Mapping

from core.types import Route, RouteDecision

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
