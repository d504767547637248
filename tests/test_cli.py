"""The `mmrag` CLI: JSON shapes, exit codes and `--help`, on real files and the embedded engine."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from app.cli import app
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
    assert set(report) == {"indexed", "unchanged", "failed", "skipped", "renamed", "pruned", "segments"}
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
    exe = [sys.executable, "-c", "from app.cli import main; main()"]
    top = subprocess.run([*exe, "--help"], capture_output=True, text=True, cwd=REPO, env=env, check=True)
    commands = [c for c in ("index", "search", "sources", "delete", "doctor", "eval") if c in top.stdout]
    assert len(commands) == 6, top.stdout
    for command in commands:
        sub = subprocess.run([*exe, command, "--help"], capture_output=True, text=True, cwd=REPO, env=env)
        assert sub.returncode == 0 and "Usage" in sub.stdout, (command, sub.stderr)
