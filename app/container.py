"""The composition root: the one place that picks concrete classes from settings.

Everything is built lazily on first use, so `mmrag --help` and light commands stay fast. An encoder whose
weights cannot be loaded is recorded in `unavailable` (space -> reason) and indexing goes on without it.
"""

from __future__ import annotations

import logging
from functools import cached_property
from typing import TYPE_CHECKING, Any

from core.errors import ModelUnavailableError
from core.protocols import TextEncoder
from core.registry import Registry, Role, default_registry, selected_name
from core.settings import Settings

if TYPE_CHECKING:
    from app.rag import RagPipeline
    from core.protocols import (
        Asr,
        Extractor,
        Generator,
        ImageEncoder,
        Ocr,
        Reranker,
        RescoringStore,
        Router,
    )
    from indexing.encoders.mllm_embedder import MllmEmbedder
    from indexing.manifest import Manifest
    from indexing.media.media_store import MediaStore
    from indexing.pipeline import Indexer
    from indexing.record_encoding import RecordHook
    from retrieval.bm25_lexical_encoder import BM25LexicalEncoder
    from retrieval.retriever import Retriever

log = logging.getLogger(__name__)


class Container:
    """Builds and holds every component for one settings object. Close it to flush the store.

    Each role's backend comes from the registry (built-ins and installed plugins, see docs/plugins.md); the
    container is the `Components` its factories draw their dependencies from.
    """

    def __init__(self, settings: Settings | None = None, registry: Registry | None = None) -> None:
        self.settings = settings or Settings()
        self.registry = registry or default_registry()
        self.unavailable: dict[str, str] = {}

    def _build(self, role: Role) -> Any:
        """The backend the settings select for `role`, built from the registry.

        The router, reranker and generator read the question, so they get the query-caching text encoder
        (`query_encoder`): one encoding of the question per `ask`, shared with the retriever.
        """
        components = _QueryComponents(self) if role in _QUERY_ROLES else self
        return self.registry.build(role, selected_name(self.settings, role), self.settings, components)

    # --- encoders -------------------------------------------------------------------------------------
    @cached_property
    def text_encoder(self) -> TextEncoder:
        encoder: TextEncoder = self._build("text_encoder")
        encoder.load()  # the text space is required: fail loudly
        return encoder

    @cached_property
    def image_encoder(self) -> ImageEncoder | None:
        """The CLIP encoder for the `image` space, or None (disabled, or weights missing: see `unavailable`)."""
        encoder: ImageEncoder | None = self._build("image_encoder")
        if encoder is None:
            self.unavailable["image"] = "disabled (MMRAG_CLIP_MODEL is empty)"
            return None
        try:
            encoder.load()
        except ModelUnavailableError as exc:
            # Not a warning on every command: `mmrag index` notes it once per home, `mmrag doctor` always.
            log.info("image space disabled: %s", exc)
            self.unavailable["image"] = str(exc)
            return None
        return encoder

    @cached_property
    def query_encoder(self) -> TextEncoder:
        """The text encoder remembering recent query vectors: the question is encoded once per `ask`."""
        from retrieval.query_cache import QueryCachingEncoder

        return QueryCachingEncoder(self.text_encoder)

    @cached_property
    def query_image_encoder(self) -> ImageEncoder | None:
        """The CLIP encoder remembering recent text queries (the retriever and the reranker share them)."""
        from retrieval.query_cache import QueryCachingClip

        clip = self.image_encoder
        return QueryCachingClip(clip) if isinstance(clip, TextEncoder) else clip

    @cached_property
    def mm_encoder(self) -> MllmEmbedder | None:
        """The MLLM embedder for the optional `mm` space, or None (off by default; reason in `unavailable`)."""
        s = self.settings
        if not s.mm_model:
            self.unavailable["mm"] = "disabled (MMRAG_MM_MODEL is empty)"
            return None
        from indexing.encoders.mllm_embedder import MllmEmbedder

        encoder = MllmEmbedder(s.mm_model, device=s.device, batch_size=min(s.batch_size, 8))
        try:
            encoder.load()
        except ModelUnavailableError as exc:
            log.warning("mm space disabled: %s", exc)
            self.unavailable["mm"] = str(exc)
            return None
        return encoder

    @cached_property
    def lexical(self) -> BM25LexicalEncoder:
        from retrieval.bm25_lexical_encoder import BM25LexicalEncoder

        return BM25LexicalEncoder(k1=self.settings.bm25_k1, b=self.settings.bm25_b)

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
    def store(self) -> RescoringStore:
        from retrieval.stores.matryoshka_store import with_matryoshka

        self.settings.home.mkdir(parents=True, exist_ok=True)
        from app.space_check import check_space_widths

        spaces = self.spaces()
        check_space_widths(self.settings, spaces)  # a model switch over an old collection: a clear error
        store = with_matryoshka(self._build("store"), self.settings.mrl_dim)
        store.ensure(spaces)
        return store

    @cached_property
    def manifest(self) -> Manifest:
        from indexing.manifest import Manifest

        self.settings.home.mkdir(parents=True, exist_ok=True)
        return Manifest(self.settings.db_path)

    @cached_property
    def media(self) -> MediaStore:
        from indexing.media.media_store import MediaStore

        return MediaStore(self.settings.media_dir)

    # --- indexing -------------------------------------------------------------------------------------
    @cached_property
    def ocr(self) -> Ocr | None:
        """The OCR engine shared by every extractor (loads on first picture), or None when `ocr` is off."""
        return self._build("ocr") if self.settings.ocr else None

    @cached_property
    def asr(self) -> Asr:
        """The speech recogniser of recordings (loads on the first recording)."""
        asr: Asr = self._build("asr")
        return asr

    @cached_property
    def extractors(self) -> list[Extractor]:
        """Every registered extractor, in the order they are tried."""
        return self.registry.build_all("extractor", self.settings, self)

    @cached_property
    def indexer(self) -> Indexer:
        from app.builders import build_extraction
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
        from indexing.encoders.mm_space import mm_record_hook
        from indexing.gram_hook import GramHook

        hooks: list[RecordHook] = []
        if isinstance(self.image_encoder, TextEncoder):
            hooks.append(GramHook(self.image_encoder))
        if self.mm_encoder is not None:
            hooks.append(mm_record_hook(self.mm_encoder))
        return hooks

    # --- retrieval and RAG ----------------------------------------------------------------------------
    @cached_property
    def retriever(self) -> Retriever:
        from retrieval.fusion import LengthWeighting
        from retrieval.retriever import Retriever

        return Retriever(
            store=self.store,
            text_encoder=self.query_encoder,
            image_encoder=self.query_image_encoder,
            mm_encoder=self.mm_encoder,
            unavailable=self.unavailable,
            lexical=self.lexical,
            fusion=self.settings.fusion,
            candidates=self.settings.candidates,
            weights={"lexical": self.settings.fusion_lexical_weight},
            length_weighting=LengthWeighting(
                self.settings.fusion_length_alpha, self.settings.fusion_length_reference
            ),
            feedback_docs=self.settings.fusion_feedback_docs,
            feedback_beta=self.settings.fusion_feedback_beta,
        )

    @cached_property
    def generator(self) -> Generator:
        generator: Generator = self._build("generator")
        return generator

    @cached_property
    def router(self) -> Router:
        router: Router = self._build("router")
        return router

    @cached_property
    def reranker(self) -> Reranker:
        reranker: Reranker = self._build("reranker")
        return reranker

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


_QUERY_ROLES = frozenset({"router", "reranker", "generator"})


class _QueryComponents:
    """The container as the question's readers see it: the text and CLIP encoders are the query-caching ones."""

    def __init__(self, container: Container) -> None:
        self._container = container

    @property
    def text_encoder(self) -> TextEncoder:
        return self._container.query_encoder

    @property
    def image_encoder(self) -> ImageEncoder | None:
        return self._container.query_image_encoder

    @property
    def generator(self) -> Generator:
        return self._container.generator

    @property
    def media(self) -> MediaStore:
        return self._container.media

    @property
    def ocr(self) -> Ocr | None:
        return self._container.ocr

    @property
    def asr(self) -> Asr:
        return self._container.asr

    @property
    def store(self) -> RescoringStore:
        return self._container.store
