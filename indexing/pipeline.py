"""The indexing pipeline: files -> sources -> segments -> vectors -> store, idempotent by content hash.

Segments from many files are buffered and encoded together, so small files still fill encoder batches
(indexing throughput stays close to the bare encoder's). A file's manifest entry turns `indexed` only after
the buffer holding its segments has been written to the store.

The work is cut into stages that the local `Indexer` and the Ray engine (`indexing.ray_engine`) share:
`Indexer.plan_file` (hash + manifest check, on the driver), `extract_source` (a pure function of the
extractors and the file), `encode_records` (a pure function of the encoders and a batch of segments), then
on the driver `Indexer.begin_source` (media, manifest `indexing`) and `Indexer.write` (upsert, manifest
`indexed`, replaced versions dropped). Locally they run in one loop; under Ray the pure stages run in actors.
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
class PendingFile:
    """A file on its way into the store: its extracted segments and `replaces`, older sources at its uri."""

    source: Source
    items: list[Extracted]
    replaces: list[str]


def failure_message(exc: BaseException) -> str:
    """One readable line for a file that could not be indexed (the reason alone for an `ExtractionError`)."""
    if isinstance(exc, ExtractionError):
        return exc.reason
    if isinstance(exc, MmragError):
        return str(exc)
    return f"{type(exc).__name__}: {exc}"


def extract_source(extractors: Sequence[Extractor], source: Source, path: str | Path) -> list[Extracted]:
    """Stage: cut one file into segments with the first extractor that accepts it.

    Raises:
        ExtractionError: the file is bad or holds nothing to index.
    """
    items = list(extractor_for(extractors, source).extract(source, str(path)))
    if not items:
        raise ExtractionError(source.uri, "no content found (no text, images or media)")
    return items


def encode_records(
    items: Sequence[Extracted],
    *,
    text_encoder: TextEncoder,
    image_encoder: ImageEncoder | None,
    lexical: LexicalEncoder,
    hooks: Sequence[RecordHook] = (),
) -> list[Record]:
    """Stage: turn extracted segments into store records with their vectors in every available space."""
    records = [Record(segment=item.segment, dense=dict(item.vectors)) for item in items]
    with_text = [i for i, item in enumerate(items) if item.segment.text.strip()]
    texts = [items[i].segment.text for i in with_text]
    if texts:
        dense = text_encoder.encode_documents(texts)
        sparse = lexical.encode_documents(texts)
        for row, i in enumerate(with_text):
            records[i].dense[text_encoder.space] = dense[row]
            records[i].sparse = sparse[row]
    if image_encoder is not None:
        _encode_images(image_encoder, items, records)
    for hook in hooks:
        hook(items, records)
    return records


def _encode_images(image_encoder: ImageEncoder, items: Sequence[Extracted], records: list[Record]) -> None:
    """Embed every picture once; a segment with several (a clip's keyframes) gets their mean."""
    owners = [(i, j) for i, item in enumerate(items) for j in range(len(item.images))]
    if not owners:
        return
    pictures = [items[i].images[j] for i, j in owners]
    vectors = image_encoder.encode_images(pictures)
    sums: dict[int, np.ndarray] = {}
    for row, (i, _) in enumerate(owners):
        sums[i] = sums[i] + vectors[row] if i in sums else vectors[row].copy()
    for i, total in sums.items():
        norm = float(np.linalg.norm(total)) or 1.0
        records[i].dense[image_encoder.space] = (total / norm).astype(np.float32)


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
        pending: list[PendingFile] = []
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
        return encode_records(
            items,
            text_encoder=self.text_encoder,
            image_encoder=self.image_encoder,
            lexical=self.lexical,
            hooks=self.hooks,
        )

    # --- driver-side stages (shared with indexing.ray_engine) -------------------------------------------
    def plan_file(self, path: Path, uri: str, seen: Callable[[str], bool]) -> PendingFile | None:
        """Hash the file and check the manifest; None when it is unchanged (or `seen` earlier in this run).

        A file to index has any partial points of an interrupted earlier run deleted here, before extraction.

        Raises:
            MmragError: the file cannot be read.
        """
        source = replace(load_source(path), uri=uri)
        known = self.manifest.get(source.source_id)
        if seen(source.source_id) or (known is not None and known.status == "indexed"):
            return None
        replaces = [r.source_id for r in self.manifest.by_uri(uri) if r.source_id != source.source_id]
        # A source left in `indexing` by a crash may have partial points: start it clean.
        self.store.delete_source(source.source_id)
        return PendingFile(source, [], replaces)

    def begin_source(self, pending: PendingFile) -> None:
        """Before its points are written: save its media and mark the source `indexing`."""
        source = pending.source
        for item in pending.items:
            for name, image in item.media.items():
                self.media.save(source.source_id, name, image)
            item.media = {}  # saved: don't hold page renders in memory while the batch fills
        self.manifest.begin(source)

    def record_failure(self, source: Source | None, uri: str, error: str, report: IndexReport) -> None:
        """Report a file that could not be indexed and note it in the manifest."""
        log.warning("%s: %s", uri, error)
        report.failed.append(Failure(uri, error))
        self.manifest.fail(source, uri, error)
        if source is not None and self.manifest.get(source.source_id) is None:
            self.media.delete_source(source.source_id)

    def write(self, pending: Sequence[PendingFile], records: Sequence[Record], report: IndexReport) -> None:
        """Store the records of these files, then mark them indexed and drop what they replace."""
        if not pending:
            return
        try:
            self.store.upsert(records)
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

    # --- local steps ----------------------------------------------------------------------------------
    def _prepare(
        self, path: Path, uri: str, report: IndexReport, pending: list[PendingFile]
    ) -> PendingFile | None:
        """Hash, check the manifest, extract. Returns None when the file is unchanged or failed."""
        source = None
        try:
            planned = self.plan_file(path, uri, lambda sid: any(p.source.source_id == sid for p in pending))
            if planned is None:
                report.unchanged += 1
                return None
            source = planned.source
            planned.items = extract_source(self.extractors, source, path)
            self.begin_source(planned)
            return planned
        except Exception as exc:  # a parser bug on one odd file must not stop the batch
            if not isinstance(exc, MmragError):
                log.exception("unexpected error indexing %s", uri)
            self.record_failure(source, uri, failure_message(exc), report)
            return None

    def _commit(self, pending: list[PendingFile], report: IndexReport) -> None:
        """Encode and store the buffered files."""
        if pending:
            self.write(pending, self.encode([item for p in pending for item in p.items]), report)
