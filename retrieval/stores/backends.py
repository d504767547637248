"""The vector store backends for the registry: `embedded` (default), `server`, `memory` (tests only).

`MMRAG_STORE=auto` (the default) picks `server` when `MMRAG_QDRANT_URL` is set, else `embedded`.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel

from core.protocols import RescoringStore
from core.registry import Components, Registry


class EmbeddedStoreConfig(BaseModel):
    """The real Qdrant engine in-process, in `<home>/store/<collection>` (one folder per collection)."""

    home: Path
    collection: str = "mmrag"
    hnsw_ef: int = 512
    quantization: str = "none"


class ServerStoreConfig(BaseModel):
    """A Qdrant server or cluster through qdrant-client."""

    qdrant_url: str
    collection: str = "mmrag"
    qdrant_api_key: str | None = None
    shard_number: int = 1
    replication_factor: int = 1
    write_consistency_factor: int = 1
    quantization: str = "none"
    hnsw_ef: int = 512


class MemoryStoreConfig(BaseModel):
    """qdrant-client's in-process numpy emulation: for tests and throwaway sessions, not for real data."""

    collection: str = "mmrag"


def _embedded(cfg: EmbeddedStoreConfig, _: Components) -> RescoringStore:
    from retrieval.stores.qdrant_edge_store import QdrantEdgeStore

    return QdrantEdgeStore(
        cfg.home / "store" / cfg.collection, hnsw_ef=cfg.hnsw_ef, quantization=cfg.quantization
    )


def _server(cfg: ServerStoreConfig, _: Components) -> RescoringStore:
    from retrieval.stores.qdrant_client_store import QdrantClientStore

    return QdrantClientStore(
        collection=cfg.collection,
        url=cfg.qdrant_url,
        api_key=cfg.qdrant_api_key,
        shard_number=cfg.shard_number,
        replication_factor=cfg.replication_factor,
        write_consistency_factor=cfg.write_consistency_factor,
        quantization=cfg.quantization,
        hnsw_ef=cfg.hnsw_ef,
    )


def _memory(cfg: MemoryStoreConfig, _: Components) -> RescoringStore:
    from retrieval.stores.qdrant_client_store import QdrantClientStore

    return QdrantClientStore(collection=cfg.collection)  # no url, no path: ":memory:"


def register(registry: Registry) -> None:
    """Entry point `mmrag.backends`: the built-in stores."""
    registry.add("store", "embedded", EmbeddedStoreConfig, _embedded)
    registry.add("store", "server", ServerStoreConfig, _server)
    registry.add("store", "memory", MemoryStoreConfig, _memory)
