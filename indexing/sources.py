"""Turn paths into `Source`s: content hash, size and a MIME type sniffed from the bytes, not the name.

A file's extension is only a hint: a PNG named `photo.pdf` is an image. Binary formats are recognised by
their magic bytes (`filetype`); anything else that looks like text is text, and only then does the name
decide between plain text, Markdown and the like (HTML is also recognised by its content).
"""

from __future__ import annotations

import errno
import hashlib
import logging
import mimetypes
import os
import stat
import zipfile
from collections.abc import Iterable, Iterator
from pathlib import Path

from core.errors import ExtractionError
from core.types import Source

logger = logging.getLogger(__name__)

DOCX_MIME = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
HEAD_BYTES = 8192
_CHUNK = 1 << 20
# Application types that are really text: index them with the text extractor.
TEXTUAL_APPLICATION_TYPES = frozenset(
    {"application/json", "application/xml", "application/javascript", "application/x-sh", "application/toml"}
)
_BOMS = (b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff")
# Control bytes that never appear in real text (tab, newline, form feed, carriage return, escape do).
_BINARY_BYTES = bytes(set(range(32)) - {8, 9, 10, 12, 13, 27}) + b"\x7f"


def load_source(path: str | os.PathLike[str]) -> Source:
    """Read a file once to identify it.

    Args:
        path: the file to read.

    Returns:
        A `Source` whose `source_id` is the sha256 of the bytes, `uri` the absolute path, `mime` the type
        sniffed from the content and `size` the byte count.

    Raises:
        ExtractionError: the file is missing, not a regular file, empty or unreadable.
    """
    uri = os.path.abspath(os.fspath(path))
    size = _check_regular_file(uri)
    digest = hashlib.sha256()
    try:
        with open(uri, "rb") as f:
            head = f.read(HEAD_BYTES)
            digest.update(head)
            while chunk := f.read(_CHUNK):
                digest.update(chunk)
    except PermissionError:
        raise ExtractionError(uri, "permission denied: the file cannot be read") from None
    except OSError as e:
        raise ExtractionError(uri, f"cannot read the file: {e.strerror or e}") from None
    if not head:
        raise ExtractionError(uri, "empty file (0 bytes)")
    return Source(source_id=digest.hexdigest(), uri=uri, mime=sniff_mime(uri, head), size=size)


def _check_regular_file(uri: str) -> int:
    """Return the size of a regular file; raise a clear error for anything else (never open a FIFO)."""
    try:
        st = os.stat(uri)
    except FileNotFoundError:
        kind = "broken symbolic link" if os.path.islink(uri) else "file not found"
        raise ExtractionError(uri, kind) from None
    except PermissionError:
        raise ExtractionError(uri, "permission denied: the file cannot be reached") from None
    except OSError as e:
        if e.errno == errno.ELOOP:
            raise ExtractionError(uri, "symbolic link loop (the link leads back to itself)") from None
        raise ExtractionError(uri, f"cannot stat the file: {e.strerror or e}") from None
    if not stat.S_ISREG(st.st_mode):
        raise ExtractionError(uri, f"not a regular file ({_file_kind(st.st_mode)})")
    if st.st_size == 0:
        raise ExtractionError(uri, "empty file (0 bytes)")
    return st.st_size


def _file_kind(mode: int) -> str:
    kinds = {
        stat.S_ISDIR: "a directory",
        stat.S_ISFIFO: "a named pipe",
        stat.S_ISCHR: "a character device",
        stat.S_ISBLK: "a block device",
        stat.S_ISSOCK: "a socket",
    }
    return next((name for test, name in kinds.items() if test(mode)), "a special file")


def sniff_mime(name: str, head: bytes) -> str:
    """Guess the MIME type from the first bytes of a file, using its name only to refine text types.

    Args:
        name: the file name or path (extension used for text subtypes only).
        head: the first bytes of the file (a few KiB).

    Returns:
        A MIME type; `application/octet-stream` when the bytes are neither a known format nor text.
    """
    import filetype

    kind = filetype.guess(head)
    if kind is not None:
        if kind.mime == "application/zip" and _is_docx(name):
            return DOCX_MIME
        return str(kind.mime)
    if not looks_like_text(head):
        return "application/octet-stream"
    return _text_mime(name, head)


def looks_like_text(head: bytes) -> bool:
    """True when bytes look like text in some common encoding (UTF-8/16 with BOM, or 8-bit)."""
    if head.startswith(_BOMS):
        return True
    if not head or b"\x00" in head:
        return False
    binary = sum(head.count(b) for b in _BINARY_BYTES)
    return binary / len(head) < 0.01


def _text_mime(name: str, head: bytes) -> str:
    start = head.lstrip(b"\xef\xbb\xbf \t\r\n")[:1024].lower()
    # An HTML page may open with an XML prolog or a comment before its <html> element.
    if start.startswith((b"<!doctype html", b"<html")) or (
        start.startswith((b"<?xml", b"<!--")) and b"<html" in start
    ):
        return "text/html"
    guessed, _ = mimetypes.guess_type(name, strict=False)
    if guessed and (guessed.startswith("text/") or guessed in TEXTUAL_APPLICATION_TYPES):
        return guessed
    return "text/plain"


def _is_docx(path: str) -> bool:
    """A zip is a DOCX when it holds the main document part (the sniffed head may not show it)."""
    try:
        with zipfile.ZipFile(path) as z:
            return "word/document.xml" in z.namelist()
    except (OSError, zipfile.BadZipFile):
        return False


def iter_files(paths: Iterable[str | os.PathLike[str]]) -> Iterator[Path]:
    """Expand files and folders (recursively) into files, in sorted order.

    Hidden files and folders (a leading dot) inside folders are skipped; a path named explicitly is always
    yielded, even when hidden, missing or special, so that `load_source` can report what is wrong with it.
    Symbolic links to folders are not followed (no cycles).

    Args:
        paths: files and folders.

    Yields:
        File paths.
    """
    for raw in paths:
        path = Path(raw)
        if not path.is_dir():
            yield path
            continue
        for root, dirs, files in os.walk(path):
            dirs[:] = sorted(d for d in dirs if not d.startswith("."))
            for name in sorted(files):
                if not name.startswith("."):
                    yield Path(root) / name
