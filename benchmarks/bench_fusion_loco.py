"""Leave-one-collection-out (LOCO) selection of every hybrid-search choice, and relevance calibration.

Every fusion choice (method, lexical weight, candidate depth, BM25 k1/b, title handling, query-length-aware
lexical weighting, dense pseudo-relevance feedback) is chosen on two of the BEIR sets (Cranfield, Vaswani,
Medline) and scored on the third; the table reports each set in-sample (its own best configuration) and
left-out (the configuration the other two chose), beside the BM25, dense and plain RRF baselines. The
shipped default is the configuration with the best mean over all three sets.

Scoring runs offline on cached MiniLM embeddings (benchmarks/.cache, built once by `loco_data`) with BM25
computed exactly as the product computes it, and fusion vectorised over queries; `tests/test_fusion.py`
checks that this vectorised fusion ranks like `retrieval.fusion.fuse`.

Usage: python -m benchmarks.bench_fusion_loco [--quick]
"""

from __future__ import annotations

import argparse
import itertools
import time
from dataclasses import asdict, dataclass, replace
from typing import Any

import numpy as np

from benchmarks.loco_data import SETS, Collection, bm25_scores, load_collection, query_term_matrix

DEPTH_MAX = 200


@dataclass(frozen=True)
class Config:
    """One point of the grid."""

    method: str = "weighted"  # rrf | weighted (min-max) | zscore
    lexical_weight: float = 1.0  # dense weight is 1
    depth: int = 100  # candidates per list
    k1: float = 1.2
    b: float = 0.75
    title: str = "joined"
    length_alpha: float = 0.0  # query-length-aware lexical weighting (0 = off)
    length_reference: int = 8
    prf_docs: int = 0  # dense Rocchio feedback from the fused top-m (0 = off)
    prf_beta: float = 0.0
    rrf_k: int = 60


@dataclass
class Lists:
    """Top-`DEPTH_MAX` candidates of one list for every query, best first (-1 / nan pad)."""

    idx: np.ndarray  # (q, DEPTH_MAX) int
    score: np.ndarray  # (q, DEPTH_MAX) float, nan where absent


def top_lists(scores: np.ndarray, positive_only: bool) -> Lists:
    """Best-first top candidates per row; a sparse search returns only documents that share a term."""
    depth = min(DEPTH_MAX, scores.shape[1])
    part = np.argpartition(-scores, depth - 1, axis=1)[:, :depth]
    rows = np.arange(scores.shape[0])[:, None]
    order = np.argsort(-scores[rows, part], axis=1, kind="stable")
    idx = part[rows, order]
    val = scores[rows, idx].astype(np.float64)
    if positive_only:
        absent = val <= 0
        val = np.where(absent, np.nan, val)
        idx = np.where(absent, -1, idx)
    return Lists(idx=idx, score=val)


def contributions(score: np.ndarray, method: str, rrf_k: int) -> tuple[np.ndarray, np.ndarray]:
    """(contribution per candidate, contribution of a missing document) per row; nan in -> nan out."""
    present = ~np.isnan(score)
    if method == "rrf":
        ranks = np.arange(1, score.shape[1] + 1, dtype=np.float64)[None, :]
        contrib = np.where(present, 1.0 / (rrf_k + ranks), np.nan)
        return contrib, np.zeros(score.shape[0])
    if method == "weighted":
        low = np.nanmin(np.where(present, score, np.inf), axis=1, keepdims=True)
        high = np.nanmax(np.where(present, score, -np.inf), axis=1, keepdims=True)
        span = high - low
        safe = np.where(span > 0, span, 1.0)
        contrib = np.where(span > 0, (score - low) / safe, 1.0)
        return np.where(present, contrib, np.nan), np.zeros(score.shape[0])
    if method == "zscore":
        count = present.sum(axis=1, keepdims=True)
        filled = np.where(present, score, 0.0)
        mean = filled.sum(axis=1, keepdims=True) / np.maximum(count, 1)
        var = (np.where(present, score - mean, 0.0) ** 2).sum(axis=1, keepdims=True) / np.maximum(count, 1)
        std = np.sqrt(var)
        contrib = np.where(std > 0, (score - mean) / np.where(std > 0, std, 1.0), 0.0)
        contrib = np.where(present, contrib, np.nan)
        missing = np.nanmin(np.where(present, contrib, np.inf), axis=1)
        return contrib, np.where(np.isfinite(missing), missing, 0.0)
    raise ValueError(method)


def fuse_lists(
    lists: dict[str, Lists], weights: dict[str, np.ndarray], method: str, depth: int, rrf_k: int, n_docs: int
) -> np.ndarray:
    """(q, n_docs) fused scores; -inf for documents in no list. Same arithmetic as `retrieval.fusion`."""
    q = next(iter(lists.values())).idx.shape[0]
    fused = np.full((q, n_docs), -np.inf)
    rows = np.arange(q)[:, None]
    floor = np.zeros(q)
    for space, lst in lists.items():
        idx, score = lst.idx[:, :depth], lst.score[:, :depth]
        contrib, missing = contributions(score, method, rrf_k)
        w = weights[space]
        floor += w * missing
        value = w[:, None] * (contrib - missing[:, None])
        ok = idx >= 0
        r = np.broadcast_to(rows, idx.shape)[ok]
        c = idx[ok]
        current = fused[r, c]
        fused[r, c] = np.where(np.isinf(current), 0.0, current) + value[ok]
    return fused + floor[:, None]


