"""The indexing pipeline: files -> sources -> segments -> vectors -> store, idempotent by content hash.

Segments from many files are buffered and encoded together, so small files still fill encoder batches
(indexing throughput stays close to the bare encoder's). A file's manifest entry turns `indexed` only after
the buffer holding its segments has been written to the store.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from core.errors import ExtractionError, MmragError
from core.protocols import (
    Extracted,
    Extractor,
    ImageEncoder,
    LexicalEncoder,
    Record,
    TextEncoder,
    VectorStore,
)
from core.types import Source
from indexing.extractors import extractor_for
from indexing.manifest import Manifest
from indexing.media_store import MediaStore
from indexing.sources import iter_files, load_source

log = logging.getLogger(__name__)

Progress = Callable[[int, int, str], None]
"""Called as (done_files, total_files, uri) after each file."""

RecordHook = Callable[[Sequence[Extracted], list[Record]], None]
"""Runs after the built-in encoders on each batch (items[i] -> records[i]): adds optional spaces (`mm`)
or derived data (GRAM modality vectors of clips) to the records in place."""

FLUSH_SEGMENTS = 512  # encode and store once this many segments are buffered


@dataclass(frozen=True)
class Failure:
    uri: str
    error: str


@dataclass
class IndexReport:
    """What one indexing run did."""

    indexed: int = 0
    unchanged: int = 0
    failed: list[Failure] = field(default_factory=list)
    segments: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "indexed": self.indexed,
            "unchanged": self.unchanged,
            "failed": [{"uri": f.uri, "error": f.error} for f in self.failed],
            "segments": self.segments,
        }


@dataclass
class _Pending:
    """A file whose segments wait in the buffer. `replaces` are older sources at the same uri."""

    source: Source
    items: list[Extracted]
    replaces: list[str]


class Indexer:
    """Indexes files into the store. Components come from the composition root (`app.container`)."""

    def __init__(
        self,
        *,
        extractors: Sequence[Extractor],
        text_encoder: TextEncoder,
        image_encoder: ImageEncoder | None,
        lexical: LexicalEncoder,
        store: VectorStore,
        manifest: Manifest,
        media: MediaStore,
        batch_size: int = 32,
        hooks: Sequence[RecordHook] = (),
    ) -> None:
        self.extractors = list(extractors)
        self.text_encoder = text_encoder
        self.image_encoder = image_encoder
        self.lexical = lexical
        self.store = store
        self.manifest = manifest
        self.media = media
        self.batch_size = batch_size
        self.hooks = list(hooks)

    # --- public -----------------------------------------------------------------------------------------
    def index_paths(self, paths: Sequence[Path], progress: Progress | None = None) -> IndexReport:
        """Index files and folders (recursively); the uri of each file is its absolute path."""
        files = [(p, str(p.resolve())) for p in iter_files(paths)]
        return self.index_files(files, progress)

    def index_files(self, files: Sequence[tuple[Path, str]], progress: Progress | None = None) -> IndexReport:
        """Index (path on disk, uri to record) pairs. Bad files are reported and never stop the batch."""
        report = IndexReport()
        pending: list[_Pending] = []
        buffered = 0
        for done, (path, uri) in enumerate(files, start=1):
            item = self._prepare(path, uri, report, pending)
            if item is not None:
                pending.append(item)
                buffered += len(item.items)
            if buffered >= FLUSH_SEGMENTS:
                self._commit(pending, report)
                pending, buffered = [], 0
            if progress is not None:
                progress(done, len(files), uri)
        self._commit(pending, report)
        return report

    def index_extracted(self, items: Sequence[Extracted]) -> int:
        """Encode and store ready-made segments (no files, no manifest): used by `eval beir`."""
        for start in range(0, len(items), FLUSH_SEGMENTS * 4):
            self.store.upsert(self.encode(items[start : start + FLUSH_SEGMENTS * 4]))
        return len(items)

    def encode(self, items: Sequence[Extracted]) -> list[Record]:
        """Turn extracted segments into store records with their vectors in every available space."""
        records = [Record(segment=item.segment, dense=dict(item.vectors)) for item in items]
        with_text = [i for i, item in enumerate(items) if item.segment.text.strip()]
        texts = [items[i].segment.text for i in with_text]
        if texts:
            dense = self.text_encoder.encode_documents(texts)
            sparse = self.lexical.encode_documents(texts)
            for row, i in enumerate(with_text):
                records[i].dense[self.text_encoder.space] = dense[row]
                records[i].sparse = sparse[row]
        if self.image_encoder is not None:
            self._encode_images(items, records)
        for hook in self.hooks:
            hook(items, records)
        return records

    # --- steps ------------------------------------------------------------------------------------------
    def _prepare(self, path: Path, uri: str, report: IndexReport, pending: list[_Pending]) -> _Pending | None:
        """Hash, check the manifest, extract. Returns None when the file is unchanged or failed."""
        source = None
        try:
            source = replace(load_source(path), uri=uri)
            known = self.manifest.get(source.source_id)
            in_batch = any(p.source.source_id == source.source_id for p in pending)
            if in_batch or (known is not None and known.status == "indexed"):
                report.unchanged += 1
                return None
            replaces = [r.source_id for r in self.manifest.by_uri(uri) if r.source_id != source.source_id]
            # A source left in `indexing` by a crash may have partial points: start it clean.
            self.store.delete_source(source.source_id)
            items = list(extractor_for(self.extractors, source).extract(source, str(path)))
            if not items:
                raise ExtractionError(uri, "no content found (no text, images or media)")
            for item in items:
                for name, image in item.media.items():
                    self.media.save(source.source_id, name, image)
            self.manifest.begin(source)
            return _Pending(source, items, replaces)
        except MmragError as exc:
            error = exc.reason if isinstance(exc, ExtractionError) else str(exc)
        except Exception as exc:  # a parser bug on one odd file must not stop the batch
            log.exception("unexpected error indexing %s", uri)
            error = f"{type(exc).__name__}: {exc}"
        log.warning("%s: %s", uri, error)
        report.failed.append(Failure(uri, error))
        self.manifest.fail(source, uri, error)
        if source is not None and self.manifest.get(source.source_id) is None:
            self.media.delete_source(source.source_id)
        return None

    def _commit(self, pending: list[_Pending], report: IndexReport) -> None:
        """Encode and store the buffered files, then mark them indexed and drop what they replace."""
        if not pending:
            return
        items = [item for p in pending for item in p.items]
        try:
            self.store.upsert(self.encode(items))
        except Exception as exc:
            # Nothing of these files is marked indexed, so the next run redoes them.
            log.exception("storing a batch failed")
            for p in pending:
                report.failed.append(Failure(p.source.uri, f"store write failed: {exc}"))
                self.manifest.fail(p.source, p.source.uri, f"store write failed: {exc}")
            return
        for p in pending:
            self.manifest.finish(p.source.source_id, len(p.items))
            for old in p.replaces:
                self.store.delete_source(old)
                self.media.delete_source(old)
                self.manifest.forget(old)
            report.indexed += 1
            report.segments += len(p.items)

    def _encode_images(self, items: Sequence[Extracted], records: list[Record]) -> None:
        """Embed every picture once; a segment with several (a clip's keyframes) gets their mean."""
        assert self.image_encoder is not None
        owners = [(i, j) for i, item in enumerate(items) for j in range(len(item.images))]
        if not owners:
            return
        pictures = [items[i].images[j] for i, j in owners]
        vectors = self.image_encoder.encode_images(pictures)
        sums: dict[int, np.ndarray] = {}
        for row, (i, _) in enumerate(owners):
            sums[i] = sums[i] + vectors[row] if i in sums else vectors[row].copy()
        for i, total in sums.items():
            norm = float(np.linalg.norm(total)) or 1.0
            records[i].dense[self.image_encoder.space] = (total / norm).astype(np.float32)
