"""How one watch batch reaches the home: the store opened here under the home's lock, the owning server's
API, or (inside `mmrag serve`) the server's own container.

Store access: the embedded store is single-process, so the watcher does not keep it open. Each batch takes
the home's store lock (as `mmrag index` does), opens the store, writes, closes it and releases the lock;
between batches `mmrag search`/`ask` in a terminal work as usual, and `mmrag sources` (the manifest alone)
works at any time. Models stay loaded. When `mmrag serve` owns the home, batches go through its API instead.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from app.folder_watcher import HomeOps

if TYPE_CHECKING:
    from app.container import Container
    from core.settings import Settings

log = logging.getLogger(__name__)


class LocalOps:
    """The store opened by this process (the caller holds the store lock)."""

    def __init__(self, container: Container) -> None:
        self.container = container

    def index(self, paths: Sequence[Path]) -> dict[str, Any]:
        return self.container.indexer.index_paths(list(paths)).to_dict()

    def prune(self, roots: Sequence[Path]) -> list[str]:
        from indexing.index_report import IndexReport

        report = IndexReport()
        self.container.indexer.prune(list(roots), set(), report)
        return list(report.pruned)


class RemoteOps:
    """Through the `mmrag serve` that owns the home (its local-paths indexing endpoint)."""

    def __init__(self, backend: Any) -> None:
        self.backend = backend

    def index(self, paths: Sequence[Path]) -> dict[str, Any]:
        return dict(self.backend.index(list(paths), None))

    def prune(self, roots: Sequence[Path]) -> list[str]:
        return list(self.backend.index(list(roots), None, prune=True).get("pruned", []))


class ServerOps(LocalOps):
    """Inside `mmrag serve` (MMRAG_WATCH): the server's own container, one indexing run at a time with upload
    jobs and the CLI's local indexing (the job runner's write lock); the search index is rebuilt after each
    batch, as after each upload job."""

    def __init__(self, container: Container, write_lock: contextlib.AbstractContextManager[Any]) -> None:
        super().__init__(container)
        self.write_lock = write_lock

    def index(self, paths: Sequence[Path]) -> dict[str, Any]:
        with self.write_lock:
            return super().index(paths)

    def prune(self, roots: Sequence[Path]) -> list[str]:
        with self.write_lock:
            return super().prune(roots)


@contextlib.contextmanager
def home_session(container: Callable[[], Container], settings: Settings) -> Iterator[HomeOps]:
    """One batch's access to the home: the owning server's API, or the store under the home's lock."""
    from app.home import StoreLock, discover
    from app.remote import RemoteBackend

    info = discover(settings.home)
    if info is not None:
        backend = RemoteBackend(info)
        try:
            yield RemoteOps(backend)
        finally:
            backend.close()
        return
    lock = StoreLock(settings.home)
    lock.acquire("index", on_wait=lambda h: log.info("waiting for %s", h.describe() if h else "the store"))
    try:
        yield LocalOps(container())
    finally:
        try:
            if "store" in container().__dict__:
                container().store.close()  # flush and let other processes open it
        finally:
            lock.release()
