"""One query embedding per `ask`: the retriever, reranker and generator share the question's vector.

Real: the container, registry, in-memory store, BM25, embedding reranker, extractive generator. Fake: the
text encoder (`HashingTextEncoder`, counted here); the router is `all` (it embeds nothing), so the test with
the trained router, which embeds the question too, is the integration test tests/test_query_encoding.py.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pytest

from app.container import Container
from core.registry import Registry
from core.types import Vector
from tests.unit.app.test_container import DOCS, _settings
from tests.unit.fakes import HashingTextEncoder

pytestmark = pytest.mark.unit


class CountingEncoder(HashingTextEncoder):
    """FAKE text encoder that records every query batch it encodes."""

    def __init__(self) -> None:
        super().__init__()
        self.queries: list[list[str]] = []

    def encode_queries(self, texts: Sequence[str]) -> Vector:
        self.queries.append(list(texts))
        return super().encode_queries(texts)


def test_ask_encodes_the_question_once(tmp_path: Path, fake_backends: Registry) -> None:
    folder = tmp_path / "docs"
    folder.mkdir()
    for name, text in DOCS.items():
        (folder / name).write_text(text, encoding="utf-8")
    container = Container(_settings(tmp_path / "home"))
    counter = CountingEncoder()
    container.__dict__["text_encoder"] = counter
    try:
        container.indexer.index_paths([folder])
        counter.queries.clear()
        answer = container.rag.ask("when did the footbridge open")
        assert answer.citations and answer.citations[0].segment.uri.endswith("bridge.md")
        assert counter.queries == [["when did the footbridge open"]]
        events = list(container.rag.stream("how is espresso brewed"))
        assert events[-1]["event"] == "done"
        assert counter.queries[1:] == [["how is espresso brewed"]]
    finally:
        container.close()
