"""Store backend on `qdrant-client`: a Qdrant server or cluster (`url`), or the client's local mode (`path`,
":memory:") which is a brute-force emulation meant for tests and congruence checks, not for real data.

Collections get the shard number, replication factor and write consistency factor from settings. Writes
go in batches; transient failures (connection refused, timeouts, 429/5xx) are retried with exponential
backoff, and a store that stays unreachable raises one `StoreError` line naming it. The connection and the
collection's schema are retrieval/stores/qdrant_client_collection.py; this module reads and writes points.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any, TypeVar

import numpy as np

from core.errors import StoreError
from core.protocols import Record
from core.types import Hit, SearchFilter, Segment, SparseVector, Vector
from retrieval.stores.qdrant_client_collection import ClientCollection, CollectionLayout
from retrieval.stores.qdrant_common import (
    batched,
    build_filter,
    check_space,
    clean_payload,
    search_params,
    source_filter,
    to_hit,
)
from retrieval.stores.qdrant_vectors import client_point, missing_dims, space_vectors

T = TypeVar("T")
UPSERT_BATCH = 256  # points per request: well under the server's 32 MB request limit with text payloads


class QdrantClientStore:
    """`core.protocols.VectorStore` on qdrant-client.

    Args:
        collection: Collection name.
        url: Server or cluster URL (e.g. http://localhost:6333). Takes precedence over `path`.
        path: Local-mode folder, or ":memory:" (the default when `url` is unset).
        api_key: Server API key.
        shard_number, replication_factor, write_consistency_factor: Cluster layout of a new collection.
        quantization: "none", "int8" or "binary" (server only; local mode stores full vectors).
        hnsw_ef: HNSW search breadth.
        retries: Retries after a transient failure (so `retries + 1` attempts).
        backoff_s: First retry delay; doubles each retry.
        timeout_s: Per-request timeout.
    """

    def __init__(
        self,
        collection: str,
        url: str | None = None,
        path: str | None = None,
        api_key: str | None = None,
        shard_number: int = 1,
        replication_factor: int = 1,
        write_consistency_factor: int = 1,
        quantization: str = "none",
        hnsw_ef: int = 128,
        retries: int = 3,
        backoff_s: float = 0.5,
        timeout_s: int = 30,
    ) -> None:
        self.collection = collection
        self.url = url
        self.path = path if path is not None or url is not None else ":memory:"
        self.api_key = api_key
        self.shard_number = shard_number
        self.replication_factor = replication_factor
        self.write_consistency_factor = write_consistency_factor
        self.quantization = quantization
        self.hnsw_ef = hnsw_ef
        self.retries = retries
        self.backoff_s = backoff_s
        self.timeout_s = timeout_s
        self._connection = ClientCollection(
            collection, url, self.path, api_key, retries=retries, backoff_s=backoff_s, timeout_s=timeout_s
        )

    @property
    def where(self) -> str:
        """Human-readable location for messages."""
        return self._connection.where

    # -- lifecycle -------------------------------------------------------------------------------------

    def ensure(self, spaces: Mapping[str, int]) -> None:
        """Create the collection (dense spaces + `lexical` + payload indexes); add missing spaces."""
        layout = CollectionLayout(
            self.shard_number, self.replication_factor, self.write_consistency_factor, self.quantization
        )
        self._connection.ensure(spaces, layout)

    def optimize(self) -> bool:
        """Nothing to do: a server builds its indexes in the background (kept for parity with the edge store).

        Returns:
            False, always.
        """
        return False

    def close(self) -> None:
        """Close the client (releases local-mode files)."""
        self._connection.close()

    def __enter__(self) -> QdrantClientStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- writes ----------------------------------------------------------------------------------------

    def upsert(self, records: Sequence[Record]) -> None:
        """Insert or replace points in batches (a dense space the collection lacks is added first, sized by
        the records); each batch is retried on transient failures."""
        if not records:
            return
        spaces = self._known_spaces()
        if spaces is None:
            raise StoreError(
                f"collection {self.collection!r} does not exist in {self.where}: call ensure() first"
            )
        missing = missing_dims(records, spaces)
        if missing:
            self._connection.add_spaces(missing)
        client = self._conn()
        m = _models()
        for batch in batched(records, UPSERT_BATCH):
            points = [client_point(m, r) for r in batch]
            self._call("writing points", client.upsert, self.collection, points=points, wait=True)

    def delete_source(self, source_id: str) -> int:
        """Delete every point of a source; return how many were deleted."""
        if self._known_spaces() is None:
            return 0
        m = _models()
        flt = source_filter(source_id, m)
        client = self._conn()
        n = int(self._call("counting", client.count, self.collection, count_filter=flt, exact=True).count)
        if n:
            selector = m.FilterSelector(filter=flt)
            self._call(
                "deleting a source", client.delete, self.collection, points_selector=selector, wait=True
            )
        return n

    def drop_metadata_key(self, key: str, flt: SearchFilter | None = None) -> None:
        """Remove `key` from the metadata of every segment matching `flt`."""
        if self._known_spaces() is None:
            return
        m = _models()
        points = build_filter(flt, m) or m.Filter(must=[])
        self._call(
            "dropping a metadata key",
            self._conn().delete_payload,
            self.collection,
            keys=[f"metadata.{key}"],
            points=points,
            wait=True,
        )

    def set_uri(self, source_id: str, uri: str) -> None:
        """Point every segment of a source at a new uri (the file was renamed or moved)."""
        if self._known_spaces() is None:
            return
        flt = source_filter(source_id, _models())
        client = self._conn()
        payload = clean_payload({"uri": uri})
        self._call(
            "updating a source's uri",
            client.set_payload,
            self.collection,
            payload=payload,
            points=flt,
            wait=True,
        )

    # -- reads -----------------------------------------------------------------------------------------

    def search(
        self, space: str, query: Vector | SparseVector, flt: SearchFilter | None = None, k: int = 10
    ) -> list[Hit]:
        """The `k` nearest segments in one space (a dense space, or `lexical` with a sparse query)."""
        spaces = self._known_spaces()
        if spaces is None:
            return []
        check_space(space, spaces)
        m = _models()
        if isinstance(query, SparseVector):
            if not query.indices:
                return []
            vector: Any = m.SparseVector(indices=list(query.indices), values=[float(v) for v in query.values])
            params = None
        else:
            vector = np.asarray(query, dtype=np.float32).reshape(-1).tolist()
            # Local mode searches exactly and warns about search params, so only a server gets them.
            params = search_params(m, self.hnsw_ef, self.quantization) if self.url else None
        response = self._call(
            f"searching {space!r}",
            self._conn().query_points,
            self.collection,
            query=vector,
            using=space,
            query_filter=build_filter(flt, m),
            search_params=params,
            limit=k,
            with_payload=True,
        )
        return [to_hit(p.payload, p.score, space) for p in response.points]

    def search_scores(
        self,
        queries: Sequence[tuple[str, Vector | SparseVector]],
        flt: SearchFilter | None = None,
        k: int = 10,
    ) -> list[list[tuple[str, float]]]:
        """Several spaces in one request, ids and scores only (payloads are fetched later, with `get`, for
        the hits a search returns). One list per (space, query), best first."""
        spaces = self._known_spaces()
        if spaces is None:
            return [[] for _ in queries]
        m = _models()
        where = build_filter(flt, m)
        requests, slots = [], []
        for i, (space, query) in enumerate(queries):
            check_space(space, spaces)
            if isinstance(query, SparseVector):
                if not query.indices:
                    continue
                vector: Any = m.SparseVector(
                    indices=list(query.indices), values=[float(v) for v in query.values]
                )
                params = None
            else:
                vector = np.asarray(query, dtype=np.float32).reshape(-1).tolist()
                params = search_params(m, self.hnsw_ef, self.quantization) if self.url else None
            requests.append(
                m.QueryRequest(
                    query=vector, using=space, filter=where, params=params, limit=k, with_payload=False
                )
            )
            slots.append(i)
        out: list[list[tuple[str, float]]] = [[] for _ in queries]
        if requests:
            responses = self._call(
                "searching " + ", ".join(repr(s) for s, _ in queries),
                self._conn().query_batch_points,
                self.collection,
                requests=requests,
            )
            for i, response in zip(slots, responses, strict=True):
                out[i] = [(str(p.id), float(p.score)) for p in response.points]
        return out

    def vectors(self, space: str, segment_ids: Sequence[str]) -> dict[str, Vector]:
        """The stored `space` vectors of these segments (segment id -> (d,) float32); unknown ids, points
        without that vector, and every id when the collection lacks the space, are skipped."""
        spaces = self._known_spaces()
        if not segment_ids or spaces is None or space not in spaces:
            return {}
        records = self._call(
            "reading vectors",
            self._conn().retrieve,
            self.collection,
            ids=list(segment_ids),
            with_payload=False,
            with_vectors=[space],
        )
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
        """Two stages in one query: the `candidates` nearest in `first_space` (e.g. truncated Matryoshka
        vectors), rescored by `query` in `space`; scores are `space` scores."""
        spaces = self._known_spaces()
        if spaces is None:
            return []
        check_space(first_space, spaces)
        check_space(space, spaces)
        m = _models()
        where = build_filter(flt, m)
        first = m.Prefetch(
            query=np.asarray(first_query, dtype=np.float32).reshape(-1).tolist(),
            using=first_space,
            filter=where,
            limit=max(candidates, k),
            params=search_params(m, self.hnsw_ef, self.quantization) if self.url else None,
        )
        response = self._call(
            f"searching {first_space!r} then {space!r}",
            self._conn().query_points,
            self.collection,
            prefetch=[first],
            query=np.asarray(query, dtype=np.float32).reshape(-1).tolist(),
            using=space,
            query_filter=where,
            limit=k,
            with_payload=True,
        )
        return [to_hit(p.payload, p.score, space) for p in response.points]

    def get(self, segment_ids: Sequence[str]) -> list[Segment]:
        """The stored segments with these ids, in the given order; unknown ids are skipped."""
        if not segment_ids or self._known_spaces() is None:
            return []
        records = self._call("reading points", self._conn().retrieve, self.collection, list(segment_ids))
        found = {str(r.id): Segment.from_payload(r.payload) for r in records if r.payload}
        return [found[i] for i in segment_ids if i in found]

    def scroll(self, flt: SearchFilter | None = None, batch: int = 256) -> Iterator[Segment]:
        """Every stored segment matching `flt`, page by page."""
        if self._known_spaces() is None:
            return
        where, offset = build_filter(flt, _models()), None
        while True:
            records, offset = self._call(
                "scrolling points",
                self._conn().scroll,
                self.collection,
                scroll_filter=where,
                limit=batch,
                offset=offset,
                with_payload=True,
                with_vectors=False,
            )
            yield from (Segment.from_payload(r.payload) for r in records if r.payload)
            if offset is None:
                return

    def update_vectors(self, space: str, vectors: Mapping[str, Vector]) -> None:
        """Set one named vector on existing points (segment id -> vector), keeping their other vectors."""
        m = _models()
        points = [
            m.PointVectors(id=sid, vector={space: np.asarray(v).tolist()}) for sid, v in vectors.items()
        ]
        self._call("updating vectors", self._conn().update_vectors, self.collection, points=points, wait=True)

    def count(self, flt: SearchFilter | None = None) -> int:
        """How many points match the filter (all points without one)."""
        if self._known_spaces() is None:
            return 0
        flt_ = build_filter(flt, _models())
        return int(
            self._call("counting", self._conn().count, self.collection, count_filter=flt_, exact=True).count
        )

    # -- internals -------------------------------------------------------------------------------------

    def _conn(self) -> Any:
        return self._connection.client()

    def _known_spaces(self) -> list[str] | None:
        return self._connection.known_spaces()

    def _call(self, what: str, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        return self._connection.call(what, fn, *args, **kwargs)


def _models() -> Any:
    from qdrant_client import models

    return models
