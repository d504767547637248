"""The generator backends for the registry: `extractive` (default, no model), `openai`, `gguf`, `transformers`."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

from pydantic import BaseModel

from core.errors import ConfigError, NotFoundError
from core.protocols import Generator, MediaResolver, TextEncoder
from core.registry import Components, Registry
from core.types import Segment

if TYPE_CHECKING:
    from PIL.Image import Image


log = logging.getLogger(__name__)

Picture = Callable[[Segment], "Image | None"]


def picture_from(media: MediaResolver) -> Picture:
    """Load a segment's stored picture (page render, photo, keyframe) through `media`, or None."""

    def picture(segment: Segment) -> Image | None:
        if not segment.media_ref:
            return None
        from PIL import Image as PILImage

        try:
            path = media.path(segment.source_id, segment.media_ref)
        except NotFoundError:
            return None
        with PILImage.open(path) as img:
            return img.convert("RGB")

    return picture


class ExtractiveConfig(BaseModel):
    """No model: picks the evidence sentences that answer best (meaning via the text encoder).

    `answerability = "llm"` adds the packaged Qwen 0.5B as a yes/no answerability judge (mmrag[llm]).
    """

    answerability: str = "rules"
    answerability_threshold: float = 0.3


class OpenAIConfig(BaseModel):
    """Any OpenAI-compatible chat endpoint (Ollama, vLLM, llama.cpp server, OpenAI)."""

    generator_model: str = ""
    openai_base_url: str = "http://localhost:11434/v1"
    openai_api_key: str = "none"


class GgufConfig(BaseModel):
    """A local GGUF LLM; empty model: the packaged Gemma 3 270M; "packaged-qwen" (or "qwen"): the
    packaged Qwen2.5-Coder-0.5B-Instruct, prompted through its chat template (mmrag[llm])."""

    generator_model: str = ""


class TransformersConfig(BaseModel):
    """A local vision-language model on transformers (GPU recommended); sees pictures of visual evidence."""

    generator_model: str = ""
    device: str = "auto"


def _extractive(cfg: ExtractiveConfig, components: Components) -> Generator:
    from generation.extractive_generator import ExtractiveGenerator
    from generation.llm_judge import AnswerabilityJudge

    try:
        encoder: TextEncoder | None = components.text_encoder
    except ConfigError:  # none given (`app.builders.build_generator` without one): it matches words only
        encoder = None
    judge: AnswerabilityJudge | None = None
    if cfg.answerability == "llm":
        from generation.gguf_generator import PACKAGED_QWEN, GgufGenerator
        from generation.llm_judge import LlmJudge

        judge = LlmJudge(GgufGenerator(PACKAGED_QWEN, backend="transformers"), cfg.answerability_threshold)
    elif cfg.answerability != "rules":
        raise ConfigError(f"unknown answerability {cfg.answerability!r}: use rules or llm")
    return ExtractiveGenerator(encoder, judge=judge)


def _openai(cfg: OpenAIConfig, components: Components) -> Generator:
    from generation.openai_generator import OpenAIGenerator

    if not cfg.generator_model:
        raise ConfigError("generator openai needs MMRAG_GENERATOR_MODEL (the model name the server knows)")
    return OpenAIGenerator(
        cfg.openai_base_url, cfg.generator_model, cfg.openai_api_key, picture=_picture(components)
    )


def _gguf(cfg: GgufConfig, _: Components) -> Generator:
    from generation.gguf_generator import GgufGenerator

    return GgufGenerator(cfg.generator_model)


def _transformers(cfg: TransformersConfig, components: Components) -> Generator:
    from generation.transformers_generator import TransformersGenerator

    return TransformersGenerator(cfg.generator_model, device=cfg.device, picture=_picture(components))


def _picture(components: Components) -> Picture | None:
    try:
        return picture_from(components.media)
    except ConfigError:  # no media store given: text-only evidence
        return None


def register(registry: Registry) -> None:
    """Entry point `mmrag.backends`: the built-in generators."""
    registry.add("generator", "extractive", ExtractiveConfig, _extractive)
    registry.add("generator", "openai", OpenAIConfig, _openai)
    registry.add("generator", "gguf", GgufConfig, _gguf)
    registry.add("generator", "transformers", TransformersConfig, _transformers)
