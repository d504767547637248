"""Pick the reranker from settings: `embedding` (CPU default), `cross-encoder`, `mllm`, or `none`."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from core.errors import ConfigError
from core.protocols import ImageEncoder, Reranker, TextEncoder
from core.settings import Settings
from core.types import Hit, Segment
from rerank.mllm_reranker import MediaPath


class NoReranker:
    """Keeps the retrieval order; the fused score becomes the rerank score."""

    name = "none"

    def rerank(self, query: str, hits: Sequence[Hit]) -> list[Hit]:
        return [replace(h, scores={**h.scores, "rerank": h.score}) for h in hits]


def media_path_from_settings(settings: Settings) -> MediaPath:
    """A `media_path` callable over the media store in `settings.media_dir`."""

    def media_path(segment: Segment) -> Path | None:
        from indexing.media_store import MediaStore

        if not segment.media_ref:
            return None
        return MediaStore(settings.media_dir).path(segment.source_id, segment.media_ref)

    return media_path


def build_reranker(
    settings: Settings,
    text_encoder: TextEncoder,
    image_encoder: ImageEncoder | None = None,
    media_path: MediaPath | None = None,
) -> Reranker:
    """The reranker named by `settings.reranker`.

    Args:
        settings: Uses `reranker`, `reranker_model`, `device`, `batch_size`, `media_dir`.
        text_encoder: The `text` space encoder (embedding reranker).
        image_encoder: CLIP (embedding reranker's image and GRAM scores), or None.
        media_path: Where the MLLM reranker finds a segment's picture; default: the media store.

    Raises:
        ConfigError: unknown reranker name.
    """
    name = settings.reranker
    if name == "embedding":
        from rerank.embedding_reranker import EmbeddingReranker

        return EmbeddingReranker(text_encoder, image_encoder, clip_fusion=settings.clip_fusion)
    if name == "cross-encoder":
        from rerank.cross_encoder_reranker import CrossEncoderReranker

        return CrossEncoderReranker(
            settings.reranker_model, device=settings.device, batch_size=settings.batch_size
        )
    if name == "mllm":
        from rerank.mllm_reranker import MllmReranker

        return MllmReranker(
            settings.reranker_model,
            media_path=media_path or media_path_from_settings(settings),
            device=settings.device,
        )
    if name == "none":
        return NoReranker()
    raise ConfigError(f"unknown reranker {name!r}: use embedding, cross-encoder, mllm or none")
