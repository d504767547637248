"""`Annotated` dependency aliases the routes declare: the container, the job runner, the API key check."""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import Depends, Request, Security
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from app.api.errors import ApiError
from app.api.jobs import JobRunner
from app.api.uploads import UploadStore
from app.container import Container  # light: the container imports heavy things lazily
from app.home import LOCAL_TOKEN_HEADER
from core.settings import Settings

_api_key_header = APIKeyHeader(name="X-API-Key", auto_error=False, description="An key from MMRAG_API_KEYS.")
_bearer = HTTPBearer(auto_error=False, description="An key from MMRAG_API_KEYS, as a bearer token.")


def get_settings(request: Request) -> Settings:
    return request.app.state.settings


def get_container(request: Request) -> Container:
    """The loaded container; 503 while models are loading or when loading failed."""
    container = getattr(request.app.state, "container", None)
    if container is None or not request.app.state.ready:
        reason = getattr(request.app.state, "load_error", None) or "models are still loading"
        raise ApiError(503, "not_ready", f"not ready: {reason}", headers={"Retry-After": "5"})
    return container


def get_runner(request: Request) -> JobRunner:
    get_container(request)  # jobs need the indexer: same readiness
    return request.app.state.runner


def get_uploads(request: Request) -> UploadStore:
    return request.app.state.uploads


def _presented_key(key: str | None, bearer: HTTPAuthorizationCredentials | None) -> str | None:
    if key:
        return key
    return bearer.credentials if bearer is not None else None


def key_error(settings: Settings, presented: str | None, local_token: str | None = None) -> ApiError | None:
    """The 401 to answer for this presented key, or None when it is accepted (or auth is off).

    The server's local token (from `server.json` in its home, for the CLI on the same machine) counts as a key.
    """
    if not settings.api_keys:
        return None  # auth disabled: `mmrag serve` refuses non-loopback hosts in that case
    if presented and local_token and hmac.compare_digest(presented.encode(), local_token.encode()):
        return None
    if not presented:
        return ApiError(
            401,
            "unauthorized",
            "API key required (X-API-Key header or Authorization: Bearer)",
            headers={"WWW-Authenticate": "Bearer"},
        )
    # Compare against every key in constant time so timing reveals nothing about a matching prefix.
    if not any(hmac.compare_digest(presented.encode(), k.encode()) for k in settings.api_keys):
        return ApiError(401, "unauthorized", "invalid API key", headers={"WWW-Authenticate": "Bearer"})
    return None


def key_from_headers(headers: dict[bytes, bytes]) -> str | None:
    """The key a raw ASGI request presents (for middleware that runs before FastAPI's dependencies)."""
    key = headers.get(b"x-api-key")
    if key:
        return key.decode("latin-1")
    scheme, _, token = headers.get(b"authorization", b"").decode("latin-1").partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


def local_token_of(request: Request) -> str | None:
    """The local token of the `mmrag serve` process behind this app (None when not served by the CLI)."""
    token: str | None = getattr(request.app.state, "local_token", None)
    return token


def _check(request: Request, presented: str | None) -> None:
    error = key_error(get_settings(request), presented, local_token_of(request))
    if error is not None:
        raise error


def require_key(
    request: Request,
    key: Annotated[str | None, Security(_api_key_header)] = None,
    bearer: Annotated[HTTPAuthorizationCredentials | None, Security(_bearer)] = None,
) -> None:
    """Mutating endpoints: a key from MMRAG_API_KEYS is required (when any is configured)."""
    _check(request, _presented_key(key, bearer))


def read_access(
    request: Request,
    key: Annotated[str | None, Security(_api_key_header)] = None,
    bearer: Annotated[HTTPAuthorizationCredentials | None, Security(_bearer)] = None,
) -> None:
    """Read endpoints: a key is required only when MMRAG_AUTH_ALL is set."""
    settings = get_settings(request)
    if settings.auth_all:
        _check(request, _presented_key(key, bearer))


def require_local_token(request: Request) -> None:
    """Endpoints that read the server's own disk: only the local token will do, never an API key.

    The token is in `server.json` in the server's home, readable only by the user who runs the server,
    so a remote client (even one with a valid API key) cannot make the server read local paths.
    """
    token = local_token_of(request)
    presented = request.headers.get(LOCAL_TOKEN_HEADER, "")
    if not token:
        raise ApiError(
            403, "forbidden", "local paths can be indexed only through a server started by `mmrag serve`"
        )
    if not presented or not hmac.compare_digest(presented.encode(), token.encode()):
        raise ApiError(
            403,
            "forbidden",
            f"local paths need this server's local token ({LOCAL_TOKEN_HEADER}, from server.json in its home); "
            "API keys are not accepted here",
        )


SettingsDep = Annotated[Settings, Depends(get_settings)]
ContainerDep = Annotated[Container, Depends(get_container)]
RunnerDep = Annotated[JobRunner, Depends(get_runner)]
UploadsDep = Annotated[UploadStore, Depends(get_uploads)]
ApiKeyDep = Depends(require_key)
ReadDep = Depends(read_access)
LocalDep = Depends(require_local_token)
