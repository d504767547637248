"""Error handling: every error leaves the API as `{"error": {"code", "message"}}` with a fitting status.

`core.errors` map to status codes here, once; routes just raise. The upload body limit lives here too
because its only job is to turn an oversized request into a clean 413 before it fills the disk.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from core.errors import (
    ConfigError,
    ExtractionError,
    InvalidRequestError,
    MmragError,
    ModelUnavailableError,
    NotFoundError,
    StoreError,
    UnsupportedTypeError,
)

log = logging.getLogger(__name__)

# Most specific first: UnsupportedTypeError is an ExtractionError.
STATUS_OF: list[tuple[type[MmragError], int, str]] = [
    (NotFoundError, 404, "not_found"),
    (InvalidRequestError, 400, "invalid_request"),
    (UnsupportedTypeError, 422, "unsupported_type"),
    (ExtractionError, 422, "extraction_failed"),
    (StoreError, 503, "store_unavailable"),
    (ModelUnavailableError, 503, "model_unavailable"),
    (ConfigError, 500, "config_error"),
]

CODE_OF_STATUS = {
    400: "invalid_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "invalid_request",
    429: "too_many_requests",
    501: "not_implemented",
    503: "unavailable",
}


class ApiError(StarletteHTTPException):
    """An HTTP error with a stable code, raised by routes and dependencies."""

    def __init__(self, status: int, code: str, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(status_code=status, detail=message, headers=headers)
        self.code = code


def error_response(
    status: int, code: str, message: str, headers: dict[str, str] | None = None
) -> JSONResponse:
    """The one error body."""
    return JSONResponse({"error": {"code": code, "message": message}}, status_code=status, headers=headers)


def status_of(exc: MmragError) -> tuple[int, str]:
    """Map a domain error to (HTTP status, error code)."""
    for cls, status, code in STATUS_OF:
        if isinstance(exc, cls):
            return status, code
    return 500, "internal_error"


async def _mmrag_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, MmragError)
    status, code = status_of(exc)
    if status >= 500:
        log.error("%s: %s", type(exc).__name__, exc)
    return error_response(status, code, str(exc) or type(exc).__name__)


def _allowed_methods(request: Request) -> str:
    """Every documented method at this path (Starlette names only the first matching route's)."""
    app = request.app
    table = getattr(app.state, "allow_table", None)
    if table is None:
        table = [
            (
                re.compile("^" + re.sub(r"\\{[^/]+?\\}", "[^/]+", re.escape(path)) + "$"),
                {m.upper() for m in ops},
            )
            for path, ops in app.openapi().get("paths", {}).items()
        ]
        app.state.allow_table = table
    methods: set[str] = set()
    for pattern, ops in table:
        if pattern.match(request.url.path):
            methods |= ops | ({"HEAD"} if "GET" in ops else set())
    return ", ".join(sorted(methods))


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    code = getattr(exc, "code", None) or CODE_OF_STATUS.get(exc.status_code, "http_error")
    headers = dict(getattr(exc, "headers", None) or {})
    if exc.status_code == 405:
        headers["Allow"] = _allowed_methods(request) or headers.get("Allow", "")
    return error_response(exc.status_code, code, str(exc.detail), headers or None)


def _describe(err: dict[str, Any]) -> str:
    where = ".".join(str(p) for p in err.get("loc", ()) if p != "body") or "request"
    return f"{where}: {err.get('msg', 'invalid')}"


async def _validation_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = list(exc.errors())
    message = "; ".join(_describe(e) for e in errors[:5]) or "invalid request"
    return error_response(422, "invalid_request", message)


async def _unexpected(_: Request, exc: Exception) -> JSONResponse:
    log.exception("unhandled error: %s", exc)
    return error_response(500, "internal_error", "internal error; see the server log")


def install_error_handlers(app: FastAPI) -> None:
    """Register the handlers that give every error the JSON body."""
    app.add_exception_handler(MmragError, _mmrag_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(Exception, _unexpected)


class BodyLimitMiddleware:
    """Refuses uploads early: a missing/wrong key with 401 and bodies over `max_bytes` with 413.

    The Content-Length header is checked first; chunked bodies are counted as they arrive, so a client
    cannot fill the disk by lying about the size.
    """

    def __init__(
        self,
        app: ASGIApp,
        max_bytes: int,
        paths: tuple[str, ...],
        auth: Callable[[dict[bytes, bytes]], ApiError | None] | None = None,
    ) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.paths = paths
        self.auth = auth  # checked before the body is read: no spooling of uploads nobody may make

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST" or scope["path"] not in self.paths:
            await self.app(scope, receive, send)
            return
        message = (
            f"upload larger than the limit of {self.max_bytes // (1024 * 1024)} MB (MMRAG_MAX_UPLOAD_MB)"
        )
        headers = dict(scope["headers"])
        denied = self.auth(headers) if self.auth is not None else None
        if denied is not None:
            await error_response(401, denied.code, str(denied.detail), dict(denied.headers or {}))(
                scope, receive, send
            )
            return
        await call_with_body_limit(self.app, scope, receive, send, self.max_bytes, message)


async def call_with_body_limit(
    app: ASGIApp, scope: Scope, receive: Receive, send: Send, max_bytes: int, message: str
) -> None:
    """Call `app`, refusing a body over `max_bytes` with 413 `message`: by its Content-Length header before
    anything is read, else counted as it arrives (shared by the upload and the every-endpoint limits)."""
    length = dict(scope["headers"]).get(b"content-length")
    if length is not None and length.isdigit() and int(length) > max_bytes:
        await error_response(413, "payload_too_large", message)(scope, receive, send)
        return
    received = 0

    async def counting_receive() -> Message:
        nonlocal received
        msg = await receive()
        received += len(msg.get("body", b""))
        if received > max_bytes:
            # FastAPI re-raises HTTPExceptions raised while it reads the body: our handler answers.
            raise ApiError(413, "payload_too_large", message)
        return msg

    await app(scope, counting_receive, send)
