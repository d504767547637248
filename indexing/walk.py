"""Expand the paths a user asks to index into files, safely: no reads outside the indexed folders unless
asked, no endless loops, names that are not UTF-8 kept usable and shown readably.

Each file comes with its `uri`: the folder's real path joined with the file's path inside it, so a link is
named by where it is, never by its target. A symbolic link whose target lies outside every indexed folder
is reported as skipped rather than read (unless `follow_links`), so a link to `/etc/passwd` dropped in a
shared folder is never indexed. Broken links and link loops are yielded like any file: `load_source`
reports them per file. With `follow_links`, linked folders are walked too, each real folder once (a link
back to a parent cannot loop).
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

logger = logging.getLogger(__name__)

_SURROGATE = re.compile("[\ud800-\udfff]")
LINK_OUTSIDE = (
    "symbolic link to a file outside the indexed folder; not followed (use --follow-links to index it)"
)
DIR_LINK_OUTSIDE = (
    "symbolic link to a folder outside the indexed folder; not followed (use --follow-links to walk it)"
)


@dataclass(frozen=True)
class FileEntry:
    """One path found by the walk: the path to open, the uri to record, and why it is skipped (if it is)."""

    path: Path
    uri: str
    skip: str | None = None


def readable(text: str) -> str:
    """A string that encodes to UTF-8: bytes of a non-UTF-8 file name (carried by Python as surrogate
    escapes) are shown as `\\xNN`, other lone surrogates as `\\uXXXX`. Valid text is returned unchanged."""
    if not _SURROGATE.search(text):
        return text
    return _SURROGATE.sub(_escape_surrogate, text)


def _escape_surrogate(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code - 0xDC00:02x}" if 0xDC80 <= code <= 0xDCFF else f"\\u{code:04x}"


def display_path(path: str | os.PathLike[str]) -> str:
    """The absolute path as a readable uri (see `readable`)."""
    return readable(os.path.abspath(os.fspath(path)))


def real_folder(path: str | os.PathLike[str]) -> str:
    """The real path of a folder named by the user (links in the path itself are the user's choice)."""
    return os.path.realpath(os.path.abspath(os.fspath(path)))


def walk(paths: Iterable[str | os.PathLike[str]], follow_links: bool = False) -> Iterator[FileEntry]:
    """Expand files and folders (recursively, sorted) into `FileEntry`s.

    Hidden files and folders (a leading dot) inside folders are left out; a path named explicitly is always
    yielded (even hidden, missing, special or a link) so that `load_source` can say what is wrong with it.

    Args:
        paths: files and folders named by the user.
        follow_links: follow symbolic links that lead outside the indexed folders (files and folders).
    """
    roots = [real_folder(p) for p in paths if os.path.isdir(p)]
    for raw in paths:
        if os.path.isdir(raw):
            yield from _walk_folder(real_folder(raw), roots, follow_links)
        else:
            path = Path(os.path.abspath(os.fspath(raw)))
            parent = os.path.realpath(path.parent)
            yield FileEntry(path, readable(os.path.join(parent, path.name)))


def _walk_folder(root: str, roots: list[str], follow_links: bool) -> Iterator[FileEntry]:
    visited: set[tuple[int, int]] = set()
    stack = [root]
    while stack:
        folder = stack.pop()
        try:
            st = os.stat(folder)
        except OSError as e:
            logger.warning("%s: cannot open the folder: %s", readable(folder), e.strerror or e)
            continue
        if (st.st_dev, st.st_ino) in visited:
            continue  # reached again through a link: a loop or a second way in
        visited.add((st.st_dev, st.st_ino))
        try:
            with os.scandir(folder) as it:
                entries = sorted((e for e in it if not e.name.startswith(".")), key=lambda e: e.name)
        except OSError as e:
            logger.warning("%s: cannot list the folder: %s", readable(folder), e.strerror or e)
            continue
        subfolders: list[str] = []
        for entry in entries:
            path = os.path.join(folder, entry.name)
            uri = readable(path)
            if not entry.is_symlink():
                if entry.is_dir(follow_symlinks=False):
                    subfolders.append(path)
                else:
                    yield FileEntry(Path(path), uri)
                continue
            target = os.path.realpath(path)
            inside = any(_within(target, r) for r in roots)
            if os.path.isdir(path):
                if follow_links:
                    subfolders.append(path)
                elif not inside:
                    yield FileEntry(Path(path), uri, DIR_LINK_OUTSIDE)
                # a link to a folder inside the indexed folders: its files are indexed where they are
            elif inside or follow_links or not os.path.lexists(target):
                yield FileEntry(Path(path), uri)  # broken links and loops: `load_source` names the problem
            else:
                yield FileEntry(Path(path), uri, LINK_OUTSIDE)
        stack.extend(reversed(subfolders))


def _within(path: str, folder: str) -> bool:
    return path == folder or path.startswith(folder.rstrip(os.sep) + os.sep)
