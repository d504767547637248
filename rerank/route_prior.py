"""The router as a prior over reranked candidates, and one copy of each text.

UniversalRAG routes a question to the corpus (granularity) that answers it; used as a gate, a wrong route
hides the answer (a fact only spoken in a recording, asked in words that sound like a text question). Here
every corpus is searched and reranked on one scale, and the route probability only adds a small bonus:
`score + weight * p(route of the hit's granularity)`, enough to order near-equal candidates, never enough to
bury a clearly better one (reranker scores are cosines, so 0.05 is a twentieth of the whole scale).

The same text is often indexed at several granularities (a short note is a paragraph and a document; a
short recording is one clip and the whole video); it is kept once, at the finest granularity, so it takes
one evidence slot and its citation points at the precise place.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace

from core.types import Granularity, Hit

FINEST_FIRST: tuple[Granularity, ...] = (
    Granularity.FRAME,
    Granularity.CLIP,
    Granularity.PARAGRAPH,
    Granularity.IMAGE,
    Granularity.DOCUMENT,
    Granularity.VIDEO,
)
"""Citation preference between copies of one text: a keyframe or clip moment before the whole video, a
paragraph before the whole document."""

DEFAULT_PRIOR_WEIGHT = 0.05


def apply_route_prior(
    hits: Sequence[Hit], prior: Mapping[Granularity, float], weight: float = DEFAULT_PRIOR_WEIGHT
) -> list[Hit]:
    """Hits re-sorted by `score + weight * prior[granularity]`; the bonus is kept in `scores["prior"]`.

    Args:
        hits: Reranked hits.
        prior: Probability of each granularity's route (`retrieval.routing.route_selection.granularity_prior`).
        weight: Scale of the bonus.
    """
    out = []
    for hit in hits:
        bonus = weight * float(prior.get(hit.segment.granularity, 0.0))
        score = hit.score + bonus
        out.append(replace(hit, score=score, scores={**hit.scores, "prior": round(bonus, 6)}))
    return sorted(out, key=lambda h: h.score, reverse=True)


def collapse_duplicates(hits: Sequence[Hit]) -> list[Hit]:
    """One hit per (source, text): the finest granularity's segment with the best score of the copies.

    Order (best first) is kept.
    """
    groups: dict[tuple[str, str], list[Hit]] = {}
    for hit in hits:
        text = " ".join(hit.segment.text.split())
        key = (hit.segment.source_id, text or hit.segment.segment_id)  # pictures without text stay apart
        groups.setdefault(key, []).append(hit)
    out = []
    for copies in groups.values():
        best = max(copies, key=lambda h: h.score)
        finest = min(copies, key=lambda h: FINEST_FIRST.index(h.segment.granularity))
        out.append(replace(finest, score=best.score))
    return sorted(out, key=lambda h: h.score, reverse=True)


def merge_contained(hits: Sequence[Hit]) -> list[Hit]:
    """Evidence without a coarser hit whose text holds a finer hit of the same source that is also there.

    A whole document next to its own paragraph repeats the paragraph and adds the rest of the document:
    text whose paragraphs were searched and reranked on their own and did not make the evidence, which the
    generator would read (embed) for nothing. The document is merged into the paragraph it contains (the
    best, when it holds several): the paragraph keeps its place to cite and takes the best score of the two.
    Only documents merge: a clip is a time window that can cut a spoken sentence in two, so a video (or
    clip) keeps the whole sentences its finer windows lack. Hits without text stay as they are.

    Args:
        hits: Selected evidence, best first.

    Returns:
        The hits, best first.
    """
    texts = [" ".join(h.segment.text.split()) for h in hits]
    score = [h.score for h in hits]
    into: dict[int, int] = {}  # coarser hit -> the finer hit it merges into
    for i, hit in enumerate(hits):
        inner = [
            j
            for j, other in enumerate(hits)
            if hit.segment.granularity is Granularity.DOCUMENT
            and other.segment.granularity is Granularity.PARAGRAPH
            and other.segment.source_id == hit.segment.source_id
            and texts[j]
            and texts[j] in texts[i]
        ]
        if texts[i] and inner:
            j = min(inner, key=lambda k: -score[k])
            into[i] = j
    for i, j in into.items():
        score[j] = max(score[j], score[i])
    out = [replace(h, score=score[k]) for k, h in enumerate(hits) if k not in into]
    return sorted(out, key=lambda h: h.score, reverse=True)
