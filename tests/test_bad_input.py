"""Bad files: each gives one clear line (an `ExtractionError` naming the file and the reason), and the other
files of the same batch are still extracted."""

from __future__ import annotations

import os
import shutil
import stat
import struct
import tempfile
import time
import zlib
from collections.abc import Iterator
from pathlib import Path

import pytest

from app.builders import build_extractors
from core.errors import ExtractionError, UnsupportedTypeError
from core.protocols import Extracted
from core.settings import Settings
from core.types import Granularity
from indexing.extractors.backends import extractor_for
from indexing.sources import iter_files, load_source
from tests.fixtures.documents import COCO_DIR, PDF_DIR, shared_ocr, text_picture

pytestmark = pytest.mark.integration

GOOD_PDF = PDF_DIR / "multi_page.pdf"
GOOD_JPEG = COCO_DIR / "000000408805.jpg"


@pytest.fixture(scope="module")
def extractors() -> list:
    return build_extractors(Settings(), shared_ocr())


def extract_batch(extractors: list, paths: list[Path]) -> tuple[dict[str, list[Extracted]], dict[str, str]]:
    """What the indexing pipeline does per file: a failure is recorded and the batch goes on."""
    done: dict[str, list[Extracted]] = {}
    failed: dict[str, str] = {}
    for path in paths:
        uri = os.path.abspath(path)
        try:
            source = load_source(path)
            done[uri] = list(extractor_for(extractors, source).extract(source, str(path)))
        except ExtractionError as e:
            failed[uri] = str(e)
    return done, failed


def error_of(extractors: list, path: Path) -> ExtractionError:
    with pytest.raises(ExtractionError) as info:
        source = load_source(path)
        list(extractor_for(extractors, source).extract(source, str(path)))
    err = info.value
    assert err.uri == os.path.abspath(path) and str(err).startswith(err.uri + ": ")
    assert "\n" not in str(err) and err.reason, "one clear line"
    return err


def png(width: int, height: int, idat: bytes, bit_depth: int = 1, color_type: int = 0) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, bit_depth, color_type, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


def test_zero_byte_file(extractors: list, tmp_path: Path) -> None:
    path = tmp_path / "empty.pdf"
    path.touch()
    assert "empty file (0 bytes)" in error_of(extractors, path).reason