def ranking(fused: np.ndarray, k: int) -> np.ndarray:
    """(q, k) document indices, best first (documents in no list never rank)."""
    k = min(k, fused.shape[1])
    part = np.argpartition(-fused, k - 1, axis=1)[:, :k]
    rows = np.arange(fused.shape[0])[:, None]
    order = np.argsort(-fused[rows, part], axis=1, kind="stable")
    top = part[rows, order]
    return np.where(np.isinf(fused[rows, top]), -1, top)


def ndcg10(col: Collection, top: np.ndarray, gains: np.ndarray) -> np.ndarray:
    """Per-query nDCG@10 (linear gains), the same as `evaluation.beir.ndcg_at`."""
    rows = np.arange(top.shape[0])[:, None]
    got = np.where(top[:, :10] >= 0, gains[rows, np.maximum(top[:, :10], 0)], 0.0)
    dcg = (got / np.log2(np.arange(2, 2 + got.shape[1]))[None, :]).sum(axis=1)
    return np.where(col.ideal_dcg > 0, dcg / np.where(col.ideal_dcg > 0, col.ideal_dcg, 1.0), 0.0)


def recall100(col: Collection, top: np.ndarray, gains: np.ndarray) -> np.ndarray:
    rows = np.arange(top.shape[0])[:, None]
    hit = np.where(top[:, :100] >= 0, gains[rows, np.maximum(top[:, :100], 0)] > 0, False)
    return hit.sum(axis=1) / np.maximum(col.n_relevant, 1)


class Scorer:
    """Caches the per-set lists so each configuration costs only fusion."""

    def __init__(self, col: Collection, foreign: tuple[np.ndarray, list[str]] | None = None) -> None:
        """`foreign`: (query vectors, query texts) of another set, searched in this set's corpus (no
        relevance judgments: every hit is a non-match)."""
        self.col = col
        self.n_docs = len(col.doc_ids)
        self._dense: dict[str, Lists] = {}
        self._lexical: dict[tuple[float, float, str], Lists] = {}
        if foreign is None:
            self.query_vectors, self.texts = col.query_vectors, col.query_texts
            self.gains = np.asarray(col.gains.todense(), dtype=np.float64)
            self._query_matrix = None
        else:
            self.query_vectors, self.texts = foreign
            self.gains = np.zeros((len(self.texts), self.n_docs))
            self._query_matrix = query_term_matrix(col, self.texts)
        self.terms = query_terms(self.texts)

    def dense(self, title: str) -> Lists:
        if title not in self._dense:
            sims = self.query_vectors @ self.col.doc_vectors[title].T
            self._dense[title] = top_lists(sims, positive_only=False)
        return self._dense[title]

    def lexical(self, k1: float, b: float, title: str) -> Lists:
        key = (k1, b, title)
        if key not in self._lexical:
            scores = bm25_scores(self.col, k1, b, title, queries=self._query_matrix)
            self._lexical[key] = top_lists(scores, positive_only=True)
        return self._lexical[key]

    def lexical_weights(self, cfg: Config) -> np.ndarray:
        terms = np.maximum(self.terms, 1)
        factor = np.ones_like(terms, dtype=np.float64)
        if cfg.length_alpha > 0:
            factor = np.where(
                terms > cfg.length_reference, (cfg.length_reference / terms) ** cfg.length_alpha, 1.0
            )
        return cfg.lexical_weight * factor

    def fused(self, cfg: Config) -> np.ndarray:
        dense = self.dense(cfg.title)
        lists = {"text": dense, "lexical": self.lexical(cfg.k1, cfg.b, cfg.title)}
        weights = {"text": np.ones(len(self.terms)), "lexical": self.lexical_weights(cfg)}
        fused = fuse_lists(lists, weights, cfg.method, cfg.depth, cfg.rrf_k, self.n_docs)
        if cfg.prf_docs > 0 and cfg.prf_beta > 0:
            lists["text"] = self.rocchio(ranking(fused, cfg.prf_docs), cfg)
            fused = fuse_lists(lists, weights, cfg.method, cfg.depth, cfg.rrf_k, self.n_docs)
        return fused

    def rocchio(self, top: np.ndarray, cfg: Config) -> Lists:
        """Dense list re-searched with q + beta * mean(top-m fused document vectors), renormalised."""
        docs = self.col.doc_vectors[cfg.title]
        feedback = docs[np.maximum(top, 0)].mean(axis=1)
        query = self.query_vectors + cfg.prf_beta * feedback
        query /= np.linalg.norm(query, axis=1, keepdims=True)
        return top_lists(query @ docs.T, positive_only=False)

    def score(self, cfg: Config) -> float:
        return float(ndcg10(self.col, ranking(self.fused(cfg), 10), self.gains).mean())

    def full(self, cfg: Config) -> dict[str, float]:
        top = ranking(self.fused(cfg), 100)
        return {
            "ndcg@10": round(float(ndcg10(self.col, top, self.gains).mean()), 4),
            "recall@100": round(float(recall100(self.col, top, self.gains).mean()), 4),
        }

    def single(self, which: str, cfg: Config) -> dict[str, float]:
        """BM25-only or dense-only ranking (100 deep)."""
        lst = self.dense(cfg.title) if which == "dense" else self.lexical(cfg.k1, cfg.b, cfg.title)
        top = lst.idx[:, :100]
        return {
            "ndcg@10": round(float(ndcg10(self.col, top, self.gains).mean()), 4),
            "recall@100": round(float(recall100(self.col, top, self.gains).mean()), 4),
        }


