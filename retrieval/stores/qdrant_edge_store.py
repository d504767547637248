"""The default store: the real Qdrant engine in-process (`qdrant-edge-py`), persisted in one folder.

One edge shard holds every segment: a named dense vector per space (cosine), a sparse `lexical` vector with
Qdrant's IDF modifier, and keyword payload indexes on source_id / modality / granularity.

HNSW graphs (and quantized copies of the vectors) are built by the engine's optimizer, which qdrant-edge
runs only when asked. Until then new points sit in plain segments and are searched exactly, which is fast
for small collections. `optimize()` builds the index; the store calls it on `close()` after writes, so a
CLI indexing run leaves an indexed store behind; a long-running process should call it after each job.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from core.errors import StoreError
from core.protocols import Record
from core.types import Hit, SearchFilter, Segment, SparseVector, Vector
from retrieval.stores.qdrant_common import (
    INDEXED_FIELDS,
    LEXICAL,
    batched,
    build_filter,
    clean_payload,
    search_params,
    source_filter,
    to_hit,
)
from retrieval.stores.qdrant_edge_shard import engine_errors, load_shard, qdrant_edge, shard_exists
from retrieval.stores.qdrant_vectors import (
    edge_config,
    edge_point,
    is_unknown_vector,
    missing_dims,
    space_vectors,
)

logger = logging.getLogger(__name__)

UPSERT_BATCH = 4096  # points per engine update: large batches amortise the Python -> Rust crossing


class QdrantEdgeStore:
    """`core.protocols.VectorStore` on the embedded Qdrant engine.

    Args:
        path: Folder of the shard (created by `ensure`).
        hnsw_ef: HNSW search breadth; higher = better recall, slower. At 100k MiniLM-shaped vectors 128
            gives recall@10 0.9997 (benchmarks/results/search.json); 1M needs 512 for >= 0.98
            (benchmarks/results/hnsw_build_1m.json). `Settings.hnsw_ef` is what the app uses.
        quantization: "none", "int8" (scalar, 4x smaller in RAM) or "binary" (32x); quantized searches
            oversample and rescore with the original vectors, kept on disk when the store is created
            quantized. Changing it for an existing store applies at the next `optimize()`, but the
            originals keep the memory placement they were created with.
    """

    def __init__(self, path: Path, hnsw_ef: int = 128, quantization: str = "none") -> None:
        self.path = Path(path)
        self.hnsw_ef = hnsw_ef
        self.quantization = quantization
        self._shard: Any = None
        self._lock = threading.Lock()
        self._unoptimized = 0  # points written since the last optimize()
        self._indexes_pending = False  # a new collection: payload indexes wait for the first optimize()
        self._added: set[str] = set()  # dense spaces known to exist (created or ensured by this object)

    # -- lifecycle -------------------------------------------------------------------------------------

    def ensure(self, spaces: Mapping[str, int]) -> None:
        """Create the shard with these dense spaces (name -> dim) and `lexical`; add missing spaces.

        Raises:
            StoreError: a space exists with another dimension, or the engine failed.
        """
        qe = qdrant_edge()
        with self._lock, self._engine("creating the collection"):
            if self._shard is None and not self._exists():
                self._shard = qe.EdgeShard.create(str(self.path), edge_config(qe, spaces, self.quantization))
                # A new collection gets its payload indexes after the first load is built (optimize()):
                # the engine then indexes the payloads once instead of on every bulk write.
                self._indexes_pending = True
            else:
                shard = self._open_locked()
                # Idempotent for an existing space with the same size; an error for another size.
                for name, dim in spaces.items():
                    shard.update(qe.UpdateOperation.create_dense_vector(name, dim, qe.Distance.Cosine))
                shard.update(qe.UpdateOperation.create_sparse_vector(LEXICAL, modifier=qe.Modifier.Idf))
                self._create_payload_indexes(shard)
            self._added.update(spaces)

    def optimize(self) -> bool:
        """Build HNSW graphs (and quantized vectors) for what was written; blocks until done.

        Returns:
            True if the engine changed any segment.
        """
        shard = self._open()
        if shard is None:
            return False
        with self._engine("building the index"):
            changed = bool(shard.optimize())
            if self._indexes_pending:
                self._create_payload_indexes(shard)
        self._unoptimized = 0
        return changed

    def _create_payload_indexes(self, shard: Any) -> None:
        """Keyword indexes on every field a `SearchFilter` restricts (idempotent)."""
        qe = qdrant_edge()
        for field in INDEXED_FIELDS:
            shard.update(qe.UpdateOperation.create_field_index(field, qe.PayloadSchemaType.Keyword))
        self._indexes_pending = False

    def close(self) -> None:
        """Optimize if anything was written, flush and release the shard."""
        if self._shard is None:
            return
        if self._unoptimized:
            self.optimize()
        with self._lock, self._engine("closing"):
            self._shard.flush()
            self._shard.close()
            self._shard = None

    def __enter__(self) -> QdrantEdgeStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- writes ----------------------------------------------------------------------------------------

    def upsert(self, records: Sequence[Record]) -> None:
        """Insert or replace points (id = segment id) with the named vectors each record has; a dense space
        the shard lacks is added first, sized by the records."""
        if not records:
            return
        qe = qdrant_edge()
        shard = self._require("writing")
        new = missing_dims(records, self._added)
        with self._engine("writing points"):
            for name, dim in new.items():  # idempotent for a space that exists with this size
                shard.update(qe.UpdateOperation.create_dense_vector(name, dim, qe.Distance.Cosine))
            self._added.update(new)
            for batch in batched(records, UPSERT_BATCH):
                shard.update(qe.UpdateOperation.upsert_points([edge_point(qe, r) for r in batch]))
        self._unoptimized += len(records)

    def delete_source(self, source_id: str) -> int:
        """Delete every point of a source; return how many were deleted."""
        qe = qdrant_edge()
        shard = self._open()
        if shard is None:
            return 0
        flt = source_filter(source_id, qe)
        with self._engine("deleting a source"):
            n = int(shard.count(qe.CountRequest(exact=True, filter=flt)))
            if n:
                shard.update(qe.UpdateOperation.delete_points_by_filter(flt))
        return n

    def drop_metadata_key(self, key: str, flt: SearchFilter | None = None) -> None:
        """Remove `key` from the metadata of every segment matching `flt`."""
        qe = qdrant_edge()
        shard = self._open()
        if shard is None:
            return
        where = build_filter(flt, qe) or qe.Filter(must=[])
        with self._engine("dropping a metadata key"):
            shard.update(qe.UpdateOperation.delete_payload_by_filter(where, [f"metadata.{key}"]))

    def set_uri(self, source_id: str, uri: str) -> None:
        """Point every segment of a source at a new uri (the file was renamed or moved)."""
        qe = qdrant_edge()
        shard = self._open()
        if shard is None:
            return
        payload = clean_payload({"uri": uri})
        with self._engine("updating a source's uri"):
            shard.update(qe.UpdateOperation.set_payload_by_filter(source_filter(source_id, qe), payload))

    # -- reads -----------------------------------------------------------------------------------------

    def search(
        self, space: str, query: Vector | SparseVector, flt: SearchFilter | None = None, k: int = 10
    ) -> list[Hit]:
        """The `k` nearest segments in one space (a dense space, or `lexical` with a sparse query)."""
        qe = qdrant_edge()
        shard = self._open()
        if shard is None:
            return []
        if isinstance(query, SparseVector):
            if not query.indices:
                return []
            vector: Any = qe.SparseVector(list(query.indices), [float(v) for v in query.values])
            params = None
        else:
            vector = np.asarray(query, dtype=np.float32).reshape(-1)
            params = search_params(qe, self.hnsw_ef, self.quantization)
        request = qe.QueryRequest(
            limit=k,
            query=qe.Query.Nearest(vector, using=space),
            filter=build_filter(flt, qe),
            with_payload=True,
            params=params,
        )
        with self._engine(f"searching {space!r}"):
            points = shard.query(request)
        return [to_hit(p.payload, p.score, space) for p in points]

    def search_scores(
        self,
        queries: Sequence[tuple[str, Vector | SparseVector]],
        flt: SearchFilter | None = None,
        k: int = 10,
    ) -> list[list[tuple[str, float]]]:
        """Several spaces in one engine call, ids and scores only (payloads are fetched later, with `get`,
        for the hits a search returns). One list per (space, query), best first."""
        qe = qdrant_edge()
        shard = self._open()
        if shard is None:
            return [[] for _ in queries]
        where = build_filter(flt, qe)
        requests, slots = [], []
        for i, (space, query) in enumerate(queries):
            if isinstance(query, SparseVector):
                if not query.indices:
                    continue
                vector: Any = qe.SparseVector(list(query.indices), [float(v) for v in query.values])
                params = None
            else:
                vector = np.asarray(query, dtype=np.float32).reshape(-1)
                params = search_params(qe, self.hnsw_ef, self.quantization)
            requests.append(
                qe.QueryRequest(
                    limit=k,
                    query=qe.Query.Nearest(vector, using=space),
                    filter=where,
                    with_payload=False,
                    params=params,
                )
            )
            slots.append(i)
        out: list[list[tuple[str, float]]] = [[] for _ in queries]
        if requests:
            with self._engine("searching " + ", ".join(repr(s) for s, _ in queries)):
                results = shard.query_batch(qe.QueryBatchRequest(requests))
            for i, points in zip(slots, results, strict=True):
                out[i] = [(str(p.id), float(p.score)) for p in points]
        return out

    def vectors(self, space: str, segment_ids: Sequence[str]) -> dict[str, Vector]:
        """The stored `space` vectors of these segments (segment id -> (d,) float32); unknown ids, points
        without that vector, and every id when the shard lacks the space, are skipped."""
        shard = self._open()
        if shard is None or not segment_ids:
            return {}
        try:
            with self._engine("reading vectors"):
                records = shard.retrieve(list(segment_ids), with_payload=False, with_vector=[space])
        except StoreError as exc:
            if is_unknown_vector(exc):
                return {}
            raise
        return space_vectors(records, space)

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
        """Two stages in one engine query: the `candidates` nearest in `first_space` (e.g. truncated
        Matryoshka vectors), rescored by `query` in `space`; scores are `space` scores."""
        qe = qdrant_edge()
        shard = self._open()
        if shard is None:
            return []
        where = build_filter(flt, qe)
        first = qe.Prefetch(
            limit=max(candidates, k),
            query=qe.Query.Nearest(np.asarray(first_query, dtype=np.float32).reshape(-1), using=first_space),
            filter=where,
            params=search_params(qe, self.hnsw_ef, self.quantization),
        )
        request = qe.QueryRequest(
            limit=k,
            prefetches=[first],
            query=qe.Query.Nearest(np.asarray(query, dtype=np.float32).reshape(-1), using=space),
            filter=where,
            with_payload=True,
        )
        with self._engine(f"searching {first_space!r} then {space!r}"):
            points = shard.query(request)
        return [to_hit(p.payload, p.score, space) for p in points]

    def get(self, segment_ids: Sequence[str]) -> list[Segment]:
        """The stored segments with these ids, in the given order; unknown ids are skipped."""
        shard = self._open()
        if shard is None or not segment_ids:
            return []
        with self._engine("reading points"):
            records = shard.retrieve(list(segment_ids), with_payload=True, with_vector=False)
        found = {str(r.id): Segment.from_payload(r.payload) for r in records if r.payload}
        return [found[i] for i in segment_ids if i in found]

    def scroll(self, flt: SearchFilter | None = None, batch: int = 256) -> Iterator[Segment]:
        """Every stored segment matching `flt`, page by page, in storage order."""
        qe = qdrant_edge()
        shard, offset = self._open(), None
        while shard is not None:
            request = qe.ScrollRequest(
                offset=offset, limit=batch, filter=build_filter(flt, qe), with_payload=True
            )
            with self._engine("scrolling points"):
                records, offset = shard.scroll(request)
            yield from (Segment.from_payload(r.payload) for r in records if r.payload)
            if offset is None:
                return

    def update_vectors(self, space: str, vectors: Mapping[str, Vector]) -> None:
        """Set one named vector on existing points (segment id -> vector), keeping their other vectors."""
        qe = qdrant_edge()
        points = [qe.PointVectors(sid, {space: np.asarray(v, np.float32)}) for sid, v in vectors.items()]
        shard = self._require("updating vectors")
        with self._lock, self._engine("updating vectors"):
            shard.update(qe.UpdateOperation.update_vectors(points))
        self._unoptimized += len(points)

    def count(self, flt: SearchFilter | None = None) -> int:
        """How many points match the filter (all points without one)."""
        qe = qdrant_edge()
        shard = self._open()
        if shard is None:
            return 0
        with self._engine("counting"):
            return int(shard.count(qe.CountRequest(exact=True, filter=build_filter(flt, qe))))

    # -- internals -------------------------------------------------------------------------------------

    def _exists(self) -> bool:
        return shard_exists(self.path)

    def _open(self) -> Any:
        """The shard, loading it on first use; None if the store was never created (reads see nothing)."""
        if self._shard is None:
            with self._lock:
                if self._shard is None and self._exists():
                    with self._engine("opening"):
                        self._open_locked()
        return self._shard

    def _open_locked(self) -> Any:
        if self._shard is None:
            self._shard = load_shard(self.path, self.quantization)
        return self._shard

    def _require(self, what: str) -> Any:
        shard = self._open()
        if shard is None:
            raise StoreError(f"no collection at {self.path}: call ensure() before {what}")
        return shard

    def _engine(self, what: str) -> contextlib.AbstractContextManager[None]:
        return engine_errors(self.path, what)
