"""Issue 16 item 6: a picture with no text, indexed while there is no image space, is recorded in the manifest
as indexed with no searchable vectors; `mmrag sources` (text and --json), GET /v1/sources and `mmrag doctor`
say so with the reason, and indexing again once an image space is there clears the flag.

Real: MiniLM, RapidOCR, the embedded Qdrant store, the manifest, the pipeline, the CLI (CliRunner), the API
route (FastAPI TestClient on the container). The image space is the tiny random-weight CLIP (no CLIP weights
can be downloaded here): it gives the picture a vector, which is all the flag is about.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from PIL import Image
from typer.testing import CliRunner

from app.api.main import create_app
from app.doctor import diagnose, render

pytestmark = pytest.mark.integration


def _folder(tmp_path: Path) -> Path:
    folder = tmp_path / "files"
    folder.mkdir()
    Image.new("RGB", (96, 64), (30, 120, 200)).save(folder / "blue.png")
    (folder / "note.txt").write_text(
        "The ferry to the island leaves at nine every morning.", encoding="utf-8"
    )
    return folder


def _cli_sources(monkeypatch: pytest.MonkeyPatch) -> tuple[str, dict[str, dict[str, Any]]]:
    from app.cli.main import app

    monkeypatch.setenv("MMRAG_CLIP_MODEL", "")
    text = CliRunner().invoke(app, ["sources"])
    assert text.exit_code == 0, text.output
    listed = CliRunner().invoke(app, ["sources", "--json"])
    assert listed.exit_code == 0, listed.output
    rows = json.loads(listed.stdout[listed.stdout.index("{") :])["sources"]
    return text.stdout, {Path(r["uri"]).name: r for r in rows}


def test_a_picture_without_text_or_image_space_is_listed_as_not_searchable_until_indexed_with_one(
    make_container: Any, tiny_clip: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = _folder(tmp_path)
    blind = make_container(clip_model="", extract_isolation="none")
    assert blind.image_encoder is None
    report = blind.indexer.index_paths([folder]).to_dict()
    assert report["indexed"] == 2 and [Path(u["uri"]).name for u in report["unsearchable"]] == ["blue.png"]

    blue = next(r for r in blind.manifest.sources() if r.uri.endswith("blue.png"))
    note = next(r for r in blind.manifest.sources() if r.uri.endswith("note.txt"))
    assert blue.status == "indexed" and blue.searchable is False and "CLIP" in (blue.reason or "")
    assert note.searchable is True and note.reason is None

    api = create_app(blind.settings)  # no lifespan: the route answers from this container
    api.state.container, api.state.ready = blind, True
    listed = TestClient(api).get("/v1/sources")
    assert listed.status_code == 200, listed.text
    by_name = {Path(r["uri"]).name: r for r in listed.json()["sources"]}
    assert by_name["blue.png"]["searchable"] is False and "CLIP" in by_name["blue.png"]["reason"]
    assert by_name["note.txt"]["searchable"] is True and by_name["note.txt"]["reason"] is None

    doctor = diagnose(blind)  # closes the container
    assert doctor["unsearchable"] == [{"uri": blue.uri, "reason": blue.reason}]
    line = next(p for p in doctor["problems"] if "no searchable vectors" in p)
    assert line.startswith("1 indexed file has no searchable vectors (no image space") and "blue.png" in line
    assert f"problem: {line}" in render(doctor)

    text, rows = _cli_sources(monkeypatch)
    blue_line = next(ln for ln in text.splitlines() if "blue.png" in ln)
    assert "indexed, not searchable (no image space: CLIP weights unavailable" in blue_line, text
    assert "not searchable" not in next(ln for ln in text.splitlines() if "note.txt" in ln)
    assert rows["blue.png"]["searchable"] is False and "CLIP" in rows["blue.png"]["reason"]
    assert rows["note.txt"]["searchable"] is True

    seeing = make_container(clip_model=tiny_clip, extract_isolation="none")  # now an image space
    assert seeing.image_encoder is not None
    again = seeing.indexer.index_paths([folder]).to_dict()
    assert again["indexed"] == 1 and again["unchanged"] == 1 and again["unsearchable"] == [], again
    blue_now = seeing.manifest.get(blue.source_id)
    assert blue_now is not None and blue_now.searchable is True and blue_now.reason is None
    assert seeing.manifest.unsearchable() == []
    seeing.close()
    _, rows = _cli_sources(monkeypatch)
    assert rows["blue.png"]["searchable"] is True and rows["blue.png"]["reason"] is None
