"""Fit the calibrated relevance (retrieval/relevance.py) on the BEIR sets, reported leave-one-collection-out.

Examples: the top `TOP` fused hits of every query with the shipped fusion defaults, on each corpus; a hit is
relevant when judged relevant (grade > 0). Queries of the other two collections searched in each corpus are
added as no-match examples (every hit non-relevant): a question about something the files do not hold.
Features are what the retriever sees at run time: the raw dense cosine (the dense list's floor when the hit
is not in it) and the BM25 score (0 when not in the lexical list) per distinct query term.

Each held-out corpus is scored with the model fitted on the other two (log loss, Brier, AUC, expected
calibration error, and the "no good match" rates at the threshold chosen on the other two). The shipped
coefficients are fitted on all three and written to retrieval/relevance_calibration.json.

Usage: python -m benchmarks.fit_relevance
"""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.bench_fusion_loco import Config, Scorer, ranking
from benchmarks.loco_data import SETS, load_collection

TOP = 20
OUT = Path(__file__).resolve().parents[1] / "retrieval" / "relevance_calibration.json"


def examples(scorer: Scorer, cfg: Config) -> dict[str, np.ndarray]:
    """Features and labels of the top hits of every query of one scorer."""
    top = ranking(scorer.fused(cfg), TOP)
    dense = scorer.dense(cfg.title)
    lexical = scorer.lexical(cfg.k1, cfg.b, cfg.title)
    q = top.shape[0]
    cos = np.zeros(top.shape)
    bm25 = np.zeros(top.shape)
    for i in range(q):
        d_depth = dense.idx[i, : cfg.depth]
        d_map = dict(zip(d_depth.tolist(), dense.score[i, : cfg.depth].tolist(), strict=True))
        floor = float(np.nanmin(dense.score[i, : cfg.depth]))
        l_map = {
            int(d): float(s)
            for d, s in zip(lexical.idx[i, : cfg.depth], lexical.score[i, : cfg.depth], strict=True)
            if d >= 0
        }
        for j, doc in enumerate(top[i].tolist()):
            cos[i, j] = d_map.get(doc, floor)
            bm25[i, j] = l_map.get(doc, 0.0)
    rows = np.arange(q)[:, None]
    label = np.where(top >= 0, scorer.gains[rows, np.maximum(top, 0)] > 0, False)
    terms = np.broadcast_to(np.maximum(scorer.terms, 1)[:, None], top.shape)
    valid = top >= 0
    return {
        "cos": cos[valid],
        "lex": (bm25 / terms)[valid],
        "label": label[valid].astype(int),
        "query": np.broadcast_to(np.arange(q)[:, None], top.shape)[valid],
        "rank": np.broadcast_to(np.arange(TOP)[None, :], top.shape)[valid],
    }


def features(ex: dict[str, np.ndarray]) -> np.ndarray:
    return np.stack([ex["cos"], ex["lex"]], axis=1)


def fit(parts: list[dict[str, np.ndarray]]) -> tuple[np.ndarray, float]:
    from sklearn.linear_model import LogisticRegression

    x = np.concatenate([features(p) for p in parts])
    y = np.concatenate([p["label"] for p in parts])
    model = LogisticRegression(C=10.0, max_iter=1000).fit(x, y)
    return model.coef_[0], float(model.intercept_[0])


def predict(coef: np.ndarray, intercept: float, ex: dict[str, np.ndarray]) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-(features(ex) @ coef + intercept)))


def top1(p: np.ndarray, ex: dict[str, np.ndarray]) -> np.ndarray:
    """The relevance of each query's first hit."""
    return p[ex["rank"] == 0]


def threshold(own: list[np.ndarray], foreign: list[np.ndarray]) -> float:
    """The top-1 relevance cut that best separates own queries from foreign ones (Youden's J)."""
    a, b = np.concatenate(own), np.concatenate(foreign)
    cuts = np.unique(np.concatenate([a, b]))
    j = [(a >= t).mean() - (b >= t).mean() for t in cuts]
    return float(cuts[int(np.argmax(j))])


