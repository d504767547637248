"""The FastAPI application: `create_app(settings)`; models and store load in the lifespan.

Run it with `mmrag serve` (uvicorn). Loading happens once at startup; until it is done (or if it failed)
`/readyz` answers 503 with the reason and every route that needs the models answers 503 too, while
`/healthz` (liveness) answers 200 as soon as the process serves.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import anyio
from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware

from app.api.body_limit import RequestBodyLimit
from app.api.deps import key_error, key_from_headers
from app.api.errors import BodyLimitMiddleware, install_error_handlers
from app.api.jobs import JobRunner, JobStore
from app.api.routes import ask, health, jobs, local, media, search, sources
from app.api.uploads import UploadStore
from app.container import Container
from core.errors import MmragError
from core.settings import Settings

log = logging.getLogger(__name__)

DESCRIPTION = """
Multimodal retrieval and RAG over your photos, videos, recordings and documents, with cited answers.

* **Ingest**: `POST /v1/sources` uploads files and returns a job; follow it at `GET /v1/jobs/{id}`.
* **Search**: `POST /v1/search` (hybrid dense + lexical + CLIP image space; composed text + image queries).
* **Ask**: `POST /v1/ask` answers with numbered citations; `"stream": true` streams Server-Sent Events.
* **Evidence**: `GET /v1/media/{segment_id}` serves a hit's thumbnail, page render or keyframe.

Mutating endpoints need an API key from `MMRAG_API_KEYS` (`X-API-Key` header or `Authorization: Bearer`);
with `MMRAG_AUTH_ALL=true` every `/v1` endpoint does. Every error has the body
`{"error": {"code": "...", "message": "..."}}`.
"""

TAGS = [
    {"name": "sources", "description": "Upload, list and delete indexed files; ingestion jobs."},
    {"name": "search", "description": "Retrieval and question answering."},
    {"name": "media", "description": "Pictures and original files behind hits and citations."},
    {"name": "health", "description": "Liveness and readiness probes."},
]


def _load(container: Container) -> None:
    """Load every model and open the store now, so the first request is not the slow one."""
    container.text_encoder  # noqa: B018 - cached properties: touching them loads
    container.image_encoder  # noqa: B018
    container.store  # noqa: B018
    container.manifest  # noqa: B018
    container.indexer  # noqa: B018
    container.retriever  # noqa: B018
    try:
        container.rag  # noqa: B018
    except (MmragError, ImportError) as exc:  # search still works without the answer pipeline
        log.warning("question answering unavailable: %s", exc)
        container.unavailable["rag"] = str(exc)


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    settings: Settings = app.state.settings
    container = Container(settings)
    app.state.container = container
    app.state.ready = False
    app.state.load_error = None
    if not settings.api_keys:
        log.warning("MMRAG_API_KEYS is empty: mutating endpoints accept requests without a key")
    try:
        await anyio.to_thread.run_sync(_load, container)
        app.state.ready = True
        app.state.runner.start()
        if settings.watch:  # MMRAG_WATCH: keep these folders indexed (app/watch.py)
            from app.watch import start_in_server

            app.state.watcher = start_in_server(settings.watch, container, app.state.runner.write_lock)
    except Exception as exc:  # serve /healthz and a 503 /readyz that says why, instead of a crash loop
        log.exception("loading failed")
        app.state.load_error = f"{type(exc).__name__}: {exc}"
    try:
        yield
    finally:
        if getattr(app.state, "watcher", None) is not None:
            app.state.watcher.stop()
        app.state.runner.stop()
        app.state.ready = False
        container.close()


MUTATING = {("post", "/v1/sources"), ("delete", "/v1/sources/{source_id}")}


def _refine_openapi(app: FastAPI, settings: Settings) -> None:
    """Say in the spec that reads take a key but do not require one (unless MMRAG_AUTH_ALL), and more.

    FastAPI lists the key schemes as required wherever they are declared; an empty requirement `{}` in
    `security` is OpenAPI's way to say "or no credentials".
    """
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            spec = build()
            # FastAPI drops constraints on a list of files; an upload needs at least one
            body = spec.get("components", {}).get("schemas", {}).get("Body_upload_v1_sources_post")
            if body is not None:
                body["properties"]["files"].update(minItems=1, maxItems=settings.max_upload_files)
            for path, ops in spec.get("paths", {}).items():
                for method, op in ops.items():
                    optional = not settings.api_keys or (
                        (method, path) not in MUTATING and not settings.auth_all
                    )
                    if "security" in op and optional:
                        op["security"] = [{}, *op["security"]]
            app.openapi_schema = spec
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def create_app(settings: Settings | None = None, local_token: str | None = None) -> FastAPI:
    """Build the API for these settings (default: from the environment).

    Args:
        settings: the configuration (default: from the environment).
        local_token: the token `mmrag serve` publishes in the home's `server.json`: it lets the CLI on this
            machine in (like an API key) and is the only credential that may index the server's local paths.
    """
    settings = settings or Settings()
    app = FastAPI(
        title="mmrag",
        version="0.1.0",
        description=DESCRIPTION,
        openapi_tags=TAGS,
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.local_token = local_token
    uploads = UploadStore(settings.home / "uploads")
    app.state.uploads = uploads
    app.state.jobs = JobStore(settings.db_path)
    app.state.ready = False
    app.state.runner = JobRunner(app.state.jobs, uploads, lambda: app.state.container.indexer)
    install_error_handlers(app)
    _refine_openapi(app, settings)
    for module in (health, sources, jobs, search, ask, media, local):
        app.include_router(module.router)
    app.add_middleware(
        BodyLimitMiddleware,
        max_bytes=settings.max_upload_mb * 1024 * 1024,
        paths=("/v1/sources",),
        auth=lambda headers: key_error(settings, key_from_headers(headers), local_token),
    )
    # Every other endpoint takes small JSON: refuse big bodies before reading them (issue 13).
    app.add_middleware(RequestBodyLimit, max_bytes=settings.max_body_kb * 1024, exempt=("/v1/sources",))
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "POST", "DELETE"],
            allow_headers=["X-API-Key", "Authorization", "Content-Type", "Accept"],
        )
    return app
