"""One MiniLM query encoding per `ask` with the real models: the trained router, the retriever, the
embedding reranker and the extractive generator all read the question's one `text`-space vector (before the
query-caching encoder they encoded it three times, more when a granularity had to be searched again)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from core.types import Vector

pytestmark = pytest.mark.integration

DOCS = {
    "bridges.md": "The Zorblat suspension bridge over the river Quell was completed in 1911 by Mara Ilves.",
    "frogs.txt": "Glass frogs live in the cloud forests of the Andes. Their belly skin is translucent.",
}


class Counting:
    """Wraps the real text encoder and counts its query encodings (the measurement, not a fake)."""

    space = "text"

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.queries: list[list[str]] = []

    @property
    def dim(self) -> int:
        return int(self.inner.dim)

    def load(self) -> None:
        self.inner.load()

    def encode_queries(self, texts: Sequence[str]) -> Vector:
        self.queries.append(list(texts))
        return self.inner.encode_queries(texts)  # type: ignore[no-any-return]

    def encode_documents(self, texts: Sequence[str]) -> Vector:
        return self.inner.encode_documents(texts)  # type: ignore[no-any-return]


def test_ask_runs_the_text_encoder_once_per_question(
    make_container: Any, text_encoder: Any, tmp_path: Path
) -> None:
    folder = tmp_path / "docs"
    folder.mkdir()
    for name, text in DOCS.items():
        (folder / name).write_text(text, encoding="utf-8")
    container = make_container(ocr=False)
    counter = Counting(text_encoder)
    container.__dict__["text_encoder"] = counter
    container.indexer.index_paths([folder])
    assert type(container.router).__name__ == "TrainedRouter"  # it embeds the question too
    for question in ("When was the Zorblat bridge completed?", "what is translucent on glass frogs"):
        counter.queries.clear()
        answer = container.rag.ask(question)
        assert not answer.abstained and answer.citations
        assert counter.queries == [[question]]
