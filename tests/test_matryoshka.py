"""Matryoshka first stage (truncated `text_mrl` prefetch, full `text` rescoring) on both Qdrant backends.

Real Cranfield abstracts, the real MiniLM encoder, the real engines. MiniLM is not MRL-trained, so these
tests check the mechanics (stored vectors, one-query rescoring, exact full-dim scores), not its quality;
benchmarks/bench_matryoshka.py measures the quality.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from core.errors import ConfigError
from core.types import SearchFilter
from evaluation.beir import corpus_segments, load_beir
from retrieval.stores.matryoshka_store import MatryoshkaStore, truncate, with_matryoshka
from tests.conftest import DATA

pytestmark = pytest.mark.integration

DIM = 96


@pytest.fixture(scope="module")
def cranfield(text_encoder):
    """150 Cranfield abstracts as records with MiniLM vectors, and 5 real queries."""
    from app.container import Container
    from core.settings import Settings

    corpus, queries, _ = load_beir(DATA / "beir" / "cranfield")
    items = corpus_segments(corpus[:150])
    container = Container(Settings(clip_model="", ocr=False))
    container.__dict__["text_encoder"] = text_encoder
    records = container.indexer.encode(items)
    return records, list(queries.values())[:5]


def _edge(tmp_path: Path):
    from retrieval.stores.qdrant_edge_store import QdrantEdgeStore

    return QdrantEdgeStore(tmp_path / "edge")


def _client(tmp_path: Path):
    from retrieval.stores.qdrant_client_store import QdrantClientStore

    return QdrantClientStore(collection="mrl")  # local mode, in memory


@pytest.mark.eval_data  # 150 Cranfield abstracts: more than the 100 first-stage candidates
@pytest.mark.parametrize("make_store", [_edge, _client], ids=["edge", "qdrant-client"])
def test_truncated_prefetch_rescored_by_full_vectors(make_store, tmp_path, cranfield, text_encoder) -> None:
    records, queries = cranfield
    store = MatryoshkaStore(make_store(tmp_path), DIM)
    store.ensure({"text": 384})
    store.upsert(records)
    try:
        assert store.count() == len(records)
        for query in queries:
            q = text_encoder.encode_queries([query])[0]
            full = store.store.search("text", q, None, 10)
            # Everything fits in the first stage: two-stage == exact full-dimension search.
            both = store.store.search_rescored("text_mrl", truncate(q, DIM), "text", q, k=10, candidates=400)
            assert [h.segment.segment_id for h in both] == [h.segment.segment_id for h in full]
            hits = store.search("text", q, None, 10)  # default: 100 candidates of 150
            assert len(hits) == 10 and hits[0].space == "text"
            vectors = {r.segment.segment_id: r.dense["text"] for r in records}
            for hit in hits:  # scores are full-dimension cosines, not truncated ones
                assert hit.score == pytest.approx(float(vectors[hit.segment.segment_id] @ q), abs=1e-4)
            # The retriever's fast path (ids and scores only) takes the same two stages.
            scored = store.search_scores([("text", q)], None, 10)[0]
            assert [sid for sid, _ in scored] == [h.segment.segment_id for h in hits]
            assert [score for _, score in scored] == pytest.approx([h.score for h in hits], abs=1e-4)
            first = store.store.search("text_mrl", truncate(q, DIM), None, 5)
            assert len(first) == 5, "truncated vectors were not stored"
        flt = SearchFilter(source_ids=(records[0].segment.source_id,))
        assert [h.segment.segment_id for h in store.search("text", q, flt, 10)] == [
            records[0].segment.segment_id
        ]
    finally:
        store.close()


def test_truncate_renormalises_and_settings_validate() -> None:
    v = np.arange(1, 9, dtype=np.float32).reshape(2, 4)
    t = truncate(v, 2)
    assert t.shape == (2, 2) and np.allclose(np.linalg.norm(t, axis=1), 1.0)
    assert np.allclose(t[0], np.array([1, 2]) / np.sqrt(5))
    with pytest.raises(ConfigError):
        MatryoshkaStore(object(), 0)
    with pytest.raises(ConfigError):
        MatryoshkaStore(object(), 384).ensure({"text": 384})
    sentinel = object()
    assert with_matryoshka(sentinel, 0) is sentinel


def test_container_wires_mrl_dim_into_indexing_and_search(make_container) -> None:
    from tests.conftest import SAMPLES

    c = make_container(mrl_dim=64, ocr=False, clip_model="")
    report = c.indexer.index_paths([SAMPLES / "field-notes.md"])
    assert report.indexed == 1 and isinstance(c.store, MatryoshkaStore)
    assert len(c.store.store.search("text_mrl", np.ones(64, dtype=np.float32) / 8.0, None, 3)) > 0
    via_wrapper = c.retriever.ranked_lists("tide pools", 5)["text"]
    direct = c.store.store.search("text", c.text_encoder.encode_queries(["tide pools"])[0], None, 5)
    assert via_wrapper and [h.segment.segment_id for h in via_wrapper] == [
        h.segment.segment_id for h in direct
    ]
    assert [h.score for h in via_wrapper] == pytest.approx([h.score for h in direct], abs=1e-5)