def test_truncated_jpeg(extractors: list, tmp_path: Path) -> None:
    data = GOOD_JPEG.read_bytes()
    path = tmp_path / "cut.jpg"
    path.write_bytes(data[: len(data) // 2])
    assert "truncated or corrupt image" in error_of(extractors, path).reason


def test_corrupt_pdf(extractors: list, tmp_path: Path) -> None:
    path = tmp_path / "garbage.pdf"
    path.write_bytes(b"%PDF-1.7\n" + os.urandom(4096))
    assert "corrupt PDF" in error_of(extractors, path).reason


def test_truncated_pdf(extractors: list, tmp_path: Path) -> None:
    data = GOOD_PDF.read_bytes()
    path = tmp_path / "cut.pdf"
    path.write_bytes(data[: len(data) // 5])
    assert "corrupt or truncated PDF" in error_of(extractors, path).reason


def test_damaged_pdf_that_can_be_repaired_is_indexed_with_a_warning(extractors: list, tmp_path: Path) -> None:
    """Cut after its pages' objects, MuPDF rebuilds the PDF: the text is kept, and the payload says so."""
    data = GOOD_PDF.read_bytes()
    path = tmp_path / "half.pdf"
    path.write_bytes(data[: len(data) * 6 // 10])
    done, failed = extract_batch(extractors, [path])
    items = done[str(path)]
    assert not failed and len([i for i in items if i.segment.granularity == Granularity.PARAGRAPH]) >= 10
    assert "damaged PDF" in items[0].segment.metadata["warning"]


def test_encrypted_pdf(extractors: list, tmp_path: Path) -> None:
    import pymupdf

    path = tmp_path / "locked.pdf"
    with pymupdf.open(GOOD_PDF) as doc:
        doc.save(path, encryption=pymupdf.PDF_ENCRYPT_AES_256, user_pw="secret", owner_pw="owner")
    assert "encrypted PDF" in error_of(extractors, path).reason
    # Encrypted with an owner password only (anyone may open it): extracted normally.
    open_path = tmp_path / "owner-only.pdf"
    with pymupdf.open(GOOD_PDF) as doc:
        doc.save(open_path, encryption=pymupdf.PDF_ENCRYPT_AES_256, owner_pw="owner", permissions=0)
    assert extract_batch(extractors, [open_path])[0][str(open_path)]


def test_decompression_bomb_refused_before_decoding(extractors: list, tmp_path: Path) -> None:
    """A real, valid 10001 x 10001 blank PNG (12 KB on disk, 100.02 megapixels) and a header claiming
    30000 x 30000: both refused from the header, without decoding the pixels."""
    row = b"\x00" + bytes((10001 + 7) // 8)  # filter byte + one bit per pixel
    blank = tmp_path / "blank.png"
    blank.write_bytes(png(10001, 10001, zlib.compress(row * 10001, 9)))
    assert blank.stat().st_size < 100_000
    started = time.perf_counter()
    reason = error_of(extractors, blank).reason
    assert time.perf_counter() - started < 2.0, "refused without decoding 100 MP"
    assert "10001x10001" in reason and "max_image_pixels" in reason
    claimed = tmp_path / "claimed.png"
    claimed.write_bytes(png(30000, 30000, zlib.compress(b"\x00" * 100), bit_depth=8, color_type=2))
    assert (
        "too large" in error_of(extractors, claimed).reason
        or "megapixels" in error_of(extractors, claimed).reason
    )
    # The limit is a setting: a smaller one refuses a normal photo.
    small = build_extractors(Settings(max_image_pixels=100_000), None)
    assert "over the limit" in error_of(small, GOOD_JPEG).reason


def test_wrong_extension_is_sniffed_from_content(extractors: list, tmp_path: Path) -> None:
    picture = tmp_path / "report.pdf"
    text_picture("HELLO", size=(800, 740)).save(picture, format="PNG")
    document = tmp_path / "photo.jpg"
    shutil.copy(GOOD_PDF, document)
    done, failed = extract_batch(extractors, [picture, document])
    assert not failed
    assert load_source(picture).mime == "image/png" and load_source(document).mime == "application/pdf"
    assert [i.segment.granularity for i in done[str(picture)]] == [Granularity.IMAGE]
    assert done[str(picture)][0].segment.text == "HELLO"
    assert any(i.segment.locator.page == 5 for i in done[str(document)])


def test_non_utf8_text_is_decoded_with_a_warning(extractors: list, tmp_path: Path) -> None:
    cp1252 = tmp_path / "legacy.txt"
    cp1252.write_bytes("Caf\u00e9 na\u00efve \u201cquoted\u201d \u2013 r\u00e9sum\u00e9".encode("cp1252"))
    latin1 = tmp_path / "latin1.txt"
    latin1.write_bytes(b"Gr\xfc\xdfe \x81 aus K\xf6ln")  # 0x81 is undefined in cp1252
    utf16 = tmp_path / "wide.txt"
    utf16.write_text("Unicode \u00fcber alles", encoding="utf-16")
    done, failed = extract_batch(extractors, [cp1252, latin1, utf16])
    assert not failed
    legacy = done[str(cp1252)][0].segment
    assert legacy.text == "Caf\u00e9 na\u00efve \u201cquoted\u201d \u2013 r\u00e9sum\u00e9"
    assert legacy.metadata["encoding"] == "cp1252" and "not valid UTF-8" in legacy.metadata["warning"]
    assert done[str(latin1)][0].segment.metadata["encoding"] == "latin-1"
    assert "Gr\u00fc\u00dfe" in done[str(latin1)][0].segment.text
    wide = done[str(utf16)][0].segment
    assert wide.text == "Unicode \u00fcber alles" and "warning" not in wide.metadata


def test_binary_named_txt_is_unsupported(extractors: list, tmp_path: Path) -> None:
    path = tmp_path / "data.txt"
    path.write_bytes(bytes(range(256)) * 8)
    err = error_of(extractors, path)
    assert isinstance(err, UnsupportedTypeError) and "unsupported file type application/octet-stream" in str(
        err
    )


def test_unsupported_type(extractors: list, tmp_path: Path) -> None:
    import zipfile

    path = tmp_path / "archive.zip"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("a.txt", "hello")
    err = error_of(extractors, path)
    assert isinstance(err, UnsupportedTypeError) and "application/zip" in err.reason


def test_corrupt_docx(extractors: list, tmp_path: Path) -> None:
    import zipfile

    path = tmp_path / "broken.docx"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("[Content_Types].xml", "<Types/>")
        z.writestr("word/document.xml", "<not really a document")
    assert "corrupt DOCX" in error_of(extractors, path).reason


def _load_as_nobody(path: Path) -> str:
    """Run `load_source` in a forked child that dropped root privileges; return its error (or "")."""
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # child: root can read anything, so become `nobody` first
        try:
            os.setgid(65534)
            os.setuid(65534)
            load_source(path)
            message = ""
        except ExtractionError as e:
            message = e.reason
        except BaseException as e:  # noqa: BLE001 - report anything to the parent
            message = f"unexpected {type(e).__name__}: {e}"
        os.write(write, message.encode())
        os._exit(0)
    os.close(write)
    with os.fdopen(read) as f:
        message = f.read()
    os.waitpid(pid, 0)
    return message


def test_unreadable_file(extractors: list) -> None:
    """chmod 000. Tests may run as root, which reads anything: then the check runs in a child as `nobody`."""
    folder = Path(tempfile.mkdtemp(prefix="mmrag-unreadable-"))
    try:
        folder.chmod(0o755)
        path = folder / "secret.txt"
        path.write_text("top secret", encoding="utf-8")
        path.chmod(0)
        reason = _load_as_nobody(path) if os.geteuid() == 0 else error_of(extractors, path).reason
        assert reason == "permission denied: the file cannot be read"
    finally:
        shutil.rmtree(folder)


def test_special_files_and_missing_paths(extractors: list, tmp_path: Path) -> None:
    fifo = tmp_path / "pipe.txt"
    os.mkfifo(fifo)  # opening it would block forever: it must be refused from its metadata
    assert "not a regular file (a named pipe)" in error_of(extractors, fifo).reason
    assert "not a regular file (a directory)" in error_of(extractors, tmp_path).reason
    assert "not a regular file (a character device)" in error_of(extractors, Path("/dev/null")).reason
    assert error_of(extractors, tmp_path / "missing.pdf").reason == "file not found"
    link = tmp_path / "dangling.pdf"
    link.symlink_to(tmp_path / "nowhere.pdf")
    assert error_of(extractors, link).reason == "broken symbolic link"


def _bad_files(folder: Path) -> Iterator[Path]:
    (folder / "empty.txt").touch()
    (folder / "cut.jpg").write_bytes(GOOD_JPEG.read_bytes()[:5000])
    (folder / "garbage.pdf").write_bytes(b"%PDF-1.4\n" + b"\x00\x01" * 500)
    (folder / "blob.bin").write_bytes(bytes(range(256)) * 4)
    yield from (folder / n for n in ("empty.txt", "cut.jpg", "garbage.pdf", "blob.bin"))


def test_batch_goes_on_after_bad_files(extractors: list, tmp_path: Path) -> None:
    folder = tmp_path / "mixed"
    folder.mkdir()
    bad = list(_bad_files(folder))
    shutil.copy(GOOD_PDF, folder / "good.pdf")
    shutil.copy(GOOD_JPEG, folder / "good.jpg")
    (folder / "notes.txt").write_text("Plain notes about solar power.", encoding="utf-8")
    (folder / ".hidden.txt").write_text("never indexed", encoding="utf-8")
    paths = list(iter_files([folder]))
    assert [p.name for p in paths] == sorted(
        ["blob.bin", "cut.jpg", "empty.txt", "garbage.pdf", "good.jpg", "good.pdf", "notes.txt"]
    )
    done, failed = extract_batch(extractors, paths)
    assert set(failed) == {str(p) for p in bad}
    assert all(message.count("\n") == 0 for message in failed.values())
    assert set(done) == {str(folder / n) for n in ("good.pdf", "good.jpg", "notes.txt")}
    assert all(done.values())
    assert stat.S_ISREG(os.stat(folder / "good.pdf").st_mode)
