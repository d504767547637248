"""The `mmrag` CLI: JSON shapes, exit codes and `--help`, on real files and the embedded engine."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from app.cli.main import app
from tests.conftest import REPO, SAMPLES, TEST_DATA

pytestmark = pytest.mark.integration

HIT_KEYS = {"segment_id", "source_id", "uri", "modality", "granularity", "score", "text", "locator"}


def run(*args: str) -> tuple[int, dict]:
    result = CliRunner().invoke(app, list(args))
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    lines = [line for line in result.stdout.splitlines() if line.startswith("{")]
    return result.exit_code, (json.loads(lines[-1]) if lines else {})


def test_index_search_sources_delete_json(mmrag_home: Path, tmp_path: Path) -> None:
    folder = tmp_path / "files"
    folder.mkdir()
    shutil.copy(SAMPLES / "field-notes.md", folder)
    shutil.copy(SAMPLES / "coffee.jpg", folder)
    (folder / "corrupt.jpg").write_bytes((SAMPLES / "coffee.jpg").read_bytes()[:300])

    code, report = run("index", str(folder), "--json")
    assert code == 1, "some files failed, so the exit code is 1"
    assert set(report) == {
        "indexed",
        "unchanged",
        "failed",
        "skipped",
        "renamed",
        "pruned",
        "unsearchable",
        "segments",
    }
    assert report["indexed"] == 2 and report["unchanged"] == 0 and report["segments"] > 2
    assert [Path(f["uri"]).name for f in report["failed"]] == ["corrupt.jpg"]
    assert set(report["failed"][0]) == {"uri", "error"}

    code, again = run("index", str(folder / "field-notes.md"), "--json")
    assert code == 0 and again == {
        "indexed": 0,
        "unchanged": 1,
        "failed": [],
        "skipped": [],
        "renamed": [],
        "pruned": [],
        "unsearchable": [],
        "segments": 0,
    }

    code, found = run("search", "lighthouse lens", "--k", "3", "--json")
    assert code == 0 and 0 < len(found["hits"]) <= 3
    assert set(found["hits"][0]) >= HIT_KEYS
    assert "Fresnel" in found["hits"][0]["text"]

    code, images = run("search", "coffee", "--modality", "image", "--json")
    assert code == 0 and {h["modality"] for h in images["hits"]} == {"image"}

    code, listed = run("sources", "--json")
    indexed = [s for s in listed["sources"] if s["status"] == "indexed"]
    assert len(indexed) == 2
    notes = next(s for s in indexed if s["uri"].endswith("field-notes.md"))

    code, deleted = run("delete", notes["source_id"][:12], "--json")
    assert code == 0 and deleted["deleted"] == notes["source_id"] and deleted["points"] == notes["segments"]
    code, found = run("search", "lighthouse lens", "--granularity", "paragraph", "--json")
    assert all(not h["uri"].endswith("field-notes.md") for h in found["hits"])


def test_usage_errors_exit_2(mmrag_home: Path) -> None:
    assert run("index", "/no/such/path", "--json")[0] == 2
    assert run("search", "x", "--modality", "smell")[0] == 2
    assert run("search", "")[0] == 2


def test_eval_beir_json_shape(mmrag_home: Path, tmp_path: Path) -> None:
    """Three questions over 40 SQuAD passages (tests/data) keep the test fast; the full runs are benchmarks."""
    src = TEST_DATA / "beir" / "squad-mini"
    small = tmp_path / "beir"
    (small / "qrels").mkdir(parents=True)
    qrels = (src / "qrels" / "test.tsv").read_text().splitlines()
    keep = [row for row in qrels[1:] if row.split("\t")[0] in {"1", "2", "4"}]
    docs = {row.split("\t")[1] for row in keep}
    corpus = [
        line for line in (src / "corpus.jsonl").read_text().splitlines() if json.loads(line)["_id"] in docs
    ]
    (small / "corpus.jsonl").write_text("\n".join(corpus[:40]) + "\n")
    (small / "queries.jsonl").write_text((src / "queries.jsonl").read_text())
    (small / "qrels" / "test.tsv").write_text("\n".join([qrels[0], *keep]) + "\n")

    code, result = run("eval", "beir", str(small), "--json")
    assert code == 0
    assert {"ndcg@10", "recall@100", "queries"} <= set(result)
    assert result["queries"] == 3 and 0.3 < result["ndcg@10"] <= 1.0


def test_every_command_has_help() -> None:
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    exe = [sys.executable, "-c", "from app.cli.main import main; main()"]
    top = subprocess.run([*exe, "--help"], capture_output=True, text=True, cwd=REPO, env=env, check=True)
    commands = [c for c in ("index", "search", "sources", "delete", "doctor", "eval") if c in top.stdout]
    assert len(commands) == 6, top.stdout
    for command in commands:
        sub = subprocess.run([*exe, command, "--help"], capture_output=True, text=True, cwd=REPO, env=env)
        assert sub.returncode == 0 and "Usage" in sub.stdout, (command, sub.stderr)


def test_piped_index_output_has_one_line_per_failed_file(mmrag_home: Path, tmp_path: Path) -> None:
    """Piped (not a terminal, 80 columns): nothing wraps, and paths with Rich markup print as written."""
    # "[" / "b]..." puts the markup `[/b]` in every path, which Rich would swallow or choke on
    folder = (
        tmp_path / "x[" / ("b]-a-folder-name-long-enough-that-every-path-in-it-passes-eighty-columns-" * 2)
    )
    folder.mkdir(parents=True)
    shutil.copy(SAMPLES / "field-notes.md", folder)
    broken = [folder / f"broken-[red]photo-{i}.jpg" for i in range(3)]
    for path in broken:
        path.write_bytes((SAMPLES / "coffee.jpg").read_bytes()[:300])
    env = {**os.environ, "COLUMNS": "80", "MMRAG_OCR": "false", "HF_HUB_OFFLINE": "1"}
    env.pop("FORCE_COLOR", None)
    done = subprocess.run(
        [str(Path(sys.executable).with_name("mmrag")), "index", str(folder)],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )
    assert done.returncode == 1, done.stderr
    failed = [line for line in done.stderr.splitlines() if line.startswith("failed ")]
    assert len(failed) == 3, done.stderr
    assert sorted(line.split(": ", 1)[0].removeprefix("failed ") for line in failed) == sorted(
        map(str, broken)
    )
    assert "Traceback" not in done.stderr
    assert done.stdout.splitlines() == ["indexed 1, unchanged 0, skipped 0, failed 3, 5 segments"]


def test_search_human_output_shows_granularity(
    mmrag_home: Path, make_container: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from app.cli import common

    monkeypatch.setattr(common, "container_from_env", lambda: make_container(ocr=False))
    folder = mmrag_home.parent / "notes [" / "b]"
    folder.mkdir(parents=True)
    shutil.copy(SAMPLES / "field-notes.md", folder / "notes-[red].md")
    assert run("index", str(folder), "--json")[0] == 0
    result = CliRunner().invoke(app, ["search", "lighthouse lens", "--k", "5"])
    assert result.exit_code == 0, result.output
    ranked = [line for line in result.stdout.splitlines() if re.match(r"\s*\d+\. ", line)]
    assert ranked and all(str(folder / "notes-[red].md") in line for line in ranked)
    shown = {g for line in ranked for g in ("[paragraph]", "[document]") if g in line}
    assert shown == {"[paragraph]", "[document]"}, result.stdout


def test_source_filter_takes_a_short_id_and_says_when_it_is_ambiguous(
    mmrag_home: Path, make_container: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from app.cli import common

    monkeypatch.setattr(common, "container_from_env", lambda: make_container(ocr=False))
    assert run("index", str(SAMPLES / "field-notes.md"), "--json")[0] == 0
    notes = run("sources", "--json")[1]["sources"][0]
    code, found = run("search", "lighthouse", "--source", notes["source_id"][:8], "--json")
    assert code == 0 and found["hits"] and {h["source_id"] for h in found["hits"]} == {notes["source_id"]}
    short = CliRunner().invoke(app, ["search", "lighthouse", "--source", notes["source_id"][:4]])
    assert short.exit_code == 2 and "too short" in short.stderr
    missing = CliRunner().invoke(app, ["search", "lighthouse", "--source", "0" * 12])
    assert missing.exit_code == 1 and "no such source" in missing.stderr


def test_help_has_readable_metavars() -> None:
    result = CliRunner().invoke(app, ["index", "--help"], env={"COLUMNS": "120"})
    assert result.exit_code == 0
    assert "PATH" in result.stdout and "<bool>" not in result.stdout and "list[Path]" not in result.stdout
