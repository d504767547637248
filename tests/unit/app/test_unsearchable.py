"""Issue 16 item 6: without an image space, a picture with no text in it is indexed but reported unsearchable.

Real: the registry, the extractors, the pipeline, qdrant-client's in-memory store. Fake: the text encoder.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image

from app.container import Container
from core.registry import Registry
from tests.unit.app.test_container import _settings

pytestmark = pytest.mark.unit


def test_a_picture_without_text_is_reported_unsearchable_when_there_is_no_image_space(
    tmp_path: Path, fake_backends: Registry
) -> None:
    folder = tmp_path / "files"
    folder.mkdir()
    Image.new("RGB", (64, 48), (30, 120, 200)).save(folder / "blue.png")
    (folder / "note.txt").write_text("The ferry leaves at nine.", encoding="utf-8")
    container = Container(_settings(tmp_path / "home"))
    try:
        assert container.image_encoder is None
        report = container.indexer.index_paths([folder]).to_dict()
    finally:
        container.close()
    assert report["indexed"] == 2 and not report["failed"], report
    assert [Path(u["uri"]).name for u in report["unsearchable"]] == ["blue.png"], report
    assert "CLIP" in report["unsearchable"][0]["reason"]
