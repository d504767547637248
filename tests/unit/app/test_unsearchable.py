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
        flagged = [(Path(r.uri).name, r.reason) for r in container.manifest.unsearchable()]
    finally:
        container.close()
    assert report["indexed"] == 2 and not report["failed"], report
    assert [Path(u["uri"]).name for u in report["unsearchable"]] == ["blue.png"], report
    assert "CLIP" in report["unsearchable"][0]["reason"]
    assert len(flagged) == 1 and flagged[0][0] == "blue.png" and "CLIP" in (flagged[0][1] or "")


def test_an_old_manifest_reads_as_searchable_and_the_flag_is_set_and_cleared(tmp_path: Path) -> None:
    import sqlite3

    from core.types import Source
    from indexing.manifest import Manifest

    db = tmp_path / "manifest.db"
    old = sqlite3.connect(db)  # the schema before the `searchable` column
    old.execute(
        "CREATE TABLE sources (source_id TEXT PRIMARY KEY, uri TEXT NOT NULL, mime TEXT NOT NULL,"
        " size INTEGER NOT NULL, status TEXT NOT NULL, error TEXT, segments INTEGER NOT NULL DEFAULT 0,"
        " indexed_at REAL)"
    )
    old.execute("INSERT INTO sources VALUES ('aaa', '/x/old.png', 'image/png', 3, 'indexed', NULL, 1, 1.0)")
    old.commit()
    old.close()
    manifest = Manifest(db)
    record = manifest.get("aaa")
    assert record is not None and record.searchable is True and record.reason is None
    assert record.to_dict()["searchable"] is True

    manifest.finish("aaa", 1, unsearchable="no image space")
    flagged = manifest.get("aaa")
    assert flagged is not None and flagged.searchable is False and flagged.reason == "no image space"
    assert [r.uri for r in manifest.unsearchable()] == ["/x/old.png"]

    manifest.begin(Source(source_id="aaa", uri="/x/old.png", mime="image/png", size=3))  # indexed again
    manifest.finish("aaa", 1)
    cleared = manifest.get("aaa")
    assert cleared is not None and cleared.searchable is True and cleared.reason is None
    assert manifest.unsearchable() == []
