"""One collection through one qdrant-client connection: connect on first use, retry each call, and read,
create and extend the collection's schema (dense spaces, `lexical`, payload indexes).

`QdrantClientStore` (retrieval/stores/qdrant_client_store.py) does the reads and writes of points through it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from core.errors import StoreError
from retrieval.stores.qdrant_common import INDEXED_FIELDS, LEXICAL
from retrieval.stores.qdrant_retry import call_with_retries
from retrieval.stores.qdrant_vectors import client_quantization

logger = logging.getLogger(__name__)

T = TypeVar("T")


@dataclass(frozen=True)
class CollectionLayout:
    """How a new collection is laid out on a cluster, and its quantization."""

    shard_number: int = 1
    replication_factor: int = 1
    write_consistency_factor: int = 1
    quantization: str = "none"


class ClientCollection:
    """The connection to one collection (`url`: a server; else local mode at `path` or ":memory:")."""

    def __init__(
        self,
        collection: str,
        url: str | None,
        path: str | None,
        api_key: str | None,
        *,
        retries: int,
        backoff_s: float,
        timeout_s: int,
    ) -> None:
        self.collection = collection
        self.url = url
        self.path = path
        self.api_key = api_key
        self.retries = retries
        self.backoff_s = backoff_s
        self.timeout_s = timeout_s
        self._client: Any = None
        self._spaces: list[str] | None = None  # dense spaces, once the collection is known to exist

    @property
    def where(self) -> str:
        """Human-readable location for messages."""
        return f"Qdrant at {self.url}" if self.url else f"local Qdrant ({self.path})"

    def client(self) -> Any:
        """The `QdrantClient`, connected on first use."""
        if self._client is None:
            from qdrant_client import QdrantClient

            if self.url:
                # No version probe at connect: it costs a round trip and only warns; errors surface per call.
                self._client = QdrantClient(
                    url=self.url, api_key=self.api_key, timeout=self.timeout_s, check_compatibility=False
                )
            elif self.path == ":memory:":
                self._client = QdrantClient(location=":memory:")
            else:
                self._client = QdrantClient(path=self.path)
            logger.info("connected to %s, collection %s", self.where, self.collection)
        return self._client

    def call(self, what: str, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run one client call; retry transient failures with exponential backoff; else `StoreError`."""
        return call_with_retries(self.where, what, fn, self.retries, self.backoff_s, *args, **kwargs)

    def close(self) -> None:
        """Close the client (releases local-mode files)."""
        if self._client is not None:
            self._client.close()
            self._client = None
            self._spaces = None

    def known_spaces(self) -> list[str] | None:
        """Dense space names of the collection, or None if it does not exist yet."""
        if self._spaces is None:
            client = self.client()
            if not self.call("checking the collection", client.collection_exists, self.collection):
                return None
            info = self.call("reading the collection", client.get_collection, self.collection)
            vectors = info.config.params.vectors
            self._spaces = list(vectors) if isinstance(vectors, dict) else []
        return self._spaces

    def forget_spaces(self) -> None:
        """The schema changed: read the spaces again on next use."""
        self._spaces = None

    def ensure(self, spaces: Mapping[str, int], layout: CollectionLayout) -> None:
        """Create the collection (dense spaces + `lexical` + payload indexes); add missing spaces."""
        m = _models()
        client = self.client()
        if not self.call("checking the collection", client.collection_exists, self.collection):
            self.call(
                "creating the collection",
                client.create_collection,
                self.collection,
                vectors_config={
                    n: m.VectorParams(size=d, distance=m.Distance.COSINE) for n, d in spaces.items()
                },
                sparse_vectors_config={LEXICAL: m.SparseVectorParams(modifier=m.Modifier.IDF)},
                shard_number=layout.shard_number,
                replication_factor=layout.replication_factor,
                write_consistency_factor=layout.write_consistency_factor,
                quantization_config=client_quantization(m, layout.quantization),
            )
        else:
            self.add_spaces(spaces)
        if self.url:  # local mode ignores keyword indexes (and warns); a server needs them for fast filters
            for field in INDEXED_FIELDS:
                self.call(
                    "creating payload indexes",
                    client.create_payload_index,
                    self.collection,
                    field,
                    m.PayloadSchemaType.KEYWORD,
                )
        self._spaces = None  # re-read lazily

    def add_spaces(self, spaces: Mapping[str, int], retry: bool = True) -> None:
        """Add the missing spaces; one another writer added meanwhile is fine if its dimension agrees."""
        m = _models()
        client = self.client()
        info = self.call("reading the collection", client.get_collection, self.collection)
        existing = info.config.params.vectors if isinstance(info.config.params.vectors, dict) else {}
        for name, dim in spaces.items():
            if name in existing:
                if existing[name].size != dim:
                    raise StoreError(
                        f"space {name!r} in {self.collection!r} has dimension {existing[name].size}, "
                        f"not {dim}; "
                        "use a new collection for a different model"
                    )
                continue
            config = m.DenseVectorNameConfig(dense=m.DenseVectorConfig(size=dim, distance=m.Distance.COSINE))
            try:
                self.call("adding a vector space", client.create_vector_name, self.collection, name, config)
            except StoreError:
                if not retry:
                    raise
                self.add_spaces(spaces, retry=False)  # raced with another writer: check what it made
                return
        self._spaces = None


def _models() -> Any:
    from qdrant_client import models

    return models
