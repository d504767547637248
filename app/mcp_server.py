"""`mmrag mcp`: the collection over the Model Context Protocol (official `mcp` SDK, `MCPServer`).

Tools: `search` (text and/or an image, filters, k), `ask` (answer + citations + conflicts), `sources`, and
`index` (paths; registered only when enabled with `--allow-index` or `MMRAG_MCP_INDEX=true`, because an
agent that may index may also read any file the user can). Every hit carries its uri, locator and a short
text; visual hits (photos, video frames and clips) also come back as MCP image content (the stored JPEG
thumbnail or keyframe), so an agent can look at what it found.

Each call goes through `app.backend_select.open_backend`, like a CLI command: when `mmrag serve` owns the home the
call is made through its API, otherwise this process takes the home's store lock for the call and releases
it afterwards (models stay loaded between calls), so `mmrag index`/`search` in a terminal still work while
an agent keeps the MCP server running.

Transports: stdio (default, what desktop clients start), or streamable HTTP (`--transport http`, path
`/mcp`) protected by the REST API's keys (`MMRAG_API_KEYS`, `X-API-Key` or `Authorization: Bearer`); without
keys it serves loopback only.
"""

from __future__ import annotations

import base64
import json
import logging
from collections.abc import Awaitable, Callable, MutableMapping
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from core.errors import InvalidRequestError, MmragError
from core.types import Granularity, Modality, SearchFilter

if TYPE_CHECKING:
    from mcp.server.mcpserver import MCPServer
    from mcp_types import ImageContent, TextContent

    from app.backend import Backend
    from app.container import Container
    from core.settings import Settings

log = logging.getLogger(__name__)

Content = Any  # mcp_types.TextContent | ImageContent (the SDK is imported lazily: it takes seconds)
VISUAL = frozenset({"image", "frame", "clip", "video"})  # granularities with a thumbnail or keyframe
SNIPPET_CHARS = 400
INSTRUCTIONS = (
    "Search and question answering over the user's own files (documents, photos, videos, recordings). "
    "`search` finds passages, pictures and moments; `ask` answers with numbered citations and says when "
    "the sources disagree; `sources` lists what is indexed. Cite hits by their uri and locator."
)


class McpTools:
    """The tool bodies, independent of the protocol: each opens a backend for the call and closes it.

    Args:
        open_backend: Returns the backend for one call (`purpose` as in `app.backend_select.open_backend`).
        max_images: Most image content items per result.
    """

    def __init__(self, open_backend: Callable[[str, bool], Backend], max_images: int = 4) -> None:
        self.open_backend = open_backend
        self.max_images = max_images

    def search(
        self,
        query: str = "",
        image_path: str | None = None,
        image_base64: str | None = None,
        modality: list[str] | None = None,
        granularity: list[str] | None = None,
        source_ids: list[str] | None = None,
        k: int = 5,
    ) -> list[Content]:
        """Hits as one JSON text item, then an image item (with a caption) per visual hit."""
        image = _image_bytes(image_path, image_base64)
        if not query.strip() and image is None:
            raise InvalidRequestError("give a query, an image, or both")
        flt = _filter(modality, granularity, source_ids)
        backend = self.open_backend("search", True)
        try:
            found = backend.search(query, max(1, min(k, 100)), flt, image)
            hits = [_short_hit(n, h) for n, h in enumerate(found["hits"], start=1)]
            pictures = self._pictures(backend, [(h["n"], h) for h in hits if h["granularity"] in VISUAL])
        finally:
            backend.close()
        head = _text(json.dumps({"hits": hits, "method": found.get("method")}))
        return [head, *pictures]

    def ask(self, question: str) -> list[Content]:
        """The answer with numbered citations (and conflicts) as JSON, then pictures of visual citations."""
        if not question.strip():
            raise InvalidRequestError("the question is empty")
        backend = self.open_backend("ask", True)
        try:
            answer = backend.ask(question)
            citations = [_short_hit(c["n"], c) for c in answer.get("citations", [])]
            pictures = self._pictures(backend, [(c["n"], c) for c in citations if c["granularity"] in VISUAL])
        finally:
            backend.close()
        body = {
            "answer": answer.get("text", answer.get("answer", "")),
            "citations": citations,
            "conflicts": answer.get("conflicts", []),
            "abstained": answer.get("abstained", False),
        }
        return [_text(json.dumps(body)), *pictures]

    def sources(self) -> list[Content]:
        """Every source in the manifest: id, uri, status, segment count."""
        backend = self.open_backend("sources", False)
        try:
            records = backend.sources()
        finally:
            backend.close()
        keep = ("source_id", "uri", "mime", "status", "error", "segments", "indexed_at")
        rows = [{k: r.get(k) for k in keep} for r in records]
        return [_text(json.dumps({"sources": rows}))]

    def index(self, paths: list[str]) -> list[Content]:
        """Index files and folders on this machine (unchanged files are skipped)."""
        missing = [p for p in paths if not Path(p).expanduser().exists()]
        if not paths or missing:
            raise InvalidRequestError(f"no such file or folder: {', '.join(missing) or '(none given)'}")
        backend = self.open_backend("index", True)
        try:
            report = backend.index([Path(p).expanduser() for p in paths], None)
        finally:
            backend.close()
        return [_text(json.dumps(report))]

    def _pictures(self, backend: Backend, hits: list[tuple[int, dict[str, Any]]]) -> list[Content]:
        out: list[Content] = []
        for n, hit in hits:
            if len(out) >= 2 * self.max_images:
                break
            data = media_bytes(backend, hit["segment_id"])
            if data is None:
                continue
            out.append(_text(f"[{n}] {hit['granularity']} from {hit['uri']}"))
            out.append(_jpeg(data))
        return out


