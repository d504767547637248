"""Code both Qdrant backends share: filters, payload fields, hits, batching.

qdrant-edge-py and qdrant-client expose filter classes with the same names and keywords (`Filter`,
`FieldCondition`, `MatchAny`), so filters are built once here against whichever models namespace a backend
passes in.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterator, Mapping, Sequence
from typing import Any, TypeVar

from core.errors import StoreError
from core.types import Hit, SearchFilter, Segment
from indexing.walk import readable

LEXICAL = "lexical"
"""Name of the sparse vector (BM25 term weights, IDF applied by Qdrant)."""

INDEXED_FIELDS = ("source_id", "modality", "granularity")
"""Payload fields with keyword indexes: everything a `SearchFilter` can restrict."""

T = TypeVar("T")


def filter_conditions(flt: SearchFilter | None) -> list[tuple[str, list[str]]]:
    """The filter as (payload field, accepted values) pairs; empty when nothing is restricted."""
    if flt is None or flt.is_empty():
        return []
    pairs = [
        ("modality", [str(m) for m in flt.modalities]),
        ("granularity", [str(g) for g in flt.granularities]),
        ("source_id", list(flt.source_ids)),
    ]
    return [(field, values) for field, values in pairs if values]


def build_filter(flt: SearchFilter | None, models: Any) -> Any | None:
    """A Qdrant filter ("value in list" per set field, all must hold) from `models`, or None."""
    conditions = filter_conditions(flt)
    if not conditions:
        return None
    return models.Filter(
        must=[
            models.FieldCondition(key=field, match=models.MatchAny(any=values))
            for field, values in conditions
        ]
    )


def source_filter(source_id: str, models: Any) -> Any:
    """A filter matching every point of one source."""
    return build_filter(SearchFilter(source_ids=(source_id,)), models)


def to_hit(payload: dict[str, Any] | None, score: float, space: str) -> Hit:
    """A `Hit` from a stored payload and its score in `space`."""
    if not payload:
        raise StoreError("a stored point has no payload; the collection was not written by mmrag")
    return Hit(
        segment=Segment.from_payload(payload), score=float(score), space=space, scores={space: float(score)}
    )


def check_space(space: str, known: Sequence[str] | None) -> None:
    """Raise `StoreError` for a space the collection does not have (when the backend knows its spaces)."""
    if known is not None and space != LEXICAL and space not in known:
        raise StoreError(
            f"unknown vector space {space!r}; this collection has {sorted(known)} and {LEXICAL!r}"
        )


def batched(items: Sequence[T], size: int) -> Iterator[Sequence[T]]:
    """Consecutive slices of at most `size` items."""
    for start in range(0, len(items), size):
        yield items[start : start + size]


OVERSAMPLING = {"int8": 2.0, "binary": 10.0}
"""Candidates fetched per wanted hit from quantized vectors before rescoring with the originals.

One bit per dimension of a 384-d vector ranks coarsely: at 100k MiniLM-shaped vectors, recall@10 after
rescoring was 0.745 with 3x oversampling and 0.995 with 10x (int8 needs only 2x for 0.999).
"""


def search_params(models: Any, hnsw_ef: int, quantization: str) -> Any:
    """Dense search parameters: HNSW ef, plus oversampling + rescoring when vectors are quantized."""
    if quantization not in ("none", *OVERSAMPLING):
        raise StoreError(f"unknown quantization {quantization!r}; use none, int8 or binary")
    quant = None
    if quantization != "none":
        quant = models.QuantizationSearchParams(rescore=True, oversampling=OVERSAMPLING[quantization])
    return models.SearchParams(hnsw_ef=hnsw_ef, quantization=quant)


INT64_MAX = 2**63 - 1
MAX_PAYLOAD_DEPTH = 32


def clean_payload(payload: Mapping[str, Any]) -> dict[str, Any]:
    """A payload every Qdrant backend accepts, whatever the extractors put in it.

    File metadata is user data: EXIF rationals with a zero denominator become NaN, counters overflow 64
    bits, names carry undecodable bytes. The engine rejects a whole write batch for one such value, so
    each value is made storable here, once, for both backends: NaN and infinities become None, integers
    beyond 64 bits become strings, lone surrogates become readable `\\xNN` escapes, bytes are decoded,
    tuples become lists, unknown objects their `str()`, and nesting deeper than 32 levels a string.
    """
    return {readable(str(k)): _clean_value(v, 1) for k, v in payload.items()}


def _clean_value(value: Any, depth: int) -> Any:
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, str):
        return readable(value)
    if isinstance(value, numbers.Integral):
        integer = int(value)
        return integer if -INT64_MAX - 1 <= integer <= INT64_MAX else str(integer)
    if isinstance(value, numbers.Real):
        try:
            number = float(value)
        except (ValueError, ZeroDivisionError, OverflowError):  # e.g. a Fraction-like with denominator 0
            return None
        return number if math.isfinite(number) else None
    if isinstance(value, bytes | bytearray | memoryview):
        return readable(bytes(value).decode("utf-8", "surrogateescape"))
    if depth >= MAX_PAYLOAD_DEPTH:
        return readable(str(value))[:1000]
    if isinstance(value, Mapping):
        return {readable(str(k)): _clean_value(v, depth + 1) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_clean_value(v, depth + 1) for v in value]
    return readable(str(value))
