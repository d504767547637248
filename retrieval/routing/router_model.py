"""The trained router's weights: a multinomial logistic regression over query features, stored as `.npz`.

Features are [text-encoder embedding | standardised surface features * SURFACE_SCALE | char n-gram TF-IDF]
(see `retrieval.routing.router_features`). The file holds plain arrays only (loaded with `allow_pickle=False`), so a
weights file from anywhere cannot run code.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from core.errors import ConfigError
from retrieval.routing.router_features import HASH_DIM, char_ngram_counts, fit_idf, surface_features, tfidf

log = logging.getLogger(__name__)

SURFACE_SCALE = 0.3
"""Weight of the standardised surface block next to unit-norm embedding and TF-IDF blocks (set by CV)."""

Floats = npt.NDArray[np.float32]


@dataclass(frozen=True)
class RouterWeights:
    """Everything needed to turn (question, embedding) into route probabilities."""

    labels: tuple[str, ...]
    coef: Floats  # (n_features, n_labels)
    intercept: Floats  # (n_labels,)
    surface_mean: Floats
    surface_std: Floats
    idf: Floats  # (hash_dim,)
    embedding_dim: int

    def features(self, questions: Sequence[str], embeddings: Floats) -> Floats:
        """The feature matrix for questions and their (n, embedding_dim) query embeddings."""
        if embeddings.shape[1] != self.embedding_dim:
            raise ConfigError(
                f"router weights expect {self.embedding_dim}-d query embeddings, the text encoder gives "
                f"{embeddings.shape[1]}-d: retrain with `mmrag router train`"
            )
        return assemble(questions, embeddings, self.surface_mean, self.surface_std, self.idf)

    def predict_proba(self, questions: Sequence[str], embeddings: Floats) -> Floats:
        """Softmax probabilities (n, n_labels) in `labels` order."""
        logits = self.features(questions, embeddings) @ self.coef + self.intercept
        logits -= logits.max(axis=1, keepdims=True)
        exp = np.exp(logits)
        return (exp / exp.sum(axis=1, keepdims=True)).astype(np.float32)

    def save(self, path: Path) -> None:
        """Write the arrays to `path` (.npz, compressed)."""
        path.parent.mkdir(parents=True, exist_ok=True)
        np.savez_compressed(
            path,
            labels=np.asarray(self.labels, dtype=str),
            coef=self.coef.astype(np.float32),
            intercept=self.intercept.astype(np.float32),
            surface_mean=self.surface_mean,
            surface_std=self.surface_std,
            idf=self.idf.astype(np.float32),
            embedding_dim=np.asarray(self.embedding_dim),
        )

    @classmethod
    def load(cls, path: Path) -> RouterWeights:
        """Read weights written by `save`.

        Raises:
            ConfigError: the file is missing or not a router weights file.
        """
        try:
            with np.load(path, allow_pickle=False) as data:
                return cls(
                    labels=tuple(str(x) for x in data["labels"]),
                    coef=data["coef"].astype(np.float32),
                    intercept=data["intercept"].astype(np.float32),
                    surface_mean=data["surface_mean"].astype(np.float32),
                    surface_std=data["surface_std"].astype(np.float32),
                    idf=data["idf"].astype(np.float32),
                    embedding_dim=int(data["embedding_dim"]),
                )
        except (OSError, KeyError, ValueError) as exc:
            raise ConfigError(f"router weights {path}: cannot load ({exc})") from exc


def assemble(questions: Sequence[str], embeddings: Floats, mean: Floats, std: Floats, idf: Floats) -> Floats:
    """Concatenate the three feature blocks."""
    surface = (surface_features(questions) - mean) / std * SURFACE_SCALE
    grams = tfidf(char_ngram_counts(questions, idf.shape[0]), idf)
    return np.hstack([embeddings.astype(np.float32), surface, grams]).astype(np.float32)


def fit_weights(
    questions: Sequence[str],
    routes: Sequence[str],
    embeddings: Floats,
    *,
    c: float = 3.0,
    seed: int = 0,
) -> RouterWeights:
    """Fit the multinomial logistic regression (L-BFGS, L2 penalty 1/c) on labelled questions.

    Args:
        questions: Training questions.
        routes: Their route labels (any subset of the Route values, at least two distinct).
        embeddings: (n, d) query embeddings of `questions` from the text encoder.
        c: Inverse regularisation strength (5-fold CV on router-dev.jsonl picked 3).
        seed: Seed for the solver's initialisation (the fit is deterministic given it).

    Raises:
        ConfigError: fewer than two distinct routes.
    """
    from sklearn.linear_model import LogisticRegression

    labels = tuple(sorted(set(routes)))
    if len(labels) < 2:
        raise ConfigError(f"router training needs at least two routes, got {labels}")
    surface = surface_features(questions)
    mean, std = surface.mean(axis=0), surface.std(axis=0) + 1e-6
    idf = fit_idf(char_ngram_counts(questions, HASH_DIM))
    from scipy.sparse import csr_matrix

    # Sparse input: the n-gram block is >98% zeros, and L-BFGS on the dense matrix is ~20x slower.
    x = csr_matrix(assemble(questions, embeddings, mean, std, idf))
    model = LogisticRegression(C=c, max_iter=5000, random_state=seed)
    model.fit(x, np.asarray(routes))
    coef, intercept = model.coef_, model.intercept_
    if len(labels) == 2:
        # Binary fits give one row for the second class: softmax over [0, z] is that sigmoid.
        coef = np.vstack([np.zeros_like(coef), coef])
        intercept = np.concatenate([[0.0], intercept])
    order = [list(model.classes_).index(label) for label in labels]
    return RouterWeights(
        labels=labels,
        coef=coef[order].T.astype(np.float32),
        intercept=intercept[order].astype(np.float32),
        surface_mean=mean.astype(np.float32),
        surface_std=std.astype(np.float32),
        idf=idf,
        embedding_dim=int(embeddings.shape[1]),
    )