def media_bytes(backend: Backend, segment_id: str) -> bytes | None:
    """The stored thumbnail / keyframe (JPEG) of a segment, locally or through the server; None if none."""
    from app.backend import LocalBackend

    if isinstance(backend, LocalBackend):
        container = backend.container
        segments = container.store.get([segment_id])
        if not segments or not segments[0].media_ref:
            return None
        path = container.media.path(segments[0].source_id, segments[0].media_ref)
        return path.read_bytes() if path.is_file() else None
    http = getattr(backend, "http", None)  # RemoteBackend: GET /v1/media/{segment_id}
    if http is None:
        return None
    response = http.get(f"/v1/media/{segment_id}")
    return response.content if response.status_code == 200 else None


def build_server(tools: McpTools, *, allow_index: bool = False) -> MCPServer[Any]:
    """An `MCPServer` exposing `tools`; blocking work runs in worker threads."""
    import anyio
    from mcp.server.mcpserver import MCPServer
    from mcp.server.mcpserver.exceptions import ToolError

    async def run(work: Callable[[], list[Any]]) -> list[Any]:
        """Blocking work in a thread; our errors reach the agent as their one-line message."""
        try:
            return await anyio.to_thread.run_sync(work)
        except MmragError as exc:
            raise ToolError(" ".join(str(exc).split())) from exc

    server: MCPServer[Any] = MCPServer(name="mmrag", instructions=INSTRUCTIONS)

    @server.tool(structured_output=False)
    async def search(
        query: str = "",
        image_path: str | None = None,
        image_base64: str | None = None,
        modality: list[str] | None = None,
        granularity: list[str] | None = None,
        source_ids: list[str] | None = None,
        k: int = 5,
    ) -> list[Any]:
        """Search the user's indexed files by text, by an image (a local path or base64), or both.

        Filters: modality (text, image, video, audio), granularity (paragraph, document, image, frame, clip,
        video), source_ids. Returns JSON hits (n, uri, locator, text, score, segment_id) and, for photos and
        video moments, their pictures as image content.
        """
        return await run(
            lambda: tools.search(query, image_path, image_base64, modality, granularity, source_ids, k)
        )

    @server.tool(structured_output=False)
    async def ask(question: str) -> list[Any]:
        """Answer a question from the user's files with numbered citations [n]; reports conflicting sources."""
        return await run(lambda: tools.ask(question))

    @server.tool(structured_output=False)
    async def sources() -> list[Any]:
        """List the indexed files: source id, uri, status (indexed, failed) and number of segments."""
        return await run(tools.sources)

    if allow_index:

        @server.tool(structured_output=False)
        async def index(paths: list[str]) -> list[Any]:
            """Index files and folders (recursively) on this machine; unchanged files are skipped."""
            return await run(lambda: tools.index(paths))

    return server


def local_tools(make_container: Callable[[], Container]) -> McpTools:
    """Tools that open the home like CLI commands do, sharing one container (models load once)."""
    from app.backend_select import open_backend

    shared: list[Container] = []

    def container() -> Container:
        if not shared:
            shared.append(make_container())
        return shared[0]

    return McpTools(lambda purpose, store: open_backend(purpose, container, store=store))


