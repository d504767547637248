"""The default router: a small trained classifier over the text encoder's query embedding.

After UniversalRAG (Yeo et al., 2025), which routes each query to the corpus and granularity that answers it
(no retrieval, paragraph, document, image, clip, video) because one unified space favours the query's own
modality. The weights (`router_weights.npz`, a few hundred kB) ship in the repository with a provenance file
beside them; `mmrag router train FILE.jsonl` retrains on a user's own labelled questions.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

from core.protocols import TextEncoder
from core.types import Route, RouteDecision
from retrieval.routing.route_selection import select_routes
from retrieval.routing.router_model import RouterWeights

log = logging.getLogger(__name__)

DEFAULT_WEIGHTS = Path(__file__).with_name("router_weights.npz")


class TrainedRouter:
    """Routes queries with `RouterWeights` over the query embedding and surface features.

    Args:
        text_encoder: The `text` space encoder (the weights must have been trained on its embeddings).
        weights_path: A `.npz` written by `mmrag router train`; default: the shipped weights.
        confident: Top probability above which only one route is searched.
        margin: Lead over the runner-up needed to search one route only.
        cumulative: Probability mass covered by the selected routes when unsure.
        max_routes: Most routes searched when unsure.
    """

    name = "trained"

    def __init__(
        self,
        text_encoder: TextEncoder,
        weights_path: Path | None = None,
        *,
        confident: float = 0.6,
        margin: float = 0.25,
        cumulative: float = 0.9,
        max_routes: int = 3,
    ) -> None:
        self.text_encoder = text_encoder
        self.weights_path = Path(weights_path) if weights_path else DEFAULT_WEIGHTS
        self.confident = confident
        self.margin = margin
        self.cumulative = cumulative
        self.max_routes = max_routes
        self._weights: RouterWeights | None = None

    @property
    def weights(self) -> RouterWeights:
        """The weights, read on first use."""
        if self._weights is None:
            self._weights = RouterWeights.load(self.weights_path)
            log.info("router weights %s (%s)", self.weights_path, ", ".join(self._weights.labels))
        return self._weights

    def route(self, query: str) -> RouteDecision:
        """Route one query."""
        return self.route_many([query])[0]

    def route_many(self, queries: Sequence[str]) -> list[RouteDecision]:
        """Route a batch of queries (one encoder call)."""
        embeddings = self.text_encoder.encode_queries(list(queries))
        probs = self.weights.predict_proba(queries, embeddings)
        labels = [Route(label) for label in self.weights.labels]
        return [
            select_routes(
                {label: float(p) for label, p in zip(labels, row, strict=True)},
                router=self.name,
                confident=self.confident,
                margin=self.margin,
                cumulative=self.cumulative,
                max_routes=self.max_routes,
            )
            for row in probs
        ]
