"""The indexing pipeline end to end on real files, the real text model and the embedded Qdrant engine."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from core.types import Granularity, Modality, SearchFilter
from tests.conftest import SAMPLES

pytestmark = pytest.mark.integration


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    """A writable copy of the sample files."""
    folder = tmp_path / "corpus"
    shutil.copytree(SAMPLES, folder)
    return folder


def _points(container, source_id: str) -> int:
    return container.store.count(SearchFilter(source_ids=(source_id,)))


def test_index_search_and_idempotency(make_container, corpus: Path) -> None:
    c = make_container()
    first = c.indexer.index_paths([corpus])
    assert first.failed == []
    assert first.indexed == len(list(corpus.iterdir()))
    total = c.store.count()
    assert total == first.segments > first.indexed

    hits = c.retriever.search("how fine should I grind coffee for espresso", k=5)
    top = hits[0].segment
    assert top.uri.endswith("espresso-guide.pdf") and top.locator.page == 1
    assert "grind" in top.text.lower()

    again = c.indexer.index_paths([corpus])
    assert (again.indexed, again.unchanged, again.segments) == (0, first.indexed, 0)
    assert c.store.count() == total, "re-indexing unchanged files must not add points"


def test_changed_file_replaces_old_segments(make_container, corpus: Path) -> None:
    c = make_container()
    notes = corpus / "field-notes.md"
    c.indexer.index_paths([notes])
    old_id = c.manifest.sources()[0].source_id
    notes.write_text("# Harbour log\n\nThe ferry to Seal Island now leaves at seven every morning.\n")

    report = c.indexer.index_paths([notes])
    assert report.indexed == 1
    records = c.manifest.sources()
    assert len(records) == 1 and records[0].source_id != old_id
    assert _points(c, old_id) == 0, "stale segments of the old version remain"
    hit = c.retriever.search("when does the ferry leave", k=1)[0]
    assert "ferry" in hit.segment.text and hit.segment.source_id == records[0].source_id


def test_delete_removes_points_media_and_manifest(make_container, corpus: Path) -> None:
    c = make_container()
    c.indexer.index_paths([corpus / "espresso-guide.pdf", corpus / "coffee.jpg"])
    pdf = next(r for r in c.manifest.sources() if r.uri.endswith(".pdf"))
    media_dir = c.settings.media_dir / pdf.source_id
    assert media_dir.is_dir() and any(media_dir.iterdir())

    deleted = c.delete_source(pdf.source_id)
    assert deleted == pdf.segments > 0
    assert _points(c, pdf.source_id) == 0
    assert not media_dir.exists()
    assert [r.uri for r in c.manifest.sources()] == [str((corpus / "coffee.jpg").resolve())]


def test_bad_files_are_reported_and_the_batch_goes_on(make_container, corpus: Path) -> None:
    (corpus / "empty.txt").write_bytes(b"")
    (corpus / "broken.pdf").write_bytes(b"%PDF-1.7\n1 0 obj <<\n")
    c = make_container()
    report = c.indexer.index_paths([corpus])
    failed = {Path(f.uri).name: f.error for f in report.failed}
    assert set(failed) == {"empty.txt", "broken.pdf"}
    assert all(error and "\n" not in error for error in failed.values())
    assert report.indexed == len(list(corpus.iterdir())) - 2
    assert c.retriever.search("tide pools", k=3), "good files of the same batch were not indexed"


def test_granularities_and_image_space(make_container, corpus: Path) -> None:
    c = make_container()
    c.indexer.index_paths([corpus / "espresso-guide.pdf", corpus / "cat-chelsea.jpg"])
    assert c.image_encoder is not None, c.unavailable
    for granularity in (Granularity.PARAGRAPH, Granularity.DOCUMENT, Granularity.IMAGE):
        assert c.store.count(SearchFilter(granularities=(granularity,))) > 0, granularity
    images = c.retriever.search("a cat", k=10, flt=SearchFilter(modalities=(Modality.IMAGE,)))
    assert images and all(h.segment.modality == Modality.IMAGE for h in images)
    assert "image" in images[0].scores, "image hits must come through the CLIP space"


class _FailingStore:
    """A stand-in store whose writes fail (a real outage cannot be staged against the embedded engine)."""

    def __init__(self, real) -> None:
        self._real = real

    def upsert(self, records) -> None:
        raise ConnectionError("store is down")

    def __getattr__(self, name):
        return getattr(self._real, name)


def test_store_outage_leaves_no_source_marked_indexed(make_container, corpus: Path) -> None:
    c = make_container()
    indexer = c.indexer
    real_store = indexer.store
    indexer.store = _FailingStore(real_store)
    report = indexer.index_paths([corpus / "field-notes.md"])
    assert report.indexed == 0 and "store write failed" in report.failed[0].error
    assert all(r.status != "indexed" for r in c.manifest.sources())

    indexer.store = real_store
    retry = indexer.index_paths([corpus / "field-notes.md"])
    assert retry.indexed == 1 and real_store.count() == retry.segments
