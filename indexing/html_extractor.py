"""HTML pages -> paragraph and document segments (headings and paragraphs kept; scripts and navigation dropped)."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

from core.protocols import Extracted
from core.types import Source
from indexing.text_extractor import read_text
from indexing.text_segments import Block, TextLayout, require_text, text_segments

logger = logging.getLogger(__name__)

# Not content: code, styling, navigation chrome, embedded widgets.
_DROP = ("script", "style", "noscript", "template", "nav", "svg", "canvas", "iframe", "object", "head")
_HEADINGS = ("h1", "h2", "h3", "h4", "h5", "h6")
_BLOCKS = (
    *_HEADINGS,
    *("p", "div", "section", "article", "main", "aside", "header", "footer", "blockquote", "pre", "figure"),
    *("figcaption", "li", "ul", "ol", "dl", "dt", "dd", "table", "tr", "caption", "br", "hr", "form"),
    *("address", "details", "summary", "body"),
)
# Private-use characters mark block edges while the tree is flattened to text (they never occur in pages).
_EDGE = "\ue000"
_HEADING = "\ue001"


class HtmlExtractor:
    """Extracts the readable text of an HTML page with BeautifulSoup (the standard library's parser)."""

    def __init__(self, *, layout: TextLayout | None = None) -> None:
        """Args:
        layout: chunk and document sizes.
        """
        self.layout = layout or TextLayout()

    def accepts(self, source: Source) -> bool:
        """HTML and XHTML pages."""
        return source.mime in ("text/html", "application/xhtml+xml")

    def extract(self, source: Source, path: str) -> Iterator[Extracted]:
        """Yield paragraph then document segments, with the page title in metadata."""
        html, meta = read_text(path, source.uri)
        title, blocks = parse_html(html)
        if title:
            meta = {**meta, "title": title}
        yield from require_text(text_segments(source, blocks, self.layout, meta), source.uri)


def parse_html(html: str) -> tuple[str | None, list[Block]]:
    """Return the page title and its text blocks in document order."""
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(html, "html.parser")
    title = _title(soup)
    for tag in soup.find_all(_DROP):
        tag.decompose()
    for tag in soup.find_all(_BLOCKS):
        tag.insert_before(_EDGE + (_HEADING if tag.name in _HEADINGS else ""))
        tag.insert_after(_EDGE)
    for cell in soup.find_all(("td", "th")):
        cell.insert_after(" | ")
    blocks = []
    for piece in soup.get_text().split(_EDGE):
        heading = piece.startswith(_HEADING)
        text = " ".join(piece.replace(_HEADING, "").split()).rstrip(" |")
        if text:
            blocks.append(Block(text, heading))
    return title, blocks


def _title(soup: Any) -> str | None:
    if soup.title and soup.title.get_text(strip=True):
        return str(soup.title.get_text(strip=True))
    h1 = soup.find("h1")
    return " ".join(h1.get_text(" ").split()) or None if h1 else None
