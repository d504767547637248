"""The MLLM embedder (`mm` space) and composed / image-only queries, on a tiny Qwen2-VL-style model.

The model is built once per session from a config with random weights (no download), with the real
Qwen2-VL processor, so the production prompt, processor, forward and pooling code run. Similarity values
mean nothing with random weights: tests check shapes, normalisation, instruction handling, batching
equivalence and the plumbing through the real embedded Qdrant engine, never retrieval quality.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from core.errors import InvalidRequestError, ModelUnavailableError
from core.types import Granularity, Modality, SearchFilter, Segment
from indexing.encoders.mllm_embedder import MllmEmbedder
from indexing.encoders.mllm_formats import card_for, instruction_text, render
from indexing.encoders.mm_space import TextToImageView, mm_document_vectors, mm_record_hook, reembed_mm
from retrieval.composed_query import clip_composed_vector, search_mm_per_modality, search_mm_text
from retrieval.query import CLIP_FUSION, CLIP_IMAGE, MM_IMAGE, MM_JOINT, Query, SearchResult
from tests.conftest import SAMPLES
from tests.fixtures.tiny_qwen2vl import build_tiny_qwen2vl

pytestmark = pytest.mark.integration

TOL = 1e-4


@pytest.fixture(scope="session")
def tiny_mm_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_qwen2vl(tmp_path_factory.mktemp("tiny-qwen2vl"))


@pytest.fixture(scope="session")
def mm(tiny_mm_dir: Path) -> MllmEmbedder:
    encoder = MllmEmbedder(model=str(tiny_mm_dir), device="cpu", batch_size=3)
    encoder.load()
    return encoder


@pytest.fixture(scope="session")
def pictures() -> list[Image.Image]:
    """Real photos of different sizes and aspect ratios (the processor resizes each differently)."""
    names = ["cat-chelsea.jpg", "coffee.jpg", "rocket-launch.jpg", "trail-sign.png"]
    return [Image.open(SAMPLES / n).convert("RGB") for n in names]


# --- the embedder ---------------------------------------------------------------------------------------
def test_shapes_dtype_and_unit_norm(mm: MllmEmbedder, pictures: list[Image.Image]) -> None:
    assert mm.space == "mm" and mm.dim == 64 and mm.pooling == "last"
    for out in (
        mm.encode_queries(["a red chair", "dogs"]),
        mm.encode_documents(["a red chair", "dogs"]),
        mm.encode_images(pictures[:2]),
        mm.encode_pairs(pictures[:2], ["in red leather", ""], task="composed"),
    ):
        assert out.shape == (2, 64) and out.dtype == np.float32
        np.testing.assert_allclose(np.linalg.norm(out, axis=1), 1.0, atol=1e-5)
    assert mm.encode_documents([]).shape == (0, 64)


def test_query_instruction_changes_the_query_side_only(mm: MllmEmbedder) -> None:
    text = ["a cat sleeping on a sofa"]
    doc = mm.encode_documents(text)[0]
    query = mm.encode_queries(text)[0]
    image_query = mm.encode_queries(text, task="image")[0]
    assert float(query @ doc) < 1 - 1e-3  # an instruction was added on the query side
    assert float(query @ image_query) < 1 - 1e-3  # modality-aware instructions differ per task
    np.testing.assert_allclose(mm.encode_documents(text)[0], doc, atol=1e-6)  # documents: deterministic
    both = mm.encode_query_tasks(text[0], ["default", "image"])
    np.testing.assert_allclose(both, np.vstack([query, image_query]), atol=TOL)


def test_text_to_image_view_for_eval_images(mm: MllmEmbedder, pictures: list[Image.Image]) -> None:
    from core.protocols import ImageEncoder, TextEncoder

    view = TextToImageView(mm)
    assert isinstance(view, TextEncoder) and isinstance(view, ImageEncoder) and view.space == "mm"
    np.testing.assert_allclose(view.encode_queries(["a cat"]), mm.encode_queries(["a cat"], task="image"))
    np.testing.assert_allclose(view.encode_images(pictures[:1]), mm.encode_images(pictures[:1]), atol=TOL)


def test_instruction_overrides_and_templates(tiny_mm_dir: Path) -> None:
    custom = MllmEmbedder(str(tiny_mm_dir), device="cpu", instructions={"image": "Show me: {q}"})
    assert custom.instructions["image"] == "Show me: {q}"
    assert instruction_text(custom.instructions, "image", "red chair") == ("", "Show me: red chair")
    assert instruction_text(custom.instructions, None, "red chair") == ("", "red chair")
    prompt = render("qwen2vl", "red chair", True, "Find it.")
    assert prompt.startswith("<|im_start|>system\nFind it.<|im_end|>")
    assert "<|vision_start|><|image_pad|><|vision_end|>red chair" in prompt
    assert prompt.endswith("<|endoftext|>")
    assert render("mllama", "x", True, "").startswith("<|image|><|begin_of_text|>")


def test_batched_equals_one_by_one(mm: MllmEmbedder, pictures: list[Image.Image]) -> None:
    texts = ["a", "a much longer text about bicycles in the city street at night", "dogs", "cat", "rice"]
    batched = mm.encode_queries(texts)
    single = np.vstack([mm.encode_queries([t]) for t in texts])
    np.testing.assert_allclose(batched, single, atol=TOL)
    captions = ["cat", "", "a rocket going up", "trail"]
    batched = mm.encode_pairs(pictures, captions)
    single = np.vstack([mm.encode_pairs([p], [c]) for p, c in zip(pictures, captions, strict=True)])
    np.testing.assert_allclose(batched, single, atol=TOL)
    np.testing.assert_allclose(
        mm.encode_images(pictures), np.vstack([mm.encode_images([p]) for p in pictures]), atol=TOL
    )


def test_mean_pooling_differs_from_last_token(tiny_mm_dir: Path, mm: MllmEmbedder) -> None:
    mean = MllmEmbedder(str(tiny_mm_dir), device="cpu", pooling="mean")
    texts = ["a cat", "a much longer text about bicycles"]
    pooled = mean.encode_documents(texts)
    np.testing.assert_allclose(np.linalg.norm(pooled, axis=1), 1.0, atol=1e-5)
    assert np.abs(pooled - mm.encode_documents(texts)).max() > 1e-3
    np.testing.assert_allclose(pooled, np.vstack([mean.encode_documents([t]) for t in texts]), atol=TOL)


def test_load_errors_say_why(tmp_path: Path) -> None:
    with pytest.raises(ModelUnavailableError, match="does not exist"):
        MllmEmbedder(str(tmp_path / "missing")).load()
    with pytest.raises(ModelUnavailableError, match="not in the local Hugging Face cache.*MMRAG_MM_MODEL"):
        MllmEmbedder("mmrag-tests/uncached-model").load()  # tests run with HF_HUB_OFFLINE=1
    bert = tmp_path / "bert"
    bert.mkdir()
    (bert / "config.json").write_text(json.dumps({"model_type": "bert"}))
    with pytest.raises(ModelUnavailableError, match="model_type 'bert'"):
        MllmEmbedder(str(bert)).load()
    with pytest.raises(ModelUnavailableError, match="gme-Qwen2-VL-2B-Instruct"):
        MllmEmbedder("Alibaba-NLP/gme-Qwen2-VL-2B-Instruct").load()  # offline: no weights here


def test_known_models_table() -> None:
    gme = card_for("/models/Alibaba-NLP/gme-Qwen2-VL-2B-Instruct")
    assert gme is not None and gme.pooling == "last" and gme.dim == 1536
    assert card_for("some/unknown", "qwen2_5_vl").family == "qwen2vl"  # type: ignore[union-attr]
    assert card_for("some/unknown", "bert") is None
    assert MllmEmbedder("intfloat/mmE5-mllama-11b-instruct").dim == 4096  # from the table, no load


def test_document_rule_picks_picture_or_text(mm: MllmEmbedder, pictures: list[Image.Image]) -> None:
    def seg(n: int, modality: Modality, granularity: Granularity, text: str) -> Segment:
        return Segment(f"s{n}", "a" * 64, "u", modality, granularity, text=text)

    segments = [
        seg(0, Modality.IMAGE, Granularity.IMAGE, ""),
        seg(1, Modality.IMAGE, Granularity.IMAGE, "a cat"),
        seg(2, Modality.TEXT, Granularity.PARAGRAPH, "a cat"),
        seg(3, Modality.TEXT, Granularity.PARAGRAPH, "   "),
    ]
    out = mm_document_vectors(mm, segments, [[pictures[0]], [pictures[0]], [pictures[0]], []])
    np.testing.assert_allclose(out[0], mm.encode_images([pictures[0]])[0], atol=TOL)
    np.testing.assert_allclose(out[1], mm.encode_pairs([pictures[0]], ["a cat"])[0], atol=TOL)
    np.testing.assert_allclose(out[2], mm.encode_documents(["a cat"])[0], atol=TOL)  # text: page ignored
    assert out[3] is None


# --- composed and image-only queries through the real pipeline and the embedded engine -----------------
@pytest.fixture
def photo_corpus(tmp_path: Path) -> Path:
    folder = tmp_path / "corpus"
    folder.mkdir()
    for name in ("cat-chelsea.jpg", "coffee.jpg", "rocket-launch.jpg", "field-notes.md"):
        shutil.copy(SAMPLES / name, folder / name)
    return folder


def _with_mm(container: Any, mm: MllmEmbedder) -> Any:
    """Wire the mm space into a container the way the composition root should (see docs/mm-embedder.md)."""
    container.__dict__["mm_encoder"] = mm
    container.__dict__.pop("retriever", None)  # built again with the mm encoder
    container.store.ensure({"mm": mm.dim})
    container.indexer.hooks.append(mm_record_hook(mm))
    return container


def search_composed(
    container: Any, text: str | None, image: Any, k: int, flt: SearchFilter | None = None
) -> tuple[SearchResult, str]:
    """A picture query (composed with `text` when given) through the one search path."""
    result = container.retriever.search(Query(text=text or "", image=image, k=k, filters=flt))
    return result, result.method


def test_composed_and_image_queries_with_the_mm_space(
    make_container: Any, mm: MllmEmbedder, photo_corpus: Path, pictures: list[Image.Image]
) -> None:
    c = _with_mm(make_container(ocr=False), mm)
    report = c.indexer.index_paths([photo_corpus])
    assert report.indexed == 4 and not report.failed
    hits, method = search_composed(c, "the same cat but black", pictures[0], k=5)
    assert method == MM_JOINT and hits
    assert all(h.space == "mm" and -1.0 <= h.scores["mm"] <= 1.0 for h in hits)
    # Per-modality search: both modalities of the corpus appear in the top 2, whatever the scores.
    assert {h.segment.modality for h in hits[:2]} == {Modality.IMAGE, Modality.TEXT}
    hits, method = search_composed(c, None, pictures[0], k=3, flt=SearchFilter(modalities=(Modality.IMAGE,)))
    assert method == MM_IMAGE and len(hits) == 3
    assert all(h.segment.modality == Modality.IMAGE for h in hits)
    # The query by example finds the indexed copy of the same photo.
    probe = mm.encode_images([pictures[0]])[0]
    top = search_mm_per_modality(c.store, probe, k=1, flt=SearchFilter(modalities=(Modality.IMAGE,)))
    assert top[0].segment.uri.endswith("cat-chelsea.jpg") and top[0].scores["mm"] > 0.99
    text_hits = search_mm_text(c.store, mm, "coffee", k=4)
    assert {h.segment.modality for h in text_hits[:2]} == {Modality.IMAGE, Modality.TEXT}


def test_clip_fallback_without_the_mm_space(
    make_container: Any, mm: MllmEmbedder, photo_corpus: Path, pictures: list[Image.Image]
) -> None:
    c = make_container(ocr=False)
    c.indexer.index_paths([photo_corpus])
    hits, method = search_composed(c, "the same cat but black", pictures[0], k=5)
    assert method == CLIP_FUSION and hits
    assert c.unavailable["mm"] == "disabled (MMRAG_MM_MODEL is empty)"
    c.__dict__["mm_encoder"] = mm  # enabled, but the collection was never (re-)embedded into mm
    c.__dict__.pop("retriever")
    hits_again, method = search_composed(c, "the same cat but black", pictures[0], k=5)
    assert method == CLIP_FUSION and [h.segment.segment_id for h in hits_again] == [
        h.segment.segment_id for h in hits
    ]
    assert any("image" in h.scores for h in hits) and any("text" in h.scores for h in hits)
    hits, method = search_composed(c, "", pictures[0], k=3)
    assert method == CLIP_IMAGE and hits[0].segment.uri.endswith("cat-chelsea.jpg")
    fused = clip_composed_vector(c.image_encoder, pictures[0], "black", image_weight=1.0)
    np.testing.assert_allclose(fused, c.image_encoder.encode_images([pictures[0]])[0], atol=1e-5)
    with pytest.raises(InvalidRequestError):
        search_composed(c, "", None, k=3)  # neither text nor picture


def test_reembed_existing_collection_into_mm(
    make_container: Any, tiny_mm_dir: Path, photo_corpus: Path, pictures: list[Image.Image]
) -> None:
    plain = make_container(ocr=False)
    plain.indexer.index_paths([photo_corpus])  # indexed without the mm space
    total = plain.store.count()
    assert plain.mm_encoder is None and plain.unavailable["mm"] == "disabled (MMRAG_MM_MODEL is empty)"
    with pytest.raises(ModelUnavailableError, match="MMRAG_MM_MODEL"):
        reembed_mm(plain.mm_encoder, plain.store, plain.media)
    plain.close()
    # The same home, now with MMRAG_MM_MODEL set: the encoder is built from the settings.
    c = make_container(ocr=False, mm_model=str(tiny_mm_dir))
    store = c.store
    text_before = store.search("text", c.text_encoder.encode_queries(["coffee"])[0], k=total)
    seen: list[tuple[int, int]] = []
    written = reembed_mm(
        c.mm_encoder, c.store, c.media, batch=2, progress=lambda done, n: seen.append((done, n))
    )
    assert written == total and seen[-1] == (total, total)
    # The other spaces are untouched and the photos are found by their stored thumbnails.
    text_after = store.search("text", c.text_encoder.encode_queries(["coffee"])[0], k=total)
    assert [h.segment.segment_id for h in text_after] == [h.segment.segment_id for h in text_before]
    probe = c.mm_encoder.encode_images([pictures[2]])[0]
    top = store.search("mm", probe, SearchFilter(modalities=(Modality.IMAGE,)), 1)
    assert top[0].segment.uri.endswith("rocket-launch.jpg") and top[0].scores["mm"] > 0.9
