"""Adaptive evidence selection: keep what scores close to the best, not a fixed top-k.

After VLMT and "Re-ranking the Context for Multimodal RAG": irrelevant context hurts the generator, so keep
hits whose rerank score is at least `threshold` times the best score, never fewer than `min_k` (the
generator decides whether weak evidence is enough) and never more than `max_k`.
"""

from __future__ import annotations

from collections.abc import Sequence

from core.types import Hit


def select_evidence(
    hits: Sequence[Hit], *, threshold: float = 0.7, min_k: int = 1, max_k: int = 5
) -> list[Hit]:
    """Hits (best first) whose score is within `threshold` of the best, clamped to [min_k, max_k].

    Scores are compared after shifting so the worst candidate sits at 0 when any score is negative
    (cross-encoder logits), which keeps "a fraction of the best" meaningful for any score scale.

    Args:
        hits: Reranked hits; re-sorted by score here.
        threshold: Fraction of the best score a hit needs (0 keeps max_k, 1 keeps ties with the best).
        min_k: Always keep at least this many (when there are that many).
        max_k: Never keep more than this many.
    """
    ranked = sorted(hits, key=lambda h: h.score, reverse=True)
    if not ranked:
        return []
    shift = -min(0.0, ranked[-1].score)
    best = ranked[0].score + shift
    keep = [h for h in ranked if best <= 0 or (h.score + shift) >= threshold * best]
    keep = keep[: max(1, max_k)]
    if len(keep) < min_k:
        keep = ranked[: min(min_k, max_k, len(ranked))]
    return keep
