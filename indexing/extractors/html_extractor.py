"""HTML pages -> paragraph and document segments (headings and paragraphs kept; scripts and navigation dropped).

The page is read in one streaming pass (the standard library's tokenizer, no tree), so time and memory grow
linearly with its size whatever its nesting: a tree builder took 11 s for 16,000 nested elements and was
quadratic in depth. Text size is capped by `max_text_chars` like any text file.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from html.parser import HTMLParser

from core.protocols import Extracted
from core.types import Source
from indexing.extractors.text_extractor import MAX_TEXT_CHARS, read_text
from indexing.extractors.text_segments import Block, TextLayout, require_text, text_segments

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
_VOID = frozenset(
    ("area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr")
)
_CELLS = ("td", "th")
# Private-use characters mark block edges while the tree is flattened to text (they never occur in pages).
_EDGE = "\ue000"
_HEADING = "\ue001"


class HtmlExtractor:
    """Extracts the readable text of an HTML page in one streaming pass (the standard library's tokenizer)."""

    def __init__(self, *, layout: TextLayout | None = None, max_chars: int = MAX_TEXT_CHARS) -> None:
        """Args:
        layout: chunk and document sizes.
        max_chars: refuse pages with more characters than this (`max_text_chars`).
        """
        self.layout = layout or TextLayout()
        self.max_chars = max_chars

    def accepts(self, source: Source) -> bool:
        """HTML and XHTML pages."""
        return source.mime in ("text/html", "application/xhtml+xml")

    def extract(self, source: Source, path: str) -> Iterator[Extracted]:
        """Yield paragraph then document segments, with the page title in metadata."""
        html, meta = read_text(path, source.uri, self.max_chars)
        title, blocks = parse_html(html)
        if title:
            meta = {**meta, "title": title}
        yield from require_text(text_segments(source, blocks, self.layout, meta), source.uri)


def parse_html(html: str) -> tuple[str | None, list[Block]]:
    """Return the page title (else its first heading) and its text blocks in document order."""
    flat = _Flattener()
    flat.feed(html)
    flat.close()
    blocks = []
    for piece in "".join(flat.parts).split(_EDGE):
        heading = piece.startswith(_HEADING)
        text = " ".join(piece.replace(_HEADING, "").split()).rstrip(" |")
        if text:
            blocks.append(Block(text, heading))
    title = " ".join("".join(flat.title).split()) or " ".join(" ".join(flat.h1).split()) or None
    return title, blocks


class _Flattener(HTMLParser):
    """Turns the token stream into text with block edges marked; never builds a tree (no recursion)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.title: list[str] = []
        self.h1: list[str] = []
        self._dropping: str | None = None  # the element whose content is being dropped (script, nav...)
        self._drop_depth = 0
        self._in_title = False
        self._h1_state = 0  # 0 before the first h1, 1 inside it, 2 after it

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "title":
            self._in_title = True
        if self._dropping is not None:
            self._drop_depth += tag == self._dropping
            return
        if tag in _DROP and tag not in _VOID:
            self._dropping, self._drop_depth = tag, 1
            return
        if tag == "h1" and self._h1_state == 0:
            self._h1_state = 1
        if tag in _BLOCKS:
            self.parts.append(_EDGE + (_HEADING if tag in _HEADINGS else ""))
            if tag in _VOID:
                self.parts.append(_EDGE)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)
        if tag not in _VOID:
            self.handle_endtag(tag)

    def handle_endtag(self, tag: str) -> None:
        if tag == "title":
            self._in_title = False
        if self._dropping is not None:
            if tag == self._dropping:
                self._drop_depth -= 1
                if self._drop_depth == 0:
                    self._dropping = None
            return
        if tag == "h1" and self._h1_state == 1:
            self._h1_state = 2
        if tag in _BLOCKS and tag not in _VOID:
            self.parts.append(_EDGE)
        elif tag in _CELLS:
            self.parts.append(" | ")

    def handle_data(self, data: str) -> None:
        if self._in_title:
            self.title.append(data)
            return
        if self._dropping is not None:
            return
        if self._h1_state == 1:
            self.h1.append(data)
        self.parts.append(data.replace(_EDGE, " ").replace(_HEADING, " "))
