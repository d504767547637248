"""Matryoshka first stage: search truncated text vectors, rescore the candidates with the full vectors.

Encoders trained with Matryoshka representation learning (MRL: nomic-embed, bge-m3, OpenAI v3, ...) keep
most of their quality in the first dims of each vector. With `MMRAG_MRL_DIM=d` every text vector is also
stored as a named vector `text_mrl` (its first d dims, renormalised), and a `text` search becomes one engine
query: the nearest `candidates` in `text_mrl` (a smaller, faster index) as a prefetch, rescored by the full
`text` vectors (Qdrant's query API). Other spaces pass through unchanged. `search_scores` (the retriever's
fast path: several spaces in one call, ids and scores only) runs the same two-stage query for `text` and
batches the other spaces without payloads.

The wrapper sits at the store boundary, so every writer (local engine, Ray engine, `index_extracted`) and
every reader (retriever, reranker) gets it without knowing. all-MiniLM-L6-v2 is NOT MRL-trained:
`benchmarks/bench_matryoshka.py` measures what truncation costs it.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import replace

import numpy as np

from core.errors import ConfigError
from core.protocols import Record, RescoringStore
from core.types import Hit, SearchFilter, Segment, SparseVector, Vector
from retrieval.retriever import ScoreSearchStore

log = logging.getLogger(__name__)

SUFFIX = "_mrl"


def truncate(vectors: Vector, dim: int) -> Vector:
    """The first `dim` dims of each vector (1-d or 2-d), L2-renormalised, float32."""
    head = np.asarray(vectors, dtype=np.float32)[..., :dim]
    norms = np.linalg.norm(head, axis=-1, keepdims=True)
    return (head / np.where(norms == 0, 1.0, norms)).astype(np.float32)


class MatryoshkaStore:
    """A `VectorStore` that adds truncated `<space>_mrl` vectors on write and searches them first.

    Args:
        store: the real store, able to search in two stages (both Qdrant backends are).
        dim: dims kept in the first stage; must be smaller than the space's dim.
        space: the dense space to truncate ("text").
        oversampling: first-stage candidates per wanted hit (at least 100 candidates).
    """

    def __init__(
        self, store: RescoringStore, dim: int, space: str = "text", oversampling: float = 4.0
    ) -> None:
        if dim <= 0:
            raise ConfigError(f"mrl_dim must be positive, got {dim}")
        self.store = store
        self.dim = dim
        self.space = space
        self.mrl_space = space + SUFFIX
        self.oversampling = oversampling

    def ensure(self, spaces: Mapping[str, int]) -> None:
        """Create the collection with the extra truncated space next to the full one."""
        if self.space in spaces and self.dim >= spaces[self.space]:
            raise ConfigError(f"mrl_dim {self.dim} must be below the {self.space!r} dim {spaces[self.space]}")
        extra = {self.mrl_space: self.dim} if self.space in spaces else {}
        self.store.ensure({**spaces, **extra})

    def upsert(self, records: Sequence[Record]) -> None:
        """Store the records with a truncated copy of each full vector."""
        out = []
        for record in records:
            full = record.dense.get(self.space)
            if full is not None:
                record = replace(record, dense={**record.dense, self.mrl_space: truncate(full, self.dim)})
            out.append(record)
        self.store.upsert(out)

    def search(
        self, space: str, query: Vector | SparseVector, flt: SearchFilter | None = None, k: int = 10
    ) -> list[Hit]:
        """`text` searches go truncated-first with full rescoring; other spaces go straight through."""
        if space != self.space or isinstance(query, SparseVector):
            return self.store.search(space, query, flt, k)
        return self.store.search_rescored(
            self.mrl_space, truncate(query, self.dim), space, query, flt, k=k, candidates=self._candidates(k)
        )

    def _candidates(self, k: int) -> int:
        return max(100, int(k * self.oversampling))

    def search_scores(
        self,
        queries: Sequence[tuple[str, Vector | SparseVector]],
        flt: SearchFilter | None = None,
        k: int = 10,
    ) -> list[list[tuple[str, float]]]:
        """Several spaces at once, ids and scores only, one list per (space, query), best first.

        Dense `text` queries are `search`'s two-stage engine query (truncated candidates rescored with the
        full vectors; scores are full-dimension cosines): reading the candidates' full vectors back to
        rescore them here measured 4x slower than the engine's own rescoring. The other queries go to the
        wrapped store in one batched call without payloads.
        """
        staged = {
            i for i, (s, q) in enumerate(queries) if s == self.space and not isinstance(q, SparseVector)
        }
        out = [
            self._ids(self.search(s, q, flt, k)) if i in staged else [] for i, (s, q) in enumerate(queries)
        ]
        direct = [i for i in range(len(queries)) if i not in staged]
        if not direct:
            return out
        store = self.store
        if isinstance(store, ScoreSearchStore):
            results = store.search_scores([queries[i] for i in direct], flt, k)
        else:  # a rescoring store without the batched path
            results = [self._ids(store.search(*queries[i], flt, k)) for i in direct]
        for i, result in zip(direct, results, strict=True):
            out[i] = result
        return out

    @staticmethod
    def _ids(hits: list[Hit]) -> list[tuple[str, float]]:
        return [(h.segment.segment_id, h.score) for h in hits]

    def search_rescored(
        self,
        first_space: str,
        first_query: Vector,
        space: str,
        query: Vector,
        flt: SearchFilter | None = None,
        k: int = 10,
        candidates: int = 100,
    ) -> list[Hit]:
        return self.store.search_rescored(first_space, first_query, space, query, flt, k, candidates)

    def get(self, segment_ids: Sequence[str]) -> list[Segment]:
        return self.store.get(segment_ids)

    def scroll(self, flt: SearchFilter | None = None, batch: int = 256) -> Iterator[Segment]:
        return self.store.scroll(flt, batch)

    def update_vectors(self, space: str, vectors: Mapping[str, Vector]) -> None:
        """Set a named vector on existing points; a full `text` vector brings its truncated copy along."""
        self.store.update_vectors(space, vectors)
        if space == self.space and vectors:
            truncated = {sid: truncate(v, self.dim) for sid, v in vectors.items()}
            self.store.update_vectors(self.mrl_space, truncated)

    def vectors(self, space: str, segment_ids: Sequence[str]) -> dict[str, Vector]:
        return self.store.vectors(space, segment_ids)

    def drop_metadata_key(self, key: str, flt: SearchFilter | None = None) -> None:
        self.store.drop_metadata_key(key, flt)

    def delete_source(self, source_id: str) -> int:
        return self.store.delete_source(source_id)

    def set_uri(self, source_id: str, uri: str) -> None:
        self.store.set_uri(source_id, uri)

    def count(self, flt: SearchFilter | None = None) -> int:
        return self.store.count(flt)

    def optimize(self) -> bool:
        return self.store.optimize()

    def close(self) -> None:
        self.store.close()


def with_matryoshka(store: RescoringStore, dim: int) -> RescoringStore:
    """`store` wrapped for a Matryoshka first stage when `dim` > 0, else `store` itself."""
    return MatryoshkaStore(store, dim) if dim > 0 else store
