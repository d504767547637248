"""Calibrated relevance: the logistic model, the packaged coefficients, hits and the search JSON, and the
retriever's payload-free search path against the plain one on the real engine and the packaged MiniLM."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from core.types import LEXICAL_BONUS, Granularity, Hit, Locator, Modality, Segment, segment_id
from retrieval.relevance import (
    CALIBRATION_FILE,
    RelevanceCalibration,
    default_calibration,
    no_good_match,
    with_relevance,
)

CAL = RelevanceCalibration(intercept=-5.0, dense=8.0, lexical=1.0, threshold=0.4)


def _hit(doc: str, scores: dict[str, float]) -> Hit:
    seg = Segment(
        segment_id=doc,
        source_id="s",
        uri=f"file:{doc}",
        modality=Modality.TEXT,
        granularity=Granularity.PARAGRAPH,
        text=doc,
    )
    return Hit(segment=seg, score=1.0, space="fused", scores=scores)


@pytest.mark.unit
def test_relevance_is_the_logistic_of_cosine_and_bm25_per_term() -> None:
    assert CAL.relevance(0.625, 0.0, 1) == pytest.approx(0.5)  # -5 + 8 * 0.625 = 0
    assert CAL.relevance(0.5, 8.0, 4) == pytest.approx(1 / (1 + 2.718281828459045**-1.0))
    assert CAL.relevance(0.9, 0.0, 1) > CAL.relevance(0.3, 0.0, 1)
    assert 0.0 <= CAL.relevance(-1.0, 0.0, 1) < 0.01 and CAL.relevance(1.0, 100.0, 1) <= 1.0


@pytest.mark.unit
def test_missing_scores_use_the_dense_floor_and_zero_bm25() -> None:
    hits = [_hit("a", {"text": 0.7, "lexical": 6.0}), _hit("b", {"lexical": 6.0}), _hit("c", {"image": 0.3})]
    rated = with_relevance(hits, dense_floor=0.2, query_terms=3, calibration=CAL)
    assert rated[0].relevance == pytest.approx(CAL.relevance(0.7, 6.0, 3), abs=1e-6)
    assert rated[1].relevance == pytest.approx(CAL.relevance(0.2, 6.0, 3), abs=1e-6)
    assert rated[2].relevance is None  # an image-only hit is not calibrated
    assert rated[0].score == 1.0  # fused score and rank kept, raw scores kept, the lexical bonus added
    assert rated[0].scores == {**hits[0].scores, LEXICAL_BONUS: pytest.approx(CAL.lexical_bonus(6.0, 3))}
    assert LEXICAL_BONUS not in rated[2].scores  # nothing lexical, no bonus


@pytest.mark.unit
def test_lexical_bonus_is_bm25_at_the_calibrations_exchange_rate() -> None:
    # relevance(cosine, bm25) == relevance(cosine + bonus, 0): the bonus is BM25 expressed as cosine
    bonus = CAL.lexical_bonus(8.0, 4)
    assert CAL.relevance(0.5, 8.0, 4) == pytest.approx(CAL.relevance(0.5 + bonus, 0.0, 4))
    assert CAL.lexical_bonus(0.0, 4) == 0.0 and CAL.lexical_bonus(8.0, 2) == pytest.approx(2 * bonus)


@pytest.mark.unit
def test_no_good_match_uses_the_threshold() -> None:
    weak = with_relevance([_hit("a", {"text": 0.3})], 0.3, 1, CAL)
    strong = with_relevance([_hit("a", {"text": 0.9})], 0.3, 1, CAL)
    assert no_good_match(weak, threshold=0.4) and not no_good_match(strong, threshold=0.4)
    assert not no_good_match([_hit("c", {"image": 0.3})], threshold=0.4)  # nothing rated: no signal


@pytest.mark.unit
def test_packaged_calibration_loads_and_is_monotone() -> None:
    data = json.loads(CALIBRATION_FILE.read_text())
    cal = default_calibration()
    assert cal.intercept == data["coefficients"]["intercept"]
    assert cal.dense > 0 and cal.lexical > 0  # more similar = more relevant
    assert 0.0 < cal.threshold < 1.0


@pytest.mark.unit
def test_hit_json_carries_relevance_only_when_rated() -> None:
    hit = _hit("a", {"text": 0.5})
    assert "relevance" not in hit.to_dict()
    rated = with_relevance([hit], 0.5, 1, CAL)[0]
    assert rated.to_dict()["relevance"] == pytest.approx(CAL.relevance(0.5, 0.0, 1), abs=1e-4)


NOTES = {
    "espresso": "Grind coffee fine for espresso; a 25 second shot from 18 grams of coffee is the usual recipe.",
    "ferry": "The ferry to the island leaves the harbour at 7:15 every morning and returns at 18:40.",
    "tides": "Tide pools hold anemones, crabs and starfish that survive between the high and low tides.",
    "bread": "Sourdough bread needs a lively starter, a long cold proof and a very hot oven with steam.",
    "bikes": "Check bicycle tyre pressure weekly; road tyres want about 6 bar, mountain bikes much less.",
}


@pytest.fixture(scope="module")
def indexed(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    from app.container import Container
    from core.protocols import Extracted
    from core.settings import Settings

    home = tmp_path_factory.mktemp("relevance-home")
    container = Container(Settings(home=home, qdrant_url=None, clip_model="", ocr=False))  # type: ignore[call-arg]
    items = []
    for name, text in NOTES.items():
        source = f"src-{name}"
        loc = Locator(index=0)
        seg = Segment(
            segment_id=segment_id(source, Granularity.PARAGRAPH, loc),
            source_id=source,
            uri=f"{name}.txt",
            modality=Modality.TEXT,
            granularity=Granularity.PARAGRAPH,
            text=text,
            locator=loc,
        )
        items.append(Extracted(segment=seg))
    container.indexer.index_extracted(items)
    yield container
    container.close()


@pytest.mark.integration
def test_payload_free_search_equals_the_plain_path(indexed) -> None:  # type: ignore[no-untyped-def]
    """The batched ids-only search (payloads fetched for the returned hits) ranks and rates like
    `ranked_lists` + `fuse`, with the same query encoding reused."""
    retriever = indexed.retriever
    encoded = retriever.encode("when does the ferry leave the harbour")
    feedback, retriever.feedback_docs = retriever.feedback_docs, 0  # the plain path has no feedback
    try:
        fast = retriever.search(encoded, k=3)
    finally:
        retriever.feedback_docs = feedback
    plain = retriever.fuse(retriever.ranked_lists(encoded, retriever.candidates), 3, terms=encoded.terms)
    assert [h.segment.segment_id for h in fast] == [h.segment.segment_id for h in plain]
    assert [h.score for h in fast] == pytest.approx([h.score for h in plain])
    assert [h.relevance for h in fast] == pytest.approx([h.relevance for h in plain])
    assert fast[0].segment.uri == "ferry.txt" and fast[0].segment.text == NOTES["ferry"]


@pytest.mark.integration
def test_dense_feedback_moves_the_query_towards_the_top_documents(indexed) -> None:  # type: ignore[no-untyped-def]
    """Rocchio feedback reads the stored text vectors of the first top hits and searches again; the
    relevance still comes from the query's own cosine."""
    from retrieval.retriever import Retriever

    r = indexed.retriever
    store = indexed.store
    ids = [h.segment.segment_id for h in r.search("tide pools with crabs", k=2)]
    stored = store.vectors("text", ids)
    assert set(stored) == set(ids) and all(v.shape == (384,) for v in stored.values())
    expected = r.text_encoder.encode_documents([NOTES["tides"]])[0]
    assert float(stored[ids[0]] @ expected) > 0.999
    kwargs = dict(store=store, text_encoder=r.text_encoder, image_encoder=None, lexical=r.lexical)
    plain = Retriever(**kwargs, feedback_docs=0).search("tide pools with crabs", k=5)
    moved = Retriever(**kwargs, feedback_docs=1, feedback_beta=1.0).search("tide pools with crabs", k=5)
    assert moved[0].segment.uri == "tides.txt"
    assert [h.relevance for h in moved][:1] == pytest.approx([h.relevance for h in plain][:1])
    assert [h.score for h in moved] != pytest.approx([h.score for h in plain])  # the text list changed


