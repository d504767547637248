"""LangChain documents for hits; the stored picture's path comes from the injected media resolver."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
from PIL import Image

from app.langchain_retriever import hit_to_document
from indexing.media.media_store import MediaStore
from tests.fixtures.rag import fact_hit

pytestmark = pytest.mark.unit


def test_documents_carry_the_segment_and_its_picture(tmp_path: Path) -> None:
    media = MediaStore(tmp_path / "media")
    hit = fact_hit("bridge", 0.8)
    media.save(hit.segment.source_id, "page-1.jpg", Image.new("RGB", (8, 8)))
    visual = replace(hit, segment=replace(hit.segment, media_ref="page-1.jpg"))
    doc = hit_to_document(visual, media)
    assert doc.page_content == hit.segment.text and doc.id == hit.segment.segment_id
    assert doc.metadata["score"] == 0.8 and doc.metadata["granularity"] == "paragraph"
    assert doc.metadata["media_path"] == str(media.root / hit.segment.source_id / "page-1.jpg")
    gone = replace(hit, segment=replace(hit.segment, media_ref="gone.jpg"))
    assert hit_to_document(gone, media).metadata["media_path"] is None
    assert "media_path" not in hit_to_document(visual).metadata  # no resolver given
