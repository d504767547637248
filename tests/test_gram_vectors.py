"""GRAM vectors as Qdrant named vectors, end to end on the real embedded engine and a tiny real CLIP:
the index-time hook writes `gram_*` vectors (no payload lists), the embedding reranker reads them back from
the store, an older index's payload lists still score the same, and the migration moves them losslessly."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from core.gram import GRAM_SPACES, gram_similarity, gram_space
from core.protocols import Record
from core.registry import Given, default_registry
from core.settings import Settings
from core.types import Granularity, Hit, Locator, Modality, Segment, segment_id
from indexing.gram_hook import GramHook, migrate_payload_gram
from rerank.embedding_reranker import EmbeddingReranker
from retrieval.stores.qdrant_edge_store import QdrantEdgeStore

pytestmark = pytest.mark.integration

QUERY = "a dog running on the beach"
CLIPS = [  # (transcript, on-screen text): the second clip says what the query asks
    ("a plate of food with broccoli", "people riding bicycles at night"),
    ("a dog running on the beach", "dog on the beach"),
    ("", "a red car parked in the street"),
]


@pytest.fixture(scope="module")
def clip(tiny_clip: str) -> Any:
    from indexing.encoders.open_clip_encoder import OpenClipEncoder

    encoder = OpenClipEncoder(model=tiny_clip, device="cpu")
    encoder.load()
    return encoder


def _records(clip: Any) -> list[Record]:
    """Clip records as the pipeline hands them to hooks: a text vector, a keyframe (image) vector, metadata."""
    rng = np.random.default_rng(3)
    records = []
    for i, (transcript, ocr) in enumerate(CLIPS):
        loc = Locator(start_s=10.0 * i, end_s=10.0 * i + 10, index=i)
        seg = Segment(
            segment_id("rec", Granularity.CLIP, loc), "rec", "talk.mp4", Modality.VIDEO, Granularity.CLIP,
            f"{transcript} {ocr}".strip(), loc, None, {"transcript": transcript, "ocr_text": ocr},
        )  # fmt: skip
        frames = rng.standard_normal(clip.dim).astype(np.float32)
        records.append(Record(seg, dense={clip.space: frames / np.linalg.norm(frames), "text": _text(rng)}))
    paragraph = Segment(
        segment_id("doc", Granularity.PARAGRAPH, Locator(index=0)), "doc", "a.txt", Modality.TEXT,
        Granularity.PARAGRAPH, "dogs", Locator(index=0),
    )  # fmt: skip
    records.append(Record(paragraph, dense={"text": _text(rng)}))
    return records


def _text(rng: np.random.Generator) -> np.ndarray:
    v = rng.standard_normal(16).astype(np.float32)
    return v / np.linalg.norm(v)


def _store(path: Path, clip: Any) -> QdrantEdgeStore:
    store = QdrantEdgeStore(path)
    store.ensure({"text": 16, clip.space: clip.dim})
    return store


def _legacy(records: list[Record]) -> list[Record]:
    """The same records as an older index wrote them: GRAM vectors as float lists in the payload."""
    out = []
    for r in records:
        gram = {s.removeprefix("gram_"): v.tolist() for s, v in r.dense.items() if s in GRAM_SPACES}
        dense = {s: v for s, v in r.dense.items() if s not in GRAM_SPACES}
        metadata = {**r.segment.metadata, "gram": gram} if gram else r.segment.metadata
        out.append(Record(Segment(**{**r.segment.__dict__, "metadata": metadata}), dense=dense))
    return out


def _hits(store: QdrantEdgeStore, records: list[Record]) -> list[Hit]:
    segments = store.get([r.segment.segment_id for r in records])
    return [Hit(segment=s, score=0.5, space="fused", scores={"fused": 0.5}) for s in segments]


def _scores(reranker: EmbeddingReranker, hits: list[Hit]) -> dict[str, float]:
    return {h.segment.segment_id: h.score for h in reranker.rerank(QUERY, hits)}


def test_hook_puts_gram_named_vectors_on_clips_only(clip: Any) -> None:
    records = _records(clip)
    GramHook(clip)([], records)
    for record, (transcript, _) in zip(records, CLIPS, strict=False):
        expected = {gram_space("frames"), gram_space("ocr")} | (
            {gram_space("speech")} if transcript else set()
        )
        assert {s for s in record.dense if s.startswith("gram_")} == expected
        assert "gram" not in record.segment.metadata  # nothing in the payload
        assert record.dense[gram_space("frames")] == pytest.approx(record.dense[clip.space], abs=1e-6)
        speech = record.dense.get(gram_space("speech"))
        if speech is not None:
            assert speech == pytest.approx(clip.encode_documents([transcript])[0], abs=1e-5)
    assert set(records[-1].dense) == {"text"}  # the paragraph gets none


def test_reranker_scores_clips_from_the_stores_named_vectors(
    tmp_path: Path, text_encoder: Any, clip: Any
) -> None:
    records = _records(clip)
    GramHook(clip)([], records)
    store = _store(tmp_path / "edge", clip)
    try:
        store.upsert(records)
        hits = _hits(store, records)
        assert all("gram" not in h.segment.metadata for h in hits)
        reranker = EmbeddingReranker(text_encoder, clip, clip_scale=2.0, vectors=store)
        scores = _scores(reranker, hits)
        q = clip.encode_queries([QUERY])[0]
        for record in records[:3]:
            vectors = [record.dense[s] for s in GRAM_SPACES if s in record.dense]
            expected = 2.0 * max(0.0, gram_similarity(q, vectors))
            text = float(np.dot(text_encoder.encode_queries([QUERY])[0],
                                text_encoder.encode_documents([record.segment.text])[0]))  # fmt: skip
            assert scores[record.segment.segment_id] == pytest.approx(max(expected, text), abs=1e-5)
        # Without the store the reranker has no GRAM vectors: clips fall back to their text score alone.
        blind = _scores(EmbeddingReranker(text_encoder, clip, clip_scale=2.0), hits)
        gram_won = [
            r.segment.segment_id
            for r in records[:3]
            if scores[r.segment.segment_id] > blind[r.segment.segment_id]
        ]
        assert gram_won  # the named vectors changed at least one clip's score
    finally:
        store.close()


def test_old_payload_gram_scores_the_same_and_migrates_losslessly(
    tmp_path: Path, text_encoder: Any, clip: Any
) -> None:
    records = _records(clip)
    GramHook(clip)([], records)
    new, old = _store(tmp_path / "new", clip), _store(tmp_path / "old", clip)
    try:
        new.upsert(records)
        old.upsert(_legacy(records))
        ids = [r.segment.segment_id for r in records]
        assert all(old.vectors(s, ids) == {} for s in GRAM_SPACES)  # an older index: lists in the payload
        want = _scores(EmbeddingReranker(text_encoder, clip, vectors=new), _hits(new, records))
        before = _scores(EmbeddingReranker(text_encoder, clip, vectors=old), _hits(old, records))
        assert before == pytest.approx(want, abs=1e-5)

        assert migrate_payload_gram(old) == 3
        assert all("gram" not in s.metadata for s in old.get(ids))
        for space in GRAM_SPACES:
            migrated, written = old.vectors(space, ids), new.vectors(space, ids)
            assert set(migrated) == set(written)
            for sid, vector in written.items():
                assert migrated[sid] == pytest.approx(vector, abs=1e-5)
        after = _scores(EmbeddingReranker(text_encoder, clip, vectors=old), _hits(old, records))
        assert after == pytest.approx(want, abs=1e-5)
        assert [s.metadata for s in old.get(ids)] == [s.metadata for s in new.get(ids)]
    finally:
        new.close()
        old.close()


def test_registry_hands_the_store_to_the_embedding_reranker(
    tmp_path: Path, text_encoder: Any, clip: Any
) -> None:
    store = _store(tmp_path / "edge", clip)
    try:
        given = Given(text_encoder=text_encoder, image_encoder=clip, store=store)
        reranker = default_registry().build("reranker", "embedding", Settings(home=tmp_path), given)
        assert isinstance(reranker, EmbeddingReranker) and reranker.vectors is store
        alone = default_registry().build(
            "reranker", "embedding", Settings(home=tmp_path), Given(text_encoder=text_encoder)
        )
        assert alone.vectors is None
    finally:
        store.close()


def test_migrate_command_moves_the_configured_stores_payload_gram(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], clip: Any
) -> None:
    """`python -m app.migrate_gram` works on the store the settings select (MMRAG_HOME's embedded one)."""
    from app.migrate_gram import main

    records = _records(clip)
    GramHook(clip)([], records)
    store = _store(tmp_path / "store" / "mmrag", clip)  # where Settings(home=tmp_path) keeps it
    store.upsert(_legacy(records))
    store.close()
    monkeypatch.setenv("MMRAG_HOME", str(tmp_path))
    monkeypatch.delenv("MMRAG_QDRANT_URL", raising=False)
    assert main() == 0
    assert "moved the GRAM vectors of 3 clips" in capsys.readouterr().out
    reopened = QdrantEdgeStore(tmp_path / "store" / "mmrag")
    try:
        ids = [r.segment.segment_id for r in records]
        assert set(reopened.vectors(gram_space("ocr"), ids)) == set(ids[:3])
        assert all("gram" not in s.metadata for s in reopened.get(ids))
    finally:
        reopened.close()
