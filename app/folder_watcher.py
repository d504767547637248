"""The folder watcher: watchdog events collected into debounced batches, applied through a home session.

* Created and changed files are indexed; a renamed or moved file keeps its source and only its uri changes
  (the indexer recognises the same bytes at a new path whose old path is gone); deleted files and folders
  are removed (a prune of the watched roots: records whose files are gone).
* Events are collected and handled in batches once the folders have been quiet for `debounce_s` (an editor's
  save, a copy of many photos, a file still being written: its size must be stable across the wait), and
  at the latest every `max_wait_s`.
* On start, a catch-up pass indexes the roots (unchanged files are skipped by content hash) and prunes what
  was deleted, so changes made while nothing was watching are picked up.

How a batch reaches the home (this process's store, or the server's API) is the session's business
(app/watch_ops.py); the CLI command and the server's start are in app/watch.py.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

log = logging.getLogger(__name__)

IGNORED_SUFFIXES = (".part", ".partial", ".crdownload", ".tmp", ".swp", ".swx", "~")


class HomeOps(Protocol):
    """What a batch does to the home: index paths, prune roots."""

    def index(self, paths: Sequence[Path]) -> dict[str, Any]: ...

    def prune(self, roots: Sequence[Path]) -> list[str]: ...


@dataclass
class Batch:
    """Paths touched since the last batch; `gone` when anything was deleted or moved away."""

    changed: set[str] = field(default_factory=set)
    gone: bool = False

    def empty(self) -> bool:
        return not self.changed and not self.gone


def ignored(path: str) -> bool:
    """Hidden files and folders, and partial downloads / editor swap files."""
    parts = Path(path).parts
    return any(p.startswith(".") for p in parts[1:]) or path.endswith(IGNORED_SUFFIXES)


class FolderWatcher:
    """Watches roots with watchdog and applies debounced batches through `session()`.

    Args:
        roots: Folders (or files) to keep indexed.
        session: Opens the home for one batch (see `home_session`).
        on_batch: Called with each batch's summary (the CLI prints it).
        debounce_s: Quiet time before a batch runs.
        max_wait_s: A batch runs at the latest this long after its first event, even if events keep coming.
    """

    def __init__(
        self,
        roots: Sequence[Path],
        session: Callable[[], contextlib.AbstractContextManager[HomeOps]],
        on_batch: Callable[[dict[str, Any]], None] | None = None,
        *,
        debounce_s: float = 1.0,
        max_wait_s: float = 30.0,
    ) -> None:
        self.roots = [Path(os.path.abspath(r)) for r in roots]
        self.session = session
        self.on_batch = on_batch or (lambda summary: None)
        self.debounce_s = debounce_s
        self.max_wait_s = max_wait_s
        self._batch = Batch()
        self._first = self._last = 0.0
        self._cond = threading.Condition()
        self._stop = threading.Event()
        self._observer: Any = None
        self._thread: threading.Thread | None = None

    # --- lifecycle ----------------------------------------------------------------------------------------
    def start(self) -> dict[str, Any]:
        """Start watching, then catch up with what changed while nothing watched; returns the catch-up."""
        from watchdog.observers import Observer

        self._observer = Observer()
        handler = _Handler(self.note)
        for root in self.roots:
            self._observer.schedule(handler, str(root if root.is_dir() else root.parent), recursive=True)
        self._observer.start()  # events during the catch-up are kept and handled afterwards
        summary = self.catch_up()
        self._thread = threading.Thread(target=self._loop, name="mmrag-watch", daemon=True)
        self._thread.start()
        return summary

    def stop(self) -> None:
        self._stop.set()
        with self._cond:
            self._cond.notify_all()
        if self._observer is not None:
            self._observer.stop()
            self._observer.join(timeout=5)
        if self._thread is not None:
            self._thread.join(timeout=60)

    def catch_up(self) -> dict[str, Any]:
        """Index the roots (unchanged files are skipped by hash) and prune sources whose files are gone."""
        with self.session() as ops:
            report = ops.index(self.roots)
            pruned = ops.prune([r for r in self.roots if r.is_dir()])
        return _summary("catch-up", report, pruned)

    # --- events -------------------------------------------------------------------------------------------
    def note(self, kind: str, src: str, dest: str | None = None, is_dir: bool = False) -> None:
        """Record one filesystem event (called from watchdog's thread)."""
        if not self._inside(src) and not (dest and self._inside(dest)):
            return
        with self._cond:
            if kind in ("created", "modified", "closed") and not ignored(src) and self._inside(src):
                if not is_dir or kind == "created":
                    self._batch.changed.add(src)
            elif kind == "moved":
                self._batch.gone = True
                if dest and self._inside(dest) and not ignored(dest):
                    self._batch.changed.add(dest)
            elif kind == "deleted":
                self._batch.gone = True
            else:
                return
            now = time.monotonic()
            self._first = self._first or now
            self._last = now
            self._cond.notify_all()

    def _inside(self, path: str) -> bool:
        return any(path == str(r) or path.startswith(str(r) + os.sep) for r in self.roots)

    def _loop(self) -> None:
        while not self._stop.is_set():
            batch = self._next_batch()
            if batch is None:
                continue
            try:
                self.on_batch(self.apply(batch))
            except Exception as exc:  # a failed batch must not end the watch; the next event retries
                log.exception("watch batch failed")
                self.on_batch({"event": "error", "error": f"{type(exc).__name__}: {exc}"})

    def _next_batch(self) -> Batch | None:
        """Wait until the folders have been quiet for `debounce_s` (or `max_wait_s` passed); take the batch."""
        with self._cond:
            while not self._stop.is_set():
                if self._batch.empty():
                    self._cond.wait(timeout=1.0)
                    continue
                now = time.monotonic()
                quiet = now - self._last >= self.debounce_s
                overdue = now - self._first >= self.max_wait_s
                if quiet or overdue:
                    if not overdue and self._still_growing():
                        self._last = now  # a file is still being written: wait another round
                        continue
                    batch, self._batch = self._batch, Batch()
                    self._first = 0.0
                    return batch
                self._cond.wait(timeout=self.debounce_s - (now - self._last))
        return None

    def _still_growing(self) -> bool:
        """Whether a changed file's size moves during a short look (a large copy in progress)."""
        sizes = {p: _size(p) for p in self._batch.changed}
        self._cond.wait(timeout=0.2)
        return any(_size(p) != s for p, s in sizes.items())

    def apply(self, batch: Batch) -> dict[str, Any]:
        """Index what changed (files and created/moved-in folders) and prune the roots if anything went away."""
        present = sorted(Path(p) for p in batch.changed if os.path.exists(p))
        # Inside a folder that is itself in the batch, a file adds nothing: the folder is walked.
        folders = {str(p) for p in present if p.is_dir()}
        paths = [p for p in present if not any(str(p).startswith(f + os.sep) for f in folders)]
        report: dict[str, Any] = {}
        pruned: list[str] = []
        with self.session() as ops:
            if paths:
                report = ops.index(paths)
            if batch.gone:
                pruned = ops.prune([r for r in self.roots if r.is_dir()])
        return _summary("batch", report, pruned)


class _Handler:
    """watchdog handler → `FolderWatcher.note` (kept tiny: watchdog calls it on its own thread)."""

    def __init__(self, note: Callable[..., None]) -> None:
        self.note = note

    def dispatch(self, event: Any) -> None:
        kind = {"closed_no_write": None, "opened": None}.get(event.event_type, event.event_type)
        if kind is None:
            return
        src = os.fsdecode(event.src_path)
        dest = os.fsdecode(event.dest_path) if getattr(event, "dest_path", "") else None
        self.note(kind, src, dest, event.is_directory)


def _size(path: str) -> int:
    try:
        return os.stat(path).st_size
    except OSError:
        return -1


def _summary(kind: str, report: dict[str, Any], pruned: list[str]) -> dict[str, Any]:
    return {
        "event": kind,
        "indexed": report.get("indexed", 0),
        "unchanged": report.get("unchanged", 0),
        "renamed": report.get("renamed", []),
        "removed": pruned,
        "failed": report.get("failed", []),
        "segments": report.get("segments", 0),
    }
