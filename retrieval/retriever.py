"""The one search path: every query mode (text, image-only, composed, `mm` space) goes through `Retriever.search`.

A text query searches dense text + lexical + the CLIP image space (+ the `mm` space when enabled), fused into
one ranking; a query with a picture searches the `mm` space or falls back to CLIP (retrieval/query.py lists
the modes and the `method` each reports). A text is encoded once (`Retriever.encode`) into an
`EncodedQuery`, which a `Query` can carry so the caller's encoding is reused. Every fused hit of a text
query carries a calibrated `relevance` (retrieval/relevance.py) beside its fused `score`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Protocol, runtime_checkable

import numpy as np

from core.errors import InvalidRequestError, ModelUnavailableError, StoreError
from core.protocols import ImageEncoder, LexicalEncoder, TextEncoder, VectorStore
from core.types import Hit, SearchFilter, SparseVector, Vector
from retrieval.composed_query import composed_vector, search_mm_per_modality, search_mm_text
from retrieval.fusion import RRF_K, LengthWeighting, fuse, fuse_scores
from retrieval.query import (
    CLIP_FUSION,
    CLIP_IMAGE,
    HYBRID,
    MM_IMAGE,
    MM_JOINT,
    EncodedQuery,
    Query,
    SearchResult,
)
from retrieval.relevance import RelevanceCalibration, with_relevance

__all__ = ["EncodedQuery", "Query", "Retriever", "ScoreSearchStore", "SearchResult"]

if TYPE_CHECKING:
    from indexing.encoders.mllm_embedder import MllmEmbedder

log = logging.getLogger(__name__)


@runtime_checkable
class ScoreSearchStore(Protocol):
    """A store that searches several spaces in one call and returns ids and scores without payloads."""

    def search_scores(
        self,
        queries: Sequence[tuple[str, Vector | SparseVector]],
        flt: SearchFilter | None = None,
        k: int = 10,
    ) -> list[list[tuple[str, float]]]: ...

    def vectors(self, space: str, segment_ids: Sequence[str]) -> dict[str, Vector]: ...


class Retriever:
    """Searches every available space for a query (text, picture or both) and fuses the lists.

    Text queries reach the image space through the CLIP text tower when the image encoder is loaded, and
    the `mm` space through the MLLM embedder's query side when one is configured. Queries with a picture
    use the `mm` space when it holds vectors, else CLIP.

    Args:
        fusion: "rrf", "weighted" (min-max) or "zscore" (retrieval/fusion.py).
        candidates: hits fetched per space before fusion.
        weights: space -> fusion weight (1.0 when absent).
        length_weighting: scales the lexical weight down for long queries.
        rrf_k: the rank offset of reciprocal rank fusion.
        calibration: the relevance model (the packaged one when None).
        feedback_docs: dense pseudo-relevance feedback (Rocchio): the text query moves towards the mean
            vector of the first fused top `feedback_docs` hits, and the text space is searched again; 0 = off.
        feedback_beta: the weight of that mean vector.
        unavailable: space -> why its encoder is missing (the container's record), for error messages.
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
        length_weighting: LengthWeighting | None = None,
        rrf_k: int = RRF_K,
        calibration: RelevanceCalibration | None = None,
        feedback_docs: int = 0,
        feedback_beta: float = 0.0,
        unavailable: Mapping[str, str] | None = None,
    ) -> None:
        self.store = store
        self.text_encoder = text_encoder
        self.image_encoder = image_encoder
        self.mm_encoder = mm_encoder
        self.lexical = lexical
        self.fusion = fusion
        self.candidates = candidates
        self.weights = dict(weights or {})
        self.length_weighting = length_weighting or LengthWeighting()
        self.rrf_k = rrf_k
        self.calibration = calibration
        self.feedback_docs = feedback_docs
        self.feedback_beta = feedback_beta
        self.unavailable = unavailable if unavailable is not None else {}
        self.timings: dict[str, float] = {}
        """Seconds per stage of the last `encode` / `search` (encode_dense, encode_lexical, store, fuse,
        feedback, payloads): for profiling and for the caller's own stage timings."""

    def encode(self, query: str) -> EncodedQuery:
        """Encode a text query once for every space this retriever searches.

        Raises:
            InvalidRequestError: the query is empty.
        """
        if not query.strip():
            raise InvalidRequestError("the query is empty")
        t = time.perf_counter()
        image = None
        if self.image_encoder is not None and isinstance(self.image_encoder, TextEncoder):
            image = self.image_encoder.encode_queries([query])[0]
        dense = self.text_encoder.encode_queries([query])[0]
        t_lexical = time.perf_counter()
        lexical = self.lexical.encode_queries([query])[0]
        self.timings = {
            "encode_dense": t_lexical - t,
            "encode_lexical": time.perf_counter() - t_lexical,
        }
        return EncodedQuery(text=query, dense=dense, lexical=lexical, image=image)

    def search(
        self,
        query: Query | str | EncodedQuery,
        k: int = 10,
        flt: SearchFilter | None = None,
    ) -> SearchResult:
        """The best segments for a query, best first, with the method used (`SearchResult.method`).

        Args:
            query: A `Query` (any mode; its own `k` and `filters` apply), or a text query as a string or
                an already encoded `EncodedQuery`, searched with `k` and `flt`.
            k: Hits to return (text queries given as a string or an `EncodedQuery`).
            flt: Restricts the search (idem).

        Raises:
            InvalidRequestError: an empty query.
            ModelUnavailableError: a picture query while neither the mm nor the image (CLIP) space is available.
        """
        q = query if isinstance(query, Query) else Query.of(query, k, flt)
        if q.image is not None:
            return self._search_picture(q)
        encoded = q.encoded or self.encode(q.text)
        n = max(q.k, self.candidates)
        if (self.mm_encoder is None or not q.searches("mm")) and isinstance(self.store, ScoreSearchStore):
            return SearchResult(self._search_scores(self.store, encoded, n, q), HYBRID)
        lists = self.ranked_lists(encoded, n, q.filters, q.spaces)
        return SearchResult(self.fuse(lists, q.k, terms=encoded.terms), HYBRID)

    def _search_picture(self, q: Query) -> SearchResult:
        """A query by example (picture alone) or a composed one (picture + text): the mm space, else CLIP."""
        assert q.image is not None
        text = q.text.strip()
        n = max(q.k, self.candidates)
        if self.mm_encoder is not None and q.searches("mm"):
            task = "composed" if text else "image_query"
            vector = self.mm_encoder.encode_pairs([q.image], [text], task=task)[0]
            try:
                hits = search_mm_per_modality(self.store, vector, q.k, q.filters, n)
            except StoreError as exc:  # the collection has no mm space yet
                log.info("mm search failed (%s)", exc)
                hits = []
            if hits or self.image_encoder is None or not q.searches("image"):
                return SearchResult(hits, MM_JOINT if text else MM_IMAGE)
            # Enabled but not filled: a collection indexed before MMRAG_MM_MODEL was set.
            log.warning(
                "the mm space holds nothing for this search (run `mmrag reembed`); using CLIP instead"
            )
        clip = self.image_encoder if q.searches("image") else None
        if clip is None:
            reasons = "; ".join(f"{s}: {r}" for s, r in self.unavailable.items() if s in ("mm", "image"))
            raise ModelUnavailableError(f"image queries need the mm or the image (CLIP) space ({reasons})")
        picture = clip.encode_images([q.image])[0]
        if not text:
            return SearchResult(self.store.search("image", picture, q.filters, q.k), CLIP_IMAGE)
        encoded = q.encoded or self.encode(text)
        lists = {
            "image": self.store.search(
                "image", composed_vector(picture, encoded.image, q.image_weight), q.filters, n
            )
        }
        if q.searches("text"):
            lists["text"] = self.store.search("text", encoded.dense, q.filters, n)
        if q.searches("lexical"):
            lists["lexical"] = self.store.search("lexical", encoded.lexical, q.filters, n)
        hits = fuse(lists, method=self.fusion, weights=self._weights(encoded.terms), k=q.k, rrf_k=self.rrf_k)
        return SearchResult(hits, CLIP_FUSION)

    def _search_scores(self, store: ScoreSearchStore, encoded: EncodedQuery, n: int, q: Query) -> list[Hit]:
        """Every space in one store call without payloads; payloads only for the `k` hits returned."""
        k, flt = q.k, q.filters
        queries = [(space, vector) for space, vector in self._query_vectors(encoded) if q.searches(space)]
        t = time.perf_counter()
        results = store.search_scores(queries, flt, n)
        self.timings["store"] = time.perf_counter() - t
        lists = {space: result for (space, _), result in zip(queries, results, strict=True)}
        weights = self._weights(encoded.terms)
        feedback = self.feedback_docs > 0 and self.feedback_beta > 0 and "text" in lists
        fused = fuse_scores(
            lists, self.fusion, weights, max(k, self.feedback_docs) if feedback else k, self.rrf_k
        )
        self.timings["fuse"] = time.perf_counter() - t - self.timings["store"]
        t = time.perf_counter()
        if feedback and fused:
            second = self._feedback(
                store, encoded, [sid for sid, _, _ in fused[: self.feedback_docs]], n, flt
            )
            if second is not None:
                fused = fuse_scores({**lists, "text": second}, self.fusion, weights, k, self.rrf_k)
        fused = fused[:k]
        self.timings["feedback"] = time.perf_counter() - t
        t = time.perf_counter()
        segments = {s.segment_id: s for s in self.store.get([sid for sid, _, _ in fused])}
        self.timings["payloads"] = time.perf_counter() - t
        # Raw scores of the query itself (first stage): what the relevance calibration was fitted on.
        first = {space: dict(items) for space, items in lists.items()}
        hits = [
            Hit(
                segment=segments[sid],
                score=score,
                space="fused",
                scores={
                    **{space: first[space][sid] for space in first if sid in first[space]},
                    "fused": score,
                },
            )
            for sid, score, _ in fused
            if sid in segments
        ]
        floor = min((score for _, score in lists.get("text", [])), default=0.0)
        return with_relevance(hits, floor, encoded.terms, self.calibration)

    def _feedback(
        self, store: ScoreSearchStore, encoded: EncodedQuery, top: list[str], n: int, flt: SearchFilter | None
    ) -> list[tuple[str, float]] | None:
        """The text list searched again with the Rocchio query q + beta * mean(top document vectors)."""
        vectors = store.vectors("text", top)
        if not vectors:
            return None
        moved = encoded.dense + self.feedback_beta * np.mean(list(vectors.values()), axis=0)
        norm = float(np.linalg.norm(moved))
        if norm == 0:
            return None
        return store.search_scores([("text", (moved / norm).astype(np.float32))], flt, n)[0]

    def ranked_lists(
        self,
        query: str | EncodedQuery,
        n: int,
        flt: SearchFilter | None = None,
        spaces: tuple[str, ...] | None = None,
    ) -> dict[str, list[Hit]]:
        """Search each space separately for `query` (only `spaces` when given); space -> hits, best first."""
        encoded = query if isinstance(query, EncodedQuery) else self.encode(query)
        lists = {
            space: self.store.search(space, vector, flt, n)
            for space, vector in self._query_vectors(encoded)
            if spaces is None or space in spaces
        }
        if self.mm_encoder is not None and (spaces is None or "mm" in spaces):
            # Per-modality searches fused inside, so text candidates do not crowd out images (MM-Embed).
            lists["mm"] = search_mm_text(
                self.store, self.mm_encoder, encoded.text, k=n, flt=flt, candidates=n
            )
        return lists

    @staticmethod
    def _query_vectors(encoded: EncodedQuery) -> list[tuple[str, Vector | SparseVector]]:
        """(space, query vector) for each space an encoded text searches."""
        out: list[tuple[str, Vector | SparseVector]] = [("text", encoded.dense), ("lexical", encoded.lexical)]
        if encoded.image is not None:
            out.append(("image", encoded.image))
        return out

    def search_vector(self, space: str, vector: Vector, n: int, flt: SearchFilter | None = None) -> list[Hit]:
        """Search one dense space with a ready vector (image-only and composed queries use this)."""
        return self.store.search(space, vector, flt, n)

    def fuse(self, lists: Mapping[str, list[Hit]], k: int, terms: int | None = None) -> list[Hit]:
        """Fuse per-space lists into `k` hits with a calibrated `relevance` each.

        Args:
            lists: space -> hits, best first (from `ranked_lists`).
            k: hits to return.
            terms: the query's distinct lexical terms (length-aware lexical weight and relevance);
                unknown (None) = no length adjustment and relevance computed as for a one-term query.
        """
        hits = fuse(lists, method=self.fusion, weights=self._weights(terms), k=k, rrf_k=self.rrf_k)
        floor = min((h.score for h in lists.get("text") or []), default=0.0)
        return with_relevance(hits, floor, terms or 1, self.calibration)

    def _weights(self, terms: int | None) -> dict[str, float]:
        weights = dict(self.weights)
        if terms is not None:
            weights["lexical"] = weights.get("lexical", 1.0) * self.length_weighting.factor(terms)
        return weights