@pytest.mark.integration
def test_relevance_separates_a_matching_question_from_an_unrelated_one(indexed) -> None:  # type: ignore[no-untyped-def]
    retriever = indexed.retriever
    good = retriever.search("how fine should I grind coffee for espresso", k=3)
    bad = retriever.search("quarterly tax filing deadline for small businesses", k=3)
    assert good[0].segment.uri == "espresso.txt"
    assert good[0].relevance is not None and bad[0].relevance is not None
    assert good[0].relevance > default_calibration().threshold > bad[0].relevance
    assert not no_good_match(good) and no_good_match(bad)
    assert good[0].to_dict()["relevance"] == pytest.approx(good[0].relevance, abs=1e-4)


@pytest.mark.unit
def test_calibration_file_ships_inside_the_package() -> None:
    assert CALIBRATION_FILE.parent == Path(__file__).resolve().parents[1] / "retrieval"


@pytest.mark.integration
def test_both_backends_search_ids_and_read_vectors_alike(tmp_path: Path) -> None:
    """`search_scores` (several spaces in one call, no payloads) and `vectors` agree between the embedded
    engine and qdrant-client, so the retriever's fast path and feedback work on either backend."""
    import numpy as np

    from core.protocols import Record
    from retrieval.bm25_lexical_encoder import BM25LexicalEncoder
    from retrieval.stores.qdrant_client_store import QdrantClientStore
    from retrieval.stores.qdrant_edge_store import QdrantEdgeStore

    rng = np.random.default_rng(3)
    lexical = BM25LexicalEncoder()
    records = []
    for name, text in NOTES.items():
        v = rng.normal(size=8).astype(np.float32)
        loc = Locator(index=0)
        seg = Segment(
            segment_id=segment_id(f"src-{name}", Granularity.PARAGRAPH, loc),
            source_id=f"src-{name}",
            uri=f"{name}.txt",
            modality=Modality.TEXT,
            granularity=Granularity.PARAGRAPH,
            text=text,
            locator=loc,
        )
        sparse = lexical.encode_documents([text])[0]
        records.append(Record(segment=seg, dense={"text": v / np.linalg.norm(v)}, sparse=sparse))
    ids = [r.segment.segment_id for r in records]
    edge, client = QdrantEdgeStore(tmp_path / "edge"), QdrantClientStore("scores", path=":memory:")
    try:
        for store in (edge, client):
            store.ensure({"text": 8})
            store.upsert(records)
        query = records[1].dense["text"]
        sparse = lexical.encode_queries(["ferry harbour tide"])[0]
        a = edge.search_scores([("text", query), ("lexical", sparse)], None, 3)
        b = client.search_scores([("text", query), ("lexical", sparse)], None, 3)
        assert [[i for i, _ in x] for x in a] == [[i for i, _ in x] for x in b]
        assert a[0][0][0] == ids[1] and a[0][0][1] == pytest.approx(1.0, abs=1e-4)
        assert [s for _, s in a[1]] == pytest.approx([s for _, s in b[1]], rel=1e-3)
        assert edge.search_scores([("lexical", lexical.encode_queries(["the"])[0])], None, 3) == [[]]
        for store in (edge, client):
            got = store.vectors("text", [ids[0], ids[2], "00000000-0000-0000-0000-000000000000"])
            assert set(got) == {ids[0], ids[2]}
            assert float(got[ids[2]] @ records[2].dense["text"]) == pytest.approx(1.0, abs=1e-5)
    finally:
        edge.close()
        client.close()
