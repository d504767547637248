"""The `VectorStore` contract, run against every backend that runs here: the embedded Qdrant engine
(qdrant-edge), qdrant-client's local mode in memory and on disk, `MatryoshkaStore` over the embedded engine,
plus a congruence test (same data, same answers on both engines) and qdrant-client's behaviour when its
server is down. Named vectors a record brings (the GRAM vectors of clips) and the migration of GRAM vectors
out of old payloads are part of the contract.

Haystack-style: `StoreContract` holds the tests; each backend's class only says how to open a store.
Data: 60 real SQuAD passages (tests/data/beir/squad-mini) with real BM25 lexical vectors and seeded random dense vectors.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from app.builders import build_store
from core.errors import StoreError
from core.gram import GRAM_SPACES, gram_space
from core.protocols import Record, VectorStore
from core.settings import Settings
from core.types import Granularity, Locator, Modality, SearchFilter, Segment, SparseVector, segment_id
from indexing.gram_hook import migrate_payload_gram
from retrieval.bm25_lexical_encoder import BM25LexicalEncoder
from retrieval.retriever import ScoreSearchStore
from retrieval.stores.matryoshka_store import MatryoshkaStore
from retrieval.stores.qdrant_client_store import QdrantClientStore
from retrieval.stores.qdrant_edge_store import QdrantEdgeStore
from tests.fixtures.beir_lexical import SQUAD_MINI, beir_texts

pytestmark = pytest.mark.integration

SPACES = {"text": 16, "image": 8}
SOURCES = ("src-a", "src-b", "src-c")


def _unit(rng: np.random.Generator, n: int, d: int) -> np.ndarray:
    v = rng.standard_normal((n, d)).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def _records() -> list[Record]:
    """60 text paragraphs/documents over three sources (text + lexical vectors) and 6 images (image only)."""
    texts = beir_texts(SQUAD_MINI)[:60]
    rng = np.random.default_rng(7)
    text_vecs, image_vecs = _unit(rng, len(texts), SPACES["text"]), _unit(rng, 6, SPACES["image"])
    sparse = BM25LexicalEncoder().encode_documents(texts)
    records = []
    for i, text in enumerate(texts):
        gran = Granularity.DOCUMENT if i % 5 == 0 else Granularity.PARAGRAPH
        loc = Locator(page=1 + i // 10, index=i)
        src = SOURCES[i % 3]
        seg = Segment(
            segment_id(src, gran, loc), src, f"{src}.pdf", Modality.TEXT, gran, text, loc, None, {"i": i}
        )
        records.append(Record(seg, dense={"text": text_vecs[i]}, sparse=sparse[i]))
    for j in range(6):
        loc = Locator(bbox=(0.0, 0.0, 10.0, 20.0), index=j)
        src = SOURCES[j % 3]
        seg = Segment(
            segment_id(src, Granularity.IMAGE, loc), src, f"{src}.jpg", Modality.IMAGE, Granularity.IMAGE,
            "", loc, f"img-{j}.jpg", {"exif": {"Make": "Canon"}},
        )  # fmt: skip
        records.append(Record(seg, dense={"image": image_vecs[j]}))
    return records


RECORDS = _records()
CLIP_DIM = 8  # the GRAM vectors' (CLIP) dimension in these tests


def _clip_records(n: int = 4, legacy: bool = False) -> list[Record]:
    """Clips of one recording with a text vector and GRAM vectors: speech on all, on-screen text on even ones.

    `legacy`: the GRAM vectors as float lists in the payload (`metadata["gram"]`), as older indexes wrote
    them, instead of named vectors.
    """
    rng = np.random.default_rng(11)
    text, speech, ocr = _unit(rng, n, SPACES["text"]), _unit(rng, n, CLIP_DIM), _unit(rng, n, CLIP_DIM)
    records = []
    for j in range(n):
        loc = Locator(start_s=10.0 * j, end_s=10.0 * j + 10, index=j)
        gram = {"speech": speech[j]} | ({"ocr": ocr[j]} if j % 2 == 0 else {})
        metadata: dict[str, object] = {"transcript": f"words of clip {j}"}
        dense = {"text": text[j]}
        if legacy:
            metadata["gram"] = {k: v.tolist() for k, v in gram.items()}
        else:
            dense |= {gram_space(k): v for k, v in gram.items()}
        seg = Segment(
            segment_id("src-v", Granularity.CLIP, loc), "src-v", "talk.mp4", Modality.VIDEO,
            Granularity.CLIP, f"clip {j}", loc, None, metadata,
        )  # fmt: skip
        records.append(Record(seg, dense=dense))
    return records


TEXT_RECORDS = [r for r in RECORDS if "text" in r.dense]
IMAGE_RECORDS = [r for r in RECORDS if "image" in r.dense]


def _exact_top(space: str, query: np.ndarray, k: int) -> list[str]:
    """Brute-force cosine ranking, the ground truth for dense search."""
    recs = [r for r in RECORDS if space in r.dense]
    scores = np.stack([r.dense[space] for r in recs]) @ query
    return [recs[i].segment.segment_id for i in np.argsort(-scores)[:k]]


@pytest.fixture
def store_dir(tmp_path: Path) -> Iterator[Path]:
    """A folder for on-disk stores, in RAM (/dev/shm) where there is one.

    Same code paths as a disk folder, but without the per-commit fsyncs that make qdrant-client's local
    mode (one SQLite commit per point) and shard creation take seconds on a busy shared disk.
    """
    shm = Path("/dev/shm")
    if not (shm.is_dir() and os.access(shm, os.W_OK)):
        yield tmp_path
        return
    folder = Path(tempfile.mkdtemp(prefix="mmrag-store-", dir=shm))
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


def _matches(seg: Segment, flt: SearchFilter) -> bool:
    return (
        (not flt.source_ids or seg.source_id in flt.source_ids)
        and (not flt.granularities or seg.granularity in flt.granularities)
        and (not flt.modalities or seg.modality in flt.modalities)
    )


class StoreContract:
    """Tests every `VectorStore` backend must pass. Subclasses provide `open_store`."""

    def open_store(self, store_dir: Path) -> VectorStore:
        raise NotImplementedError

    @pytest.fixture
    def empty(self, store_dir: Path) -> Iterator[VectorStore]:
        store = self.open_store(store_dir)
        yield store
        store.close()

    @pytest.fixture
    def store(self, empty: VectorStore) -> VectorStore:
        empty.ensure(SPACES)
        empty.upsert(RECORDS)
        return empty

    def test_reads_before_ensure_see_an_empty_store(self, empty: VectorStore) -> None:
        assert empty.count() == 0
        assert empty.search("text", TEXT_RECORDS[0].dense["text"]) == []
        assert empty.get([TEXT_RECORDS[0].segment.segment_id]) == []
        assert empty.delete_source("src-a") == 0
        assert isinstance(empty, ScoreSearchStore)
        assert empty.search_scores([("text", TEXT_RECORDS[0].dense["text"])], None, 3) == [[]]

    def test_upsert_before_ensure_is_a_store_error(self, empty: VectorStore) -> None:
        with pytest.raises(StoreError, match="ensure"):
            empty.upsert(RECORDS[:1])

    def test_ensure_is_idempotent_and_adds_spaces(self, empty: VectorStore) -> None:
        empty.ensure({"text": 16})
        empty.ensure({"text": 16})
        empty.ensure(SPACES)  # adds `image` to the existing collection
        empty.upsert(IMAGE_RECORDS[:1])
        assert (
            empty.search("image", IMAGE_RECORDS[0].dense["image"], k=1)[0].segment == IMAGE_RECORDS[0].segment
        )

    def test_ensure_rejects_another_dimension(self, empty: VectorStore) -> None:
        empty.ensure(SPACES)
        with pytest.raises(StoreError, match="text"):
            empty.ensure({"text": 32})

    def test_count_with_and_without_filters(self, store: VectorStore) -> None:
        assert store.count() == len(RECORDS)
        assert store.count(SearchFilter()) == len(RECORDS)
        assert store.count(SearchFilter(modalities=(Modality.IMAGE,))) == 6
        assert store.count(SearchFilter(granularities=(Granularity.DOCUMENT,))) == 12
        assert store.count(SearchFilter(source_ids=("src-a", "src-b"))) == 44
        both = SearchFilter(modalities=(Modality.TEXT,), source_ids=("src-c",))
        assert store.count(both) == 20

    def test_dense_search_ranks_like_exact_search(self, store: VectorStore) -> None:
        query = TEXT_RECORDS[3].dense["text"]
        hits = store.search("text", query, k=5)
        assert [h.segment.segment_id for h in hits] == _exact_top("text", query, 5)
        assert hits[0].segment == TEXT_RECORDS[3].segment
        assert hits[0].score == pytest.approx(1.0, abs=1e-4)
        assert hits[0].space == "text" and hits[0].scores == {"text": hits[0].score}
        assert all(a.score >= b.score for a, b in zip(hits, hits[1:], strict=False))

    def test_dense_search_accepts_a_1_by_d_query(self, store: VectorStore) -> None:
        hits = store.search("text", TEXT_RECORDS[5].dense["text"][None, :], k=1)
        assert hits[0].segment.segment_id == TEXT_RECORDS[5].segment.segment_id

    def test_search_only_sees_points_with_that_vector(self, store: VectorStore) -> None:
        image_ids = {r.segment.segment_id for r in IMAGE_RECORDS}
        assert {
            h.segment.segment_id for h in store.search("image", IMAGE_RECORDS[0].dense["image"], k=50)
        } == (image_ids)
        assert not image_ids & {
            h.segment.segment_id for h in store.search("text", RECORDS[0].dense["text"], k=80)
        }

    def test_sparse_search_finds_the_document_by_its_words(self, store: VectorStore) -> None:
        encoder = BM25LexicalEncoder()
        target = TEXT_RECORDS[11].segment
        hits = store.search("lexical", encoder.encode_queries([target.text[:120]])[0], k=3)
        assert hits[0].segment == target
        assert hits[0].space == "lexical" and hits[0].score > 0

    def test_sparse_query_without_known_terms_finds_nothing(self, store: VectorStore) -> None:
        encoder = BM25LexicalEncoder()
        assert store.search("lexical", encoder.encode_queries(["zzqxv"])[0]) == []
        assert store.search("lexical", encoder.encode_queries(["the of and"])[0]) == []

    @pytest.mark.parametrize(
        "flt",
        [
            SearchFilter(source_ids=("src-b",)),
            SearchFilter(granularities=(Granularity.DOCUMENT,)),
            SearchFilter(
                modalities=(Modality.TEXT,), granularities=(Granularity.PARAGRAPH,), source_ids=("src-a",)
            ),
        ],
    )
    def test_filters_restrict_dense_and_sparse_search(self, store: VectorStore, flt: SearchFilter) -> None:
        query = BM25LexicalEncoder().encode_queries(["Norman rulers of Normandy"])[0]
        for hits in (
            store.search("text", TEXT_RECORDS[0].dense["text"], flt, k=100),
            store.search("lexical", query, flt),
        ):
            assert hits and all(_matches(h.segment, flt) for h in hits)
        expected = [r for r in TEXT_RECORDS if _matches(r.segment, flt)]
        assert len(store.search("text", TEXT_RECORDS[0].dense["text"], flt, k=100)) == len(expected)

    def test_get_round_trips_segments_in_request_order(self, store: VectorStore) -> None:
        wanted = [RECORDS[-1].segment, RECORDS[2].segment, RECORDS[0].segment]
        ids = [
            wanted[0].segment_id,
            "00000000-0000-4000-8000-000000000000",
            wanted[1].segment_id,
            wanted[2].segment_id,
        ]
        assert store.get(ids) == wanted  # locator, bbox tuple, media_ref and nested metadata survive

    def test_reupsert_of_an_id_replaces_the_point(self, store: VectorStore) -> None:
        old = TEXT_RECORDS[7]
        new_vec = -old.dense["text"]
        new_seg = Segment(**{**old.segment.__dict__, "text": "replaced text"})
        store.upsert([Record(new_seg, dense={"text": new_vec})])
        assert store.count() == len(RECORDS)
        assert store.get([old.segment.segment_id])[0].text == "replaced text"
        assert store.search("text", new_vec, k=1)[0].segment.segment_id == old.segment.segment_id
        # The replacement has no lexical vector, so the old words no longer find it.
        query = BM25LexicalEncoder().encode_queries([old.segment.text[:120]])[0]
        assert old.segment.segment_id not in {
            h.segment.segment_id for h in store.search("lexical", query, k=60)
        }

    def test_scroll_pages_through_every_matching_segment(self, store: VectorStore) -> None:
        everything = list(store.scroll(batch=7))
        assert sorted(s.segment_id for s in everything) == sorted(r.segment.segment_id for r in RECORDS)
        only_a = list(store.scroll(SearchFilter(source_ids=("src-a",)), batch=5))
        assert len(only_a) == 22 and {s.source_id for s in only_a} == {"src-a"}

    def test_update_vectors_sets_one_space_and_keeps_the_others(self, store: VectorStore) -> None:
        target = TEXT_RECORDS[3]
        image_vec = IMAGE_RECORDS[0].dense["image"]
        store.update_vectors("image", {target.segment.segment_id: image_vec})
        image_hits = store.search("image", image_vec, k=2)
        assert target.segment.segment_id in {h.segment.segment_id for h in image_hits}
        assert (
            store.search("text", target.dense["text"], k=1)[0].segment.segment_id == target.segment.segment_id
        )
        assert store.count() == len(RECORDS)

    def test_delete_source_removes_only_that_source(self, store: VectorStore) -> None:
        assert store.delete_source("src-a") == 22
        assert store.delete_source("src-a") == 0
        assert store.count() == len(RECORDS) - 22
        assert store.count(SearchFilter(source_ids=("src-a",))) == 0
        hits = store.search("text", TEXT_RECORDS[0].dense["text"], k=100)  # record 0 belongs to src-a
        assert hits and all(h.segment.source_id != "src-a" for h in hits)
        assert store.get([TEXT_RECORDS[0].segment.segment_id]) == []

    def test_unknown_space_is_a_store_error(self, store: VectorStore) -> None:
        with pytest.raises(StoreError, match="nope"):
            store.search("nope", TEXT_RECORDS[0].dense["text"])

    def test_vectors_reads_stored_vectors_back(self, store: VectorStore) -> None:
        ids = [r.segment.segment_id for r in TEXT_RECORDS[:3]]
        got = store.vectors(
            "text", [*ids, "00000000-0000-4000-8000-000000000000", IMAGE_RECORDS[0].segment.segment_id]
        )
        assert set(got) == set(ids)  # unknown ids and points without the vector skipped
        for record in TEXT_RECORDS[:3]:
            assert got[record.segment.segment_id] == pytest.approx(record.dense["text"], abs=1e-5)
        assert store.vectors("nope", ids) == {}  # a space the collection lacks holds no vectors
        assert store.vectors("text", []) == {}

    def test_search_scores_answers_each_space_as_search_does(self, store: VectorStore) -> None:
        """The retriever's fast path: several spaces in one call, ids and scores only, same ranking as
        `search` space by space (Matryoshka included: truncated first pass, full-dimension scores)."""
        assert isinstance(store, ScoreSearchStore)
        lexical = BM25LexicalEncoder().encode_queries([TEXT_RECORDS[11].segment.text[:120]])[0]
        text = TEXT_RECORDS[3].dense["text"]
        queries = [("text", text), ("lexical", lexical), ("image", IMAGE_RECORDS[1].dense["image"])]
        for flt in (None, SearchFilter(source_ids=("src-a", "src-b"))):
            results = store.search_scores(queries, flt, 5)
            assert len(results) == len(queries)
            for (space, query), result in zip(queries, results, strict=True):
                hits = store.search(space, query, flt, 5)
                assert [sid for sid, _ in result] == [h.segment.segment_id for h in hits], space
                assert [score for _, score in result] == pytest.approx([h.score for h in hits], abs=1e-4)
        text_ids, lexical_ids, _ = store.search_scores(queries, None, 5)
        assert [sid for sid, _ in text_ids] == _exact_top("text", text, 5)
        assert text_ids[0][1] == pytest.approx(1.0, abs=1e-4)
        assert lexical_ids[0][0] == TEXT_RECORDS[11].segment.segment_id

    def test_search_scores_of_a_sparse_query_without_terms_is_an_empty_list(self, store: VectorStore) -> None:
        assert isinstance(store, ScoreSearchStore)
        text = TEXT_RECORDS[0].dense["text"]
        nothing, found = store.search_scores([("lexical", SparseVector([], [])), ("text", text)], None, 3)
        assert nothing == [] and found[0][0] == TEXT_RECORDS[0].segment.segment_id

    def test_upsert_adds_the_named_vectors_records_bring(self, store: VectorStore) -> None:
        clips = _clip_records()
        store.upsert(clips)
        ids = [r.segment.segment_id for r in clips]
        speech = store.vectors(gram_space("speech"), ids)
        ocr = store.vectors(gram_space("ocr"), ids)
        assert set(speech) == set(ids) and set(ocr) == set(ids[::2])
        for record in clips:
            sid = record.segment.segment_id
            assert speech[sid] == pytest.approx(record.dense[gram_space("speech")], abs=1e-5)
        assert store.vectors(gram_space("frames"), ids) == {}
        assert store.count() == len(RECORDS) + len(clips)
        assert all("gram" not in s.metadata for s in store.get(ids))  # vectors, not payload lists
        # The added space is a real vector space, and the old ones are untouched.
        hit = store.search(gram_space("speech"), clips[2].dense[gram_space("speech")], k=1)[0]
        assert hit.segment == clips[2].segment
        assert store.search("text", TEXT_RECORDS[3].dense["text"], k=1)[0].segment == TEXT_RECORDS[3].segment

    def test_an_added_space_keeps_its_dimension(self, store: VectorStore) -> None:
        clips = _clip_records(2)
        store.upsert(clips[:1])
        wrong = Record(clips[1].segment, dense={gram_space("speech"): np.ones(CLIP_DIM + 3, np.float32)})
        with pytest.raises(StoreError):
            store.upsert([wrong])

    def test_drop_metadata_key_removes_only_that_key_where_the_filter_says(self, store: VectorStore) -> None:
        legacy = _clip_records(2, legacy=True)
        paragraph = Segment(**{**TEXT_RECORDS[1].segment.__dict__, "metadata": {"gram": 1, "i": 1}})
        store.upsert([*legacy, Record(paragraph, dense={"text": TEXT_RECORDS[1].dense["text"]})])
        store.drop_metadata_key("gram", SearchFilter(granularities=(Granularity.CLIP,)))
        clips = store.get([r.segment.segment_id for r in legacy])
        assert [s.metadata for s in clips] == [
            {"transcript": "words of clip 0"},
            {"transcript": "words of clip 1"},
        ]
        assert store.get([paragraph.segment_id])[0].metadata == {"gram": 1, "i": 1}
        assert store.vectors("text", [legacy[0].segment.segment_id])  # vectors are kept

    def test_migrating_payload_gram_vectors_loses_nothing(self, store: VectorStore) -> None:
        legacy, modern = _clip_records(legacy=True), _clip_records()
        store.upsert(legacy)
        ids = [r.segment.segment_id for r in legacy]
        assert migrate_payload_gram(store, batch=3) == len(legacy)
        for space in GRAM_SPACES:
            got = store.vectors(space, ids)
            want = {r.segment.segment_id: r.dense[space] for r in modern if space in r.dense}
            assert set(got) == set(want)
            for sid, vector in want.items():
                assert got[sid] == pytest.approx(vector, abs=1e-5)
        assert [s.metadata for s in store.get(ids)] == [r.segment.metadata for r in modern]
        assert store.count() == len(RECORDS) + len(legacy)
        query = legacy[1].dense["text"]
        assert store.search("text", query, k=1)[0].segment.segment_id == ids[1]  # other vectors kept
        assert migrate_payload_gram(store) == 0  # done: a second run changes nothing
        assert store.vectors(gram_space("speech"), ids).keys() == set(ids)


class PersistenceContract:
    """For backends that keep data on disk: a new store object on the same location sees it all."""

    def open_store(self, store_dir: Path) -> VectorStore:
        raise NotImplementedError

    def test_data_survives_close_and_reopen(self, store_dir: Path) -> None:
        store = self.open_store(store_dir)
        store.ensure(SPACES)
        store.upsert(RECORDS)
        store.delete_source("src-c")
        store.close()
        reopened = self.open_store(store_dir)
        try:
            assert reopened.count() == len(RECORDS) - 22
            hit = reopened.search("text", TEXT_RECORDS[4].dense["text"], k=1)[0]
            assert hit.segment == TEXT_RECORDS[4].segment
            reopened.ensure(SPACES)  # ensuring an existing store keeps its points
            assert reopened.count() == len(RECORDS) - 22
        finally:
            reopened.close()

    def test_named_vectors_added_on_write_survive_reopen(self, store_dir: Path) -> None:
        clips = _clip_records()
        store = self.open_store(store_dir)
        store.ensure(SPACES)
        store.upsert(clips)
        store.close()
        reopened = self.open_store(store_dir)
        try:
            ids = [r.segment.segment_id for r in clips]
            assert set(reopened.vectors(gram_space("speech"), ids)) == set(ids)
            reopened.upsert(_clip_records(2))  # writing to the added space again after a reopen
            assert set(reopened.vectors(gram_space("ocr"), ids)) == set(ids[::2])
        finally:
            reopened.close()


class TestQdrantEdgeStore(StoreContract, PersistenceContract):
    def open_store(self, store_dir: Path) -> VectorStore:
        return QdrantEdgeStore(store_dir / "edge")

    def test_quantized_store_optimizes_and_still_finds_exact_matches(self, store_dir: Path) -> None:
        for quantization in ("int8", "binary"):
            store = QdrantEdgeStore(store_dir / quantization, quantization=quantization)
            store.ensure(SPACES)
            store.upsert(RECORDS)
            store.optimize()
            query = TEXT_RECORDS[9].dense["text"]
            assert (
                store.search("text", query, k=1)[0].segment.segment_id == TEXT_RECORDS[9].segment.segment_id
            )
            store.close()

    def test_reopening_with_another_quantization_keeps_the_data(self, store_dir: Path) -> None:
        plain = QdrantEdgeStore(store_dir / "edge")
        plain.ensure(SPACES)
        plain.upsert(RECORDS)
        plain.close()
        quantized = QdrantEdgeStore(store_dir / "edge", quantization="int8")
        try:
            assert quantized.count() == len(RECORDS)
            quantized.optimize()
            query = TEXT_RECORDS[2].dense["text"]
            assert (
                quantized.search("text", query, k=1)[0].segment.segment_id
                == TEXT_RECORDS[2].segment.segment_id
            )
        finally:
            quantized.close()

    def test_unknown_quantization_is_a_store_error(self, store_dir: Path) -> None:
        with pytest.raises(StoreError, match="quantization"):
            QdrantEdgeStore(store_dir / "q", quantization="pq").ensure(SPACES)


class TestMatryoshkaStore(StoreContract, PersistenceContract):
    """`MatryoshkaStore` over the embedded engine: `text` searches go through its two-stage query."""

    def open_store(self, store_dir: Path) -> VectorStore:
        return MatryoshkaStore(QdrantEdgeStore(store_dir / "mrl"), dim=SPACES["text"] // 2)


class TestMatryoshkaClientStore(StoreContract):
    """`MatryoshkaStore` over qdrant-client's in-memory store (the `memory` backend with MMRAG_MRL_DIM)."""

    def open_store(self, store_dir: Path) -> VectorStore:
        return MatryoshkaStore(QdrantClientStore("contract-mrl", path=":memory:"), dim=SPACES["text"] // 2)


class TestQdrantClientMemoryStore(StoreContract):
    def open_store(self, store_dir: Path) -> VectorStore:
        return QdrantClientStore("contract", path=":memory:")


class TestQdrantClientLocalDiskStore(StoreContract, PersistenceContract):
    def open_store(self, store_dir: Path) -> VectorStore:
        return QdrantClientStore("contract", path=str(store_dir / "local"))


def test_backends_agree_on_the_same_data(store_dir: Path) -> None:
    """Congruence: the embedded engine and qdrant-client answer the same queries with the same ranking."""
    edge, local = QdrantEdgeStore(store_dir / "edge"), QdrantClientStore("congruence")
    encoder = BM25LexicalEncoder()
    try:
        for store in (edge, local):
            store.ensure(SPACES)
            store.upsert(RECORDS)
        flt = SearchFilter(source_ids=("src-a", "src-c"))
        for i in (0, 13, 42):
            query = TEXT_RECORDS[i].dense["text"]
            a, b = edge.search("text", query, flt, k=10), local.search("text", query, flt, k=10)
            assert [h.segment.segment_id for h in a] == [h.segment.segment_id for h in b]
            assert [h.score for h in a] == pytest.approx([h.score for h in b], abs=1e-4)
        for text in ("Normandy", "Norman conquest of England", "polynomial time complexity class"):
            query = encoder.encode_queries([text])[0]
            a, b = edge.search("lexical", query, k=10), local.search("lexical", query, k=10)
            assert [h.score for h in a] == pytest.approx([h.score for h in b], rel=1e-3)
            assert {h.segment.segment_id for h in a[:5]} == {h.segment.segment_id for h in b[:5]}
    finally:
        edge.close()
        local.close()


def test_unreachable_server_is_one_clear_store_error() -> None:
    """A server that is down (a closed loopback port) fails fast with a retrying, readable error."""
    store = QdrantClientStore("c", url="http://127.0.0.1:9", retries=2, backoff_s=0.01, timeout_s=2)
    with pytest.raises(StoreError, match=r"Qdrant at http://127.0.0.1:9 is unreachable .*after 3 attempts"):
        store.ensure(SPACES)
    with pytest.raises(StoreError, match="unreachable"):
        store.count()


def test_build_store_picks_the_backend_from_settings(tmp_path: Path) -> None:
    embedded = build_store(Settings(home=tmp_path, collection="docs", hnsw_ef=200, quantization="int8"))
    assert isinstance(embedded, QdrantEdgeStore)
    assert embedded.path == tmp_path / "store" / "docs"
    assert (embedded.hnsw_ef, embedded.quantization) == (200, "int8")
    server = build_store(Settings(home=tmp_path, qdrant_url="http://127.0.0.1:6333", shard_number=3))
    assert isinstance(server, QdrantClientStore)
    assert (server.url, server.shard_number, server.collection) == ("http://127.0.0.1:6333", 3, "mmrag")


def test_a_space_another_writer_added_meanwhile_is_not_an_error() -> None:
    """Two writers add the same GRAM space at once (a server shared by the API and a CLI run): the loser
    re-reads the collection and writes. The race is staged on the real in-memory client: the other writer's
    create lands just before ours, and ours is refused as a server refuses a second create."""
    store = QdrantClientStore("race")
    store.ensure(SPACES)
    client = store._conn()
    real_create = client.create_vector_name

    raced: list[str] = []

    def create_after_the_other_writer(collection: str, name: str, config: object) -> None:
        real_create(collection, name, config)  # the other writer's create (ours, the first time: none)
        if not raced:
            raced.append(name)
            raise ValueError(f"Wrong input: vector name {name} already exists")

    client.create_vector_name = create_after_the_other_writer  # type: ignore[method-assign]
    try:
        clips = _clip_records(2)
        store.upsert(clips)
        ids = [r.segment.segment_id for r in clips]
        assert raced and set(store.vectors(gram_space("speech"), ids)) == set(ids)
        assert set(store.vectors(gram_space("ocr"), ids)) == set(ids[::2])
    finally:
        store.close()
