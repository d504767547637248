"""The router contract (tests/unit/contracts/roles.py) on the trained router, with its shipped weights.

Real: `TrainedRouter`, its shipped weights (`retrieval/routing/router_weights.npz`) and route selection. FAKE: the
query embedding (`HashingTextEncoder` at the weights' dimension instead of MiniLM), so the decisions are
not the product's; the contract is about their shape. The trained router on the real MiniLM runs the same
contract in the integration tier (tests/test_model_contracts.py).
"""

from __future__ import annotations

import pytest

from core.protocols import BatchRouter, Router
from retrieval.routing.router_model import RouterWeights
from retrieval.routing.trained_router import DEFAULT_WEIGHTS, TrainedRouter
from tests.unit.contracts.roles import QUESTION, RouterContract
from tests.unit.fakes import HashingTextEncoder

pytestmark = pytest.mark.unit


@pytest.fixture(scope="module")
def weights() -> RouterWeights:
    return RouterWeights.load(DEFAULT_WEIGHTS)


class TestTrainedRouterOnAFakeEmbedding(RouterContract):
    @pytest.fixture
    def router(self, weights: RouterWeights) -> Router:
        return TrainedRouter(HashingTextEncoder(int(weights.embedding_dim)))

    def test_routes_a_batch_like_one_by_one(self, router: Router) -> None:
        assert isinstance(router, BatchRouter)
        queries = [QUESTION, "a photo of a red bicycle", "how do I tie a bowline knot"]
        batch, single = router.route_many(queries), [router.route(q) for q in queries]
        assert [d.selected for d in batch] == [d.selected for d in single]
        for b, s in zip(batch, single, strict=True):  # one matrix product vs three: float noise only
            assert b.probabilities == pytest.approx(s.probabilities, abs=1e-5)

    def test_probabilities_cover_every_label_and_sum_to_one(
        self, router: Router, weights: RouterWeights
    ) -> None:
        decision = router.route(QUESTION)
        assert sorted(r.value for r in decision.probabilities) == sorted(weights.labels)
        assert sum(decision.probabilities.values()) == pytest.approx(1.0, abs=1e-4)
        assert decision.router == "trained"
