"""Ingestion jobs: persisted in SQLite, run one at a time by a background worker thread.

A job is one upload request; each of its files is indexed on its own so every file gets its own result.
Job and file states are written before and after each file, so after a crash or restart `recover()` finds
the interrupted jobs: files whose upload is still on disk are indexed again (idempotent: the Indexer skips
unchanged content), files whose upload is gone are marked failed, finished files keep their results.
"""

from __future__ import annotations

import logging
import queue
import sqlite3
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from app.api.uploads import StoredUpload, UploadStore
from core.errors import MmragError, NotFoundError

if TYPE_CHECKING:
    from indexing.pipeline import Indexer

log = logging.getLogger(__name__)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS api_jobs (
    job_id     TEXT PRIMARY KEY,
    state      TEXT NOT NULL,
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL,
    error      TEXT
);
CREATE TABLE IF NOT EXISTS api_job_files (
    job_id    TEXT NOT NULL,
    idx       INTEGER NOT NULL,
    name      TEXT NOT NULL,
    stored    TEXT NOT NULL,
    size      INTEGER NOT NULL,
    source_id TEXT NOT NULL,
    state     TEXT NOT NULL,
    segments  INTEGER NOT NULL DEFAULT 0,
    error     TEXT,
    PRIMARY KEY (job_id, idx)
);
CREATE INDEX IF NOT EXISTS api_job_files_source ON api_job_files(source_id);
"""

FINISHED = ("indexed", "unchanged", "failed")


@dataclass(frozen=True)
class JobFile:
    """One file of a job."""

    idx: int
    name: str
    stored: str
    size: int
    source_id: str
    state: str  # pending | running | indexed | unchanged | failed
    segments: int
    error: str | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "size": self.size,
            "state": self.state,
            "source_id": self.source_id,
            "segments": self.segments,
            "error": self.error,
        }


@dataclass(frozen=True)
class Job:
    """A job and its files."""

    job_id: str
    state: str  # queued | running | done | failed
    created_at: float
    updated_at: float
    error: str | None
    files: tuple[JobFile, ...]

    def to_dict(self) -> dict[str, Any]:
        done = sum(f.state in FINISHED for f in self.files)
        total = len(self.files)
        return {
            "job_id": self.job_id,
            "state": self.state,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
            "total": total,
            "done": done,
            "progress": round(done / total, 4) if total else 1.0,
            "error": self.error,
            "files": [f.to_dict() for f in self.files],
        }


class JobStore:
    """The jobs tables in the project's SQLite file. One short-lived connection per call: thread-safe."""

    def __init__(self, db_path: Path) -> None:
        self.db_path = db_path
        db_path.parent.mkdir(parents=True, exist_ok=True)
        with self._db() as db:
            db.executescript(_SCHEMA)

    @contextmanager
    def _db(self) -> Iterator[sqlite3.Connection]:
        db = sqlite3.connect(str(self.db_path), timeout=30, isolation_level=None)
        try:
            db.execute("PRAGMA journal_mode=WAL")
            yield db
        finally:
            db.close()

    def create(self, uploads: list[StoredUpload]) -> str:
        """Record a new queued job for these stored uploads; return its id."""
        job_id = uuid.uuid4().hex
        now = time.time()
        with self._db() as db:
            db.execute("BEGIN")
            db.execute("INSERT INTO api_jobs VALUES (?, 'queued', ?, ?, NULL)", (job_id, now, now))
            db.executemany(
                "INSERT INTO api_job_files VALUES (?, ?, ?, ?, ?, ?, 'pending', 0, NULL)",
                [(job_id, i, u.name, u.stored, u.size, u.sha256) for i, u in enumerate(uploads)],
            )
            db.execute("COMMIT")
        return job_id

    def get(self, job_id: str) -> Job:
        """A job with its files; NotFoundError if there is none."""
        with self._db() as db:
            row = db.execute("SELECT * FROM api_jobs WHERE job_id = ?", (job_id,)).fetchone()
            if row is None:
                raise NotFoundError(f"no job {job_id}")
            files = db.execute(
                "SELECT idx, name, stored, size, source_id, state, segments, error FROM api_job_files "
                "WHERE job_id = ? ORDER BY idx",
                (job_id,),
            ).fetchall()
        job_id, state, created_at, updated_at, error = row
        return Job(job_id, state, created_at, updated_at, error, files=tuple(JobFile(*f) for f in files))

    def unfinished(self) -> list[str]:
        """Ids of jobs that were queued or running, oldest first."""
        with self._db() as db:
            rows = db.execute(
                "SELECT job_id FROM api_jobs WHERE state IN ('queued', 'running') ORDER BY created_at"
            ).fetchall()
        return [r[0] for r in rows]

    def set_job(self, job_id: str, state: str, error: str | None = None) -> None:
        with self._db() as db:
            db.execute(
                "UPDATE api_jobs SET state = ?, error = ?, updated_at = ? WHERE job_id = ?",
                (state, error, time.time(), job_id),
            )

    def set_file(
        self, job_id: str, idx: int, state: str, segments: int = 0, error: str | None = None
    ) -> None:
        with self._db() as db:
            db.execute("BEGIN")
            db.execute(
                "UPDATE api_job_files SET state = ?, segments = ?, error = ? WHERE job_id = ? AND idx = ?",
                (state, segments, error, job_id, idx),
            )
            db.execute("UPDATE api_jobs SET updated_at = ? WHERE job_id = ?", (time.time(), job_id))
            db.execute("COMMIT")

    def stored_in_use(self, stored: str) -> bool:
        """Whether an upload file is still needed: a file of some job that is not failed refers to it (the
        store is content-addressed, so several uploads can share one file)."""
        with self._db() as db:
            row = db.execute(
                "SELECT 1 FROM api_job_files WHERE stored = ? AND state != 'failed' LIMIT 1", (stored,)
            ).fetchone()
        return row is not None

    def stored_for_source(self, source_id: str) -> list[str]:
        """Storage names of uploads with this content (the source's original file), newest first."""
        with self._db() as db:
            rows = db.execute(
                "SELECT DISTINCT f.stored FROM api_job_files f JOIN api_jobs j USING (job_id) "
                "WHERE f.source_id = ? ORDER BY j.created_at DESC",
                (source_id,),
            ).fetchall()
        return [r[0] for r in rows]


