"""Pick the generator from settings: `extractive` (default, no model), `openai`, `gguf`, `transformers`."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

from core.errors import ConfigError, NotFoundError
from core.protocols import Generator, TextEncoder
from core.settings import Settings
from core.types import Segment

if TYPE_CHECKING:
    from PIL.Image import Image

log = logging.getLogger(__name__)

Picture = Callable[[Segment], "Image | None"]


def picture_from_settings(settings: Settings) -> Picture:
    """Load a segment's stored picture (page render, photo, keyframe) from the media store, or None."""

    def picture(segment: Segment) -> Image | None:
        if not segment.media_ref:
            return None
        from PIL import Image as PILImage

        from indexing.media_store import MediaStore

        try:
            path = MediaStore(settings.media_dir).path(segment.source_id, segment.media_ref)
        except NotFoundError:
            return None
        with PILImage.open(path) as img:
            return img.convert("RGB")

    return picture


def build_generator(
    settings: Settings, text_encoder: TextEncoder | None = None, picture: Picture | None = None
) -> Generator:
    """The generator named by `settings.generator`.

    Args:
        settings: Uses `generator`, `generator_model`, `openai_base_url`, `openai_api_key`, `device`.
        text_encoder: Lets the extractive generator match meaning, not only words (recommended).
        picture: Gives a visual segment's picture to generators that see images; default: the media store.

    Raises:
        ConfigError: unknown generator, or `openai` without a model name.
    """
    name = settings.generator
    if name == "extractive":
        from generation.extractive_generator import ExtractiveGenerator

        return ExtractiveGenerator(text_encoder)
    if name == "openai":
        from generation.openai_generator import OpenAIGenerator

        if not settings.generator_model:
            raise ConfigError(
                "generator openai needs MMRAG_GENERATOR_MODEL (the model name the server knows)"
            )
        return OpenAIGenerator(
            settings.openai_base_url,
            settings.generator_model,
            settings.openai_api_key,
            picture=picture or picture_from_settings(settings),
        )
    if name == "gguf":
        from generation.gguf_generator import GgufGenerator

        return GgufGenerator(settings.generator_model)
    if name == "transformers":
        from generation.transformers_generator import TransformersGenerator

        return TransformersGenerator(
            settings.generator_model,
            device=settings.device,
            picture=picture or picture_from_settings(settings),
        )
    raise ConfigError(f"unknown generator {name!r}: use extractive, openai, gguf or transformers")
