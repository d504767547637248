"""Build the dense encoders from settings. Constructors are cheap: the caller decides when to `load()`.

The composition root calls `load()` on each encoder; on `ModelUnavailableError` it goes on without that
space and shows the reason in `mmrag doctor`.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, cast

from core.errors import ConfigError
from core.protocols import TextEncoder
from core.settings import Settings

if TYPE_CHECKING:
    from indexing.open_clip_encoder import OpenClipEncoder

logger = logging.getLogger(__name__)


def build_text_encoder(settings: Settings) -> TextEncoder:
    """The `text` space encoder: sentence-transformers on torch, or the same model exported to ONNX.

    Args:
        settings: Uses `text_model`, `text_backend`, `device`, `batch_size` (and `home` for ONNX files).

    Raises:
        ConfigError: `text_backend` names no known backend.
    """
    if settings.text_backend == "torch":
        from indexing.sentence_transformers_text_encoder import SentenceTransformersTextEncoder

        # cast: `dim` is a lazily loading read-only property here, the protocol declares a plain attribute.
        encoder = SentenceTransformersTextEncoder(
            model=settings.text_model, device=settings.device, batch_size=settings.batch_size
        )
        return cast(TextEncoder, encoder)
    if settings.text_backend == "onnx":
        from indexing.onnx_text_encoder import OnnxTextEncoder

        return cast(TextEncoder, OnnxTextEncoder.from_settings(settings))
    raise ConfigError(f"unknown text_backend {settings.text_backend!r}: use torch or onnx")


def build_image_encoder(settings: Settings) -> OpenClipEncoder | None:
    """The `image` space encoder (CLIP image and text towers), or None when `clip_model` is empty.

    Args:
        settings: Uses `clip_model`, `clip_pretrained`, `device`, `batch_size`.
    """
    if not settings.clip_model.strip():
        return None
    from indexing.open_clip_encoder import OpenClipEncoder

    return OpenClipEncoder(
        model=settings.clip_model.strip(),
        pretrained=settings.clip_pretrained,
        device=settings.device,
        batch_size=settings.batch_size,
    )
