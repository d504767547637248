"""One query embedding per question: a text encoder that remembers the query vectors it computed.

`ask` has four readers of the question's `text`-space vector: the router, the retriever, the reranker (for
hits the search gave no dense score) and the extractive generator. The composition root hands all four this
one wrapper around the text encoder, so the question is encoded once and each later reader gets the stored
vector (the same text always gives the same vector, so a hit is exact, never stale). Documents pass through
unremembered: they are many and rarely repeat. `QueryCachingClip` does the same for CLIP's text tower (the
`image` space), which the retriever and the reranker's GRAM scoring both read.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Sequence
from typing import TYPE_CHECKING, Protocol

import numpy as np

from core.protocols import TextEncoder
from core.types import Vector

if TYPE_CHECKING:
    from PIL.Image import Image

DEFAULT_SIZE = 256
"""Query vectors remembered (least recently used go first); a few hundred kB at 384 dimensions."""


class ClipEncoder(TextEncoder, Protocol):
    """A text encoder that embeds pictures into the same space (CLIP)."""

    def encode_images(self, images: Sequence[Image]) -> Vector: ...


class QueryCachingEncoder:
    """`TextEncoder` whose `encode_queries` remembers the last `size` query vectors (thread-safe).

    Args:
        inner: The encoder that computes what is not remembered.
        size: Query vectors kept.
    """

    def __init__(self, inner: TextEncoder, size: int = DEFAULT_SIZE) -> None:
        if size < 1:
            raise ValueError(f"size must be at least 1, not {size}")
        self.inner = inner
        self.space = inner.space
        self.size = size
        self._vectors: OrderedDict[str, Vector] = OrderedDict()
        self._lock = threading.Lock()

    @property
    def dim(self) -> int:
        return self.inner.dim

    def load(self) -> None:
        self.inner.load()

    def encode_queries(self, texts: Sequence[str]) -> Vector:
        """(n, d) query vectors; only the texts not remembered reach the inner encoder (in one call)."""
        texts = list(texts)
        with self._lock:
            known = {t: self._vectors[t] for t in texts if t in self._vectors}
            for text in known:
                self._vectors.move_to_end(text)
        missing = [t for t in dict.fromkeys(texts) if t not in known]
        if missing:
            fresh = dict(zip(missing, self.inner.encode_queries(missing), strict=True))
            known.update(fresh)
            with self._lock:
                self._vectors.update(fresh)
                while len(self._vectors) > self.size:
                    self._vectors.popitem(last=False)
        if not texts:
            return np.zeros((0, self.dim), np.float32)
        return np.stack([known[t] for t in texts]).astype(np.float32, copy=False)

    def encode_documents(self, texts: Sequence[str]) -> Vector:
        return self.inner.encode_documents(texts)


class QueryCachingClip(QueryCachingEncoder):
    """A CLIP-style encoder (pictures and text in one space) whose text queries are remembered.

    The retriever's CLIP text vector of the question (the `image` space) is then the one the reranker's GRAM
    scoring of clips reads. Pictures pass through.
    """

    def __init__(self, inner: ClipEncoder, size: int = DEFAULT_SIZE) -> None:
        super().__init__(inner, size)
        self.clip = inner

    def encode_images(self, images: Sequence[Image]) -> Vector:
        return self.clip.encode_images(images)
