"""The embedded engine's shard folder: whether a complete shard is there, loading it with the quantization
setting, and the engine's exceptions as one `StoreError` line naming the folder and the operation.

`QdrantEdgeStore` (retrieval/stores/qdrant_edge_store.py) holds the loaded shard and does the reads and writes.
"""

from __future__ import annotations

import logging
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from core.errors import StoreError
from retrieval.stores.qdrant_common import LEXICAL
from retrieval.stores.qdrant_vectors import edge_quantization

logger = logging.getLogger(__name__)


def qdrant_edge() -> Any:
    """The `qdrant_edge` bindings, imported on first use (not at import time)."""
    import qdrant_edge

    return qdrant_edge


def shard_exists(path: Path) -> bool:
    """Whether a shard was created in `path`. A create cut short by a crash is cleared, so it can start over.

    A complete shard has `edge_config.json`; a SIGKILL inside `EdgeShard.create` leaves the folders without
    it and without segments, which the engine then refuses to load ("edge config is not provided").
    """
    if not path.is_dir() or not any(path.iterdir()):
        return False
    segments = path / "segments"
    created = (path / "edge_config.json").exists() or (segments.is_dir() and any(segments.iterdir()))
    if not created:
        logger.warning("clearing an embedded store whose creation was interrupted: %s", path)
        shutil.rmtree(path)
        return False
    return True


def load_shard(path: Path, quantization: str) -> Any:
    """Load the shard in `path`; a quantization other than "none" applies at its next optimize."""
    qe = qdrant_edge()
    quant = edge_quantization(qe, quantization)
    config = None
    if quant is not None:  # the engine wants a vector config; dense spaces are inherited
        lexical = {LEXICAL: qe.EdgeSparseVectorParams(modifier=qe.Modifier.Idf)}
        config = qe.EdgeConfig(sparse_vectors=lexical, quantization_config=quant)
    shard = qe.EdgeShard.load(str(path), config)
    logger.info("opened embedded Qdrant store at %s", path)
    return shard


@contextmanager
def engine_errors(path: Path, what: str) -> Iterator[None]:
    """Turn the engine's exceptions into one `StoreError` line naming the store and the operation."""
    try:
        yield
    except StoreError:
        raise
    except Exception as exc:  # the bindings raise bare Exception for engine errors
        raise StoreError(f"embedded Qdrant at {path}: {what} failed: {exc}") from exc
