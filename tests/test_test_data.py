"""The committed test data: every file is listed with its source and licence, and the folder stays small."""

from __future__ import annotations

import re

import pytest

from tests.fixtures.data import AUDIO_DIR, PDF_DIR, PHOTOS_DIR, SQUAD_MINI, TEST_DATA, eval_data_dir

pytestmark = pytest.mark.unit

BUDGET_BYTES = 5_000_000


def test_every_file_is_listed_in_the_readme() -> None:
    readme = (TEST_DATA / "README.md").read_text(encoding="utf-8")
    listed = set(re.findall(r"^\| `([^`]+)`", readme, flags=re.MULTILINE))
    files = {p.relative_to(TEST_DATA).as_posix() for p in TEST_DATA.rglob("*") if p.is_file()}
    unlisted = {
        f
        for f in files - {"README.md", "pdf/LICENSE-docling-test-data", "audio/footbridge.txt"}
        if f not in listed and not any(f.startswith(d) for d in listed if d.endswith("/"))
    }
    assert not unlisted, f"add these to tests/data/README.md with source and licence: {sorted(unlisted)}"
    assert all((TEST_DATA / f).exists() for f in listed), "README lists a file that is not there"


def test_the_folder_stays_small_and_has_each_kind() -> None:
    size = sum(p.stat().st_size for p in TEST_DATA.rglob("*") if p.is_file())
    assert size < BUDGET_BYTES, (
        f"tests/data is {size / 1e6:.1f} MB; keep it under {BUDGET_BYTES / 1e6:.0f} MB"
    )
    assert len(list(PDF_DIR.glob("*.pdf"))) == 5 and len(list(PHOTOS_DIR.glob("*.jpg"))) == 6
    assert {"corpus.jsonl", "queries.jsonl"} <= {p.name for p in SQUAD_MINI.iterdir()}
    assert (AUDIO_DIR / "footbridge.wav").stat().st_size > 100_000


def test_eval_data_folder_follows_the_setting(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    monkeypatch.setenv("MMRAG_EVAL_DATA", str(tmp_path))
    assert eval_data_dir() == tmp_path.resolve()
    monkeypatch.delenv("MMRAG_EVAL_DATA")
    assert eval_data_dir() == TEST_DATA.parents[1].parent / "shared" / "data"
