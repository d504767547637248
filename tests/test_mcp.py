"""`mmrag mcp` driven over stdio by the official SDK's client (stdio_client + ClientSession): the tools are
listed, `search` returns hits with uri/locator/text and an image content item for the photo, `ask` answers
with citations, `sources` lists the files, and `index` is absent unless enabled. The server is a real
subprocess on a home indexed here with the real text model, the tiny CLIP and the embedded engine."""

from __future__ import annotations

import base64
import json
import os
import shutil
import sys
from pathlib import Path
from typing import Any

import anyio
import pytest

from tests.conftest import REPO, SAMPLES

pytestmark = pytest.mark.integration

EXE = [sys.executable, "-c", "from app.cli.main import main; main()"]


@pytest.fixture
def indexed_home(make_container: Any, mmrag_home: Path, tmp_path: Path) -> Path:
    folder = tmp_path / "files"
    folder.mkdir()
    shutil.copy(SAMPLES / "field-notes.md", folder)
    shutil.copy(SAMPLES / "coffee.jpg", folder)
    container = make_container(ocr=False)
    report = container.indexer.index_paths([folder])
    assert report.failed == [] and report.indexed == 2
    container.close()  # the MCP server process opens the store next
    return mmrag_home


async def _session(args: list[str], calls: Any) -> Any:
    from mcp import ClientSession
    from mcp.client.stdio import StdioServerParameters, stdio_client

    env = {k: v for k, v in os.environ.items() if k.startswith(("MMRAG_", "HF_", "TRANSFORMERS_", "PATH"))}
    env["MMRAG_OCR"] = "false"
    params = StdioServerParameters(command=EXE[0], args=[*EXE[1:], "mcp", *args], env=env, cwd=str(REPO))
    async with stdio_client(params) as (read, write), ClientSession(read, write) as session:
        await session.initialize()
        return await calls(session)


def _json(result: Any) -> Any:
    assert not result.is_error, result.content
    return json.loads(result.content[0].text)


def test_mcp_over_stdio(indexed_home: Path) -> None:
    async def calls(session: Any) -> dict[str, Any]:
        tools = await session.list_tools()
        return {
            "tools": {t.name: t for t in tools.tools},
            "text": await session.call_tool("search", {"query": "lighthouse lens", "k": 3}),
            "photo": await session.call_tool("search", {"query": "coffee", "modality": ["image"], "k": 2}),
            "ask": await session.call_tool("ask", {"question": "What kind of lens does the lighthouse use?"}),
            "sources": await session.call_tool("sources", {}),
            "bad": await session.call_tool("search", {"query": "x", "modality": ["smell"]}),
            "by_image": await session.call_tool(
                "search", {"image_path": str(SAMPLES / "coffee.jpg"), "modality": ["image"], "k": 1}
            ),
        }

    got = anyio.run(_session, [], calls)
    assert set(got["tools"]) == {"search", "ask", "sources"}, "index is off unless enabled"
    schema = got["tools"]["search"].input_schema
    assert {"query", "image_path", "modality", "granularity", "source_ids", "k"} <= set(schema["properties"])

    hits = _json(got["text"])["hits"]
    assert 0 < len(hits) <= 3 and "Fresnel" in hits[0]["text"]
    assert hits[0]["uri"].endswith("field-notes.md") and "locator" in hits[0] and hits[0]["n"] == 1

    photo = got["photo"]
    found = _json(photo)["hits"]
    assert found and all(h["modality"] == "image" for h in found)
    images = [c for c in photo.content if c.type == "image"]
    assert images and images[0].mime_type == "image/jpeg"
    picture = base64.b64decode(images[0].data)
    assert picture[:3] == b"\xff\xd8\xff", "a JPEG thumbnail the agent can look at"
    captions = [c.text for c in photo.content[1:] if c.type == "text"]
    assert captions and "coffee.jpg" in captions[0]

    answer = _json(got["ask"])
    assert "Fresnel" in answer["answer"] and answer["citations"]
    assert answer["citations"][0]["uri"].endswith("field-notes.md") and answer["conflicts"] == []

    listed = _json(got["sources"])["sources"]
    assert sorted(Path(s["uri"]).name for s in listed) == ["coffee.jpg", "field-notes.md"]

    assert got["bad"].is_error and "smell" in got["bad"].content[0].text

    by_image = got["by_image"]  # query by example: the same photo finds itself
    assert [Path(h["uri"]).name for h in _json(by_image)["hits"]] == ["coffee.jpg"]
    assert [c.type for c in by_image.content] == ["text", "text", "image"]


def test_mcp_index_tool_when_enabled(mmrag_home: Path, tmp_path: Path) -> None:
    notes = tmp_path / "notes.txt"
    notes.write_text(
        "The Quell ferry leaves the north pier at 7:15 every weekday morning.\n", encoding="utf-8"
    )

    async def calls(session: Any) -> dict[str, Any]:
        tools = await session.list_tools()
        return {
            "tools": [t.name for t in tools.tools],
            "index": await session.call_tool("index", {"paths": [str(notes)]}),
            "search": await session.call_tool("search", {"query": "ferry north pier", "k": 1}),
        }

    got = anyio.run(_session, ["--allow-index"], calls)
    assert "index" in got["tools"]
    assert _json(got["index"])["indexed"] == 1
    assert _json(got["search"])["hits"][0]["uri"] == str(notes.resolve())


@pytest.mark.unit
def test_http_transport_needs_an_api_key() -> None:
    """The streamable-HTTP app is wrapped by the REST API's key check (a stand-in ASGI app behind it)."""
    import httpx

    from app.mcp_server import keyed_app
    from core.settings import Settings

    async def inner(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"mcp"})

    async def calls() -> list[int]:
        app = keyed_app(inner, Settings(api_keys=["s3cret"]))
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            return [
                (await client.post("/mcp")).status_code,
                (await client.post("/mcp", headers={"Authorization": "Bearer wrong"})).status_code,
                (await client.post("/mcp", headers={"Authorization": "Bearer s3cret"})).status_code,
                (await client.post("/mcp", headers={"X-API-Key": "s3cret"})).status_code,
            ]

    assert anyio.run(calls) == [401, 401, 200, 200]
