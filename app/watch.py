"""`mmrag watch PATH…`: keep the collection in step with folders (watchdog events, debounced batches), and
the same watcher started inside `mmrag serve` (MMRAG_WATCH).

The watcher itself (events, debouncing, batches) is app/folder_watcher.py; how each batch reaches the home
(the store under the home's lock, or the owning server's API) is app/watch_ops.py.
"""

from __future__ import annotations

import contextlib
import logging
import signal
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from app.folder_watcher import FolderWatcher, HomeOps
from app.watch_ops import ServerOps, home_session

if TYPE_CHECKING:
    from app.container import Container

log = logging.getLogger(__name__)


def start_in_server(
    roots: Sequence[Path], container: Container, write_lock: contextlib.AbstractContextManager[Any]
) -> FolderWatcher | None:
    """Start watching `roots` inside the API server (the `watch` setting); None when none exist.

    The catch-up pass runs in a background thread so the server answers at once.
    """
    existing = [Path(r).expanduser() for r in roots if Path(r).expanduser().exists()]
    for missing in set(map(str, roots)) - {str(r) for r in roots if Path(r).expanduser().exists()}:
        log.warning("MMRAG_WATCH: %s does not exist; not watched", missing)
    if not existing:
        return None
    ops = ServerOps(container, write_lock)

    @contextlib.contextmanager
    def session() -> Iterator[HomeOps]:
        try:
            yield ops
        finally:
            container.store.optimize()

    def logged(summary: dict[str, Any]) -> None:
        log.info("watch %s", summary)

    watcher = FolderWatcher(existing, session, logged)
    threading.Thread(target=lambda: logged(watcher.start()), name="mmrag-watch-start", daemon=True).start()
    return watcher


def watch(
    paths: Annotated[
        list[Path], typer.Argument(help="Folders (or files) to keep indexed.", metavar="PATH...")
    ],
    debounce: Annotated[
        float, typer.Option(min=0.0, help="Seconds of quiet before a batch of changes is indexed.")
    ] = 1.0,
    json_out: Annotated[bool, typer.Option("--json", help="One JSON line per batch on stdout.")] = False,
) -> None:
    """Keep the collection in step with folders: index new and changed files, follow renames, remove deleted
    ones. Catches up first with what changed while nothing was watching. Stop with Ctrl-C."""
    from app.cli.output import emit_json, err, fail
    from app.container import Container
    from core.settings import Settings

    missing = [str(p) for p in paths if not p.exists()]
    if missing:
        raise fail(f"no such file or folder: {', '.join(missing)}")
    settings = Settings()
    shared: list[Container] = []

    def container() -> Container:
        if not shared:
            shared.append(Container(settings))
        return shared[0]

    def report(summary: dict[str, Any]) -> None:
        if json_out:
            emit_json(summary)
            sys.stdout.flush()  # a reader (a test, a script) sees each batch as it happens
            return
        if summary["event"] == "error":
            err.print(f"[red]watch error:[/red] {summary['error']}")
            return
        for failure in summary["failed"]:
            err.print(f"[red]failed[/red] {failure['uri']}: {failure['error']}")
        err.print(
            f"{summary['event']}: indexed {summary['indexed']}, renamed {len(summary['renamed'])}, "
            f"removed {len(summary['removed'])}, failed {len(summary['failed'])}",
            highlight=False,
        )

    watcher = FolderWatcher(paths, lambda: home_session(container, settings), report, debounce_s=debounce)

    def terminate(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt  # SIGTERM (systemd, kill) stops as cleanly as Ctrl-C: the batch finishes

    # SIGINT too: a process started with SIGINT ignored (a background job of a shell, a parent that ignores
    # it) inherits that, and Python then never raises KeyboardInterrupt, so Ctrl-C or `kill -INT` did nothing.
    signal.signal(signal.SIGTERM, terminate)
    signal.signal(signal.SIGINT, terminate)
    try:
        report(watcher.start())
        if json_out:
            emit_json({"event": "ready", "roots": [str(r) for r in watcher.roots]})
            sys.stdout.flush()
        else:
            err.print(f"watching {', '.join(str(r) for r in watcher.roots)} (Ctrl-C to stop)")
        while True:
            time.sleep(0.5)
    except KeyboardInterrupt:
        pass
    finally:
        watcher.stop()
        if shared:
            shared[0].close()
