"""Generators and rerankers see stored pictures through an injected `MediaResolver` (a real MediaStore)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
from PIL import Image

from core.errors import NotFoundError
from core.protocols import MediaResolver
from core.registry import Given, default_registry
from core.settings import Settings
from generation.generators import picture_from
from indexing.media.media_store import MediaStore
from rerank.rerankers import media_path_of
from tests.fixtures.rag import fact_hit

pytestmark = pytest.mark.unit


@pytest.fixture
def media(tmp_path: Path) -> MediaStore:
    return MediaStore(tmp_path / "media")


def _visual(media: MediaStore) -> object:
    seg = fact_hit("bridge").segment
    media.save(seg.source_id, "page-1.jpg", Image.new("RGB", (40, 30), (200, 10, 10)))
    return replace(seg, media_ref="page-1.jpg")


def test_the_media_store_is_a_media_resolver(media: MediaStore) -> None:
    resolver: MediaResolver = media
    seg = _visual(media)
    assert resolver.path(seg.source_id, "page-1.jpg").is_file()  # type: ignore[attr-defined]


def test_pictures_for_generators(media: MediaStore) -> None:
    picture = picture_from(media)
    seg = _visual(media)
    image = picture(seg)  # type: ignore[arg-type]
    assert image is not None and image.size == (40, 30) and image.mode == "RGB"
    assert picture(replace(seg, media_ref="missing.jpg")) is None  # type: ignore[type-var]
    assert picture(fact_hit("tea").segment) is None  # no media_ref


def test_picture_paths_for_rerankers(media: MediaStore) -> None:
    media_path = media_path_of(media)
    seg = _visual(media)
    assert media_path(seg) == media.root / seg.source_id / "page-1.jpg"  # type: ignore[arg-type]
    assert media_path(fact_hit("tea").segment) is None
    with pytest.raises(NotFoundError):
        media_path(replace(seg, media_ref="missing.jpg"))  # type: ignore[type-var]


def test_the_registry_injects_the_resolver(media: MediaStore) -> None:
    registry = default_registry()
    settings = Settings(generator="openai", generator_model="m", reranker="mllm", reranker_model="m")
    seg = _visual(media)
    with_media = registry.build("generator", "openai", settings, Given(media=media))
    assert with_media.picture(seg).size == (40, 30)
    without = registry.build("generator", "openai", settings, Given())
    assert without.picture is None or without.picture(seg) is None
    reranker = registry.build("reranker", "mllm", settings, Given(media=media))
    assert reranker.media_path(seg) == media.root / seg.source_id / "page-1.jpg"
