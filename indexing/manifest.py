"""The ingestion manifest: which sources (by content hash) are indexed, from which uri, in which state.

Files that give no source of their own are recorded by path in a second table, so that every path a run
saw can be listed: `failed` (with the reason, found before or after hashing), `skipped` (never indexable:
an unsupported type, a link out of the folder) and `duplicate` (the same bytes as an indexed source at
another path, which is indexed once). A path's row goes away when a file at that path is indexed.

Write order keeps the store and the manifest consistent across crashes: a source is marked `indexing`
before its points are written and `indexed` only after they are all stored. A source found in
`indexing` state on the next run is re-indexed from scratch (its partial points deleted first).

An indexed source may have no searchable vector at all (a picture without text, indexed while there is no
image space): it is recorded with `searchable` false and the `reason`, so `sources` and `doctor` can say so.
Manifests written before that column existed gain it on open, every old row reading as searchable.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from core.types import Source

_SCHEMA = """
CREATE TABLE IF NOT EXISTS sources (
    source_id  TEXT PRIMARY KEY,
    uri        TEXT NOT NULL,
    mime       TEXT NOT NULL,
    size       INTEGER NOT NULL,
    status     TEXT NOT NULL,
    error      TEXT,
    segments   INTEGER NOT NULL DEFAULT 0,
    indexed_at REAL,
    searchable INTEGER NOT NULL DEFAULT 1,
    reason     TEXT
);
CREATE INDEX IF NOT EXISTS sources_uri ON sources(uri);
CREATE TABLE IF NOT EXISTS paths (
    uri        TEXT PRIMARY KEY,
    source_id  TEXT,
    status     TEXT NOT NULL,
    error      TEXT,
    mime       TEXT,
    size       INTEGER,
    seen_at    REAL
);
CREATE INDEX IF NOT EXISTS paths_source ON paths(source_id);
"""


@dataclass(frozen=True)
class SourceRecord:
    """One manifest row."""

    source_id: str
    uri: str
    mime: str
    size: int
    status: str  # indexing | indexed | failed | skipped | duplicate
    error: str | None
    segments: int
    indexed_at: float | None
    searchable: bool = True  # False: indexed, but no search can find it (see `reason`)
    reason: str | None = None  # why an indexed source is not searchable

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


PATH_STATUSES = frozenset({"failed", "skipped", "duplicate"})
"""Statuses of rows keyed by path (the `paths` table) rather than by content."""


class Manifest:
    """SQLite-backed manifest, safe to share between threads (one connection, one lock)."""

    def __init__(self, db_path: Path) -> None:
        db_path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(str(db_path), check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.executescript(_SCHEMA)
        self._add_missing_columns()

    def _add_missing_columns(self) -> None:
        """Bring a manifest written by an earlier version up to this schema (old rows read as searchable)."""
        columns = {row[1] for row in self._db.execute("PRAGMA table_info(sources)")}
        if "searchable" not in columns:
            self._db.execute("ALTER TABLE sources ADD COLUMN searchable INTEGER NOT NULL DEFAULT 1")
        if "reason" not in columns:
            self._db.execute("ALTER TABLE sources ADD COLUMN reason TEXT")

    def _rows(self, sql: str, *args: Any) -> list[SourceRecord]:
        with self._lock:
            rows = self._db.execute(sql, args).fetchall()
        return [_record(row) for row in rows]

    def _exec(self, sql: str, *args: Any) -> None:
        with self._lock:
            self._db.execute(sql, args)

    def get(self, source_id: str) -> SourceRecord | None:
        rows = self._rows("SELECT * FROM sources WHERE source_id = ?", source_id)
        return rows[0] if rows else None

    def by_uri(self, uri: str) -> list[SourceRecord]:
        """Every source recorded at this uri (more than one only while a changed file is being replaced)."""
        return self._rows("SELECT * FROM sources WHERE uri = ?", uri)

    def sources(self) -> list[SourceRecord]:
        """Every source and every failed, skipped or duplicate path, by uri (a path without a content hash,
        e.g. an empty file or a broken link, has an empty `source_id`)."""
        rows = self._rows("SELECT * FROM sources")
        rows += self._rows(
            "SELECT coalesce(source_id, ''), uri, coalesce(mime, ''), coalesce(size, 0), status, error, 0,"
            " seen_at FROM paths"
        )
        return sorted(rows, key=lambda r: (r.uri, r.status))

    def path_rows(self) -> list[SourceRecord]:
        """Only the failed, skipped and duplicate paths."""
        return [r for r in self.sources() if r.status in PATH_STATUSES]

    def begin(self, source: Source) -> None:
        """Mark a source as being indexed (its points may be incomplete until `finish`)."""
        self._exec(
            "INSERT OR REPLACE INTO sources (source_id, uri, mime, size, status, error, segments, indexed_at)"
            " VALUES (?, ?, ?, ?, 'indexing', NULL, 0, NULL)",
            source.source_id,
            source.uri,
            source.mime,
            source.size,
        )

    def finish(self, source_id: str, segments: int, unsearchable: str | None = None) -> None:
        """Mark a source indexed; `unsearchable` is the reason when none of its points can be found by a
        search (it is then recorded as not searchable; indexing it again with a space that can find it clears
        the flag)."""
        self._exec(
            "UPDATE sources SET status = 'indexed', segments = ?, indexed_at = ?, searchable = ?, reason = ?"
            " WHERE source_id = ?",
            segments,
            time.time(),
            0 if unsearchable else 1,
            unsearchable or None,
            source_id,
        )

    def unsearchable(self) -> list[SourceRecord]:
        """Indexed sources that no search can find, by uri."""
        return self._rows("SELECT * FROM sources WHERE status = 'indexed' AND searchable = 0 ORDER BY uri")

    def fail(self, source: Source | None, uri: str, error: str) -> None:
        """Record a failed path with its reason. An unfinished source row of the file (`indexing`) is
        dropped; a source that is indexed (under this or another uri) stays indexed."""
        self._note_path(uri, "failed", error, source)
        if source is not None:
            existing = self.get(source.source_id)
            if existing is not None and existing.status != "indexed":
                self.forget_source(source.source_id)

    def skip(self, source: Source | None, uri: str, reason: str) -> None:
        """Record a path that is not indexed on purpose (an unsupported type, a link out of the folder)."""
        self._note_path(uri, "skipped", reason, source)

    def duplicate(self, source: Source, uri: str, indexed_uri: str) -> None:
        """Record a path holding the same bytes as the source indexed at `indexed_uri`."""
        self._note_path(uri, "duplicate", f"same content as {indexed_uri} (indexed once)", source)

    def clear_path(self, uri: str) -> None:
        """The file at this path is indexed: drop any failure, skip or duplicate noted for it."""
        self._exec("DELETE FROM paths WHERE uri = ?", uri)

    def set_uri(self, source_id: str, uri: str) -> None:
        """The source's file moved to `uri`."""
        self._exec("UPDATE sources SET uri = ? WHERE source_id = ?", uri, source_id)
        self.clear_path(uri)

    def _note_path(self, uri: str, status: str, error: str, source: Source | None) -> None:
        self._exec(
            "INSERT OR REPLACE INTO paths VALUES (?, ?, ?, ?, ?, ?, ?)",
            uri,
            source.source_id if source is not None else None,
            status,
            error,
            source.mime if source is not None else None,
            source.size if source is not None else None,
            time.time(),
        )

    def forget(self, source_id: str) -> None:
        """Drop a source and every path noted as its duplicate."""
        self.forget_source(source_id)
        self._exec("DELETE FROM paths WHERE source_id = ? AND status = 'duplicate'", source_id)

    def forget_source(self, source_id: str) -> None:
        self._exec("DELETE FROM sources WHERE source_id = ?", source_id)

    def forget_path(self, uri: str) -> None:
        self._exec("DELETE FROM paths WHERE uri = ?", uri)

    def resolve(self, ref: str) -> SourceRecord | None:
        """Find a source by full id, unique id prefix (>= 8 chars) or uri."""
        record = self.get(ref)
        if record is not None:
            return record
        by_uri = self.by_uri(ref) or self.by_uri(str(Path(ref).expanduser().resolve()))
        if by_uri:
            return by_uri[0]
        if len(ref) >= 8:
            rows = self._rows("SELECT * FROM sources WHERE source_id LIKE ?", ref + "%")
            if len(rows) == 1:
                return rows[0]
        return None


def _record(row: tuple[Any, ...]) -> SourceRecord:
    """A `sources` row (10 columns) or a `paths` row read as one (8 columns: always searchable)."""
    source_id, uri, mime, size, status, error, segments, indexed_at = row[:8]
    searchable, reason = (bool(row[8]), row[9]) if len(row) > 8 else (True, None)
    return SourceRecord(source_id, uri, mime, size, status, error, segments, indexed_at, searchable, reason)
