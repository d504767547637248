"""Query features for the trained router: the text encoder's embedding plus cheap surface features.

The embedding carries the topic; the surface features carry the *shape* of a question, which separates
routes the topic cannot: multiple-choice options (knowledge questions answered without retrieval, or long
video questions), "what are the steps" (how-to videos), many capitalised names and clauses (multi-hop
questions that need whole documents). Character n-grams are hashed with CRC32 into a fixed number of buckets,
so inference needs no vocabulary file and no scikit-learn, and the hash is stable across processes.
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

HASH_DIM = 2**14
NGRAM_SIZES = (2, 3, 4)
SURFACE_NAMES = (
    "log_words",
    "cap_ratio",
    "log_caps",
    "multiline",
    "lettered_options",
    "choices_word",
    "commas",
    "quotes",
    "steps",
    "numbers",
)
_OPTION = re.compile(r"(^|\n)\s*\(?[A-D][).]\s", re.MULTILINE)
_STEPS = re.compile(r"\b(steps?|how (do|to|can)|process|procedure|recipe|order of)\b", re.IGNORECASE)
_WORD = re.compile(r"\w+", re.UNICODE)


def surface_features(texts: Sequence[str]) -> npt.NDArray[np.float32]:
    """Shape features of each question (len(texts), len(SURFACE_NAMES)), not standardised."""
    rows = []
    for text in texts:
        words = text.split()
        caps = sum(1 for w in words[1:] if w[:1].isupper())
        rows.append(
            [
                np.log1p(len(words)),
                caps / max(1, len(words)),
                np.log1p(caps),
                float("\n" in text.strip()),
                float(bool(_OPTION.search(text))),
                float("choices" in text.lower()),
                text.count(",") / 3.0,
                float('"' in text),
                float(bool(_STEPS.search(text))),
                float(bool(re.search(r"\d", text))),
            ]
        )
    return np.asarray(rows, dtype=np.float32).reshape(len(texts), len(SURFACE_NAMES))


def char_ngram_counts(texts: Sequence[str], dim: int = HASH_DIM) -> npt.NDArray[np.float32]:
    """Hashed character n-gram counts inside word boundaries (like scikit-learn's `char_wb`), (n, dim)."""
    out = np.zeros((len(texts), dim), dtype=np.float32)
    for row, text in enumerate(texts):
        for word in _WORD.findall(text.lower()):
            padded = f" {word} "
            for n in NGRAM_SIZES:
                for i in range(max(1, len(padded) - n + 1)):
                    gram = padded[i : i + n]
                    out[row, zlib.crc32(gram.encode("utf-8")) % dim] += 1.0
    return out


def tfidf(counts: npt.NDArray[np.float32], idf: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
    """Sublinear TF times IDF, L2-normalised per row."""
    weighted = np.log1p(counts) * idf
    norms = np.linalg.norm(weighted, axis=1, keepdims=True)
    return (weighted / np.maximum(norms, 1e-12)).astype(np.float32)


def fit_idf(counts: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
    """Smoothed IDF over the training rows (as scikit-learn's `smooth_idf=True`)."""
    n = counts.shape[0]
    df = (counts > 0).sum(axis=0)
    return (np.log((1 + n) / (1 + df)) + 1.0).astype(np.float32)
