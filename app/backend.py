"""What CLI commands call: one small `Backend` interface, local (the Container) or remote (the API).

`app.backend_select.open_backend()` picks: when a `mmrag serve` owns the home (see `app.home`) the commands go through its API
(`app.remote.RemoteBackend`); otherwise this process takes the home's store lock and opens the store itself
(`LocalBackend`). Both return the same JSON-ready shapes, so the CLI prints the same output either way.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from core.errors import InvalidRequestError, NotFoundError
from core.types import SearchFilter

if TYPE_CHECKING:
    from app.container import Container
    from app.home import StoreLock

IndexProgress = Callable[[int, int, str], None]
"""(done files, total files, uri of the last one)."""

SOURCE_PREFIX = 8  # shortest source-id prefix accepted for a source reference


class Backend(Protocol):
    """The operations CLI commands perform on a home. Every result is the CLI's `--json` shape."""

    kind: str  # "local" or "server"

    def index(
        self,
        paths: Sequence[Path],
        progress: IndexProgress | None,
        *,
        follow_links: bool = False,
        prune: bool = False,
    ) -> dict[str, Any]:
        """Index files and folders; the report (`indexed`, `unchanged`, `failed`, `skipped`, `segments`, …)."""
        ...

    def search(self, query: str, k: int, flt: SearchFilter, image: bytes | None) -> dict[str, Any]:
        """`{"hits": [...], "method": ...}`, each hit as `Hit.to_dict()`."""
        ...

    def ask(self, question: str) -> dict[str, Any]:
        """The answer as the API's `/v1/ask` JSON (`text`, `citations`, `route`, `timings`, `abstained`)."""
        ...

    def sources(self) -> list[dict[str, Any]]:
        """Every manifest record as `SourceRecord.to_dict()`."""
        ...

    def delete(self, source_id: str) -> int:
        """Delete one source (full id); the number of points removed."""
        ...

    def doctor(self) -> dict[str, Any]:
        """The `mmrag doctor` report."""
        ...

    def unavailable(self) -> dict[str, str]:
        """Optional spaces that could not load (space -> reason)."""
        ...

    def close(self) -> None: ...


def resolve_source(records: Sequence[dict[str, Any]], ref: str) -> dict[str, Any]:
    """The source a reference names: full id, uri (as given or resolved), or a unique id prefix (8+ chars).

    Raises:
        NotFoundError: nothing matches.
        InvalidRequestError: the prefix is too short or matches several sources.
    """
    for r in records:
        if r["source_id"] == ref:
            return r
    absolute = str(Path(ref).expanduser().resolve()) if ref else ref
    for r in records:
        if r["uri"] in (ref, absolute):
            return r
    matches = [r for r in records if r["source_id"].startswith(ref)] if ref else []
    if matches and len(ref) < SOURCE_PREFIX:
        raise InvalidRequestError(
            f"source id prefix {ref!r} is too short: give at least {SOURCE_PREFIX} chars"
        )
    if len(matches) > 1:
        shown = ", ".join(r["source_id"][:12] for r in matches[:5])
        raise InvalidRequestError(f"source id prefix {ref!r} is ambiguous: {shown}; give more characters")
    if matches:
        return matches[0]
    raise NotFoundError(f"no such source: {ref}")


def resolve_filter_sources(backend: Backend, flt: SearchFilter) -> SearchFilter:
    """The filter with each `--source` reference (short id, prefix or uri) replaced by its full id."""
    if not flt.source_ids:
        return flt
    records = backend.sources()
    ids = tuple(resolve_source(records, ref)["source_id"] for ref in flt.source_ids)
    return SearchFilter(modalities=flt.modalities, granularities=flt.granularities, source_ids=ids)


class LocalBackend:
    """This process opens the store itself (holding the home's store lock, if any, until `close`)."""

    kind = "local"

    def __init__(self, make_container: Callable[[], Container], lock: StoreLock | None = None) -> None:
        self._make = make_container
        self._container: Container | None = None
        self._lock = lock

    @property
    def container(self) -> Container:
        if self._container is None:
            self._container = self._make()
        return self._container

    def index(
        self,
        paths: Sequence[Path],
        progress: IndexProgress | None,
        *,
        follow_links: bool = False,
        prune: bool = False,
    ) -> dict[str, Any]:
        indexer = self.container.indexer
        follow = follow_links or indexer.follow_links
        return indexer.index_paths(list(paths), progress, follow_links=follow, prune=prune).to_dict()

    def index_ray(self, paths: Sequence[Path], progress: IndexProgress | None, address: str | None) -> Any:
        """`--engine ray`: extraction and encoding as Ray Data stages (local only)."""
        from app.ray_components import ray_indexer

        return ray_indexer(self.container, address).index_paths(list(paths), progress).to_dict()

    def search(self, query: str, k: int, flt: SearchFilter, image: bytes | None) -> dict[str, Any]:
        from retrieval.query import Query

        picture = _picture(image) if image is not None else None
        result = self.container.retriever.search(Query(text=query, image=picture, filters=flt, k=k))
        return {"hits": [h.to_dict() for h in result], "method": result.method}

    def ask(self, question: str) -> dict[str, Any]:
        from app.api.routes.ask import answer_out

        return answer_out(None, self.container.rag.ask(question)).model_dump()

    def sources(self) -> list[dict[str, Any]]:
        return [r.to_dict() for r in self.container.manifest.sources()]

    def delete(self, source_id: str) -> int:
        return self.container.delete_source(source_id)

    def doctor(self) -> dict[str, Any]:
        from app.doctor import diagnose

        return diagnose(self.container)

    def unavailable(self) -> dict[str, str]:
        return dict(self._container.unavailable) if self._container is not None else {}

    def close(self) -> None:
        try:
            if self._container is not None:
                self._container.close()
        finally:
            if self._lock is not None:
                self._lock.release()


def _picture(data: bytes) -> Any:
    import io

    from PIL import Image

    with Image.open(io.BytesIO(data)) as img:
        return img.convert("RGB")
