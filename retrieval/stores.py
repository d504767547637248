"""Picks the vector store backend from settings."""

from __future__ import annotations

from core.protocols import VectorStore
from core.settings import Settings


def build_store(settings: Settings) -> VectorStore:
    """The configured store: a Qdrant server/cluster when `qdrant_url` is set, else the embedded engine.

    The embedded store lives in `<home>/store/<collection>`, one folder per collection.
    """
    if settings.qdrant_url:
        from retrieval.qdrant_client_store import QdrantClientStore

        return QdrantClientStore(
            collection=settings.collection,
            url=settings.qdrant_url,
            api_key=settings.qdrant_api_key,
            shard_number=settings.shard_number,
            replication_factor=settings.replication_factor,
            write_consistency_factor=settings.write_consistency_factor,
            quantization=settings.quantization,
            hnsw_ef=settings.hnsw_ef,
        )
    from retrieval.qdrant_edge_store import QdrantEdgeStore

    return QdrantEdgeStore(
        settings.store_dir / settings.collection, hnsw_ef=settings.hnsw_ef, quantization=settings.quantization
    )
