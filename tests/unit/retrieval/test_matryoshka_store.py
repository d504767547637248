"""MatryoshkaStore over qdrant-client's in-memory store: the rescoring protocol, no attribute forwarding."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import replace

import numpy as np
import pytest

from core.protocols import Record, RescoringStore
from core.types import SearchFilter
from retrieval.retriever import ScoreSearchStore
from retrieval.stores.matryoshka_store import MatryoshkaStore, truncate
from retrieval.stores.qdrant_client_store import QdrantClientStore
from tests.fixtures.rag import FACTS, fact_hit
from tests.unit.fakes import HashingTextEncoder

pytestmark = pytest.mark.unit

DIM, HEAD = 64, 16


@pytest.fixture
def store() -> Iterator[MatryoshkaStore]:
    wrapped = MatryoshkaStore(QdrantClientStore("unit"), dim=HEAD)  # no url, no path: in memory
    wrapped.ensure({"text": DIM})
    encoder = HashingTextEncoder(DIM)
    vectors = encoder.encode_documents(list(FACTS.values()))
    wrapped.upsert(
        [Record(fact_hit(key).segment, dense={"text": v}) for key, v in zip(FACTS, vectors, strict=True)]
    )
    yield wrapped
    wrapped.close()


def test_it_is_a_rescoring_store_without_forwarding(store: MatryoshkaStore) -> None:
    assert isinstance(store, RescoringStore)
    assert not hasattr(MatryoshkaStore, "__getattr__")  # every method is declared, the type checker sees them
    assert store.count() == len(FACTS)
    assert {s.segment_id for s in store.scroll()} == {fact_hit(k).segment.segment_id for k in FACTS}


def test_text_searches_go_truncated_first_then_rescored(store: MatryoshkaStore) -> None:
    query = HashingTextEncoder(DIM).encode_queries(["glass frogs translucent skin"])[0]
    hits = store.search("text", query, k=2)
    assert hits[0].segment.uri == "frogs.txt"
    full = store.store.search("text", query, k=2)  # one stage, full vectors: same order and scores
    assert [h.segment.segment_id for h in hits] == [h.segment.segment_id for h in full]
    assert hits[0].score == pytest.approx(full[0].score, abs=1e-5)


def test_updating_full_vectors_updates_their_truncated_copies(store: MatryoshkaStore) -> None:
    encoder = HashingTextEncoder(DIM)
    tea = fact_hit("tea").segment.segment_id
    new = encoder.encode_documents(["volcanic basalt hexagonal prisms lava"])[0]
    store.update_vectors("text", {tea: new})
    first_stage = store.store.search("text_mrl", truncate(new, HEAD), k=1)
    assert first_stage[0].segment.segment_id == tea
    assert store.search("text", new, k=1)[0].segment.segment_id == tea


def test_search_scores_takes_the_same_two_stages_as_search() -> None:
    """300 random points, 100 first-stage candidates: the truncated pass decides what the full vectors rescore,
    and `search_scores` (ids and scores, batched with other spaces) answers exactly as `search` does."""
    rng = np.random.default_rng(3)
    vectors = rng.standard_normal((300, DIM)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    store = MatryoshkaStore(QdrantClientStore("unit-mrl"), dim=HEAD)
    store.ensure({"text": DIM, "image": 8})
    template = fact_hit("tea").segment
    segments = [
        replace(template, segment_id=str(uuid.UUID(int=i + 1)), source_id=f"s{i % 3}") for i in range(300)
    ]
    store.upsert([Record(seg, dense={"text": v}) for seg, v in zip(segments, vectors, strict=True)])
    try:
        assert isinstance(store, ScoreSearchStore)
        for query in rng.standard_normal((5, DIM)).astype(np.float32):
            query /= np.linalg.norm(query)
            both = store.search_scores([("image", np.ones(8, np.float32)), ("text", query)], None, 10)
            assert both[0] == []  # no point has an image vector
            hits = store.search("text", query, k=10)
            assert [sid for sid, _ in both[1]] == [h.segment.segment_id for h in hits]
            assert [s for _, s in both[1]] == pytest.approx([h.score for h in hits], abs=1e-5)
            first = {
                sid
                for sid, _ in store.store.search_scores([("text_mrl", truncate(query, HEAD))], None, 100)[0]
            }
            assert {sid for sid, _ in both[1]} <= first  # only first-stage candidates are rescored
            by_id = dict(zip((s.segment_id for s in segments), vectors, strict=True))
            for sid, score in both[1]:  # full-dimension cosines, not truncated ones
                assert score == pytest.approx(float(by_id[sid] @ query), abs=1e-5)
        flt = SearchFilter(source_ids=("s1",))
        filtered = store.search_scores([("text", query)], flt, 5)[0]
        sources = {s.segment_id: s.source_id for s in segments}
        assert len(filtered) == 5 and {sources[sid] for sid, _ in filtered} == {"s1"}
    finally:
        store.close()
