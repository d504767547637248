"""`mmrag eval router`: the configured router's top route against labelled questions.

Accuracy, macro-F1 and per-route precision/recall/F1 (the same `metrics` the router training's
cross-validation reports), how often the routes searched cover the label, and how many routes are searched.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from core.protocols import BatchRouter, Router
from core.types import RouteDecision
from retrieval.routing.router_training import metrics


@dataclass(frozen=True)
class RouterResult:
    """How well a router's top route matches the labels."""

    accuracy: float
    macro_f1: float
    per_route: dict[str, dict[str, float]]  # route -> precision, recall, f1, support
    n: int
    router: str
    selected_recall: float  # share of questions whose label is among the routes searched
    mean_routes_searched: float

    def to_json(self) -> dict[str, Any]:
        """The JSON of `mmrag eval router --json`."""
        return {
            "accuracy": self.accuracy,
            "macro_f1": self.macro_f1,
            "per_route": {route: dict(scores) for route, scores in self.per_route.items()},
            "n": self.n,
            "router": self.router,
            "selected_recall": self.selected_recall,
            "mean_routes_searched": self.mean_routes_searched,
        }


def route_all(router: Router, questions: Sequence[str]) -> list[RouteDecision]:
    """Every question's decision; a `BatchRouter` routes them in one encoder batch."""
    if isinstance(router, BatchRouter):
        return router.route_many(questions)
    return [router.route(q) for q in questions]


def score_decisions(labels: Sequence[str], decisions: Sequence[RouteDecision]) -> RouterResult:
    """Compare each decision's most probable route with its label.

    Raises:
        ValueError: no labels, or not as many decisions as labels.
    """
    if not labels or len(labels) != len(decisions):
        raise ValueError(f"{len(labels)} labels for {len(decisions)} decisions")
    top = [max(d.probabilities.items(), key=lambda kv: kv[1])[0].value for d in decisions]
    scores = metrics(labels, top)
    covered = sum(label in {r.value for r in d.selected} for label, d in zip(labels, decisions, strict=True))
    return RouterResult(
        accuracy=scores["accuracy"],
        macro_f1=scores["macro_f1"],
        per_route=scores["per_route"],
        n=len(labels),
        router=decisions[0].router,
        selected_recall=round(covered / len(labels), 4),
        mean_routes_searched=round(sum(len(d.selected) for d in decisions) / len(decisions), 3),
    )


def evaluate_router(router: Router, questions: Sequence[str], labels: Sequence[str]) -> RouterResult:
    """Route every question (as `load_labelled` reads them) and score the decisions against the labels."""
    return score_decisions(labels, route_all(router, questions))
