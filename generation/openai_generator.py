"""A generator for any OpenAI-compatible chat endpoint (vLLM, Ollama, llama.cpp server, OpenAI).

Plain `httpx` against `POST {base_url}/chat/completions`; pictures of visual evidence go as `image_url` parts
with base64 data URLs (so the server needs no access to our media), and `stream()` reads the server-sent
events (`data: {...}` lines, ending with `data: [DONE]`).
"""

from __future__ import annotations

import base64
import io
import json
import logging
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from core.errors import ModelUnavailableError
from core.types import Segment
from generation.prompted_generator import PromptedGenerator
from generation.prompts import Prompt

if TYPE_CHECKING:
    from PIL.Image import Image

log = logging.getLogger(__name__)


def data_url(image: Image, max_side: int = 768) -> str:
    """A JPEG data URL of the picture, downscaled to `max_side`."""
    picture = image.convert("RGB")
    picture.thumbnail((max_side, max_side))
    buffer = io.BytesIO()
    picture.save(buffer, format="JPEG", quality=85)
    return "data:image/jpeg;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def to_messages(prompt: Prompt) -> list[dict[str, Any]]:
    """OpenAI chat messages: a system message and one user message (text + image parts)."""
    content: list[dict[str, Any]] = []
    for part in prompt.parts:
        if part.image is not None:
            content.append({"type": "image_url", "image_url": {"url": data_url(part.image)}})
        elif content and content[-1]["type"] == "text":
            content[-1]["text"] += part.text
        else:
            content.append({"type": "text", "text": part.text})
    return [{"role": "system", "content": prompt.system}, {"role": "user", "content": content}]


class OpenAIGenerator(PromptedGenerator):
    """Chat completions over HTTP.

    Args:
        base_url: e.g. "http://localhost:11434/v1" (Ollama), "http://localhost:8000/v1" (vLLM).
        model: The model name the server knows.
        api_key: Sent as a bearer token ("none" for servers without auth).
        images: Send pictures of visual evidence (the model must accept images).
        picture: Returns a visual segment's picture.
        timeout_s: Per-request timeout.
        max_tokens: Most tokens per answer.
        temperature: Sampling temperature (0: deterministic answers).
    """

    name = "openai"

    def __init__(
        self,
        base_url: str,
        model: str,
        api_key: str = "none",
        *,
        images: bool = True,
        picture: Callable[[Segment], Image | None] | None = None,
        timeout_s: float = 120.0,
        max_tokens: int = 256,
        temperature: float = 0.0,
    ) -> None:
        super().__init__(max_tokens=max_tokens, picture=picture)
        self.base_url = base_url.rstrip("/")
        self.model = model
        self.api_key = api_key
        self.sees_images = images
        self.timeout_s = timeout_s
        self.temperature = temperature

    def _request(self, prompt: Prompt, max_tokens: int, stream: bool) -> dict[str, Any]:
        return {
            "model": self.model,
            "messages": to_messages(prompt),
            "max_tokens": max_tokens,
            "temperature": self.temperature,
            "stream": stream,
        }

    def _headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.api_key}"}

    def _complete(self, prompt: Prompt, max_tokens: int) -> str:
        import httpx

        url = f"{self.base_url}/chat/completions"
        try:
            response = httpx.post(
                url,
                json=self._request(prompt, max_tokens, False),
                headers=self._headers(),
                timeout=self.timeout_s,
            )
            response.raise_for_status()
            return str(response.json()["choices"][0]["message"]["content"] or "")
        except (httpx.HTTPError, KeyError, IndexError, ValueError) as exc:
            raise ModelUnavailableError(f"chat endpoint {url} failed: {type(exc).__name__}: {exc}") from exc

    def _stream(self, prompt: Prompt, max_tokens: int) -> Iterator[str]:
        import httpx

        url = f"{self.base_url}/chat/completions"
        body = self._request(prompt, max_tokens, True)
        try:
            with httpx.stream(
                "POST", url, json=body, headers=self._headers(), timeout=self.timeout_s
            ) as response:
                response.raise_for_status()
                for line in response.iter_lines():
                    piece = _sse_delta(line)
                    if piece is None:
                        break
                    if piece:
                        yield piece
        except httpx.HTTPError as exc:
            raise ModelUnavailableError(f"chat endpoint {url} failed: {type(exc).__name__}: {exc}") from exc


def _sse_delta(line: str) -> str | None:
    """The text delta of one SSE line; "" for lines without text, None at `[DONE]`."""
    if not line.startswith("data:"):
        return ""
    data = line[5:].strip()
    if data == "[DONE]":
        return None
    try:
        choices = json.loads(data).get("choices") or [{}]
    except json.JSONDecodeError:
        log.debug("ignoring a malformed SSE line: %r", line[:80])
        return ""
    return str((choices[0].get("delta") or {}).get("content") or "")
