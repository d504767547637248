"""HTTP client of the mmrag REST API, used by the Streamlit UI (the UI imports nothing else from mmrag).

Configuration: `MMRAG_API_URL` (default http://127.0.0.1:8000) and `MMRAG_API_KEY` (sent as `X-API-Key`;
needed for uploads and deletes when the API has keys, and for everything with MMRAG_AUTH_ALL).
"""

from __future__ import annotations

import base64
import json
import os
from collections.abc import Iterator
from typing import Any

import httpx


class ApiError(Exception):
    """An error answer from the API (or no answer): status, code and a readable message."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


class ApiClient:
    """Thin typed wrapper over the REST endpoints; every failure becomes an `ApiError`."""

    def __init__(self, base_url: str | None = None, api_key: str | None = None, timeout: float = 120) -> None:
        self.base_url = (base_url or os.environ.get("MMRAG_API_URL") or "http://127.0.0.1:8000").rstrip("/")
        key = api_key if api_key is not None else os.environ.get("MMRAG_API_KEY", "")
        headers = {"X-API-Key": key} if key else {}
        self._http = httpx.Client(base_url=self.base_url, headers=headers, timeout=timeout)

    # --- plumbing ---------------------------------------------------------------------------------------
    def _request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        try:
            response = self._http.request(method, url, **kwargs)
        except httpx.HTTPError as exc:
            raise ApiError(0, "unreachable", f"cannot reach the API at {self.base_url}: {exc}") from exc
        if response.status_code >= 400:
            raise _error(response)
        return response

    def _json(self, method: str, url: str, **kwargs: Any) -> Any:
        return self._request(method, url, **kwargs).json()

    # --- endpoints --------------------------------------------------------------------------------------
    def ready(self) -> dict[str, Any]:
        """`/readyz` as JSON (also when it answers 503, which means loading or failed)."""
        try:
            return self._http.get("/readyz").json()
        except (httpx.HTTPError, ValueError) as exc:
            return {"status": "unreachable", "error": f"cannot reach the API at {self.base_url}: {exc}"}

    def upload(self, files: list[tuple[str, bytes]]) -> dict[str, Any]:
        """Upload (name, bytes) pairs; returns the accepted job."""
        parts = [("files", (name, data, "application/octet-stream")) for name, data in files]
        return self._json("POST", "/v1/sources", files=parts)

    def job(self, job_id: str) -> dict[str, Any]:
        return self._json("GET", f"/v1/jobs/{job_id}")

    def sources(self) -> list[dict[str, Any]]:
        return self._json("GET", "/v1/sources")["sources"]

    def watched(self) -> list[str]:
        """Folders the server keeps indexed (its MMRAG_WATCH setting)."""
        return list(self._json("GET", "/v1/sources").get("watched", []))

    def delete(self, source_id: str) -> dict[str, Any]:
        return self._json("DELETE", f"/v1/sources/{source_id}")

    def search(
        self,
        query: str,
        k: int = 12,
        modality: list[str] | None = None,
        granularity: list[str] | None = None,
        image: bytes | None = None,
    ) -> dict[str, Any]:
        body: dict[str, Any] = {
            "query": query,
            "k": k,
            "modality": modality or [],
            "granularity": granularity or [],
        }
        if image is not None:
            body["image"] = base64.b64encode(image).decode()
        return self._json("POST", "/v1/search", json=body)

    def ask(self, question: str) -> dict[str, Any]:
        return self._json("POST", "/v1/ask", json={"question": question})

    def ask_stream(self, question: str) -> Iterator[tuple[str, Any]]:
        """Yield (event, data) pairs from the Server-Sent Events answer stream."""
        try:
            with self._http.stream(
                "POST", "/v1/ask", json={"question": question, "stream": True}
            ) as response:
                if response.status_code >= 400:
                    response.read()
                    raise _error(response)
                yield from _parse_sse(response.iter_lines())
        except httpx.HTTPError as exc:
            raise ApiError(0, "unreachable", f"the answer stream broke: {exc}") from exc

    def get_bytes(self, url: str) -> bytes:
        """Bytes of an API-relative URL such as a hit's `media_url` or `file_url`."""
        return self._request("GET", url).content


def _error(response: httpx.Response) -> ApiError:
    try:
        body = response.json()["error"]
        return ApiError(response.status_code, body["code"], body["message"])
    except (ValueError, KeyError, TypeError):
        return ApiError(
            response.status_code, "http_error", f"HTTP {response.status_code}: {response.text[:200]}"
        )


def _parse_sse(lines: Iterator[str]) -> Iterator[tuple[str, Any]]:
    event, data = "message", list[str]()
    for line in lines:
        if not line:
            if data:
                yield event, json.loads("\n".join(data))
            event, data = "message", []
        elif line.startswith("event:"):
            event = line[6:].strip()
        elif line.startswith("data:"):
            data.append(line[5:].strip())
    if data:
        yield event, json.loads("\n".join(data))
