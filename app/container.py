"""The composition root: the one place that picks concrete classes from settings.

Everything is built lazily on first use, so `mmrag --help` and light commands stay fast. An encoder whose
weights cannot be loaded is recorded in `unavailable` (space -> reason) and indexing goes on without it.
"""

from __future__ import annotations

import logging
from functools import cached_property
from typing import TYPE_CHECKING

from core.errors import ModelUnavailableError
from core.protocols import TextEncoder
from core.settings import Settings

if TYPE_CHECKING:
    from app.rag import RagPipeline
    from core.protocols import Extractor, Generator, ImageEncoder, Reranker, Router, VectorStore
    from indexing.manifest import Manifest
    from indexing.media_store import MediaStore
    from indexing.mllm_embedder import MllmEmbedder
    from indexing.pipeline import Indexer, RecordHook
    from retrieval.bm25_lexical_encoder import BM25LexicalEncoder
    from retrieval.retriever import Retriever

log = logging.getLogger(__name__)


class Container:
    """Builds and holds every component for one settings object. Close it to flush the store."""

    def __init__(self, settings: Settings | None = None) -> None:
        self.settings = settings or Settings()
        self.unavailable: dict[str, str] = {}

    # --- encoders -------------------------------------------------------------------------------------
    @cached_property
    def text_encoder(self) -> TextEncoder:
        from indexing.encoders import build_text_encoder

        encoder = build_text_encoder(self.settings)
        encoder.load()  # the text space is required: fail loudly
        return encoder

    @cached_property
    def image_encoder(self) -> ImageEncoder | None:
        """The CLIP encoder for the `image` space, or None (disabled, or weights missing: see `unavailable`)."""
        from indexing.encoders import build_image_encoder

        encoder = build_image_encoder(self.settings)
        if encoder is None:
            self.unavailable["image"] = "disabled (MMRAG_CLIP_MODEL is empty)"
            return None
        try:
            encoder.load()
        except ModelUnavailableError as exc:
            log.warning("image space disabled: %s", exc)
            self.unavailable["image"] = str(exc)
            return None
        return encoder

    @cached_property
    def mm_encoder(self) -> MllmEmbedder | None:
        """The MLLM embedder for the optional `mm` space, or None (off by default; reason in `unavailable`)."""
        from indexing.mm_space import build_mm_encoder

        return build_mm_encoder(self.settings, self.unavailable)

    @cached_property
    def lexical(self) -> BM25LexicalEncoder:
        from retrieval.bm25_lexical_encoder import BM25LexicalEncoder

        return BM25LexicalEncoder()

    def spaces(self) -> dict[str, int]:
        """Dense spaces available now (name -> dim)."""
        spaces = {"text": self.text_encoder.dim}
        if self.image_encoder is not None:
            spaces["image"] = self.image_encoder.dim
        if self.mm_encoder is not None:
            spaces["mm"] = self.mm_encoder.dim
        return spaces

    # --- storage --------------------------------------------------------------------------------------
    @cached_property
    def store(self) -> VectorStore:
        from retrieval.matryoshka_store import with_matryoshka
        from retrieval.stores import build_store

        self.settings.home.mkdir(parents=True, exist_ok=True)
        store = with_matryoshka(build_store(self.settings), self.settings.mrl_dim)
        store.ensure(self.spaces())
        return store

    @cached_property
    def manifest(self) -> Manifest:
        from indexing.manifest import Manifest

        self.settings.home.mkdir(parents=True, exist_ok=True)
        return Manifest(self.settings.db_path)

    @cached_property
    def media(self) -> MediaStore:
        from indexing.media_store import MediaStore

        return MediaStore(self.settings.media_dir)

    # --- indexing -------------------------------------------------------------------------------------
    @cached_property
    def ocr(self):  # type: ignore[no-untyped-def]
        if not self.settings.ocr:
            return None
        from indexing.rapidocr_ocr import RapidOcr

        return RapidOcr()

    @cached_property
    def extractors(self) -> list[Extractor]:
        from indexing.extractors import build_extractors

        return build_extractors(self.settings, self.ocr)

    @cached_property
    def indexer(self) -> Indexer:
        from indexing.extraction_worker import build_extraction
        from indexing.pipeline import Indexer

        return Indexer(
            extractors=self.extractors,
            text_encoder=self.text_encoder,
            image_encoder=self.image_encoder,
            lexical=self.lexical,
            store=self.store,
            manifest=self.manifest,
            media=self.media,
            batch_size=self.settings.batch_size,
            hooks=self.record_hooks(),
            extraction=build_extraction(self.settings, self.extractors),
            follow_links=self.settings.follow_links,
        )

    def record_hooks(self) -> list[RecordHook]:
        """Index-time extras that run after the built-in encoders (GRAM vectors of clips, the mm space)."""
        from indexing.gram_hook import GramHook
        from indexing.mm_space import mm_record_hook

        hooks: list[RecordHook] = []
        if isinstance(self.image_encoder, TextEncoder):
            hooks.append(GramHook(self.image_encoder))
        if self.mm_encoder is not None:
            hooks.append(mm_record_hook(self.mm_encoder))
        return hooks

    # --- retrieval and RAG ----------------------------------------------------------------------------
    @cached_property
    def retriever(self) -> Retriever:
        from retrieval.retriever import Retriever

        return Retriever(
            store=self.store,
            text_encoder=self.text_encoder,
            image_encoder=self.image_encoder,
            mm_encoder=self.mm_encoder,
            lexical=self.lexical,
            fusion=self.settings.fusion,
            candidates=self.settings.candidates,
        )

    @cached_property
    def generator(self) -> Generator:
        from generation.generators import build_generator

        return build_generator(self.settings, text_encoder=self.text_encoder)

    @cached_property
    def router(self) -> Router:
        from retrieval.routers import build_router

        return build_router(self.settings, text_encoder=self.text_encoder, generator=self.generator)

    @cached_property
    def reranker(self) -> Reranker:
        from rerank.rerankers import build_reranker

        return build_reranker(self.settings, text_encoder=self.text_encoder, image_encoder=self.image_encoder)

    @cached_property
    def rag(self) -> RagPipeline:
        from app.rag import RagPipeline

        return RagPipeline(
            retriever=self.retriever,
            router=self.router,
            reranker=self.reranker,
            generator=self.generator,
            settings=self.settings,
        )

    def delete_source(self, source_id: str) -> int:
        """Remove a source's points, media and manifest entry; return the number of points deleted."""
        deleted = self.store.delete_source(source_id)
        self.media.delete_source(source_id)
        self.manifest.forget(source_id)
        return deleted

    def close(self) -> None:
        if "indexer" in self.__dict__:
            self.indexer.close()  # stops the extraction worker
        if "store" in self.__dict__:
            self.store.close()
