"""Endpoints for the CLI on the server's own machine: index local paths, and the doctor report.

Both need the server's local token (`X-Mmrag-Local-Token`, from `server.json` in its home); API keys are
refused, so a remote client can never make the server read its disk. Hidden from the OpenAPI document:
they are a private channel between `mmrag` and the `mmrag serve` that owns the same home.
"""

from __future__ import annotations

import copy
import json
import logging
import queue
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field

from app.api.deps import ContainerDep, LocalDep
from app.container import Container
from core.errors import InvalidRequestError, MmragError

log = logging.getLogger(__name__)

router = APIRouter(prefix="/v1/local", tags=["sources"], include_in_schema=False, dependencies=[LocalDep])


class LocalIndexRequest(BaseModel):
    """Absolute paths of files and folders on the server's disk."""

    paths: list[str] = Field(min_length=1, max_length=10_000)
    follow_links: bool = False
    prune: bool = False


def _line(event: dict[str, Any]) -> bytes:
    return (json.dumps(event, ensure_ascii=False, default=str) + "\n").encode()


def _run(
    container: Container,
    paths: list[Path],
    lock: threading.Lock,
    events: queue.Queue[Any],
    options: dict[str, bool] | None = None,
) -> None:
    """Index in a worker thread, posting progress, then `done` (or `error`), then None.

    `options`: `follow_links` and `prune`, as `Indexer.index_paths` takes them."""
    try:
        with lock:
            report = container.indexer.index_paths(
                paths,
                lambda done, total, uri: events.put(
                    {"event": "progress", "done": done, "total": total, "uri": uri}
                ),
                **(options or {}),
            )
            events.put(
                {"event": "done", "report": report.to_dict(), "unavailable": dict(container.unavailable)}
            )
            # A long-running server never closes the store, so build the search index now (as after a job).
            container.store.optimize()
    except MmragError as exc:
        events.put({"event": "error", "error": {"code": type(exc).__name__, "message": str(exc)}})
    except Exception as exc:  # the status line is sent: report in-band, log the details
        log.exception("local indexing failed")
        events.put({"event": "error", "error": {"code": "internal_error", "message": str(exc)}})
    finally:
        events.put(None)


def _stream(events: queue.Queue[Any]) -> Iterator[bytes]:
    while (event := events.get()) is not None:
        yield _line(event)


@router.post(
    "/index", summary="Index files and folders on the server's disk; NDJSON progress, then the report"
)
def index_local(body: LocalIndexRequest, request: Request, container: ContainerDep) -> StreamingResponse:
    """One JSON object per line: `progress` ({done, total, uri}) per file, then `done` ({report}) or `error`."""
    paths = [Path(p) for p in body.paths]
    relative = [str(p) for p in paths if not p.is_absolute()]
    if relative:
        raise InvalidRequestError(f"paths must be absolute: {', '.join(relative[:5])}")
    missing = [str(p) for p in paths if not p.exists()]
    if missing:
        raise InvalidRequestError(f"no such file or folder: {', '.join(missing[:5])}")
    events: queue.Queue[Any] = queue.Queue()
    lock = request.app.state.runner.write_lock
    # The indexing runs on even if the client goes away: it is idempotent and holds the write lock.
    options = {"follow_links": body.follow_links or container.settings.follow_links, "prune": body.prune}
    threading.Thread(target=_run, args=(container, paths, lock, events, options), daemon=True).start()
    return StreamingResponse(_stream(events), media_type="application/x-ndjson")


@router.get("/doctor", summary="The `mmrag doctor` report of the running server")
def doctor(request: Request, container: ContainerDep) -> dict[str, Any]:
    from app.doctor import diagnose

    # The report closes the container it is given when done: hand it a copy that shares every loaded part.
    borrowed = copy.copy(container)
    borrowed.close = lambda: None  # type: ignore[method-assign]
    report = diagnose(borrowed)
    info = getattr(request.app.state, "server_info", None)
    report["server"] = {"url": info.url, "pid": info.pid} if info is not None else {}
    return report