def metrics(p: np.ndarray, y: np.ndarray) -> dict[str, float]:
    from sklearn.metrics import brier_score_loss, log_loss, roc_auc_score

    bins = np.minimum((p * 10).astype(int), 9)
    ece = sum(
        abs(p[bins == k].mean() - y[bins == k].mean()) * (bins == k).mean()
        for k in range(10)
        if (bins == k).any()
    )
    base = np.full_like(p, y.mean())
    return {
        "examples": int(len(y)),
        "positive_rate": round(float(y.mean()), 4),
        "log_loss": round(float(log_loss(y, p, labels=[0, 1])), 4),
        "log_loss_constant": round(float(log_loss(y, base, labels=[0, 1])), 4),
        "brier": round(float(brier_score_loss(y, p)), 4),
        "auc": round(float(roc_auc_score(y, p)), 4) if 0 < y.mean() < 1 else float("nan"),
        "ece": round(float(ece), 4),
    }


def run(cfg: Config) -> dict[str, Any]:
    cols = {name: load_collection(name) for name in SETS}
    own: dict[str, dict[str, np.ndarray]] = {}
    foreign: dict[str, dict[str, np.ndarray]] = {}
    for name, col in cols.items():
        own[name] = examples(Scorer(col), cfg)
        others = [o for o in SETS if o != name]
        vectors = np.concatenate([cols[o].query_vectors for o in others])
        texts = [t for o in others for t in cols[o].query_texts]
        foreign[name] = examples(Scorer(col, (vectors, texts)), cfg)
    report: dict[str, Any] = {"config": asdict(cfg), "top": TOP, "left_out": {}}
    for held in SETS:
        train = [s for s in SETS if s != held]
        coef, intercept = fit([own[s] for s in train] + [foreign[s] for s in train])
        cut = threshold(
            [top1(predict(coef, intercept, own[s]), own[s]) for s in train],
            [top1(predict(coef, intercept, foreign[s]), foreign[s]) for s in train],
        )
        p_own, p_for = predict(coef, intercept, own[held]), predict(coef, intercept, foreign[held])
        y = np.concatenate([own[held]["label"], foreign[held]["label"]])
        report["left_out"][held] = {
            **metrics(np.concatenate([p_own, p_for]), y),
            "own_queries_only": metrics(p_own, own[held]["label"]),
            "threshold": round(cut, 4),
            "no_match_flagged_own_queries": round(float((top1(p_own, own[held]) < cut).mean()), 4),
            "no_match_flagged_foreign_queries": round(float((top1(p_for, foreign[held]) < cut).mean()), 4),
            "mean_relevance_top1_own": round(float(top1(p_own, own[held]).mean()), 4),
            "mean_relevance_top1_foreign": round(float(top1(p_for, foreign[held]).mean()), 4),
        }
    coef, intercept = fit([own[s] for s in SETS] + [foreign[s] for s in SETS])
    cut = threshold(
        [top1(predict(coef, intercept, own[s]), own[s]) for s in SETS],
        [top1(predict(coef, intercept, foreign[s]), foreign[s]) for s in SETS],
    )
    shipped = {
        "intercept": round(intercept, 6),
        "dense": round(float(coef[0]), 6),
        "lexical": round(float(coef[1]), 6),
        "threshold": round(cut, 4),
    }
    report["coefficients"] = shipped
    OUT.write_text(
        json.dumps(
            {
                "about": "Logistic calibration of hit relevance for the packaged MiniLM text space and BM25 "
                "lexical space; fitted by benchmarks/fit_relevance.py on Cranfield, Vaswani and Medline.",
                "features": "dense = raw cosine of the text space; lexical = BM25 score / distinct query terms",
                "coefficients": shipped,
                "fusion": asdict(cfg),
            },
            indent=2,
        )
        + "\n"
    )
    return report


def main() -> None:
    from benchmarks.common import RESULTS, write_result

    chosen = RESULTS / "fusion_loco.json"
    cfg = Config(**json.loads(chosen.read_text())["chosen_default"]) if chosen.exists() else Config()
    write_result("relevance", run(cfg))


if __name__ == "__main__":
    main()
