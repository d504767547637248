"""Fusing ranked lists from several spaces into one ranking.

`rrf`: reciprocal rank fusion, sum of weight / (k + rank); robust to incomparable score scales.
`weighted`: each list's scores min-max normalised to [0, 1], then a weighted sum; a list that does not
contain a segment contributes 0. Which one wins is measured in benchmarks/bench_fusion.py.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace

from core.types import Hit

RRF_K = 60


def fuse(
    ranked: Mapping[str, Sequence[Hit]],
    method: str = "rrf",
    weights: Mapping[str, float] | None = None,
    k: int = 10,
) -> list[Hit]:
    """Fuse per-space hit lists (each best first) into one list of `k` hits, best first.

    Args:
        ranked: space name -> hits from that space.
        method: "rrf" or "weighted".
        weights: space name -> weight (default 1.0 each).
        k: how many fused hits to return.

    Returns:
        Hits whose `score` is the fused score, with every space's raw score kept in `scores`.
    """
    weights = weights or {}
    fused: dict[str, float] = {}
    best: dict[str, Hit] = {}
    raw: dict[str, dict[str, float]] = {}
    for space, hits in ranked.items():
        w = weights.get(space, 1.0)
        contributions = _contributions(hits, method)
        for hit, contribution in zip(hits, contributions, strict=True):
            sid = hit.segment.segment_id
            fused[sid] = fused.get(sid, 0.0) + w * contribution
            raw.setdefault(sid, {})[space] = hit.score
            best.setdefault(sid, hit)
    order = sorted(fused, key=lambda sid: fused[sid], reverse=True)[:k]
    return [
        replace(best[sid], score=fused[sid], space="fused", scores={**raw[sid], "fused": fused[sid]})
        for sid in order
    ]


def _contributions(hits: Sequence[Hit], method: str) -> list[float]:
    if method == "rrf":
        return [1.0 / (RRF_K + rank) for rank in range(1, len(hits) + 1)]
    if method == "weighted":
        if not hits:
            return []
        scores = [h.score for h in hits]
        low, high = min(scores), max(scores)
        span = high - low
        return [(s - low) / span if span > 0 else 1.0 for s in scores]
    raise ValueError(f"unknown fusion method {method!r} (use rrf or weighted)")