def keyed_app(app: Any, settings: Settings) -> Callable[..., Awaitable[None]]:
    """Wrap the streamable-HTTP ASGI app: every request needs a key from MMRAG_API_KEYS (when any is set)."""
    from app.api.deps import key_error, key_from_headers

    async def guarded(
        scope: MutableMapping[str, Any], receive: Callable[..., Any], send: Callable[..., Any]
    ) -> None:
        if scope["type"] == "http":
            error = key_error(settings, key_from_headers(dict(scope.get("headers") or [])))
            if error is not None:
                body = json.dumps({"error": {"code": error.code, "message": error.detail}}).encode()
                headers = [(b"content-type", b"application/json"), (b"www-authenticate", b"Bearer")]
                await send({"type": "http.response.start", "status": 401, "headers": headers})
                await send({"type": "http.response.body", "body": body})
                return
        await app(scope, receive, send)

    return guarded


def _short_hit(n: int, hit: dict[str, Any]) -> dict[str, Any]:
    text = " ".join(str(hit.get("text") or "").split())
    out = {
        "n": n,
        "uri": hit.get("uri"),
        "locator": hit.get("locator") or {},
        "text": text[:SNIPPET_CHARS] + ("…" if len(text) > SNIPPET_CHARS else ""),
        "granularity": hit.get("granularity"),
        "modality": hit.get("modality"),
        "segment_id": hit.get("segment_id"),
        "source_id": hit.get("source_id"),
    }
    if "score" in hit:
        out["score"] = hit["score"]
    return out


def _filter(
    modality: list[str] | None, granularity: list[str] | None, source_ids: list[str] | None
) -> SearchFilter:
    try:
        return SearchFilter(
            modalities=tuple(Modality(m) for m in modality or ()),
            granularities=tuple(Granularity(g) for g in granularity or ()),
            source_ids=tuple(source_ids or ()),
        )
    except ValueError as exc:
        raise InvalidRequestError(
            f"{exc}; modality is one of {[m.value for m in Modality]}, "
            f"granularity one of {[g.value for g in Granularity]}"
        ) from exc


def _image_bytes(path: str | None, data: str | None) -> bytes | None:
    if path:
        file = Path(path).expanduser()
        if not file.is_file():
            raise InvalidRequestError(f"{path}: no such image file")
        return file.read_bytes()
    if data:
        try:
            return base64.b64decode(data, validate=True)
        except ValueError as exc:
            raise InvalidRequestError(f"image_base64 is not base64: {exc}") from exc
    return None


def mcp(
    transport: Annotated[
        str, typer.Option(help="stdio (default) or http (streamable HTTP at /mcp).")
    ] = "stdio",
    host: Annotated[str, typer.Option(help="Interface for --transport http.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="TCP port for --transport http.")] = 8765,
    allow_index: Annotated[
        bool,
        typer.Option(
            "--allow-index", help="Offer the `index` tool (also MMRAG_MCP_INDEX=true); off by default."
        ),
    ] = False,
) -> None:
    """Serve the collection to AI agents over the Model Context Protocol (tools: search, ask, sources, index).

    Add it to a client as the command `mmrag mcp` (stdio); see docs/mcp.md.
    """
    import os

    from app.cli.output import err, fail
    from app.container import Container
    from core.settings import Settings

    settings = Settings()
    enabled = allow_index or os.environ.get("MMRAG_MCP_INDEX", "").strip().lower() in (
        "1",
        "true",
        "yes",
        "on",
    )
    server = build_server(local_tools(Container), allow_index=enabled)
    if transport == "stdio":
        server.run("stdio")
        return
    if transport != "http":
        raise fail(f"unknown transport {transport!r}: use stdio or http")
    from app.cli.serve import _is_loopback

    if not settings.api_keys and not _is_loopback(host):
        raise fail(f"refusing to serve MCP on {host} without API keys: set MMRAG_API_KEYS")
    import uvicorn

    err.print(f"serving MCP (streamable HTTP) on http://{host}:{port}/mcp, data in {settings.home}")
    app = keyed_app(server.streamable_http_app(host=host), settings)
    uvicorn.run(app, host=host, port=port, log_level="warning")


def _text(text: str) -> TextContent:
    from mcp_types import TextContent

    return TextContent(type="text", text=text)


def _jpeg(data: bytes) -> ImageContent:
    from mcp_types import ImageContent

    return ImageContent(type="image", data=base64.b64encode(data).decode(), mime_type="image/jpeg")
