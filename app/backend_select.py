"""Which backend a command gets: the API of the `mmrag serve` that owns the home, or the store opened here.

Imports both `app.backend` (the interface and `LocalBackend`) and `app.remote` (`RemoteBackend`), which
import neither this module nor each other's choice, so the three have no import circle.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from app.backend import Backend, LocalBackend

if TYPE_CHECKING:
    from app.container import Container
    from app.home import Holder


def open_backend(
    purpose: str,
    make_container: Callable[[], Container],
    *,
    wait: bool = True,
    on_wait: Callable[[Holder | None], None] | None = None,
    store: bool = True,
) -> Backend:
    """The backend for one command on the home of the current settings.

    Args:
        purpose: the command (`index`, `search`, …): shown to other processes waiting for the lock.
        make_container: builds the local Container (called only when no server owns the home).
        wait: False fails at once (`StoreBusyError`) when another process holds the store.
        on_wait: called once when this process starts waiting for another one.
        store: whether the command opens the vector store (False: the manifest alone, no lock).
    """
    from app.home import StoreLock, discover
    from app.remote import RemoteBackend
    from core.settings import Settings

    settings = Settings()
    home = settings.home
    info = discover(home)
    if info is not None:
        return RemoteBackend(info)
    # The embedded engine is single-process; a Qdrant server is not, but two indexers still take turns.
    if not store or (settings.qdrant_url and purpose not in ("index", "delete")):
        return LocalBackend(make_container)
    lock = StoreLock(home)
    found: list[Any] = []

    def server_appeared() -> bool:
        found[:] = [discover(home)] if (home / "server.json").exists() else []
        return bool(found and found[0] is not None)

    if not lock.acquire(purpose, wait=wait, on_wait=on_wait, give_up=server_appeared):
        return RemoteBackend(found[0])
    try:
        return LocalBackend(make_container, lock)
    except BaseException:
        with contextlib.suppress(Exception):
            lock.release()
        raise
