"""Markdown files -> paragraph and document segments, with markup removed and headings kept as sections."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

from core.protocols import Extracted
from core.types import Source
from indexing.extractors.text_extractor import MAX_TEXT_CHARS, read_text
from indexing.extractors.text_segments import Block, TextLayout, require_text, text_segments

logger = logging.getLogger(__name__)

_INLINE_TEXT = ("text", "code_inline", "html_inline")
_BREAKS = ("softbreak", "hardbreak")


class MarkdownExtractor:
    """Parses CommonMark (plus tables) with markdown-it-py into headings, paragraphs, list items and code."""

    def __init__(self, *, layout: TextLayout | None = None, max_chars: int = MAX_TEXT_CHARS) -> None:
        """Args:
        layout: chunk and document sizes.
        max_chars: refuse files with more characters than this (`max_text_chars`).
        """
        self.layout = layout or TextLayout()
        self.max_chars = max_chars

    def accepts(self, source: Source) -> bool:
        """Markdown files (sniffed as text, named .md or .markdown)."""
        return source.mime in ("text/markdown", "text/x-markdown")

    def extract(self, source: Source, path: str) -> Iterator[Extracted]:
        """Yield paragraph then document segments; the first heading is the title."""
        text, meta = read_text(path, source.uri, self.max_chars)
        blocks = parse_markdown(text)
        title = next((b.text for b in blocks if b.heading), None)
        if title:
            meta = {**meta, "title": title}
        yield from require_text(text_segments(source, blocks, self.layout, meta), source.uri)


def parse_markdown(text: str) -> list[Block]:
    """Return the blocks of a Markdown text in order: headings, paragraphs, table rows, code blocks."""
    from markdown_it import MarkdownIt

    tokens = MarkdownIt("commonmark").enable("table").parse(text)
    blocks: list[Block] = []
    row: list[str] | None = None  # cells of the table row being read
    heading = False
    for token in tokens:
        if token.type == "heading_open":
            heading = True
        elif token.type == "heading_close":
            heading = False
        elif token.type == "tr_open":
            row = []
        elif token.type == "tr_close" and row is not None:
            blocks.append(Block(" | ".join(row)))
            row = None
        elif token.type in ("fence", "code_block", "html_block"):
            blocks.append(Block(token.content.strip()))
        elif token.type == "inline":
            plain = _plain(token)
            if row is not None:
                row.append(plain)
            else:
                blocks.append(Block(plain, heading))
    return [b for b in blocks if b.text]


def _plain(token: Any) -> str:
    """The text of an inline token without markup (links keep their text, images their alt text)."""
    parts: list[str] = []
    for child in token.children or []:
        if child.type in _INLINE_TEXT:
            parts.append(child.content)
        elif child.type in _BREAKS:
            parts.append(" ")
        elif child.type == "image":
            parts.append(child.content)
    return "".join(parts).strip()
