"""Stored pictures (thumbnails, page renders, keyframes), one folder per source."""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import TYPE_CHECKING

from core.errors import NotFoundError

if TYPE_CHECKING:
    from PIL.Image import Image

_SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
THUMBNAIL_MAX_SIDE = 768


class MediaStore:
    """Saves and finds media under `root/<source_id>/<name>`; names are validated so paths never escape."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def _folder(self, source_id: str) -> Path:
        if not re.fullmatch(r"[0-9a-f]{64}", source_id):
            raise NotFoundError(f"not a source id: {source_id!r}")
        return self.root / source_id

    def path(self, source_id: str, name: str) -> Path:
        """The file of a stored media item; raises NotFoundError for unsafe names or missing files."""
        if not _SAFE_NAME.fullmatch(name) or ".." in name:
            raise NotFoundError(f"not a media name: {name!r}")
        path = self._folder(source_id) / name
        if not path.is_file():
            raise NotFoundError(f"no media {name!r} for source {source_id[:12]}")
        return path

    def save(self, source_id: str, name: str, image: Image) -> Path:
        """Store a picture as JPEG, shrunk to a thumbnail size."""
        if not _SAFE_NAME.fullmatch(name) or ".." in name:
            raise ValueError(f"unsafe media name {name!r}")
        folder = self._folder(source_id)
        folder.mkdir(parents=True, exist_ok=True)
        picture = image.convert("RGB")
        picture.thumbnail((THUMBNAIL_MAX_SIDE, THUMBNAIL_MAX_SIDE))
        path = folder / name
        picture.save(path, format="JPEG", quality=85)
        return path

    def delete_source(self, source_id: str) -> None:
        shutil.rmtree(self._folder(source_id), ignore_errors=True)
