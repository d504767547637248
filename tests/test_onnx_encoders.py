"""ONNX backend: the packaged MiniLM and a tiny CLIP exported once per session, the onnxruntime text encoder
passing the same contract as the torch one, and torch/ONNX equivalence (cosine >= 0.999) on real inputs."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from app.builders import build_text_encoder
from core.errors import ModelUnavailableError
from core.settings import Settings
from indexing.encoders.onnx_export import (
    FP32_FFN_OUTPUT_LAYERS,
    INT8_RECIPE,
    clip_onnx_folder,
    export_onnx,
    quantize_text_model,
    text_onnx_folder,
)
from indexing.encoders.onnx_text_encoder import OnnxTextEncoder
from indexing.encoders.open_clip_encoder import OpenClipEncoder
from tests.test_encoders import COCO, DATA, TEXTS, SemanticTextEncoderContract, cranfield

pytestmark = pytest.mark.integration


def text_onnx_dir(settings: Settings) -> Path:
    """Where the onnx backend looks for the export of the settings' text model."""
    return text_onnx_folder(settings.home / "onnx", settings.text_model)


def clip_onnx_dir(settings: Settings) -> Path:
    return clip_onnx_folder(settings.home / "onnx", settings.clip_model, settings.clip_pretrained)


@pytest.fixture(scope="module")
def onnx_settings(tmp_path_factory: pytest.TempPathFactory, tiny_clip: str) -> Settings:
    """Settings whose MMRAG_HOME holds an export of the packaged MiniLM and the tiny CLIP (made once)."""
    settings = Settings(home=tmp_path_factory.mktemp("onnx-home"), clip_model=tiny_clip, device="cpu")
    written = export_onnx(
        settings.home / "onnx", settings.text_model, settings.clip_model, settings.clip_pretrained
    )
    assert written == [text_onnx_dir(settings), clip_onnx_dir(settings)]
    return settings


class TestOnnxTextEncoder(SemanticTextEncoderContract):
    @pytest.fixture(scope="class")
    def encoder(self, onnx_settings: Settings) -> OnnxTextEncoder:
        enc = build_text_encoder(onnx_settings.model_copy(update={"text_backend": "onnx"}))
        assert isinstance(enc, OnnxTextEncoder)
        enc.load()
        return enc

    def test_runs_on_cpu_provider_from_home(self, encoder: OnnxTextEncoder, onnx_settings: Settings) -> None:
        assert encoder.providers == ["CPUExecutionProvider"]
        assert encoder.folder == onnx_settings.home / "onnx" / "text" / encoder.folder.name
        assert (encoder.space, encoder.dim) == ("text", 384)

    @pytest.mark.eval_data
    def test_equivalent_to_torch_on_cranfield(self, encoder: OnnxTextEncoder, text_encoder: Any) -> None:
        """Cosine >= 0.999 to the torch encoder on real Cranfield abstracts (documents) and queries."""
        docs = list(cranfield(16).values()) + TEXTS
        queries = cranfield_queries(16)
        for onnx, torch in (
            (encoder.encode_documents(docs), text_encoder.encode_documents(docs)),
            (encoder.encode_queries(queries), text_encoder.encode_queries(queries)),
        ):
            cosine = (onnx * torch).sum(axis=1)
            assert cosine.min() >= 0.999, cosine.min()


