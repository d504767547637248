"""The composition root builds every role from the registry; index → search → delete with a fake encoder.

Real: the registry, qdrant-client's in-memory store, the extractors, the BM25 encoder, the manifest, the
embedding reranker and extractive generator. Fake: the text encoder (`HashingTextEncoder`, no weights).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from app.container import Container
from core.protocols import RescoringStore
from core.registry import Registry
from core.settings import Settings
from tests.unit.fakes import FAKE_TEXT_BACKEND, HashingTextEncoder

pytestmark = pytest.mark.unit

DOCS = {
    "bridge.md": "# Footbridge\n\nThe footbridge over the river opened in June 1998 after two years of work.",
    "coffee.txt": "Espresso is brewed by forcing hot water through finely ground coffee beans.",
    "rocket.txt": "The rocket launch was delayed by high winds over the launch pad.",
}


def _settings(home: Path, **extra: object) -> Settings:
    return Settings(
        home=home,
        text_backend=FAKE_TEXT_BACKEND,
        store="memory",
        clip_model="",  # no CLIP weights here: the image space is off
        ocr=False,
        extract_isolation="none",
        router="all",
        **extra,  # type: ignore[arg-type]
    )


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    folder = tmp_path / "docs"
    folder.mkdir()
    for name, text in DOCS.items():
        (folder / name).write_text(text, encoding="utf-8")
    return folder


def test_every_role_comes_from_the_registry(tmp_path: Path, fake_backends: Registry) -> None:
    container = Container(_settings(tmp_path / "home"))
    try:
        assert container.registry is fake_backends
        assert isinstance(container.text_encoder, HashingTextEncoder)
        assert container.text_encoder.loads == 1  # the text space is required: loaded at once
        assert container.image_encoder is None and "MMRAG_CLIP_MODEL" in container.unavailable["image"]
        assert container.ocr is None
        assert isinstance(container.store, RescoringStore)
        assert type(container.store).__name__ == "QdrantClientStore"
        names = [type(e).__name__ for e in container.extractors]
        assert names[0] == "PdfExtractor" and names[-1] == "TextExtractor" and len(names) == 8
        assert type(container.router).__name__ == "AllRoutesRouter"
        assert type(container.reranker).__name__ == "EmbeddingReranker"
        # The question's readers share one query-caching encoder around the text encoder.
        assert container.generator.text_encoder is container.query_encoder  # type: ignore[attr-defined]
        assert container.reranker.text_encoder is container.query_encoder  # type: ignore[attr-defined]
        assert container.retriever.text_encoder is container.query_encoder
        assert container.query_encoder.inner is container.text_encoder  # type: ignore[attr-defined]
    finally:
        container.close()


def test_index_search_delete(tmp_path: Path, corpus: Path, fake_backends: Registry) -> None:
    container = Container(_settings(tmp_path / "home"))
    try:
        report = container.indexer.index_paths([corpus])
        assert report.indexed == 3 and not report.failed
        points = container.store.count()
        assert points >= 3  # a paragraph per short file, plus whole-document segments
        hits = container.retriever.search("when did the footbridge open", k=3)
        assert Path(hits[0].segment.uri).name == "bridge.md"
        assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
        again = container.indexer.index_paths([corpus])
        assert again.indexed == 0 and again.unchanged == 3  # content hashes: nothing re-encoded
        deleted = container.delete_source(hits[0].segment.source_id)
        assert deleted >= 1 and container.store.count() == points - deleted
        assert all(Path(h.segment.uri).name != "bridge.md" for h in container.retriever.search("footbridge"))
    finally:
        container.close()


def test_matryoshka_first_stage_wraps_the_registry_store(
    tmp_path: Path, corpus: Path, fake_backends: Registry
) -> None:
    container = Container(_settings(tmp_path / "home", mrl_dim=16))
    try:
        assert type(container.store).__name__ == "MatryoshkaStore"
        container.indexer.index_paths([corpus])
        hits = container.retriever.search("espresso coffee beans", k=2)
        assert Path(hits[0].segment.uri).name == "coffee.txt"
    finally:
        container.close()


def test_a_bad_backend_name_fails_before_anything_is_built(tmp_path: Path, fake_backends: Registry) -> None:
    settings = _settings(tmp_path / "home").model_copy(update={"reranker": "bogus"})  # skips validation
    container = Container(settings)
    from core.errors import ConfigError

    with pytest.raises(ConfigError, match="unknown reranker 'bogus': use embedding"):
        _ = container.reranker
    container.close()
