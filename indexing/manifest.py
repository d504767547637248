"""The ingestion manifest: which sources (by content hash) are indexed, from which uri, in which state.

Write order keeps the store and the manifest consistent across crashes: a source is marked `indexing`
before its points are written and `indexed` only after they are all stored. A source found in
`indexing` state on the next run is re-indexed from scratch (its partial points deleted first).
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
    indexed_at REAL
);
CREATE INDEX IF NOT EXISTS sources_uri ON sources(uri);
"""


@dataclass(frozen=True)
class SourceRecord:
    """One manifest row."""

    source_id: str
    uri: str
    mime: str
    size: int
    status: str  # indexing | indexed | failed
    error: str | None
    segments: int
    indexed_at: float | None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class Manifest:
    """SQLite-backed manifest, safe to share between threads (one connection, one lock)."""

    def __init__(self, db_path: Path) -> None:
        db_path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(str(db_path), check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.executescript(_SCHEMA)

    def _rows(self, sql: str, *args: Any) -> list[SourceRecord]:
        with self._lock:
            rows = self._db.execute(sql, args).fetchall()
        return [SourceRecord(*row) for row in rows]

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
        return self._rows("SELECT * FROM sources ORDER BY uri")

    def begin(self, source: Source) -> None:
        """Mark a source as being indexed (its points may be incomplete until `finish`)."""
        self._exec(
            "INSERT OR REPLACE INTO sources VALUES (?, ?, ?, ?, 'indexing', NULL, 0, NULL)",
            source.source_id,
            source.uri,
            source.mime,
            source.size,
        )

    def finish(self, source_id: str, segments: int) -> None:
        self._exec(
            "UPDATE sources SET status = 'indexed', segments = ?, indexed_at = ? WHERE source_id = ?",
            segments,
            time.time(),
            source_id,
        )

    def fail(self, source: Source | None, uri: str, error: str) -> None:
        """Record a failed file. A source that is already indexed under another uri stays indexed."""
        if source is None:
            return
        existing = self.get(source.source_id)
        if existing is not None and existing.status == "indexed":
            return
        self._exec(
            "INSERT OR REPLACE INTO sources VALUES (?, ?, ?, ?, 'failed', ?, 0, NULL)",
            source.source_id,
            uri,
            source.mime,
            source.size,
            error,
        )

    def forget(self, source_id: str) -> None:
        self._exec("DELETE FROM sources WHERE source_id = ?", source_id)

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
