"""A folder is a living thing (issue 14 item 4), through the CLI's JSON: renames and moves keep the source and
update its uri (no stale path cited), `--prune` removes sources whose files are gone, unsupported files are
`skipped` (not `failed`, exit code 0)."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from app.cli.main import app

pytestmark = pytest.mark.integration


def run(*args: str) -> tuple[int, dict[str, Any]]:
    result = CliRunner().invoke(app, list(args))
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    lines = [line for line in result.stdout.splitlines() if line.startswith("{")]
    return result.exit_code, (json.loads(lines[-1]) if lines else {})


def sources() -> dict[str, dict[str, Any]]:
    code, listed = run("sources", "--json")
    assert code == 0
    return {s["uri"]: s for s in listed["sources"]}


def search_uris(query: str) -> list[str]:
    code, found = run("search", query, "--k", "5", "--json")
    assert code == 0
    return [h["uri"] for h in found["hits"]]


@pytest.fixture
def folder(tmp_path: Path, mmrag_home: Path) -> Path:
    folder = (tmp_path / "docs").resolve()
    (folder / "sub").mkdir(parents=True)
    (folder / "walrus.md").write_text("# Walrus\n\nThe walrus hauls out on the ice floes of the Arctic.\n")
    (folder / "sub" / "heron.txt").write_text("The grey heron waits motionless at the edge of the pond.")
    return folder


def test_rename_and_move_update_the_uri_without_reindexing(folder: Path) -> None:
    code, first = run("index", str(folder), "--json")
    assert code == 0 and first["indexed"] == 2
    walrus_id = sources()[str(folder / "walrus.md")]["source_id"]

    (folder / "walrus.md").rename(folder / "tusks.md")  # rename
    shutil.move(folder / "sub" / "heron.txt", folder / "heron.txt")  # move to another folder
    code, again = run("index", str(folder), "--json")
    assert code == 0 and again["indexed"] == 0 and again["segments"] == 0, "nothing re-extracted"
    moved = {(r["from"], r["to"]) for r in again["renamed"]}
    assert moved == {
        (str(folder / "walrus.md"), str(folder / "tusks.md")),
        (str(folder / "sub" / "heron.txt"), str(folder / "heron.txt")),
    }
    rows = sources()
    assert set(rows) == {str(folder / "tusks.md"), str(folder / "heron.txt")}, "no stale path listed"
    assert rows[str(folder / "tusks.md")]["source_id"] == walrus_id, "the same source, not a new one"
    assert search_uris("walrus ice floes")[0] == str(folder / "tusks.md"), "no stale path cited"
    assert all(u.startswith(str(folder)) and "walrus.md" not in u for u in search_uris("walrus"))


def test_a_copy_is_listed_as_a_duplicate_and_survives_the_original(folder: Path) -> None:
    run("index", str(folder), "--json")
    shutil.copy(folder / "walrus.md", folder / "walrus-copy.md")
    code, report = run("index", str(folder), "--json")
    assert code == 0 and report["indexed"] == 0 and report["renamed"] == []
    rows = sources()
    assert rows[str(folder / "walrus-copy.md")]["status"] == "duplicate"
    assert rows[str(folder / "walrus.md")]["status"] == "indexed"

    (folder / "walrus.md").unlink()  # the original goes: the copy takes over the source
    code, report = run("index", str(folder), "--json")
    assert [r["to"] for r in report["renamed"]] == [str(folder / "walrus-copy.md")]
    rows = sources()
    assert (
        rows[str(folder / "walrus-copy.md")]["status"] == "indexed" and str(folder / "walrus.md") not in rows
    )


def test_prune_removes_sources_whose_files_are_gone(folder: Path, tmp_path: Path) -> None:
    other = tmp_path / "elsewhere.txt"
    other.write_text("A file outside the folder about the pangolin.")
    run("index", str(folder), str(other), "--json")
    (folder / "bad.pdf").write_bytes(b"%PDF-1.7 broken")
    run("index", str(folder), "--json")
    assert sources()[str(folder / "bad.pdf")]["status"] == "failed"

    (folder / "sub" / "heron.txt").unlink()
    (folder / "bad.pdf").unlink()
    other.unlink()
    code, report = run("index", str(folder), "--json")
    assert code == 0 and report["pruned"] == [], "without --prune nothing is removed"
    assert str(folder / "sub" / "heron.txt") in sources()

    code, report = run("index", str(folder), "--prune", "--json")
    assert code == 0 and sorted(report["pruned"]) == sorted(
        [str(folder / "bad.pdf"), str(folder / "sub" / "heron.txt")]
    )
    rows = sources()
    assert str(folder / "sub" / "heron.txt") not in rows and str(folder / "bad.pdf") not in rows
    assert str(other) in rows, "only sources under the indexed folders are pruned"
    assert not any("heron" in u for u in search_uris("grey heron pond"))


def test_unsupported_files_are_skipped_not_failed(folder: Path) -> None:
    (folder / "archive.zip").write_bytes(b"PK\x05\x06" + bytes(18))  # an empty zip
    (folder / "blob.bin").write_bytes(os.urandom(2048))
    code, report = run("index", str(folder), "--json")
    assert code == 0, "skipped files do not make the run fail"
    assert report["failed"] == [] and report["indexed"] == 2
    skipped = {Path(s["uri"]).name: s["reason"] for s in report["skipped"]}
    assert set(skipped) == {"archive.zip", "blob.bin"}
    assert all(r.startswith("unsupported file type") for r in skipped.values())
    assert sources()[str(folder / "blob.bin")]["status"] == "skipped"

    (folder / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really")
    code, report = run("index", str(folder), "--json")
    assert code == 1 and [Path(f["uri"]).name for f in report["failed"]] == ["broken.jpg"]


def test_an_upload_with_the_bytes_of_a_gone_file_is_not_a_rename(make_container, tmp_path: Path) -> None:
    """Only paths on disk move: an upload name never replaces a file's path (nor the other way round)."""
    c = make_container()
    path = tmp_path / "otter.txt"
    path.write_text("The sea otter floats on its back and cracks shells on a stone.")
    c.indexer.index_paths([path])
    uploaded = tmp_path / "stored-upload-0001"
    shutil.copy(path, uploaded)
    path.unlink()
    report = c.indexer.index_files([(uploaded, "otter-upload.txt")])
    assert report.renamed == [] and report.unchanged == 1
    rows = {r.uri: r for r in c.manifest.sources()}
    assert rows[str(path)].status == "indexed" and rows["otter-upload.txt"].status == "duplicate"
