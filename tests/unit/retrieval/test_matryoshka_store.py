"""MatryoshkaStore over qdrant-client's in-memory store: the rescoring protocol, no attribute forwarding."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from core.protocols import Record, RescoringStore
from retrieval.matryoshka_store import MatryoshkaStore, truncate
from retrieval.qdrant_client_store import QdrantClientStore
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