MAX_ATTEMPTS = 3
"""Times a file is started before a server that keeps stopping while indexing it gives up on it."""


def _attempt(f: JobFile) -> int:
    """Which attempt a `running` file was on (noted in its error field as "attempt N")."""
    if f.error and f.error.startswith("attempt ") and f.error[8:].isdigit():
        return int(f.error[8:])
    return 1


class JobRunner:
    """Runs queued jobs one at a time in a daemon thread, with the Indexer from the container."""

    def __init__(self, store: JobStore, uploads: UploadStore, indexer: Callable[[], Indexer]) -> None:
        self.store = store
        self.uploads = uploads
        self._indexer = indexer  # resolved in the worker, so a slow model load never blocks a request
        self._queue: queue.Queue[str | None] = queue.Queue()
        self._thread: threading.Thread | None = None
        # One indexing run at a time in this process: upload jobs and the CLI's local-path indexing.
        self.write_lock = threading.Lock()

    def start(self) -> None:
        """Start the worker and requeue jobs a previous process left unfinished."""
        self._thread = threading.Thread(target=self._work, name="mmrag-jobs", daemon=True)
        self._thread.start()
        for job_id in self.store.unfinished():
            log.info("resuming interrupted job %s", job_id)
            self._queue.put(job_id)

    def submit(self, uploads: list[StoredUpload]) -> str:
        job_id = self.store.create(uploads)
        self._queue.put(job_id)
        return job_id

    def stop(self, timeout: float = 30.0) -> None:
        """Finish the file in progress, then stop; unfinished jobs resume on the next start."""
        if self._thread is None:
            return
        self._queue.put(None)
        self._thread.join(timeout)
        self._thread = None

    def _work(self) -> None:
        while (job_id := self._queue.get()) is not None:
            try:
                self.run(job_id)
            except Exception as exc:  # keep the worker alive whatever one job does
                log.exception("job %s crashed", job_id)
                self.store.set_job(job_id, "failed", f"internal error: {exc}")

    def run(self, job_id: str) -> None:
        """Index every unfinished file of a job, recording each file's result as it finishes."""
        job = self.store.get(job_id)
        if job.state not in ("queued", "running"):
            return
        self.store.set_job(job_id, "running")
        for f in job.files:
            if f.state not in FINISHED:
                self._run_file(job_id, f)
        self._finish(job_id)
        # A long-running server never closes the store, so build the search index after each job.
        try:
            self._indexer().store.optimize()
        except Exception:
            log.exception("building the index after job %s failed; searches stay exact but slower", job_id)

    def _run_file(self, job_id: str, f: JobFile) -> None:
        path = self.uploads.path(f.stored)
        if not path.is_file():
            self.store.set_file(
                job_id, f.idx, "failed", error="upload lost before it was indexed; upload it again"
            )
            return
        # A file left `running` was being indexed when the server stopped (killed, out of memory): retried,
        # but a file that keeps taking the server down is failed after MAX_ATTEMPTS, not requeued forever.
        attempt = _attempt(f) + 1 if f.state == "running" else 1
        if attempt > MAX_ATTEMPTS:
            error = f"the server stopped {MAX_ATTEMPTS} times while indexing this file; not retried"
            self.store.set_file(job_id, f.idx, "failed", error=error)
            return
        self.store.set_file(job_id, f.idx, "running", error=f"attempt {attempt}" if attempt > 1 else None)
        try:
            with self.write_lock:
                report = self._indexer().index_files([(path, f.name)])
        except MmragError as exc:
            self.store.set_file(job_id, f.idx, "failed", error=str(exc))
            return
        if report.failed:
            self.store.set_file(job_id, f.idx, "failed", error=report.failed[0].error)
            self._discard(f.stored)
        elif report.skipped:  # never indexable (an unsupported type): nothing of the upload is searchable
            self.store.set_file(job_id, f.idx, "failed", error=f"skipped: {report.skipped[0].error}")
            self._discard(f.stored)
        elif report.unchanged:
            self.store.set_file(job_id, f.idx, "unchanged")
        else:
            self.store.set_file(job_id, f.idx, "indexed", segments=report.segments)

    def _discard(self, stored: str) -> None:
        """Remove a failed upload's file unless another upload of the same bytes still needs it."""
        if not self.store.stored_in_use(stored):
            self.uploads.delete(stored)

    def _finish(self, job_id: str) -> None:
        files = self.store.get(job_id).files
        failed = [f for f in files if f.state == "failed"]
        if failed and len(failed) == len(files):
            self.store.set_job(job_id, "failed", "no file could be indexed")
        elif failed:
            self.store.set_job(job_id, "done", f"{len(failed)} of {len(files)} files failed")
        else:
            self.store.set_job(job_id, "done")
