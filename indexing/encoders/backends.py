"""The dense encoder backends (`text_encoder`: torch, onnx; `image_encoder`: open_clip) for the registry.

Constructors are cheap: the composition root calls `load()` on each encoder; on `ModelUnavailableError` it
goes on without that space and shows the reason in `mmrag doctor`.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING, cast

from pydantic import BaseModel

from core.protocols import TextEncoder
from core.registry import Components, Registry

if TYPE_CHECKING:
    from indexing.encoders.open_clip_encoder import OpenClipEncoder

logger = logging.getLogger(__name__)


class TorchTextConfig(BaseModel):
    """sentence-transformers on torch."""

    text_model: str
    device: str = "auto"
    batch_size: int = 32


class OnnxTextConfig(TorchTextConfig):
    """The same model exported to ONNX under `<home>/onnx/text/` (exported on first load if absent)."""

    home: Path


class OpenClipConfig(BaseModel):
    """open_clip image and text towers; an empty `clip_model` disables the image space."""

    clip_model: str
    clip_pretrained: str
    device: str = "auto"
    batch_size: int = 32


def _torch_text(cfg: TorchTextConfig, _: Components) -> TextEncoder:
    from indexing.encoders.sentence_transformers_text_encoder import SentenceTransformersTextEncoder

    # cast: `dim` is a lazily loading read-only property here, the protocol declares a plain attribute.
    encoder = SentenceTransformersTextEncoder(
        model=cfg.text_model, device=cfg.device, batch_size=cfg.batch_size
    )
    return cast(TextEncoder, encoder)


def _onnx_text(cfg: OnnxTextConfig, _: Components, quantize: bool = False) -> TextEncoder:
    from indexing.encoders.onnx_export import text_onnx_folder
    from indexing.encoders.onnx_text_encoder import OnnxTextEncoder

    folder = text_onnx_folder(cfg.home / "onnx", cfg.text_model)  # what `mmrag export-onnx` writes
    encoder = OnnxTextEncoder(
        folder, device=cfg.device, batch_size=cfg.batch_size, source_model=cfg.text_model, quantize=quantize
    )
    return cast(TextEncoder, encoder)


def _onnx_int8_text(cfg: OnnxTextConfig, components: Components) -> TextEncoder:
    """Dynamic int8 (benchmarks/results/onnx.json: 1.2-1.3x torch on an idle CPU, nDCG@10 -0.003 to -0.010): opt-in."""
    return _onnx_text(cfg, components, quantize=True)


def _open_clip(cfg: OpenClipConfig, _: Components) -> OpenClipEncoder | None:
    if not cfg.clip_model.strip():
        return None
    from indexing.encoders.open_clip_encoder import OpenClipEncoder

    return OpenClipEncoder(
        model=cfg.clip_model.strip(),
        pretrained=cfg.clip_pretrained,
        device=cfg.device,
        batch_size=cfg.batch_size,
    )


def register(registry: Registry) -> None:
    """Entry point `mmrag.backends`: the built-in dense encoders."""
    registry.add("text_encoder", "torch", TorchTextConfig, _torch_text)
    registry.add("text_encoder", "onnx", OnnxTextConfig, _onnx_text)
    registry.add("text_encoder", "onnx-int8", OnnxTextConfig, _onnx_int8_text)
    registry.add("image_encoder", "open_clip", OpenClipConfig, _open_clip)
