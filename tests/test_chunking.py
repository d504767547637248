"""Paragraph chunking and source identification (content hashing, MIME sniffing, folder expansion)."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from core.errors import ExtractionError
from indexing.extractors.chunking import chunk_spans, chunk_text, split_paragraphs
from indexing.sources import DOCX_MIME, iter_files, load_source, looks_like_text, sniff_mime

pytestmark = pytest.mark.unit


def test_split_paragraphs_on_blank_lines() -> None:
    text = "  First para\nsame para.\n\n \n Second.\n\n\n\nThird  \n"
    spans = split_paragraphs(text)
    assert [text[a:b] for a, b in spans] == ["First para\nsame para.", "Second.", "Third"]


def test_short_paragraphs_merge_until_the_limit() -> None:
    paragraphs = [f"Paragraph number {i} is short." for i in range(10)]  # 27 or 28 chars each
    text = "\n\n".join(paragraphs)
    chunks = chunk_text(text, chunk_chars=100, overlap=10)
    assert all(len(c.text) <= 100 for c in chunks)
    assert [c.first for c in chunks] == [0, 3, 6, 9]
    assert all(c.text == text[c.start : c.end] for c in chunks)
    assert "\n\n".join(c.text for c in chunks) == text, "no paragraph lost or cut"


def test_long_paragraph_splits_at_sentences_with_overlap() -> None:
    sentences = [f"Sentence {i} says something." for i in range(40)]
    text = "Intro.\n\n" + " ".join(sentences) + "\n\nOutro."
    chunks = chunk_text(text, chunk_chars=200, overlap=40)
    middle = [c for c in chunks if c.first == 1]
    assert len(middle) >= 5 and all(len(c.text) <= 200 for c in middle)
    assert all(c.text.endswith(".") for c in middle), "cut at sentence ends"
    assert all(c.text.startswith("Sentence") for c in middle), "pieces start at a sentence"
    for a, b in zip(middle, middle[1:], strict=False):
        assert b.start < a.end, "consecutive pieces overlap"
    covered = set()
    for c in middle:
        covered.update(range(c.start, c.end))
    assert all(text.index(s) in covered for s in sentences)
    assert chunks[0].text == "Intro." and chunks[-1].text == "Outro."


def test_text_without_spaces_is_hard_cut() -> None:
    text = "x" * 950
    chunks = chunk_text(text, chunk_chars=300, overlap=50)
    assert all(len(c.text) <= 300 for c in chunks) and chunks[-1].end == 950


def test_breaks_start_new_chunks() -> None:
    text = "Heading\n\nBody one.\n\nNext heading\n\nBody two."
    spans = split_paragraphs(text)
    chunks = chunk_spans(text, spans, chunk_chars=1000, overlap=0, breaks={2})
    assert [c.text for c in chunks] == ["Heading\n\nBody one.", "Next heading\n\nBody two."]


def test_load_source_hashes_content_and_sniffs_type(tmp_path: Path) -> None:
    data = b"%PDF-1.4\n%fake but sniffed\n" + b"x" * 10_000_000  # larger than one read chunk
    path = tmp_path / "named.txt"
    path.write_bytes(data)
    source = load_source(path)
    assert source.source_id == hashlib.sha256(data).hexdigest() and source.size == len(data)
    assert source.mime == "application/pdf" and source.uri == str(path.absolute())


@pytest.mark.parametrize(
    ("name", "head", "mime"),
    [
        ("a.md", b"# Title\n\ntext", "text/markdown"),
        ("a.txt", b"  <!DOCTYPE html><html></html>", "text/html"),
        ("a.xhtml", b'<?xml version="1.0"?>\n<html xmlns="http://www.w3.org/1999/xhtml">', "text/html"),
        ("a.csv", b"a,b\n1,2\n", "text/csv"),
        ("noext", b"plain words\n", "text/plain"),
        ("a.jpg", b"plain words, wrong extension\n", "text/plain"),
        ("u16.txt", "wide".encode("utf-16"), "text/plain"),
        ("a.txt", bytes(range(256)), "application/octet-stream"),
        ("a.pdf", b"\x89PNG\r\n\x1a\n" + b"\x00" * 40, "image/png"),
    ],
)
def test_sniff_mime(name: str, head: bytes, mime: str) -> None:
    assert sniff_mime(name, head) == mime


def test_docx_is_recognised_inside_its_zip(tmp_path: Path) -> None:
    import docx

    path = tmp_path / "letter.bin"
    document = docx.Document()
    document.add_paragraph("hello")
    document.save(path)
    assert load_source(path).mime == DOCX_MIME


def test_looks_like_text_accepts_legacy_encodings() -> None:
    assert looks_like_text("Caf\u00e9 cr\u00e8me".encode("cp1252"))
    assert not looks_like_text(b"\x00\x01\x02 binary")


def test_iter_files_sorted_recursive_without_hidden(tmp_path: Path) -> None:
    for rel in ["b.txt", "a/z.txt", "a/b/c.txt", ".git/x.txt", "a/.hidden", "c/.d/e.txt"]:
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text("x")
    explicit_hidden = tmp_path / "a" / ".hidden"
    files = [p.relative_to(tmp_path).as_posix() for p in iter_files([tmp_path, explicit_hidden])]
    assert files == ["b.txt", "a/z.txt", "a/b/c.txt", "a/.hidden"]
    assert list(iter_files([tmp_path / "missing.pdf"])) == [tmp_path / "missing.pdf"]
    with pytest.raises(ExtractionError, match="file not found"):
        load_source(tmp_path / "missing.pdf")
