"""indexing/pipeline.py `Indexer` on real small files, without model weights.

Real: the text and Markdown extractors, the BM25 encoder, the manifest (SQLite in tmp_path), the media
store, qdrant-client's in-memory store. FAKE: the text encoder (`HashingTextEncoder`) and, where a test
needs something to break, an extractor, an encoder or a store that fails on purpose (named `Failing...`).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
import pytest

from core.errors import ExtractionError
from core.protocols import Extracted, Extractor, Record, VectorStore
from core.types import SearchFilter, Source, Vector
from indexing.extractors.markdown_extractor import MarkdownExtractor
from indexing.extractors.text_extractor import TextExtractor
from indexing.extractors.text_segments import TextLayout
from indexing.index_report import IndexReport
from indexing.manifest import Manifest
from indexing.media.media_store import MediaStore
from indexing.pipeline import FLUSH_SEGMENTS, Indexer
from retrieval.bm25_lexical_encoder import BM25LexicalEncoder
from retrieval.stores.qdrant_client_store import QdrantClientStore
from tests.unit.fakes import HashingTextEncoder

pytestmark = pytest.mark.unit

DIM = 256
LAYOUT = TextLayout(chunk_chars=200, chunk_overlap=20)
DOCS = {
    "bridge.md": "# Footbridge\n\nThe footbridge over the river opened in June 1998 after two years of work.",
    "coffee.txt": "Espresso is brewed by forcing hot water through finely ground coffee beans.",
    "rocket.txt": "The rocket launch was delayed by high winds over the launch pad.",
}


class CountingEncoder(HashingTextEncoder):
    """FAKE encoder that counts the texts it embeds and refuses any containing `poison`."""

    def __init__(self, poison: str | None = None) -> None:
        super().__init__(DIM)
        self.poison = poison
        self.encoded: list[str] = []

    def encode_documents(self, texts: Sequence[str]) -> Vector:
        if self.poison is not None and any(self.poison in t for t in texts):
            raise RuntimeError("encoder fell over")
        self.encoded += texts
        return super().encode_documents(texts)


class FailingExtractor:
    """FAKE extractor for `*.boom` files: a parser bug (`RuntimeError`) or a bad file (`ExtractionError`)."""

    def __init__(self, error: Exception) -> None:
        self.error = error

    def accepts(self, source: Source) -> bool:
        return source.uri.endswith(".boom")

    def extract(self, source: Source, path: str) -> Iterator[Extracted]:
        raise self.error
        yield  # a generator, like the real extractors


class FailingStore(QdrantClientStore):
    """Real in-memory store that refuses any write holding a segment whose text contains `refuse`."""

    def __init__(self, refuse: str) -> None:
        super().__init__("unit-failing")
        self.refuse = refuse
        self.writes: list[int] = []

    def upsert(self, records: Sequence[Record]) -> None:
        self.writes.append(len(records))
        if any(self.refuse in r.segment.text for r in records):
            raise RuntimeError("disk full")
        super().upsert(records)


def _indexer(
    tmp_path: Path,
    *,
    encoder: HashingTextEncoder | None = None,
    extractors: Sequence[Extractor] = (),
    store: VectorStore | None = None,
) -> Indexer:
    store = store if store is not None else QdrantClientStore("unit")
    store.ensure({"text": DIM})
    return Indexer(
        extractors=[*extractors, MarkdownExtractor(layout=LAYOUT), TextExtractor(layout=LAYOUT)],
        text_encoder=encoder or CountingEncoder(),
        image_encoder=None,
        lexical=BM25LexicalEncoder(),
        store=store,
        manifest=Manifest(tmp_path / "state" / "manifest.db"),
        media=MediaStore(tmp_path / "state" / "media"),
    )


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    folder = (tmp_path / "docs").resolve()
    folder.mkdir()
    for name, text in DOCS.items():
        (folder / name).write_text(text, encoding="utf-8")
    return folder


def _points(indexer: Indexer, source_id: str) -> int:
    return indexer.store.count(SearchFilter(source_ids=(source_id,)))


def _source_of(indexer: Indexer, path: Path) -> str:
    (record,) = indexer.manifest.by_uri(str(path))
    return record.source_id


def _top_uri(indexer: Indexer, query: str) -> str:
    vector = indexer.text_encoder.encode_queries([query])[0]
    return Path(indexer.store.search("text", vector, k=1)[0].segment.uri).name


def test_indexes_every_file_and_finds_it_again(tmp_path: Path, corpus: Path) -> None:
    indexer = _indexer(tmp_path)
    seen: list[tuple[int, int, str]] = []
    report = indexer.index_paths([corpus], progress=lambda done, total, uri: seen.append((done, total, uri)))
    assert (report.indexed, report.unchanged, report.failed, report.skipped) == (3, 0, [], [])
    assert report.segments == indexer.store.count() >= 3
    records = indexer.manifest.sources()
    assert sorted(Path(r.uri).name for r in records) == sorted(DOCS)
    assert all(r.status == "indexed" and r.segments >= 1 for r in records)
    assert sum(r.segments for r in records) == report.segments
    assert [(d, t) for d, t, _ in seen] == [(1, 3), (2, 3), (3, 3)]
    assert sorted(Path(uri).name for _, _, uri in seen) == sorted(DOCS)
    assert _top_uri(indexer, "when did the footbridge open") == "bridge.md"
    assert _top_uri(indexer, "espresso coffee beans") == "coffee.txt"


def test_indexing_unchanged_files_again_is_a_no_op(tmp_path: Path, corpus: Path) -> None:
    encoder = CountingEncoder()
    indexer = _indexer(tmp_path, encoder=encoder)
    first = indexer.index_paths([corpus])
    points, encoded, records = indexer.store.count(), len(encoder.encoded), indexer.manifest.sources()
    again = indexer.index_paths([corpus])
    assert (again.indexed, again.unchanged, again.segments, again.failed) == (0, 3, 0, [])
    assert len(encoder.encoded) == encoded, "an unchanged file was embedded again"
    assert indexer.store.count() == points == first.segments
    assert [(r.source_id, r.status, r.segments) for r in indexer.manifest.sources()] == [
        (r.source_id, r.status, r.segments) for r in records
    ]


def test_a_changed_file_replaces_its_old_version(tmp_path: Path, corpus: Path) -> None:
    indexer = _indexer(tmp_path)
    indexer.index_paths([corpus])
    notes = corpus / "bridge.md"
    old_id, coffee_id = _source_of(indexer, notes), _source_of(indexer, corpus / "coffee.txt")
    coffee_points = _points(indexer, coffee_id)
    notes.write_text("# Harbour log\n\nThe ferry to Seal Island now leaves at seven every morning.\n")

    report = indexer.index_paths([corpus])
    assert (report.indexed, report.unchanged) == (1, 2)
    new_id = _source_of(indexer, notes)
    assert new_id != old_id
    assert _points(indexer, old_id) == 0, "stale segments of the old version remain"
    assert indexer.manifest.get(old_id) is None
    assert _points(indexer, new_id) == report.segments > 0
    assert _points(indexer, coffee_id) == coffee_points  # the others are untouched
    assert _top_uri(indexer, "when does the ferry leave") == "bridge.md"


def test_a_deleted_file_is_pruned_only_when_asked(tmp_path: Path, corpus: Path) -> None:
    indexer = _indexer(tmp_path)
    indexer.index_paths([corpus])
    gone = corpus / "rocket.txt"
    gone_id = _source_of(indexer, gone)
    gone.unlink()

    kept = indexer.index_paths([corpus])
    assert kept.pruned == [] and _points(indexer, gone_id) > 0  # without --prune nothing is removed

    pruned = indexer.index_paths([corpus], prune=True)
    assert pruned.pruned == [str(gone)]
    assert (pruned.indexed, pruned.unchanged) == (0, 2)
    assert _points(indexer, gone_id) == 0 and indexer.manifest.get(gone_id) is None
    assert sorted(Path(r.uri).name for r in indexer.manifest.sources()) == ["bridge.md", "coffee.txt"]


def test_pruning_stays_inside_the_indexed_folders(tmp_path: Path, corpus: Path) -> None:
    other = (tmp_path / "other").resolve()
    other.mkdir()
    (other / "tea.txt").write_text("Pu-erh tea is pressed into round cakes.", encoding="utf-8")
    indexer = _indexer(tmp_path)
    indexer.index_paths([corpus, other])
    (other / "tea.txt").unlink()
    report = indexer.index_paths([corpus], prune=True)  # only `corpus` was walked this time
    assert report.pruned == []
    assert len(indexer.manifest.sources()) == 4


@pytest.mark.parametrize(
    ("error", "message"),
    [
        (RuntimeError("parser bug"), "RuntimeError: parser bug"),
        (ExtractionError("x.boom", "not a boom file"), "not a boom file"),
    ],
)
def test_a_failing_extractor_is_reported_and_the_batch_goes_on(
    tmp_path: Path, corpus: Path, error: Exception, message: str
) -> None:
    bad = corpus / "a-first.boom"  # walked first: the files after it must still be indexed
    bad.write_text("boom", encoding="utf-8")
    indexer = _indexer(tmp_path, extractors=[FailingExtractor(error)])
    report = indexer.index_paths([corpus])
    assert report.indexed == 3
    assert [(f.uri, f.error) for f in report.failed] == [(str(bad), message)]
    assert report.to_dict()["failed"] == [{"uri": str(bad), "error": message}]
    (row,) = [r for r in indexer.manifest.sources() if r.uri == str(bad)]
    assert row.status == "failed" and row.error == message
    assert indexer.store.count() == report.segments  # nothing of the bad file was stored

    again = indexer.index_paths([corpus])  # a failed file is tried again, not taken as unchanged
    assert [f.uri for f in again.failed] == [str(bad)] and again.unchanged == 3


def test_a_file_no_extractor_takes_is_skipped(tmp_path: Path, corpus: Path) -> None:
    (corpus / "blob.bin").write_bytes(bytes(range(256)) * 4)
    report = _indexer(tmp_path).index_paths([corpus])
    assert report.indexed == 3 and report.failed == []
    assert [Path(s.uri).name for s in report.skipped] == ["blob.bin"]


def test_a_batch_the_encoder_refuses_is_encoded_file_by_file(tmp_path: Path, corpus: Path) -> None:
    (corpus / "poison.txt").write_text("This text holds POISON for the encoder.", encoding="utf-8")
    indexer = _indexer(tmp_path, encoder=CountingEncoder(poison="POISON"))
    report = indexer.index_paths([corpus])
    assert report.indexed == 3
    assert [(Path(f.uri).name, f.error) for f in report.failed] == [
        ("poison.txt", "encoding failed: RuntimeError: encoder fell over")
    ]
    assert indexer.store.count() == report.segments
    assert not indexer.manifest.by_uri(str(corpus / "poison.txt"))  # no half-indexed source left


def test_a_write_the_store_refuses_fails_that_file_alone(tmp_path: Path, corpus: Path) -> None:
    (corpus / "huge.txt").write_text("UNSTORABLE payload", encoding="utf-8")
    store = FailingStore(refuse="UNSTORABLE")
    indexer = _indexer(tmp_path, store=store)
    report = indexer.index_paths([corpus])
    assert report.indexed == 3
    assert [(Path(f.uri).name, f.error) for f in report.failed] == [
        ("huge.txt", "store write failed: RuntimeError: disk full")
    ]
    assert len(store.writes) > 1  # the batch was retried in parts
    assert store.count() == report.segments
    assert all(r.status == "indexed" for r in indexer.manifest.sources() if r.uri != str(corpus / "huge.txt"))


def test_a_moved_file_keeps_its_source_and_takes_the_new_uri(tmp_path: Path, corpus: Path) -> None:
    encoder = CountingEncoder()
    indexer = _indexer(tmp_path, encoder=encoder)
    indexer.index_paths([corpus])
    source_id, encoded = _source_of(indexer, corpus / "coffee.txt"), len(encoder.encoded)
    (corpus / "coffee.txt").rename(corpus / "espresso.txt")
    report = indexer.index_paths([corpus])
    assert [(Path(r.old).name, Path(r.new).name) for r in report.renamed] == [("coffee.txt", "espresso.txt")]
    assert len(encoder.encoded) == encoded  # nothing re-extracted or re-embedded
    assert _source_of(indexer, corpus / "espresso.txt") == source_id
    uris = {Path(s.uri).name for s in indexer.store.scroll(SearchFilter(source_ids=(source_id,)))}
    assert uris == {"espresso.txt"}


def test_a_copy_is_indexed_once_and_noted_as_a_duplicate(tmp_path: Path, corpus: Path) -> None:
    (corpus / "z-copy.txt").write_bytes((corpus / "coffee.txt").read_bytes())
    indexer = _indexer(tmp_path)
    report = indexer.index_paths([corpus])
    assert (report.indexed, report.unchanged) == (3, 1)
    (row,) = [r for r in indexer.manifest.sources() if r.uri.endswith("z-copy.txt")]
    assert row.status == "duplicate" and "coffee.txt" in (row.error or "")


def test_index_extracted_stores_ready_made_segments(tmp_path: Path, corpus: Path) -> None:
    from indexing.sources import load_source

    indexer = _indexer(tmp_path)
    source = load_source(corpus / "coffee.txt")
    items = list(TextExtractor(layout=LAYOUT).extract(source, str(corpus / "coffee.txt")))
    assert indexer.index_extracted(items) == len(items) == indexer.store.count()
    assert indexer.manifest.sources() == []  # no files, no manifest
    records = indexer.encode(items)
    assert all(r.sparse is not None and r.dense["text"].shape == (DIM,) for r in records)
    assert all(np.isclose(np.linalg.norm(r.dense["text"]), 1.0) for r in records)


def test_index_extracted_encodes_longest_text_first_across_chunks(tmp_path: Path) -> None:
    """Chunks are cut from one length-sorted list (little padding per batch), and every segment is stored."""
    from evaluation.beir import corpus_segments

    encoder = CountingEncoder()
    indexer = _indexer(tmp_path, encoder=encoder)
    lengths = np.random.default_rng(7).integers(1, 400, size=FLUSH_SEGMENTS * 4 + 300)  # two chunks
    items = corpus_segments([{"_id": str(i), "text": "w" * int(n)} for i, n in enumerate(lengths)])
    assert indexer.index_extracted(items) == len(items) == indexer.store.count()
    assert [len(t) for t in encoder.encoded] == sorted((int(n) for n in lengths), reverse=True)


def test_the_report_dict_shape_is_stable() -> None:
    assert set(IndexReport().to_dict()) == {
        "indexed",
        "unchanged",
        "failed",
        "skipped",
        "renamed",
        "pruned",
        "unsearchable",
        "segments",
    }
