"""The indexing pipeline: files -> sources -> segments -> vectors -> store, idempotent by content hash.

Segments from many files are buffered and encoded together, so small files still fill encoder batches
(indexing throughput stays close to the bare encoder's). A file's manifest entry turns `indexed` only after
the buffer holding its segments has been written to the store.

The work is cut into stages that the local `Indexer` and the Ray engine (`indexing.ray_engine`) share:
`Indexer.plan_file` (hash + manifest check, on the driver), `extract_source` (a pure function of the
extractors and the file), `encode_records` (indexing/record_encoding.py: a pure function of the encoders and a batch), then
on the driver `Indexer.begin_source` (media, manifest `indexing`) and `Indexer.write` (upsert, manifest
`indexed`, replaced versions dropped). Locally they run in one loop; under Ray the pure stages run in actors.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from core.errors import MmragError, UnsupportedTypeError
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
from indexing.extraction_worker import Extraction, InlineExtraction
from indexing.extractors.backends import extractor_for
from indexing.index_report import (
    UNSEARCHABLE,
    UNSEARCHABLE_REASON,
    Failure,
    IndexReport,
    Renamed,
    failure_message,
)
from indexing.manifest import PATH_STATUSES, Manifest, SourceRecord
from indexing.media.media_store import MediaStore
from indexing.record_encoding import RecordHook, encode_records
from indexing.sources import load_source
from indexing.walk import FileEntry, readable, real_folder, walk

log = logging.getLogger(__name__)

Progress = Callable[[int, int, str], None]
"""Called as (done_files, total_files, uri) after each file."""

FLUSH_SEGMENTS = 512  # encode and store once this many segments are buffered


@dataclass
class PendingFile:
    """A file on its way into the store: its extracted segments and `replaces`, older sources at its uri."""

    source: Source
    items: list[Extracted]
    replaces: list[str]


def _pictures_only(items: Sequence[Extracted]) -> bool:
    """A file whose segments carry pictures and no text at all: only an image space could find it."""
    return any(item.images for item in items) and not any(item.segment.text.strip() for item in items)


class Indexer:
    """Indexes files into the store. Components come from the composition root (`app.container`).

    Extraction runs through `extraction` (by default in this process with `extractors`; the composition
    root passes an `IsolatedExtraction` so that one file cannot exhaust memory or run forever).
    """

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
        extraction: Extraction | None = None,
        follow_links: bool = False,
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
        self.extraction: Extraction = extraction or InlineExtraction(self.extractors)
        self.follow_links = follow_links

    # --- public -----------------------------------------------------------------------------------------
    def index_paths(
        self,
        paths: Sequence[Path],
        progress: Progress | None = None,
        *,
        follow_links: bool | None = None,
        prune: bool = False,
    ) -> IndexReport:
        """Index files and folders (recursively); the uri of each file is its absolute path.

        Args:
            paths: files and folders.
            progress: called after each file.
            follow_links: follow symbolic links out of the indexed folders (default: the constructor's).
            prune: afterwards, remove sources under these folders whose files are gone.
        """
        follow = self.follow_links if follow_links is None else follow_links
        entries = list(walk(paths, follow_links=follow))
        report = self.index_entries(entries, progress)
        if prune:
            self.prune(paths, {e.uri for e in entries}, report)
        return report

    def index_files(self, files: Sequence[tuple[Path, str]], progress: Progress | None = None) -> IndexReport:
        """Index (path on disk, uri to record) pairs. Bad files are reported and never stop the batch."""
        return self.index_entries([FileEntry(path, readable(uri)) for path, uri in files], progress)

    def index_entries(self, entries: Sequence[FileEntry], progress: Progress | None = None) -> IndexReport:
        """Index walked files; skipped entries are only reported."""
        report = IndexReport()
        pending: list[PendingFile] = []
        buffered = 0
        for done, entry in enumerate(entries, start=1):
            if entry.skip is not None:
                self.record_skip(None, entry.uri, entry.skip, report)
            else:
                item = self._prepare(entry.path, entry.uri, report, pending)
                if item is not None:
                    pending.append(item)
                    buffered += len(item.items)
                if buffered >= FLUSH_SEGMENTS:
                    self._commit(pending, report)
                    pending, buffered = [], 0
            if progress is not None:
                progress(done, len(entries), entry.uri)
        self._commit(pending, report)
        return report

    def prune(self, paths: Sequence[Path], present: set[str], report: IndexReport) -> None:
        """Remove sources (and noted paths) under the indexed folders whose files are gone from disk."""
        folders = [real_folder(p) for p in paths if os.path.isdir(p)]
        prefixes = [readable(f.rstrip(os.sep) + os.sep) for f in folders]
        for record in self.manifest.sources():
            uri = record.uri
            if not uri.startswith(tuple(prefixes)) or uri in present or os.path.lexists(uri):
                continue
            if record.status in PATH_STATUSES:
                self.manifest.forget_path(uri)
            else:
                self.store.delete_source(record.source_id)
                self.media.delete_source(record.source_id)
                self.manifest.forget(record.source_id)
            report.pruned.append(uri)

    def close(self) -> None:
        """Stop the extraction worker, if any."""
        self.extraction.close()

    def index_extracted(self, items: Sequence[Extracted]) -> int:
        """Encode and store ready-made segments (no files, no manifest): used by `eval beir`.

        The segments are encoded longest text (in characters) first over the whole call, so each chunk holds
        texts of about one length and the encoder's batches pad little (on Vaswani, chunks sorted only among
        themselves cost 2.3% more token positions). What is stored does not depend on the order.
        """
        ordered = sorted(items, key=lambda item: -len(item.segment.text))
        for start in range(0, len(ordered), FLUSH_SEGMENTS * 4):
            self.store.upsert(self.encode(ordered[start : start + FLUSH_SEGMENTS * 4]))
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
    def plan_file(
        self, path: Path, uri: str, seen: Callable[[str], bool], report: IndexReport | None = None
    ) -> PendingFile | None:
        """Hash the file and check the manifest; None when there is nothing to extract.

        Nothing to extract: the file is unchanged, or `seen` earlier in this run, or holds the same bytes
        as a source indexed at another path (recorded as a duplicate; when that path is gone, the file was
        renamed or moved and the source's uri is updated). A file to index has any partial points of an
        interrupted earlier run deleted here, before extraction.

        Raises:
            MmragError: the file cannot be read.
        """
        source = replace(load_source(path), uri=uri)
        known = self.manifest.get(source.source_id)
        if seen(source.source_id):
            first = known.uri if known is not None else "another path in this run"
            if first != uri:
                self.manifest.duplicate(source, uri, first)
            return None
        if known is not None and known.status == "indexed" and not self._now_searchable(known):
            if known.uri != uri:
                self._moved_or_copied(source, known.uri, report)
            else:
                self.manifest.clear_path(uri)
            return None
        replaces = [r.source_id for r in self.manifest.by_uri(uri) if r.source_id != source.source_id]
        # A source left in `indexing` by a crash may have partial points: start it clean.
        self.store.delete_source(source.source_id)
        return PendingFile(source, [], replaces)

    def _now_searchable(self, known: SourceRecord) -> bool:
        """An indexed source recorded as not searchable (no image space then) that an image space now
        here could make searchable: it is indexed again, which clears the flag."""
        return not known.searchable and self.image_encoder is not None

    def _moved_or_copied(self, source: Source, old_uri: str, report: IndexReport | None) -> None:
        """An indexed source's bytes found at a new uri: a copy when the old file is still there, else a move
        (the source then takes the new uri, and any other source recorded at the new uri is replaced)."""
        # Only files on disk move: an upload's name (not an absolute path) never turns into a path or back.
        on_disk = os.path.isabs(old_uri) and os.path.isabs(source.uri)
        if not on_disk or os.path.lexists(old_uri):
            self.manifest.duplicate(source, source.uri, old_uri)
            return
        for other in self.manifest.by_uri(source.uri):
            if other.source_id != source.source_id:
                self._drop(other.source_id)
        self.store.set_uri(source.source_id, source.uri)
        self.manifest.set_uri(source.source_id, source.uri)
        self.manifest.forget_path(old_uri)
        log.info("%s: moved to %s", old_uri, source.uri)
        if report is not None:
            report.renamed.append(Renamed(old_uri, source.uri))

    def _drop(self, source_id: str) -> None:
        self.store.delete_source(source_id)
        self.media.delete_source(source_id)
        self.manifest.forget(source_id)

    def begin_source(self, pending: PendingFile) -> None:
        """Before its points are written: save its media and mark the source `indexing`."""
        source = pending.source
        for item in pending.items:
            for name, image in item.media.items():
                self.media.save(source.source_id, name, image)
            item.media = {}  # saved: don't hold page renders in memory while the batch fills
        self.manifest.begin(source)

    def record_failure(self, source: Source | None, uri: str, error: str, report: IndexReport) -> None:
        """Report a file that could not be indexed and note it in the manifest (by path)."""
        error = readable(error)
        log.info("%s: failed: %s", uri, error)  # the report carries it: the CLI and API show it once
        report.failed.append(Failure(uri, error))
        self.manifest.fail(source, uri, error)
        if source is not None and self.manifest.get(source.source_id) is None:
            self.media.delete_source(source.source_id)

    def record_skip(self, source: Source | None, uri: str, reason: str, report: IndexReport) -> None:
        """Report a file that is not indexed on purpose and note it in the manifest (by path)."""
        reason = readable(reason)
        log.info("%s: skipped: %s", uri, reason)
        report.skipped.append(Failure(uri, reason))
        self.manifest.skip(source, uri, reason)

    def write(self, pending: Sequence[PendingFile], records: Sequence[Record], report: IndexReport) -> None:
        """Store the records of these files, then mark them indexed and drop what they replace.

        A write the store refuses is retried in halves, down to single files, so one file whose records
        cannot be stored fails alone and the rest of the batch is committed.
        """
        if not pending:
            return
        try:
            self.store.upsert(records)
        except Exception as exc:
            if len(pending) > 1:
                log.warning("storing a batch of %d files failed (%s); retrying in halves", len(pending), exc)
                half = len(pending) // 2
                for part in (pending[:half], pending[half:]):
                    ids = {p.source.source_id for p in part}
                    self.write(part, [r for r in records if r.segment.source_id in ids], report)
                return
            # Nothing of this file is marked indexed, so the next run redoes it.
            log.exception("storing %s failed", pending[0].source.uri)
            source = pending[0].source
            self._forget_partial(source.source_id)
            self.record_failure(source, source.uri, f"store write failed: {failure_message(exc)}", report)
            return
        for p in pending:
            unsearchable = self.image_encoder is None and _pictures_only(p.items)
            if unsearchable:  # unless a hook (the mm space) gave its pictures a vector after all
                ids = {p.source.source_id}
                unsearchable = not any(r.dense for r in records if r.segment.source_id in ids)
            reason = UNSEARCHABLE_REASON if unsearchable else None
            self.manifest.finish(p.source.source_id, len(p.items), unsearchable=reason)
            self.manifest.clear_path(p.source.uri)
            for old in p.replaces:
                self._drop(old)
            report.indexed += 1
            report.segments += len(p.items)
            if unsearchable:
                report.unsearchable.append(Failure(p.source.uri, UNSEARCHABLE))

    def _forget_partial(self, source_id: str) -> None:
        try:
            self.store.delete_source(source_id)
        except Exception:  # the store is failing anyway; the next run starts this file clean
            log.warning("could not remove partial points of %s", source_id)

    # --- local steps ----------------------------------------------------------------------------------
    def _prepare(
        self, path: Path, uri: str, report: IndexReport, pending: list[PendingFile]
    ) -> PendingFile | None:
        """Hash, check the manifest, extract. Returns None when the file is unchanged, skipped or failed."""
        source = None
        try:
            planned = self.plan_file(
                path, uri, lambda sid: any(p.source.source_id == sid for p in pending), report
            )
            if planned is None:
                report.unchanged += 1
                return None
            source = planned.source
            try:
                extractor_for(self.extractors, source)
            except UnsupportedTypeError as exc:
                self.record_skip(source, uri, exc.reason, report)
                return None
            planned.items = self.extraction.extract(source, path)
            self.begin_source(planned)
            return planned
        except Exception as exc:  # a parser bug on one odd file must not stop the batch
            if not isinstance(exc, MmragError):
                log.exception("unexpected error indexing %s", uri)
            self.record_failure(source, uri, failure_message(exc), report)
            return None

    def _commit(self, pending: list[PendingFile], report: IndexReport) -> None:
        """Encode and store the buffered files (file by file if encoding the batch fails)."""
        if not pending:
            return
        try:
            records = self.encode([item for p in pending for item in p.items])
        except Exception:
            log.exception("encoding a batch of %d files failed; encoding them one by one", len(pending))
            for p in pending:
                try:
                    one = self.encode(p.items)
                except Exception as exc:
                    self._forget_partial(p.source.source_id)
                    self.manifest.forget_source(p.source.source_id)
                    self.record_failure(
                        p.source, p.source.uri, f"encoding failed: {failure_message(exc)}", report
                    )
                    continue
                self.write([p], one, report)
            return
        self.write(pending, records, report)
