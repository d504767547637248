"""Named vectors on both Qdrant backends: points from records, spaces added on first use, quantization.

A record may carry a dense vector in a space its collection does not have yet (the GRAM modality vectors of
clips, `core.gram.GRAM_SPACES`, are created by the first clip written, in new and old collections alike).
Both stores add such spaces before writing, sized by the vectors; an existing space of another size stays a
`StoreError`.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from typing import Any

import numpy as np

from core.errors import StoreError
from core.protocols import Record
from core.types import Vector
from retrieval.stores.qdrant_common import LEXICAL, clean_payload

UNKNOWN_VECTOR = "Not existing vector name"
"""How both engines word a request for a named vector the collection lacks."""


def missing_dims(records: Sequence[Record], known: Collection[str]) -> dict[str, int]:
    """The dense spaces the records carry that are not in `known`, sized by the first vector of each.

    Each space is measured once, so a bulk write costs a lookup or two per vector; a vector of another size
    is then rejected by the engine like any write of the wrong size.
    """
    dims: dict[str, int] = {}
    for record in records:
        for name, vec in record.dense.items():
            if name not in known and name not in dims:
                dims[name] = int(np.asarray(vec).reshape(-1).shape[0])
    return dims


def is_unknown_vector(exc: BaseException) -> bool:
    """Whether an engine error says a named vector does not exist in the collection."""
    return UNKNOWN_VECTOR.lower() in str(exc).lower()


def space_vectors(records: Sequence[Any], space: str) -> dict[str, Vector]:
    """Point id -> the `space` vector of retrieved points (either engine's records; those without it left out)."""
    out: dict[str, Vector] = {}
    for record in records:
        vector = record.vector.get(space) if isinstance(record.vector, dict) else None
        if vector is not None:
            out[str(record.id)] = np.asarray(vector, dtype=np.float32).reshape(-1)
    return out


def edge_point(qe: Any, record: Record) -> Any:
    """A qdrant-edge point. Dense vectors go in as Python lists: the bindings take a list of floats in about
    half the time of a numpy row (measured with qdrant-edge-py 0.9, tolist included)."""
    vectors: dict[str, Any] = {
        name: np.asarray(vec, dtype=np.float32).reshape(-1).tolist() for name, vec in record.dense.items()
    }
    if record.sparse is not None and record.sparse.indices:
        vectors[LEXICAL] = qe.SparseVector(
            list(record.sparse.indices), [float(v) for v in record.sparse.values]
        )
    return qe.Point(record.segment.segment_id, vectors, clean_payload(record.segment.payload()))


def client_point(m: Any, record: Record) -> Any:
    """A qdrant-client point (vectors as lists, as the client serialises them)."""
    vectors: dict[str, Any] = {
        name: np.asarray(vec, dtype=np.float32).reshape(-1).tolist() for name, vec in record.dense.items()
    }
    if record.sparse is not None and record.sparse.indices:
        vectors[LEXICAL] = m.SparseVector(
            indices=list(record.sparse.indices), values=[float(v) for v in record.sparse.values]
        )
    return m.PointStruct(
        id=record.segment.segment_id, vector=vectors, payload=clean_payload(record.segment.payload())
    )


def edge_config(qe: Any, spaces: Mapping[str, int], quantization: str) -> Any:
    """A new shard's config: a cosine dense vector per space, `lexical` with IDF, the quantization."""
    quant = edge_quantization(qe, quantization)
    # With quantization the compact copy is pinned in RAM and searched; the originals stay on disk
    # (memory-mapped, read only to rescore a few candidates), which is where the RAM saving comes from.
    memory = qe.Memory.Cold if quant is not None else None
    return qe.EdgeConfig(
        vectors={
            name: qe.EdgeVectorParams(size=dim, distance=qe.Distance.Cosine, memory=memory)
            for name, dim in spaces.items()
        },
        sparse_vectors={LEXICAL: qe.EdgeSparseVectorParams(modifier=qe.Modifier.Idf)},
        quantization_config=quant,
    )


def edge_quantization(qe: Any, quantization: str) -> Any:
    """The qdrant-edge quantization config for "none" (None), "int8" or "binary"; quantized copies pinned."""
    if quantization == "int8":
        return qe.ScalarQuantizationConfig(type=qe.ScalarType.Int8, quantile=0.99, memory=qe.Memory.Pinned)
    if quantization == "binary":
        return qe.BinaryQuantizationConfig(memory=qe.Memory.Pinned)
    _check_quantization(quantization)
    return None


def client_quantization(m: Any, quantization: str) -> Any:
    """The qdrant-client quantization config for "none" (None), "int8" or "binary"; quantized copies in RAM."""
    if quantization == "int8":
        scalar = m.ScalarQuantizationConfig(type=m.ScalarType.INT8, quantile=0.99, always_ram=True)
        return m.ScalarQuantization(scalar=scalar)
    if quantization == "binary":
        return m.BinaryQuantization(binary=m.BinaryQuantizationConfig(always_ram=True))
    _check_quantization(quantization)
    return None


def _check_quantization(quantization: str) -> None:
    if quantization != "none":
        raise StoreError(f"unknown quantization {quantization!r}; use none, int8 or binary")
