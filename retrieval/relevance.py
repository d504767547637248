"""Calibrated relevance: a probability-like score in [0, 1] that means the same thing for every query.

The fused score ranks hits within one query but is not comparable across queries (min-max normalised per
query, the top hit always scores high even when nothing matches). The relevance is a logistic model of the
raw signals that are on a fixed scale: the dense cosine of the `text` space and the BM25 score of the
`lexical` space per query term. It was fitted on the BEIR sets (Cranfield, Vaswani, Medline) with queries
from the other collections as no-match examples, and reported leave-one-collection-out
(benchmarks/fit_relevance.py); the coefficients ship in `relevance_calibration.json` beside this module.

A hit missing from one list gets that list's floor (the lowest cosine the dense list returned; BM25 0),
the same imputation the fit used. Hits found only through other spaces (an image without text) have no
calibrated relevance (None).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from functools import cache
from pathlib import Path

from core.types import LEXICAL_BONUS, Hit

CALIBRATION_FILE = Path(__file__).with_name("relevance_calibration.json")
DENSE = "text"
LEXICAL = "lexical"


@dataclass(frozen=True)
class RelevanceCalibration:
    """Logistic calibration: relevance = sigmoid(intercept + dense * cosine + lexical * bm25_per_term).

    Attributes:
        intercept, dense, lexical: the fitted coefficients.
        threshold: below this top relevance, a search has "no good match".
    """

    intercept: float
    dense: float
    lexical: float
    threshold: float = 0.5

    def relevance(self, cosine: float, bm25: float, query_terms: int) -> float:
        """Probability-like relevance of one hit from its raw dense cosine and BM25 score."""
        z = self.intercept + self.dense * cosine + self.lexical * bm25 / max(query_terms, 1)
        return 1.0 / (1.0 + math.exp(-z)) if z > -700 else 0.0

    def lexical_bonus(self, bm25: float, query_terms: int) -> float:
        """A hit's BM25 evidence in cosine units: what the calibration trades it for (lexical / dense per
        BM25 point per query term), so a reranker on the cosine scale can add it."""
        return self.lexical / self.dense * bm25 / max(query_terms, 1) if self.dense else 0.0

    @classmethod
    def from_dict(cls, data: Mapping[str, float]) -> RelevanceCalibration:
        return cls(
            intercept=float(data["intercept"]),
            dense=float(data["dense"]),
            lexical=float(data["lexical"]),
            threshold=float(data.get("threshold", 0.5)),
        )


@cache
def default_calibration() -> RelevanceCalibration:
    """The calibration shipped with the package (fitted for the packaged MiniLM and BM25 defaults)."""
    data = json.loads(CALIBRATION_FILE.read_text(encoding="utf-8"))
    return RelevanceCalibration.from_dict(data["coefficients"])


def with_relevance(
    hits: Sequence[Hit],
    dense_floor: float,
    query_terms: int,
    calibration: RelevanceCalibration | None = None,
) -> list[Hit]:
    """Set `relevance` on fused hits from the raw per-space scores they carry in `scores`, and on those the
    lexical list found, `scores[LEXICAL_BONUS]` (their BM25 evidence in cosine units, for the reranker).

    Args:
        hits: fused hits (their `scores` hold each space's raw score).
        dense_floor: the lowest cosine the dense list returned (stands in for hits not in it).
        query_terms: distinct lexical terms of the query.
        calibration: the model; the packaged one by default.
    """
    cal = calibration or default_calibration()
    out = []
    for hit in hits:
        scores = hit.scores
        if DENSE not in scores and LEXICAL not in scores:
            out.append(hit)  # found only through another space: not calibrated
            continue
        cosine = scores.get(DENSE, dense_floor)
        bm25 = scores.get(LEXICAL, 0.0)
        relevance = round(cal.relevance(cosine, bm25, query_terms), 6)
        if LEXICAL in scores:
            scores = {**scores, LEXICAL_BONUS: round(cal.lexical_bonus(bm25, query_terms), 6)}
        out.append(replace(hit, relevance=relevance, scores=scores))
    return out


def no_good_match(hits: Sequence[Hit], threshold: float | None = None) -> bool:
    """True when no hit reaches the threshold (the packaged calibration's by default).

    Hits without a calibrated relevance do not count as evidence either way; with none calibrated at all
    (an image-only collection) the answer is False: no signal.
    """
    limit = default_calibration().threshold if threshold is None else threshold
    rated = [h.relevance for h in hits if h.relevance is not None]
    return bool(rated) and max(rated) < limit
