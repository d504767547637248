"""qdrant-client calls with retries: transient failures (connection refused, timeouts, 429/5xx) are retried
with exponential backoff; anything else, or a store that stays unreachable, is one `StoreError` line."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any, TypeVar

from core.errors import StoreError

logger = logging.getLogger(__name__)

T = TypeVar("T")
RETRY_STATUS = {429, 500, 502, 503, 504}


def call_with_retries(
    where: str, what: str, fn: Callable[..., T], retries: int, backoff_s: float, *args: Any, **kwargs: Any
) -> T:
    """Run one client call; retry transient failures `retries` times with exponential backoff.

    Args:
        where: the store, for messages ("Qdrant at http://...").
        what: the operation, for messages ("writing points").

    Raises:
        StoreError: a non-transient failure, or the last attempt failed.
    """
    for attempt in range(retries + 1):
        try:
            return fn(*args, **kwargs)
        except Exception as exc:
            if not transient(exc):
                raise StoreError(f"{where}: {what} failed: {reason(exc)}") from exc
            if attempt == retries:
                raise StoreError(
                    f"{where} is unreachable ({what} failed after {attempt + 1} attempts): {reason(exc)}"
                ) from exc
            delay = backoff_s * 2**attempt
            logger.warning("%s: %s failed (%s); retrying in %.1f s", where, what, reason(exc), delay)
            time.sleep(delay)
    raise AssertionError("unreachable")  # the loop always returns or raises


def transient(exc: BaseException) -> bool:
    """Worth retrying: the connection failed or the server said it is busy or broken."""
    import httpx
    from qdrant_client.http.exceptions import ResponseHandlingException, UnexpectedResponse

    if isinstance(exc, UnexpectedResponse):
        return exc.status_code in RETRY_STATUS
    return isinstance(exc, ResponseHandlingException | httpx.TransportError | ConnectionError | TimeoutError)


def reason(exc: BaseException) -> str:
    """One line: the innermost cause of a wrapped connection error is the informative part."""
    inner = getattr(exc, "source", None) or exc.__cause__ or exc
    return (str(inner) or type(inner).__name__).splitlines()[0]
