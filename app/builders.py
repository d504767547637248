"""One component built from `Settings` without a whole `Container`: for scripts, tests, benchmarks and the
extraction worker process.

Each helper maps the settings to the backend the registry has under the selected name, exactly as the
container does; the dependencies a backend asks for are the ones handed in (`core.registry.Given`).
Library modules never see `Settings`: these helpers and `app.container` are where settings become config.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, cast

from core.registry import Given, default_registry, selected_name
from core.settings import Settings

if TYPE_CHECKING:
    from core.protocols import (
        Asr,
        Extractor,
        Generator,
        ImageEncoder,
        MediaResolver,
        Ocr,
        Reranker,
        RescoringStore,
        Router,
        TextEncoder,
    )
    from indexing.extraction_worker import Extraction


def build_store(settings: Settings) -> RescoringStore:
    """The store the settings select (`store`; `auto`: server when `qdrant_url` is set, else embedded)."""
    name = selected_name(settings, "store")
    return cast("RescoringStore", default_registry().build("store", name, settings, Given()))


def build_text_encoder(settings: Settings) -> TextEncoder:
    """The `text` space encoder the settings select (`text_backend`), not loaded yet.

    Raises:
        ConfigError: `text_backend` names no registered backend.
    """
    name = selected_name(settings, "text_encoder")
    return cast("TextEncoder", default_registry().build("text_encoder", name, settings, Given()))


def build_image_encoder(settings: Settings) -> ImageEncoder | None:
    """The `image` space encoder the settings select (`image_backend`), or None when disabled."""
    name = selected_name(settings, "image_encoder")
    return cast("ImageEncoder | None", default_registry().build("image_encoder", name, settings, Given()))


def build_router(settings: Settings, text_encoder: TextEncoder, generator: Generator) -> Router:
    """The router the settings select (`router`).

    Args:
        settings: Selects the backend; `router_path` (weights `.npz`; default `$MMRAG_HOME/router_weights.npz`
            when present, else the shipped weights) and `home`.
        text_encoder: The `text` space encoder (the trained router embeds queries with it).
        generator: The configured generator (the LLM router prompts it).

    Raises:
        ConfigError: unknown router name, or `router_path` does not exist.
    """
    given = Given(text_encoder=text_encoder, generator=generator)
    name = selected_name(settings, "router")
    return cast("Router", default_registry().build("router", name, settings, given))


def build_reranker(
    settings: Settings,
    text_encoder: TextEncoder,
    image_encoder: ImageEncoder | None = None,
    media: MediaResolver | None = None,
) -> Reranker:
    """The reranker the settings select (`reranker`).

    Args:
        settings: Selects the backend and fills its config.
        text_encoder: The `text` space encoder (embedding reranker).
        image_encoder: CLIP (embedding reranker's image and GRAM scores), or None.
        media: Where the MLLM reranker finds a segment's picture; None: text only.

    Raises:
        ConfigError: unknown reranker name.
    """
    given = Given(text_encoder=text_encoder, image_encoder=image_encoder, media=media)
    name = selected_name(settings, "reranker")
    return cast("Reranker", default_registry().build("reranker", name, settings, given))


def build_generator(
    settings: Settings, text_encoder: TextEncoder | None = None, media: MediaResolver | None = None
) -> Generator:
    """The generator the settings select (`generator`), built through the registry.

    Args:
        settings: Selects the backend and fills its config.
        text_encoder: Lets the extractive generator match meaning, not only words (recommended).
        media: Where generators that see images find a segment's picture; None: text only.

    Raises:
        ConfigError: unknown generator, or `openai` without a model name.
    """
    name = selected_name(settings, "generator")
    given = Given(text_encoder=text_encoder, media=media)
    return cast("Generator", default_registry().build("generator", name, settings, given))


def build_extractors(settings: Settings, ocr: Ocr | None = None, asr: Asr | None = None) -> list[Extractor]:
    """Every registered extractor, configured from settings.

    Args:
        settings: chunk sizes, the pixel limit, recording windows; `settings.ocr` False disables OCR even
            when `ocr` is given.
        ocr: the shared OCR engine (load it once per process), or None for no OCR.
        asr: the ASR model for recordings; default: the one the settings select (loads on first use).

    Returns:
        Extractors in the order they are tried: specific types before the catch-all text extractor.
    """
    registry = default_registry()
    if asr is None:
        asr = cast("Asr", registry.build("asr", selected_name(settings, "asr"), settings, Given()))
    given = Given(ocr=ocr if settings.ocr else None, asr=asr)
    return cast("list[Extractor]", registry.build_all("extractor", settings, given))


def worker_extractors(config: dict[str, Any]) -> list[Extractor]:
    """The extraction worker's extractors, from the settings dumped by `build_extraction` (picklable).

    The worker process builds them once, with its own OCR engine (the one the settings select; none when
    `ocr` is off) and ASR, as the container does.
    """
    settings = Settings.model_validate(config)
    ocr: Ocr | None = None
    if settings.ocr:
        ocr = default_registry().build("ocr", selected_name(settings, "ocr"), settings, Given())
    return build_extractors(settings, ocr)


def build_extraction(settings: Settings, extractors: Sequence[Extractor]) -> Extraction:
    """The extraction the settings ask for: `process` (isolated, the default) or `none` (in this process)."""
    from indexing.extraction_worker import InlineExtraction, IsolatedExtraction

    if settings.extract_isolation == "process":
        return IsolatedExtraction(
            worker_extractors,
            settings.model_dump(mode="json"),
            timeout_s=settings.extract_timeout_s,
            memory_mb=settings.extract_memory_mb,
        )
    return InlineExtraction(extractors)
