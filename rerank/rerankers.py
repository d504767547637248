"""The reranker backends for the registry: `embedding` (CPU default), `cross-encoder`, `mllm`, or `none`."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Literal

from pydantic import BaseModel

from core.errors import ConfigError
from core.protocols import MediaResolver, Reranker
from core.registry import Components, Registry
from core.types import Hit, Segment
from rerank.mllm_reranker import MediaPath


class NoReranker:
    """Keeps the retrieval order; the fused score becomes the rerank score."""

    name = "none"

    def rerank(self, query: str, hits: Sequence[Hit]) -> list[Hit]:
        return [replace(h, scores={**h.scores, "rerank": h.score}) for h in hits]


def media_path_of(media: MediaResolver) -> MediaPath:
    """A `media_path` callable over a media store (NotFoundError for a missing picture, as the store)."""

    def media_path(segment: Segment) -> Path | None:
        if not segment.media_ref:
            return None
        return media.path(segment.source_id, segment.media_ref)

    return media_path


class EmbeddingConfig(BaseModel):
    """Cosine of the text (and CLIP) embeddings; clips by GRAM or mean fusion of their modalities."""

    clip_fusion: Literal["gram", "mean"] = "gram"


class CrossEncoderConfig(BaseModel):
    """A sentence-transformers cross-encoder; empty model: the default one."""

    reranker_model: str = ""
    device: str = "auto"
    batch_size: int = 32


class MllmConfig(BaseModel):
    """A vision-language model scoring P(yes) per hit, looking at stored pictures."""

    reranker_model: str = ""
    device: str = "auto"


class NoConfig(BaseModel):
    """No options."""


def _embedding(cfg: EmbeddingConfig, c: Components) -> Reranker:
    from rerank.embedding_reranker import EmbeddingReranker

    return EmbeddingReranker(c.text_encoder, c.image_encoder, clip_fusion=cfg.clip_fusion, vectors=c.store)


def _cross_encoder(cfg: CrossEncoderConfig, _: Components) -> Reranker:
    from rerank.cross_encoder_reranker import CrossEncoderReranker

    return CrossEncoderReranker(cfg.reranker_model, device=cfg.device, batch_size=cfg.batch_size)


def _mllm(cfg: MllmConfig, c: Components) -> Reranker:
    from rerank.mllm_reranker import MllmReranker

    try:
        media_path: MediaPath | None = media_path_of(c.media)
    except ConfigError:  # no media store given: text-only scoring
        media_path = None
    return MllmReranker(cfg.reranker_model, media_path=media_path, device=cfg.device)


def _none(_: NoConfig, __: Components) -> Reranker:
    return NoReranker()


def register(registry: Registry) -> None:
    """Entry point `mmrag.backends`: the built-in rerankers."""
    registry.add("reranker", "embedding", EmbeddingConfig, _embedding)
    registry.add("reranker", "cross-encoder", CrossEncoderConfig, _cross_encoder)
    registry.add("reranker", "mllm", MllmConfig, _mllm)
    registry.add("reranker", "none", NoConfig, _none)
