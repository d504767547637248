"""The CLI's backend when a `mmrag serve` owns the home: the same operations over its REST API (httpx).

Authenticates with the local token from the home's `server.json` (readable only by the user), which the
server accepts like an API key and, unlike an API key, for indexing paths on its own disk.
"""

from __future__ import annotations

import base64
import json
import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import httpx

from app.backend import IndexProgress
from app.home import LOCAL_TOKEN_HEADER, ServerInfo
from core.errors import InvalidRequestError, MmragError, NotFoundError
from core.types import SearchFilter


class ServerError(MmragError):
    """The server answered with an error, or stopped answering."""


class RemoteBackend:
    """Talks to the server that owns the home."""

    kind = "server"

    def __init__(self, info: ServerInfo, timeout: float = 3600.0) -> None:
        self.info = info
        self._unavailable: dict[str, str] = {}
        self.http = httpx.Client(
            base_url=info.url,
            headers={"Authorization": f"Bearer {info.token}", LOCAL_TOKEN_HEADER: info.token},
            timeout=httpx.Timeout(timeout, connect=5.0),
        )

    # --- transport --------------------------------------------------------------------------------------
    def _request(self, method: str, path: str, **kwargs: Any) -> Any:
        try:
            response = self.http.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            raise ServerError(f"the mmrag server at {self.info.url} stopped answering ({exc})") from exc
        _raise_for(response)
        return response.json()

    def _stream_lines(self, path: str, body: dict[str, Any]) -> Iterator[dict[str, Any]]:
        try:
            with self.http.stream("POST", path, json=body) as response:
                if response.status_code >= 400:
                    response.read()
                    _raise_for(response)
                for line in response.iter_lines():
                    if line.strip():
                        yield json.loads(line)
        except httpx.HTTPError as exc:
            raise ServerError(f"the mmrag server at {self.info.url} stopped answering ({exc})") from exc

    # --- Backend ----------------------------------------------------------------------------------------
    def index(
        self,
        paths: Sequence[Path],
        progress: IndexProgress | None,
        *,
        follow_links: bool = False,
        prune: bool = False,
    ) -> dict[str, Any]:
        body = {
            "paths": [os.path.abspath(Path(p).expanduser()) for p in paths],
            "follow_links": follow_links,
            "prune": prune,
        }
        report: dict[str, Any] | None = None
        for event in self._stream_lines("/v1/local/index", body):
            kind = event.get("event")
            if kind == "progress" and progress is not None:
                progress(int(event["done"]), int(event["total"]), str(event["uri"]))
            elif kind == "done":
                report = event["report"]
                self._unavailable = dict(event.get("unavailable") or {})
            elif kind == "error":
                raise ServerError(str(event.get("error", {}).get("message", event)))
        if report is None:
            raise ServerError(f"the mmrag server at {self.info.url} ended the indexing stream early")
        return report

    def search(self, query: str, k: int, flt: SearchFilter, image: bytes | None) -> dict[str, Any]:
        body: dict[str, Any] = {
            "query": query,
            "k": k,
            "modality": [m.value for m in flt.modalities],
            "granularity": [g.value for g in flt.granularities],
            "source_ids": list(flt.source_ids),
        }
        if image is not None:
            body["image"] = base64.b64encode(image).decode("ascii")
        data = self._request("POST", "/v1/search", json=body)
        hits = [_as_cli_hit(h) for h in data["hits"]]
        return {"hits": hits, "method": data.get("method", "hybrid")}

    def ask(self, question: str) -> dict[str, Any]:
        result: dict[str, Any] = self._request("POST", "/v1/ask", json={"question": question})
        return result

    def sources(self) -> list[dict[str, Any]]:
        data = self._request("GET", "/v1/sources")
        return [{k: v for k, v in s.items() if k != "file_url"} for s in data["sources"]]

    def delete(self, source_id: str) -> int:
        return int(self._request("DELETE", f"/v1/sources/{source_id}")["deleted_points"])

    def doctor(self) -> dict[str, Any]:
        result: dict[str, Any] = self._request("GET", "/v1/local/doctor")
        return result

    def unavailable(self) -> dict[str, str]:
        return self._unavailable

    def close(self) -> None:
        self.http.close()


def _as_cli_hit(hit: dict[str, Any]) -> dict[str, Any]:
    """An API hit in `Hit.to_dict()`'s shape: no server URLs, optional fields only when set."""
    return {
        k: v
        for k, v in hit.items()
        if k not in ("media_url", "file_url") and not (v is None and k in OPTIONAL)
    }


OPTIONAL = ("relevance",)  # hit fields `Hit.to_dict()` leaves out when unset (the API sends null)


def _raise_for(response: httpx.Response) -> None:
    """Turn an API error body (`{"error": {"code", "message"}}`) into the matching MmragError."""
    if response.status_code < 400:
        return
    try:
        message = response.json()["error"]["message"]
    except (ValueError, KeyError, TypeError):
        message = response.text[:300] or response.reason_phrase
    if response.status_code == 404:
        raise NotFoundError(message)
    if response.status_code in (400, 422):
        raise InvalidRequestError(message)
    raise ServerError(f"server: {message} (HTTP {response.status_code})")
