"""Safe storage of uploaded files.

The upload name is never used as a path: files are stored as `<sha256><.ext>` under `MMRAG_HOME/uploads`
(content-addressed, so the same bytes uploaded twice are stored once), and the sanitised original name is
only recorded as the source's display uri.
"""

from __future__ import annotations

import hashlib
import os
import re
import unicodedata
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

_UNSAFE = re.compile(r"[^\w.\- ()\[\]+,@]+", re.UNICODE)
_EXT = re.compile(r"^\.[a-z0-9]{1,10}$")
CHUNK = 1024 * 1024


def display_name(raw: str | None) -> str:
    """A readable, harmless name from an upload name: last path part, no control or shell characters.

    Empty when nothing usable is left (`..`, `""`): `UploadStore.save` then names the upload after its
    content, so two such uploads never share (and silently replace) one uri.

    >>> display_name("../../etc/passwd")
    'passwd'
    >>> display_name("C:\\\\photos\\\\My cat.JPG")
    'My cat.JPG'
    """
    name = unicodedata.normalize("NFC", raw or "")
    name = re.split(r"[/\\]", name)[-1]
    name = "".join(ch for ch in name if unicodedata.category(ch)[0] != "C")
    name = _UNSAFE.sub("_", name).strip(" .")
    if len(name) > 200:
        stem, ext = os.path.splitext(name)
        name = stem[: 200 - len(ext)] + ext
    return name


def safe_extension(name: str) -> str:
    """The lower-cased extension of a sanitised name if it is plain (`.jpg`), else ''."""
    ext = os.path.splitext(name)[1].lower()
    return ext if _EXT.match(ext) else ""


@dataclass(frozen=True)
class StoredUpload:
    """An upload on disk: its storage name (inside the uploads folder), display name, size and sha256."""

    stored: str
    name: str
    size: int
    sha256: str


class UploadStore:
    """The uploads folder. Every path it hands out is a plain child of `root`."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def save(self, stream: BinaryIO, raw_name: str | None) -> StoredUpload:
        """Copy an upload stream to `<sha256><ext>`, hashing as it goes; return what was stored."""
        self.root.mkdir(parents=True, exist_ok=True)
        name = display_name(raw_name)
        tmp = self.root / f".part-{uuid.uuid4().hex}"
        digest = hashlib.sha256()
        size = 0
        try:
            with tmp.open("wb") as out:
                while chunk := stream.read(CHUNK):
                    digest.update(chunk)
                    size += len(chunk)
                    out.write(chunk)
            stored = digest.hexdigest() + safe_extension(name)
            os.replace(tmp, self.root / stored)  # same bytes, same name: idempotent
        finally:
            tmp.unlink(missing_ok=True)
        name = name or f"upload-{digest.hexdigest()[:12]}"
        return StoredUpload(stored=stored, name=name, size=size, sha256=digest.hexdigest())

    def path(self, stored: str) -> Path:
        """The path of a stored upload; refuses anything that is not a plain name inside the folder."""
        if not stored or stored != Path(stored).name or stored.startswith("."):
            raise ValueError(f"not a storage name: {stored!r}")
        return self.root / stored

    def delete(self, stored: str) -> None:
        """Remove a stored upload if it is there."""
        self.path(stored).unlink(missing_ok=True)
