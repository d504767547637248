"""How well the trained router picks the corpus that answers a question: k-fold cross-validation on the
labelled router dev set, with the confusion matrix (which routes it mistakes for which).

The same folds, features and regularisation as `mmrag router train` (retrieval/routing/router_training.py), with the
packaged MiniLM. Data: router-dev.jsonl in the evaluation data ($MMRAG_EVAL_DATA, default ../shared/data).
Usage: python -m benchmarks.bench_router [--folds 5]
Writes benchmarks/results/router.json; `python -m benchmarks.plots` draws router_confusion.png from it.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import numpy as np

from benchmarks.common import write_result

REPO = Path(__file__).resolve().parents[1]


def eval_data() -> Path:
    configured = os.environ.get("MMRAG_EVAL_DATA", "").strip()
    return Path(configured) if configured else REPO.parent / "shared" / "data"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    from indexing.encoders.sentence_transformers_text_encoder import SentenceTransformersTextEncoder
    from retrieval.routing.router_model import fit_weights
    from retrieval.routing.router_training import _folds, load_labelled, metrics

    data = eval_data() / "router-dev.jsonl"
    questions, routes = load_labelled(data)
    encoder = SentenceTransformersTextEncoder()
    encoder.load()
    started = time.perf_counter()
    embeddings = encoder.encode_queries(questions)
    encode_s = time.perf_counter() - started

    predicted = np.empty(len(routes), dtype=object)
    q, r = np.asarray(questions, dtype=object), np.asarray(routes, dtype=object)
    for test in _folds(routes, args.folds, args.seed):
        train = np.setdiff1d(np.arange(len(routes)), test)
        weights = fit_weights(list(q[train]), list(r[train]), embeddings[train], c=3.0, seed=args.seed)
        probs = weights.predict_proba(list(q[test]), embeddings[test])
        predicted[test] = [weights.labels[i] for i in probs.argmax(axis=1)]

    labels = sorted(set(routes))
    index = {label: i for i, label in enumerate(labels)}
    confusion = [[0] * len(labels) for _ in labels]
    for truth, guess in zip(routes, predicted, strict=True):
        confusion[index[truth]][index[str(guess)]] += 1
    scores = metrics(list(routes), [str(p) for p in predicted])
    write_result(
        "router",
        {
            "data": f"{data.name} ({len(routes)} labelled questions)",
            "folds": args.folds,
            "seed": args.seed,
            "encode_s": round(encode_s, 2),
            "accuracy": scores["accuracy"],
            "macro_f1": scores["macro_f1"],
            "per_route": scores["per_route"],
            "labels": labels,
            "confusion": confusion,
        },
    )


if __name__ == "__main__":
    main()
