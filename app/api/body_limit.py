"""A body limit for every endpoint: JSON requests (search, ask, delete...) are small, so a request body
over `max_body_kb` is refused with 413 before it is read into memory (a 1 GiB JSON body to `/v1/search`
once took the server from 1.8 to 4.6 GB). Uploads have their own, larger limit (`BodyLimitMiddleware`).
"""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send

from app.api.errors import call_with_body_limit


class RequestBodyLimit:
    """Refuses request bodies over `max_bytes` on every path except `exempt` (the upload endpoint).

    The Content-Length header is checked first; bodies without one are counted as they arrive.
    """

    def __init__(self, app: ASGIApp, max_bytes: int, exempt: tuple[str, ...] = ()) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.exempt = exempt

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in self.exempt:
            await self.app(scope, receive, send)
            return
        message = f"request body larger than the limit of {self.max_bytes // 1024} KB (MMRAG_MAX_BODY_KB)"
        await call_with_body_limit(self.app, scope, receive, send, self.max_bytes, message)