def query_terms(texts: list[str]) -> np.ndarray:
    """Distinct lexical terms per query, as `EncodedQuery.terms` counts them in the product."""
    from retrieval.bm25_lexical_encoder import BM25LexicalEncoder

    tokenizer = BM25LexicalEncoder()
    return np.array([len(set(tokenizer.tokenize(t))) for t in texts], dtype=np.float64)


def grid(quick: bool) -> list[Config]:
    """The fusion grid (without feedback; feedback is tried on each fold's best configurations)."""
    methods = ("rrf", "weighted", "zscore")
    weights = (0.5, 1.0) if quick else (0.5, 0.7, 1.0, 1.4)
    depths = (100,) if quick else (100, 200)
    k1s = (1.2,) if quick else (0.9, 1.2, 1.5)
    bs = (0.75,) if quick else (0.5, 0.75, 0.9)
    titles = ("joined", "text")
    lengths = ((0.0, 8), (1.0, 8)) if quick else ((0.0, 8), (0.5, 8), (1.0, 8))
    out = []
    for m, w, d, k1, b, t, (alpha, ref) in itertools.product(
        methods, weights, depths, k1s, bs, titles, lengths
    ):
        out.append(
            Config(
                method=m,
                lexical_weight=w,
                depth=d,
                k1=k1,
                b=b,
                title=t,
                length_alpha=alpha,
                length_reference=ref,
            )
        )
    return out


PRF = ((0, 0.0), (3, 0.5), (3, 1.0), (10, 0.5), (10, 1.0))


def select(table: dict[Config, dict[str, float]], train: tuple[str, ...]) -> Config:
    """The configuration with the best mean nDCG@10 over `train` (ties: the earlier, simpler one)."""
    return max(table, key=lambda c: float(np.mean([table[c][s] for s in train])))


def run(quick: bool) -> dict[str, Any]:
    scorers = {name: Scorer(load_collection(name)) for name in SETS}
    started = time.perf_counter()
    table: dict[Config, dict[str, float]] = {}
    for cfg in grid(quick):
        table[cfg] = {name: s.score(cfg) for name, s in scorers.items()}
    # Dense feedback on each fold's 10 best configurations (it costs a second dense search per config).
    folds = [tuple(s for s in SETS if s != held) for held in SETS] + [SETS]
    for train in folds:
        best = sorted(table, key=lambda c: -float(np.mean([table[c][s] for s in train])))[:10]
        for cfg, (m, beta) in itertools.product(best, PRF[1:]):
            variant = replace(cfg, prf_docs=m, prf_beta=beta)
            if variant not in table:
                table[variant] = {name: s.score(variant) for name, s in scorers.items()}
    grid_s = time.perf_counter() - started
    default = Config()
    rrf = Config(method="rrf")
    out: dict[str, Any] = {"configs": len(table), "grid_seconds": round(grid_s, 1), "sets": {}}
    for held in SETS:
        train = tuple(s for s in SETS if s != held)
        chosen = select(table, train)
        own = select(table, (held,))
        s = scorers[held]
        out["sets"][held] = {
            "left_out": {**s.full(chosen), "config": asdict(chosen)},
            "in_sample": {**s.full(own), "config": asdict(own)},
            "previous_default": s.full(default),
            "bm25": s.single("lexical", default),
            "dense": s.single("dense", default),
            "rrf": s.full(rrf),
        }
    final = select(table, SETS)
    out["chosen_default"] = asdict(final)
    out["chosen_default_scores"] = {name: scorers[name].full(final) for name in SETS}
    # Each choice on/off around the chosen default: what it is worth on every set.
    out["ablations"] = {
        label: {name: round(table.get(c, {}).get(name, scorers[name].score(c)), 4) for name in SETS}
        for label, c in {
            "chosen": final,
            "no_length_weighting": replace(final, length_alpha=0.0),
            "no_feedback": replace(final, prf_docs=0, prf_beta=0.0),
            "rrf_instead": replace(final, method="rrf"),
            "weighted_instead": replace(final, method="weighted"),
            "zscore_instead": replace(final, method="zscore"),
        }.items()
    }
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="a small grid (plumbing check)")
    args = parser.parse_args()
    from benchmarks.common import write_result

    write_result("fusion_loco" + ("_quick" if args.quick else ""), run(args.quick))


if __name__ == "__main__":
    main()
