"""Export the dense encoders to ONNX, for the onnxruntime text backend (`MMRAG_TEXT_BACKEND=onnx`).

Layout under the export folder (default `$MMRAG_HOME/onnx`, what `mmrag export-onnx` writes):

    text/<model-slug>/model.onnx        sentence-transformers model incl. pooling (+ Dense, Normalize)
    text/<model-slug>/model.int8-*.onnx its int8 copy (`quantize_text_model`), made on first use
    text/<model-slug>/tokenizer.json    its fast tokenizer
    text/<model-slug>/mmrag_onnx.json   input names, dim, max_seq_length, query/document prompts
    clip/<model-slug>/image.onnx        CLIP image tower: pixel_values (b, 3, H, W) -> image_embeds (b, d)
    clip/<model-slug>/text.onnx         CLIP text tower: input_ids (b, context_length) -> text_embeds (b, d)
    clip/<model-slug>/mmrag_onnx.json   image size, mean/std, context length, dim

`<model-slug>` is the model setting made filesystem-safe plus a short hash, so changing `MMRAG_TEXT_MODEL`
never reuses another model's export. Axes for batch (and sequence, for text) are dynamic.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import warnings
from pathlib import Path
from typing import Any

from core.errors import ModelUnavailableError

logger = logging.getLogger(__name__)

META = "mmrag_onnx.json"
OPSET = 17


def model_slug(value: str) -> str:
    """A folder name for a model setting: readable tail plus a hash of the whole value."""
    readable = re.sub(r"[^\w.-]+", "_", value).strip("_.")[-48:] or "model"
    return f"{readable}-{hashlib.sha1(value.encode()).hexdigest()[:8]}"


def text_onnx_folder(root: Path, text_model: str) -> Path:
    """The folder of the ONNX export of `text_model` under an export root (default `$MMRAG_HOME/onnx`)."""
    return root / "text" / model_slug(text_model)


def clip_onnx_folder(root: Path, clip_model: str, clip_pretrained: str) -> Path:
    """The folder of the ONNX export of a CLIP model (`local-dir:...`, or name + pretrained tag)."""
    key = clip_model if clip_model.startswith("local-dir:") else f"{clip_model}--{clip_pretrained}"
    return root / "clip" / model_slug(key)


def export_onnx(root: Path, text_model: str, clip_model: str = "", clip_pretrained: str = "") -> list[Path]:
    """Export the text encoder and, when one is given and loadable, the CLIP towers, under `root`.

    Args:
        root: Export root; `$MMRAG_HOME/onnx` is where the onnx backend looks.
        text_model: The sentence-transformers model to export.
        clip_model: open_clip model name or `local-dir:PATH`; empty: no CLIP export.
        clip_pretrained: open_clip pretrained tag.

    Returns:
        The folders written (text first, then CLIP if exported).

    Raises:
        ModelUnavailableError: the text model cannot be loaded. A CLIP model that cannot load is skipped
            with a warning, since the text export is still useful on its own.
    """
    written = [export_text_encoder(text_model, text_onnx_folder(root, text_model))]
    if clip_model.strip():
        try:
            written.append(
                export_clip(clip_model, clip_pretrained, clip_onnx_folder(root, clip_model, clip_pretrained))
            )
        except ModelUnavailableError as exc:
            logger.warning("CLIP not exported: %s", exc)
    return written


def export_text_encoder(model: str, out_dir: Path) -> Path:
    """Export a sentence-transformers model (tokenizer output -> pooled embedding) to `out_dir`.

    Args:
        model: A `text_model` setting ("packaged", hub id or folder).
        out_dir: Folder to write model.onnx, tokenizer.json and the metadata into.

    Raises:
        ModelUnavailableError: the model cannot be loaded, or has no fast tokenizer to save.
    """
    import torch

    from indexing.encoders.sentence_transformers_text_encoder import SentenceTransformersTextEncoder

    encoder = SentenceTransformersTextEncoder(model=model, device="cpu")
    encoder.load()
    st = encoder._model
    assert st is not None
    backend = getattr(getattr(st, "tokenizer", None), "backend_tokenizer", None)
    if backend is None:
        raise ModelUnavailableError(f"text model {model!r} has no fast tokenizer; it cannot run on ONNX here")
    sample = st.preprocess(["a short one", "a somewhat longer sentence, so the batch has padding in it"])
    names = [k for k, v in sample.items() if isinstance(v, torch.Tensor) and v.dim() == 2]
    out_dir.mkdir(parents=True, exist_ok=True)
    graph, _ = _wrappers()
    _export(
        graph(st, names),
        tuple(sample[n] for n in names),
        out_dir / "model.onnx",
        names,
        {n: {0: "batch", 1: "sequence"} for n in names} | {"sentence_embedding": {0: "batch"}},
    )
    backend.save(str(out_dir / "tokenizer.json"))
    meta = {
        "kind": "sentence-transformers",
        "source": model,
        "inputs": names,
        "dim": encoder.dim,
        "max_seq_length": int(st.max_seq_length or 512),
        "prompts": {k: v for k, v in (st.prompts or {}).items() if k in ("query", "document")},
        "pad_id": int(st.tokenizer.pad_token_id or 0),
        "pad_token": str(st.tokenizer.pad_token or "[PAD]"),
    }
    (out_dir / META).write_text(json.dumps(meta, indent=2), encoding="utf-8")
    logger.info("exported text model %s to %s", model, out_dir)
    return out_dir


def export_clip(model: str, pretrained: str, out_dir: Path) -> Path:
    """Export both CLIP towers (image.onnx, text.onnx) with normalised outputs to `out_dir`.

    Raises:
        ModelUnavailableError: the CLIP weights cannot be loaded.
    """
    import torch

    from indexing.encoders.open_clip_encoder import OpenClipEncoder

    encoder = OpenClipEncoder(model=model, pretrained=pretrained, device="cpu")
    encoder.load()
    clip = encoder._model
    size = _image_size(clip)
    tokens = encoder.token_ids(["a photo of a cat", "a diagram"])
    out_dir.mkdir(parents=True, exist_ok=True)
    _, tower = _wrappers()
    _export(
        tower(clip, "encode_image"),
        (torch.zeros(2, 3, *size),),
        out_dir / "image.onnx",
        ["pixel_values"],
        {"pixel_values": {0: "batch"}, "embeddings": {0: "batch"}},
    )
    _export(
        tower(clip, "encode_text"),
        (tokens,),
        out_dir / "text.onnx",
        ["input_ids"],
        {"input_ids": {0: "batch"}, "embeddings": {0: "batch"}},
    )
    mean, std = _normalize_stats(encoder._preprocess)
    meta = {
        "kind": "open_clip",
        "source": encoder.name,
        "dim": encoder.dim,
        "image_size": list(size),
        "context_length": int(tokens.shape[1]),
        "mean": mean,
        "std": std,
    }
    (out_dir / META).write_text(json.dumps(meta, indent=2), encoding="utf-8")
    logger.info("exported CLIP model %s to %s", encoder.name, out_dir)
    return out_dir


INT8_RECIPE = "int8-ffn012"
"""Name of the int8 recipe (part of the quantised file's name, so a changed recipe never reuses an old file)."""
FP32_FFN_OUTPUT_LAYERS = (0, 1, 2)
"""Transformer layers whose FFN output projection (`layer.N/output/dense`) stays float32 in the int8 model.

Measured on MiniLM-L6 (benchmarks/bench_onnx.py): quantising every weight MatMul gives a worst cosine to
torch of 0.988; the FFN output projections (GELU activations in, long-tailed) carry most of the error, layer
0's most of all. Keeping layers 0-2's in float32 (3 of 36 MatMuls) gives mean cosine 0.996 and a worst of
0.9935 on Cranfield's non-empty documents, but 0.9878 on Vaswani's, and Vaswani's hybrid nDCG@10 drops 0.010:
so int8 stays opt-in (benchmarks/results/onnx.json)."""


def quantize_text_model(
    src: Path, dst: Path, fp32_ffn_output_layers: tuple[int, ...] = FP32_FFN_OUTPUT_LAYERS
) -> Path:
    """Write an int8 copy of an exported text model: dynamic quantisation of the weight MatMuls.

    Weights are int8 with per-channel scales and the 7-bit range (`reduce_range`: the u8s8 kernels of
    AVX2 CPUs without VNNI saturate at 8 bits); activations are quantised per batch at run time. The FFN
    output projections of `fp32_ffn_output_layers` stay float32 (see `FP32_FFN_OUTPUT_LAYERS`).

    Raises:
        ModelUnavailableError: onnxruntime's quantisation tools (they need `onnx`) are not installed.
    """
    try:
        import onnx
        from onnxruntime.quantization import QuantType, quantize_dynamic
    except ImportError as exc:
        raise ModelUnavailableError(f"int8 quantisation needs onnx and onnxruntime: {exc}") from exc
    graph = onnx.load(str(src), load_external_data=False).graph
    pattern = re.compile(r"layer\.(\d+)/output/dense/MatMul$")
    keep = [
        n.name
        for n in graph.node
        if n.op_type == "MatMul"
        and (m := pattern.search(n.name))
        and int(m.group(1)) in fp32_ffn_output_layers
    ]
    partial = dst.with_suffix(".partial.onnx")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        quantize_dynamic(
            str(src),
            str(partial),
            weight_type=QuantType.QInt8,
            op_types_to_quantize=["MatMul"],
            per_channel=True,
            reduce_range=True,
            nodes_to_exclude=keep,
        )
    partial.replace(dst)
    logger.info("quantised %s to int8 (%d MatMuls kept float32)", src, len(keep))
    return dst


def _image_size(clip: Any) -> tuple[int, int]:
    size = getattr(clip.visual, "image_size", 224)
    return (size, size) if isinstance(size, int) else (int(size[0]), int(size[1]))


def _export(
    module: Any, args: tuple[Any, ...], path: Path, inputs: list[str], axes: dict[str, dict[int, str]]
) -> None:
    import torch

    output = next(name for name in axes if name not in inputs)
    # Grad stays enabled: under no_grad nn.MultiheadAttention takes its fused fast path
    # (aten::_native_multi_head_attention), which has no ONNX export.
    with torch.inference_mode(False), torch.enable_grad(), warnings.catch_warnings():
        # The tracer warns about Python branches on shapes that are constant for these models.
        warnings.simplefilter("ignore")
        torch.onnx.export(
            module.eval(),
            args,
            str(path),
            input_names=inputs,
            output_names=[output],
            dynamic_axes=axes,
            opset_version=OPSET,
            dynamo=False,  # the TorchScript exporter needs no onnxscript and handles dynamic_axes directly
        )


def _wrappers() -> tuple[type, type]:
    """The traced wrapper modules, defined on demand so importing this module does not import torch."""
    import torch

    class SentenceTransformerGraph(torch.nn.Module):
        """Positional tensors in, the model's pooled `sentence_embedding` out (what ONNX export traces)."""

        def __init__(self, st: Any, names: list[str]) -> None:
            super().__init__()
            self.st = st
            self.names = names

        def forward(self, *tensors: Any) -> Any:
            return self.st(dict(zip(self.names, tensors, strict=True)))["sentence_embedding"]

    class ClipTower(torch.nn.Module):
        """One CLIP tower with L2-normalised output."""

        def __init__(self, clip: Any, tower: str) -> None:
            super().__init__()
            self.clip = clip
            self.tower = tower

        def forward(self, x: Any) -> Any:
            return getattr(self.clip, self.tower)(x, normalize=True)

    return SentenceTransformerGraph, ClipTower


def _normalize_stats(preprocess: Any) -> tuple[list[float], list[float]]:
    """Mean and std of the Normalize step in an open_clip preprocessing pipeline."""
    for step in getattr(preprocess, "transforms", []):
        if hasattr(step, "mean") and hasattr(step, "std"):
            return [float(v) for v in step.mean], [float(v) for v in step.std]
    raise ModelUnavailableError("CLIP preprocessing has no Normalize step; cannot record mean/std")
