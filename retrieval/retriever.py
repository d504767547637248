"""Hybrid search: dense text + lexical + the CLIP image space, fused into one ranking."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING

from core.errors import InvalidRequestError
from core.protocols import ImageEncoder, LexicalEncoder, TextEncoder, VectorStore
from core.types import Hit, SearchFilter, Vector
from retrieval.composed_query import search_mm_text
from retrieval.fusion import fuse

if TYPE_CHECKING:
    from indexing.mllm_embedder import MllmEmbedder

log = logging.getLogger(__name__)


class Retriever:
    """Searches every available space for a text query and fuses the lists.

    Text queries reach the image space through the CLIP text tower when the image encoder is loaded, and
    the `mm` space through the MLLM embedder's query side when one is configured.
    """

    def __init__(
        self,
        *,
        store: VectorStore,
        text_encoder: TextEncoder,
        image_encoder: ImageEncoder | None,
        lexical: LexicalEncoder,
        mm_encoder: MllmEmbedder | None = None,
        fusion: str = "weighted",
        candidates: int = 100,
        weights: Mapping[str, float] | None = None,
    ) -> None:
        self.store = store
        self.text_encoder = text_encoder
        self.image_encoder = image_encoder
        self.mm_encoder = mm_encoder
        self.lexical = lexical
        self.fusion = fusion
        self.candidates = candidates
        self.weights = dict(weights or {})

    def search(self, query: str, k: int = 10, flt: SearchFilter | None = None) -> list[Hit]:
        """Return the `k` best segments for a text query, best first."""
        if not query.strip():
            raise InvalidRequestError("the query is empty")
        return self.fuse(self.ranked_lists(query, max(k, self.candidates), flt), k)

    def ranked_lists(self, query: str, n: int, flt: SearchFilter | None = None) -> dict[str, list[Hit]]:
        """Search each space separately for `query`; space -> hits, best first."""
        lists = {
            "text": self.store.search("text", self.text_encoder.encode_queries([query])[0], flt, n),
            "lexical": self.store.search("lexical", self.lexical.encode_queries([query])[0], flt, n),
        }
        if self.image_encoder is not None and isinstance(self.image_encoder, TextEncoder):
            lists["image"] = self.search_vector(
                "image", self.image_encoder.encode_queries([query])[0], n, flt
            )
        if self.mm_encoder is not None:
            # Per-modality searches fused inside, so text candidates do not crowd out images (MM-Embed).
            lists["mm"] = search_mm_text(self.store, self.mm_encoder, query, k=n, flt=flt, candidates=n)
        return lists

    def search_vector(self, space: str, vector: Vector, n: int, flt: SearchFilter | None = None) -> list[Hit]:
        """Search one dense space with a ready vector (image-only and composed queries use this)."""
        return self.store.search(space, vector, flt, n)

    def fuse(self, lists: Mapping[str, list[Hit]], k: int) -> list[Hit]:
        return fuse(lists, method=self.fusion, weights=self.weights, k=k)
