"""The query-caching encoders: one encoding per distinct question, documents and pictures passed through."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pytest
from PIL import Image

from core.protocols import ImageEncoder, TextEncoder
from core.types import Vector
from retrieval.query_cache import QueryCachingClip, QueryCachingEncoder
from tests.unit.fakes import FakeClipEncoder, HashingTextEncoder

pytestmark = pytest.mark.unit


class Recording(HashingTextEncoder):
    """FAKE text encoder recording each batch of queries and documents it encoded."""

    def __init__(self) -> None:
        super().__init__(32)
        self.queries: list[list[str]] = []
        self.documents = 0

    def encode_queries(self, texts: Sequence[str]) -> Vector:
        self.queries.append(list(texts))
        return super().encode_queries(texts)

    def encode_documents(self, texts: Sequence[str]) -> Vector:
        self.documents += 1
        return super().encode_documents(texts)


def test_each_question_is_encoded_once() -> None:
    inner = Recording()
    cached = QueryCachingEncoder(inner)
    assert isinstance(cached, TextEncoder) and cached.dim == 32 and cached.space == "text"
    first = cached.encode_queries(["glass frogs"])
    again = cached.encode_queries(["glass frogs"])
    np.testing.assert_array_equal(first, again)
    np.testing.assert_array_equal(first, inner.encode_queries(["glass frogs"]))
    inner.queries.clear()
    both = cached.encode_queries(["glass frogs", "tea cakes", "tea cakes"])
    assert inner.queries == [["tea cakes"]]  # only what was not remembered, once
    assert both.shape == (3, 32) and both.dtype == np.float32
    np.testing.assert_array_equal(both[1], both[2])
    assert cached.encode_queries([]).shape == (0, 32)


def test_the_oldest_questions_are_forgotten_first() -> None:
    inner = Recording()
    cached = QueryCachingEncoder(inner, size=2)
    cached.encode_queries(["a1"])
    cached.encode_queries(["b2"])
    cached.encode_queries(["a1"])  # a1 is now the most recent
    cached.encode_queries(["c3"])  # b2 goes
    inner.queries.clear()
    cached.encode_queries(["a1", "c3"])
    assert inner.queries == []
    cached.encode_queries(["b2"])
    assert inner.queries == [["b2"]]
    with pytest.raises(ValueError):
        QueryCachingEncoder(inner, size=0)


def test_documents_are_not_remembered() -> None:
    inner = Recording()
    cached = QueryCachingEncoder(inner)
    cached.encode_documents(["one"])
    cached.encode_documents(["one"])
    assert inner.documents == 2 and inner.queries == []


def test_clip_text_queries_are_remembered_pictures_pass_through() -> None:
    clip = FakeClipEncoder(32)
    cached = QueryCachingClip(clip)
    assert isinstance(cached, TextEncoder) and isinstance(cached, ImageEncoder) and cached.space == "image"
    red = Image.new("RGB", (4, 4), "red")
    np.testing.assert_array_equal(cached.encode_images([red]), clip.encode_images([red]))
    np.testing.assert_array_equal(cached.encode_images([red])[0], cached.encode_queries(["red"])[0])
    calls = clip.image_calls
    cached.encode_images([red])
    assert clip.image_calls == calls + 1  # never remembered
