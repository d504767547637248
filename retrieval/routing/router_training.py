"""Train, cross-validate and evaluate routers on labelled questions (JSON lines `{question, route}`).

`train_router` writes the weights `.npz` and a provenance JSON beside it (data file and its sha256, seed,
cross-validated accuracy, date). `cross_validate` compares the trained router's features with a
bag-of-words baseline (word TF-IDF + the same logistic regression) on the same stratified folds.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from core.errors import InvalidRequestError
from core.protocols import TextEncoder
from core.types import Route
from retrieval.routing.router_model import Floats, fit_weights

log = logging.getLogger(__name__)


def load_labelled(path: Path) -> tuple[list[str], list[str]]:
    """Read `{question, route}` lines; blank lines are skipped.

    Raises:
        InvalidRequestError: a line is not JSON, lacks a field, or names an unknown route.
    """
    questions, routes = [], []
    valid = {r.value for r in Route}
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            question, route = str(row["question"]), str(row["route"])
        except (json.JSONDecodeError, KeyError, TypeError) as exc:
            raise InvalidRequestError(f"{path}:{number}: expected {{question, route}} ({exc})") from exc
        if route not in valid:
            raise InvalidRequestError(f"{path}:{number}: unknown route {route!r}; use one of {sorted(valid)}")
        questions.append(question)
        routes.append(route)
    if not questions:
        raise InvalidRequestError(f"{path}: no labelled questions")
    return questions, routes


def metrics(truth: Sequence[str], predicted: Sequence[str]) -> dict[str, Any]:
    """Accuracy, macro-F1 and per-route precision/recall/F1/support."""
    labels = sorted(set(truth) | set(predicted))
    t, p = np.asarray(truth), np.asarray(predicted)
    per_route: dict[str, dict[str, float]] = {}
    for label in labels:
        tp = int(np.sum((t == label) & (p == label)))
        precision = tp / max(1, int(np.sum(p == label)))
        recall = tp / max(1, int(np.sum(t == label)))
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        per_route[label] = {
            "precision": round(precision, 4),
            "recall": round(recall, 4),
            "f1": round(f1, 4),
            "support": int(np.sum(t == label)),
        }
    scored = [v["f1"] for k, v in per_route.items() if v["support"]]
    return {
        "accuracy": round(float(np.mean(t == p)), 4),
        "macro_f1": round(float(np.mean(scored)), 4),
        "per_route": per_route,
    }


def _folds(routes: Sequence[str], k: int, seed: int) -> list[np.ndarray]:
    from sklearn.model_selection import StratifiedKFold

    splitter = StratifiedKFold(n_splits=k, shuffle=True, random_state=seed)
    return [test for _, test in splitter.split(np.zeros(len(routes)), routes)]


def _bag_of_words(train_q: list[str], train_r: list[str], test_q: list[str]) -> list[str]:
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression

    vectorizer = TfidfVectorizer()
    model = LogisticRegression(C=10.0, max_iter=5000).fit(vectorizer.fit_transform(train_q), train_r)
    return [str(x) for x in model.predict(vectorizer.transform(test_q))]


def cross_validate(
    questions: Sequence[str],
    routes: Sequence[str],
    embeddings: Floats,
    *,
    k: int = 5,
    seed: int = 0,
    c: float = 3.0,
) -> dict[str, Any]:
    """Stratified k-fold CV of the trained router and the bag-of-words baseline on the same folds."""
    ours = np.empty(len(routes), dtype=object)
    bow = np.empty(len(routes), dtype=object)
    q, r = np.asarray(questions, dtype=object), np.asarray(routes, dtype=object)
    for test in _folds(routes, k, seed):
        train = np.setdiff1d(np.arange(len(routes)), test)
        weights = fit_weights(list(q[train]), list(r[train]), embeddings[train], c=c, seed=seed)
        probs = weights.predict_proba(list(q[test]), embeddings[test])
        ours[test] = [weights.labels[i] for i in probs.argmax(axis=1)]
        bow[test] = _bag_of_words(list(q[train]), list(r[train]), list(q[test]))
    return {
        "folds": k,
        "seed": seed,
        "n": len(routes),
        "trained_router": metrics(list(r), list(ours)),
        "bag_of_words": metrics(list(r), list(bow)),
    }


def train_router(
    data: Path,
    text_encoder: TextEncoder,
    out: Path,
    *,
    seed: int = 0,
    c: float = 3.0,
    cv_folds: int = 5,
    encoder_name: str = "",
    progress: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Fit on every labelled question, write `out` (.npz) and `out` with `.json` (provenance).

    Args:
        data: JSON lines `{question, route}`.
        text_encoder: The encoder whose query embeddings the router will see at run time.
        out: Where to write the weights.
        seed: Fold shuffling and solver seed.
        c: Inverse regularisation strength.
        cv_folds: Folds for the reported accuracy (0 skips cross-validation).
        encoder_name: Recorded in the provenance (which text model the weights belong to).
        progress: Called with a short status line between stages.

    Returns:
        The provenance dict (also written beside the weights).
    """
    say = progress or (lambda _msg: None)
    questions, routes = load_labelled(data)
    say(f"encoding {len(questions)} questions")
    embeddings = text_encoder.encode_queries(questions)
    report: dict[str, Any] = {}
    if cv_folds and min(routes.count(x) for x in set(routes)) >= cv_folds:
        say(f"{cv_folds}-fold cross-validation")
        report = cross_validate(questions, routes, embeddings, k=cv_folds, seed=seed, c=c)
    say("fitting on all questions")
    fit_weights(questions, routes, embeddings, c=c, seed=seed).save(out)
    provenance = {
        "data_file": data.name,
        "data_sha256": hashlib.sha256(data.read_bytes()).hexdigest(),
        "examples": len(questions),
        "routes": {x: routes.count(x) for x in sorted(set(routes))},
        "seed": seed,
        "c": c,
        "text_encoder": encoder_name,
        "embedding_dim": int(embeddings.shape[1]),
        "model": "multinomial logistic regression over [query embedding | surface | char n-gram TF-IDF]",
        "cross_validation": report,
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    out.with_suffix(".json").write_text(json.dumps(provenance, indent=2) + "\n", encoding="utf-8")
    return provenance
