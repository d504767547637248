"""BM25-style sparse vectors for the `lexical` space.

Documents get BM25's saturated term frequency (k1, b, a fixed average length); queries get weight 1 per
unique term. Qdrant's IDF modifier on the `lexical` vector multiplies each term by its IDF at query time,
so the dot product Qdrant computes is the classic BM25 score without this encoder knowing the corpus.
"""

from __future__ import annotations

import re
import zlib
from collections import Counter
from collections.abc import Sequence
from functools import lru_cache

from core.types import SparseVector

# Lucene's and NLTK's English stopwords (union, minus words that carry meaning in queries like "no"/"not").
ENGLISH_STOPWORDS = frozenset(
    """a about above after again against all am an and any are as at be because been before being below
    between both but by can could did do does doing down during each few for from further had has have
    having he her here hers herself him himself his how i if in into is it its itself just me more most my
    myself nor of off on once only or other our ours ourselves out over own same she should so some such
    than that the their theirs them themselves then there these they this those through to too under until
    up very was we were what when where which while who whom why will with would you your yours yourself
    yourselves s t""".split()  # noqa: SIM905 (a word list reads better as text)
)

_WORD = re.compile(r"\w+", re.UNICODE)


@lru_cache(maxsize=1)
def _stemmer():  # type: ignore[no-untyped-def]
    import snowballstemmer

    return snowballstemmer.stemmer("english")


@lru_cache(maxsize=262_144)
def _stem(word: str) -> str:
    # The pure-Python stemmer costs ~0.1 ms a word; a corpus repeats a small vocabulary, so cache it.
    return str(_stemmer().stemWord(word))


def term_index(term: str) -> int:
    """Stable uint32 index of a term (crc32): identical across processes and Python versions."""
    return zlib.crc32(term.encode("utf-8"))


class BM25LexicalEncoder:
    """Sparse BM25 term weights; implements `core.protocols.LexicalEncoder`.

    Args:
        k1: Term-frequency saturation (higher = repeated terms count more).
        b: Length normalisation (0 = none, 1 = full).
        avgdl: Assumed average document length in tokens (after stopword removal). A fixed value keeps
            document vectors independent of the rest of the corpus, so they never need re-encoding; 100
            suits paragraph-sized chunks (~1,000 characters).
        min_token_len: Tokens shorter than this are dropped (after lowercasing, before stemming).
    """

    def __init__(
        self, k1: float = 1.2, b: float = 0.75, avgdl: float = 100.0, min_token_len: int = 1
    ) -> None:
        if k1 < 0 or not 0.0 <= b <= 1.0 or avgdl <= 0:
            raise ValueError(f"invalid BM25 parameters k1={k1} b={b} avgdl={avgdl}")
        self.k1 = k1
        self.b = b
        self.avgdl = avgdl
        self.min_token_len = min_token_len

    def tokenize(self, text: str) -> list[str]:
        """Lowercase unicode words, minus English stopwords, Snowball-stemmed."""
        return [
            _stem(w)
            for w in _WORD.findall(text.lower())
            if len(w) >= self.min_token_len and w not in ENGLISH_STOPWORDS and not w.startswith("_")
        ]

    def encode_documents(self, texts: Sequence[str]) -> list[SparseVector]:
        """BM25 document-side weights: tf * (k1 + 1) / (tf + k1 * (1 - b + b * dl / avgdl))."""
        return [self._document(text) for text in texts]

    def encode_queries(self, texts: Sequence[str]) -> list[SparseVector]:
        """Weight 1 per unique query term; Qdrant's IDF modifier supplies the IDF."""
        out = []
        for text in texts:
            indices = sorted({term_index(t) for t in self.tokenize(text)})
            out.append(SparseVector(indices=indices, values=[1.0] * len(indices)))
        return out

    def _document(self, text: str) -> SparseVector:
        terms = self.tokenize(text)
        norm = self.k1 * (1.0 - self.b + self.b * len(terms) / self.avgdl)
        weights: dict[int, float] = {}
        for term, tf in Counter(terms).items():
            # Two stems hashing to one index (rare with crc32) simply add up, like one term.
            idx = term_index(term)
            weights[idx] = weights.get(idx, 0.0) + tf * (self.k1 + 1.0) / (tf + norm)
        indices = sorted(weights)
        return SparseVector(indices=indices, values=[weights[i] for i in indices])
