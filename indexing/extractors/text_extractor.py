"""Plain text files (and other text types: CSV, JSON, source code) -> paragraph and document segments."""

from __future__ import annotations

import codecs
import logging
from collections.abc import Iterator

from core.errors import ExtractionError
from core.protocols import Extracted
from core.types import Source
from indexing.extractors.chunking import split_paragraphs
from indexing.extractors.text_segments import Block, TextLayout, require_text, text_segments
from indexing.sources import TEXTUAL_APPLICATION_TYPES

logger = logging.getLogger(__name__)

_BOM_ENCODINGS = (
    (codecs.BOM_UTF32_LE, "utf-32"),  # before UTF-16 LE: its BOM starts the same way
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
_OWN_TYPES = frozenset({"text/html", "text/markdown"})
MAX_TEXT_CHARS = 5_000_000
"""Default `max_text_chars`: about 5,000 chunks, minutes of embedding on a CPU."""


class TextExtractor:
    """Decodes text files; tolerates legacy encodings and says which one it used."""

    def __init__(self, *, layout: TextLayout | None = None, max_chars: int = MAX_TEXT_CHARS) -> None:
        """Args:
        layout: chunk and document sizes.
        max_chars: refuse text files with more characters than this (`max_text_chars`).
        """
        self.layout = layout or TextLayout()
        self.max_chars = max_chars

    def accepts(self, source: Source) -> bool:
        """Any text type except those with their own extractor (HTML, Markdown)."""
        mime = source.mime
        return (mime.startswith("text/") and mime not in _OWN_TYPES) or mime in TEXTUAL_APPLICATION_TYPES

    def extract(self, source: Source, path: str) -> Iterator[Extracted]:
        """Yield paragraph then document segments; metadata records the encoding and any warning."""
        text, meta = read_text(path, source.uri, self.max_chars)
        blocks = [Block(text[a:b]) for a, b in split_paragraphs(text)]
        yield from require_text(text_segments(source, blocks, self.layout, meta), source.uri)


def read_text(path: str, uri: str, max_chars: int = MAX_TEXT_CHARS) -> tuple[str, dict[str, str]]:
    """Read and decode a text file: BOM, else UTF-8, else cp1252, else Latin-1 (the last two with a warning).

    Args:
        path: the file.
        uri: names the file in errors.
        max_chars: the most characters a file may hold (`max_text_chars`): a larger one is refused before
            it is parsed, chunked and embedded (hours of work for a few hundred MB of text).

    Returns:
        The text with normalised newlines, and metadata: `encoding`, plus `warning` for a guessed encoding.

    Raises:
        ExtractionError: the file cannot be read, is too large, or decodes to something that is not text.
    """
    # No encoding takes more than 4 bytes per character: more bytes than that cannot fit the limit.
    max_bytes = 4 * max_chars + 4
    try:
        with open(path, "rb") as f:
            data = f.read(max_bytes + 1)
    except OSError as e:
        raise ExtractionError(uri, f"cannot read the file: {e.strerror or e}") from None
    if len(data) > max_bytes:
        raise ExtractionError(uri, _too_long(max_chars))
    text, encoding = decode_text(data, uri)
    del data
    if len(text) > max_chars:
        raise ExtractionError(uri, _too_long(max_chars))
    meta = {"encoding": encoding}
    if encoding in ("cp1252", "latin-1"):
        meta["warning"] = f"not valid UTF-8; decoded as {encoding}"
        logger.warning("%s: not valid UTF-8; decoded as %s", uri, encoding)
    return text.replace("\r\n", "\n").replace("\r", "\n"), meta


def _too_long(max_chars: int) -> str:
    return f"text longer than {max_chars:,} characters (max_text_chars); not indexed"


def decode_text(data: bytes, uri: str) -> tuple[str, str]:
    """Decode bytes as text; return the text and the encoding name used."""
    for bom, encoding in _BOM_ENCODINGS:
        if data.startswith(bom):
            try:
                return data.decode(encoding), encoding
            except UnicodeDecodeError as e:
                raise ExtractionError(
                    uri, f"invalid {encoding} text after its byte-order mark: {e.reason}"
                ) from None
    for encoding in ("utf-8", "cp1252", "latin-1"):
        try:
            text = data.decode(encoding)
        except UnicodeDecodeError:
            continue
        if _control_ratio(text) > 0.01:
            raise ExtractionError(uri, f"binary content, not text (tried {encoding})")
        return text, encoding
    raise AssertionError("latin-1 decodes any bytes")  # pragma: no cover


def _control_ratio(text: str) -> float:
    sample = text[:100_000]
    if not sample:
        return 0.0
    # C0 controls only: a stray byte undefined in cp1252 (decoded by Latin-1 as a C1 control) is not binary.
    bad = sum(1 for c in sample if (ord(c) < 32 and c not in "\t\n\r\f\b\x1b") or c == "\x7f")
    return bad / len(sample)
