"""Fusing ranked lists from several spaces into one ranking.

Methods (each list's contribution is weighted, then summed per segment):
- `rrf`: reciprocal rank fusion, weight / (rrf_k + rank); robust to incomparable score scales.
- `weighted` (min-max): scores min-max normalised to [0, 1] within the list.
- `zscore`: scores standardised within the list (mean 0, standard deviation 1).
A segment missing from a list gets that list's lowest contribution (0 for rrf and min-max, the lowest z for
z-score): it ranked below everything the list returned. Which choices generalise is measured by
leave-one-collection-out in benchmarks/bench_fusion_loco.py.

Query-length-aware lexical weighting: long, verbose queries (a paragraph describing a need) match many
incidental terms, so the lexical list's weight is scaled by min(1, (reference_terms / terms) ** alpha).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

from core.types import Hit

RRF_K = 60
METHODS = ("rrf", "weighted", "zscore")


@dataclass(frozen=True)
class LengthWeighting:
    """Scales the lexical weight down for queries with more than `reference_terms` distinct terms."""

    alpha: float = 0.0  # 0 = off
    reference_terms: int = 8

    def factor(self, terms: int) -> float:
        """The multiplier for a query with `terms` distinct (stemmed, non-stopword) terms."""
        if self.alpha <= 0 or terms <= self.reference_terms:
            return 1.0
        return (self.reference_terms / terms) ** self.alpha


def fuse(
    ranked: Mapping[str, Sequence[Hit]],
    method: str = "rrf",
    weights: Mapping[str, float] | None = None,
    k: int = 10,
    rrf_k: int = RRF_K,
) -> list[Hit]:
    """Fuse per-space hit lists (each best first) into one list of `k` hits, best first.

    Args:
        ranked: space name -> hits from that space.
        method: "rrf", "weighted" (min-max) or "zscore".
        weights: space name -> weight (default 1.0 each).
        k: how many fused hits to return.
        rrf_k: the rank offset of reciprocal rank fusion.

    Returns:
        Hits whose `score` is the fused score, with every space's raw score kept in `scores`.
    """
    best: dict[str, Hit] = {}
    for hits in ranked.values():
        for hit in hits:
            best.setdefault(hit.segment.segment_id, hit)
    scored = {space: [(h.segment.segment_id, h.score) for h in hits] for space, hits in ranked.items()}
    return [
        replace(best[sid], score=score, space="fused", scores={**raw, "fused": score})
        for sid, score, raw in fuse_scores(scored, method, weights, k, rrf_k)
    ]


def fuse_scores(
    ranked: Mapping[str, Sequence[tuple[str, float]]],
    method: str = "rrf",
    weights: Mapping[str, float] | None = None,
    k: int = 10,
    rrf_k: int = RRF_K,
) -> list[tuple[str, float, dict[str, float]]]:
    """`fuse` on (id, score) lists: [(id, fused score, {space: raw score})], best first.

    The retriever fuses ids and scores alone and fetches payloads only for the hits it returns.
    """
    weights = weights or {}
    fused: dict[str, float] = {}
    raw: dict[str, dict[str, float]] = {}
    floor = 0.0  # sum of every list's missing-segment contribution
    for space, items in ranked.items():
        w = weights.get(space, 1.0)
        contributions = _contributions([score for _, score in items], method, rrf_k)
        missing = min(contributions) if contributions and method == "zscore" else 0.0
        floor += w * missing
        for (sid, score), contribution in zip(items, contributions, strict=True):
            fused[sid] = fused.get(sid, 0.0) + w * (contribution - missing)
            raw.setdefault(sid, {})[space] = score
    order = sorted(fused, key=lambda sid: fused[sid], reverse=True)[:k]
    return [(sid, fused[sid] + floor, raw[sid]) for sid in order]


def _contributions(scores: Sequence[float], method: str, rrf_k: int = RRF_K) -> list[float]:
    if method == "rrf":
        return [1.0 / (rrf_k + rank) for rank in range(1, len(scores) + 1)]
    if not scores:
        if method in METHODS:
            return []
        raise ValueError(f"unknown fusion method {method!r} (use {', '.join(METHODS)})")
    if method == "weighted":
        low, high = min(scores), max(scores)
        span = high - low
        return [(s - low) / span if span > 0 else 1.0 for s in scores]
    if method == "zscore":
        mean = sum(scores) / len(scores)
        std = math.sqrt(sum((s - mean) ** 2 for s in scores) / len(scores))
        return [(s - mean) / std if std > 0 else 0.0 for s in scores]
    raise ValueError(f"unknown fusion method {method!r} (use {', '.join(METHODS)})")