def cranfield_queries(n: int) -> list[str]:
    """The first n Cranfield queries."""
    lines = (DATA / "beir" / "cranfield" / "queries.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(line)["text"] for line in lines[:n]]


def test_clip_towers_equivalent(onnx_settings: Settings, tiny_clip: str) -> None:
    """The exported CLIP image and text towers give the torch model's vectors (tiny random-weight CLIP)."""
    import onnxruntime as ort

    folder = clip_onnx_dir(onnx_settings)
    encoder = OpenClipEncoder(model=tiny_clip, device="cpu")
    photos = [Image.open(p).convert("RGB") for p in sorted(COCO.glob("*.jpg"))[:3]]
    pixels = encoder.pixel_values(photos).numpy()
    image = ort.InferenceSession(str(folder / "image.onnx"), providers=["CPUExecutionProvider"])
    got = image.run(None, {"pixel_values": pixels})[0]
    assert (got * encoder.encode_images(photos)).sum(axis=1).min() >= 0.999
    text = ort.InferenceSession(str(folder / "text.onnx"), providers=["CPUExecutionProvider"])
    tokens = encoder.token_ids(TEXTS).numpy()
    got = text.run(None, {"input_ids": tokens})[0]
    assert (got * encoder.encode_queries(TEXTS)).sum(axis=1).min() >= 0.999


def test_missing_export_says_how_to_make_one(tmp_path: Path) -> None:
    with pytest.raises(
        ModelUnavailableError, match=r"no ONNX text model at .* run `mmrag export-onnx` first"
    ):
        OnnxTextEncoder(tmp_path / "nothing").load()


def test_missing_export_is_made_from_the_source_model(tmp_path: Path) -> None:
    """With a source model the encoder exports on first load; a bad source gives the torch loader's reason."""
    enc = OnnxTextEncoder(tmp_path / "auto", source_model="/nonexistent/minilm")
    with pytest.raises(ModelUnavailableError, match="no such file or folder"):
        enc.load()


def test_int8_quantised_model_stays_within_cosine_099_of_torch(
    onnx_settings: Settings, text_encoder: Any
) -> None:
    """Dynamic int8 (per-channel, 7-bit weights; layers 0-2's FFN output projections kept float32; written
    once beside the export): every vector within cosine 0.99 of torch, short and odd texts included."""
    folder = text_onnx_dir(onnx_settings)
    int8 = OnnxTextEncoder(folder, device="cpu", quantize=True, threads=1)
    int8.load()
    quantised = folder / f"model.{INT8_RECIPE}.onnx"
    assert quantised.is_file()
    # The MatMul weights shrink 4x; the word embeddings (a Gather, half the file) and the three kept
    # projections stay float32: 64 MB against 90 MB for MiniLM.
    assert quantised.stat().st_size < 0.75 * (folder / "model.onnx").stat().st_size
    for got, want in (
        (int8.encode_documents(TEXTS), text_encoder.encode_documents(TEXTS)),
        (int8.encode_queries(TEXTS[:3]), text_encoder.encode_queries(TEXTS[:3])),
    ):
        cosine = (got * want).sum(axis=1)
        assert cosine.min() >= 0.99, cosine


def test_int8_keeps_the_sensitive_projections_in_float32(onnx_settings: Settings, tmp_path: Path) -> None:
    """The recipe leaves exactly the FFN output MatMuls of layers 0-2 unquantised; an empty keep list
    quantises all 36 weight MatMuls."""
    import onnx

    src = text_onnx_dir(onnx_settings) / "model.onnx"
    kept = quantize_text_model(src, tmp_path / "kept.onnx")
    everything = quantize_text_model(src, tmp_path / "all.onnx", fp32_ffn_output_layers=())

    def float_weight_matmuls(path: Path) -> list[str]:
        graph = onnx.load(str(path)).graph
        weights = {i.name for i in graph.initializer}
        return sorted(n.name for n in graph.node if n.op_type == "MatMul" and n.input[1] in weights)

    assert float_weight_matmuls(kept) == [
        f"/st/st.0/encoder/layer.{i}/output/dense/MatMul" for i in FP32_FFN_OUTPUT_LAYERS
    ]
    assert float_weight_matmuls(everything) == []


@pytest.mark.eval_data
def test_int8_within_cosine_099_on_cranfield(onnx_settings: Settings, text_encoder: Any) -> None:
    """The int8 variant against torch on real Cranfield abstracts and queries, with spinning threads off
    (the setting for a shared machine; it changes scheduling, not results)."""
    int8 = OnnxTextEncoder(text_onnx_dir(onnx_settings), device="cpu", quantize=True, spinning=False)
    docs = list(cranfield(16).values())
    queries = cranfield_queries(16)
    for got, want in (
        (int8.encode_documents(docs), text_encoder.encode_documents(docs)),
        (int8.encode_queries(queries), text_encoder.encode_queries(queries)),
    ):
        cosine = (got * want).sum(axis=1)
        assert cosine.min() >= 0.99, cosine.min()
