"""Ask anything in your files (issue 16): `mmrag ask` with DEFAULT settings answers questions whose answer is
only spoken in a recording, only spoken in a video, only shown on a video slide, only in a PDF, only in a
photo of a sign, or only in a text note, and cites that file; for media, at a start time at most 5 s before
the fact is heard or shown.

The folder (tests/fixtures/mixed_folder.py) is real media: espeak-ng speech muxed by PyAV over slides, a PDF
written by PyMuPDF, a picture of words; it is indexed and asked through the real CLI in subprocesses with
nothing configured but MMRAG_HOME (no CLIP weights exist offline: the default image space is unavailable, so
the photo is found through its OCR text). Needs `apt-get install -y espeak-ng`.
"""

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

from tests.fixtures.mixed_folder import Question, build_mixed_folder

pytestmark = [pytest.mark.integration, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[1]
KEYFRAME_LAG_S = 1.0
"""A slide's keyframe is found on the 2-per-second scan after it appears (MMRAG_KEYFRAME sampling)."""


def _cli(env: dict[str, str], *args: str, timeout: float = 900) -> subprocess.CompletedProcess[str]:
    exe = [sys.executable, "-c", "from app.cli.main import main; main()"]
    return subprocess.run([*exe, *args], capture_output=True, text=True, cwd=REPO, env=env, timeout=timeout)


@pytest.fixture(scope="module")
def indexed(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, str], list[Question], Path]:
    """The mixed folder, indexed by `mmrag index` into a fresh MMRAG_HOME with default settings."""
    if shutil.which("espeak-ng") is None:
        pytest.fail("espeak-ng is required: apt-get install -y espeak-ng")
    root = tmp_path_factory.mktemp("ask-anything")
    questions = build_mixed_folder(root / "files")
    env = {k: v for k, v in os.environ.items() if not k.startswith("MMRAG_")}
    env.update({"MMRAG_HOME": str(root / "home"), "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"})
    done = _cli(env, "index", str(root / "files"), "--json")
    assert done.returncode == 0, done.stderr[-2000:]
    report = json.loads(done.stdout)
    assert not report.get("failed"), report
    return env, questions, root / "files"


def _ask(env: dict[str, str], question: str) -> dict[str, Any]:
    done = _cli(env, "ask", "--json", question, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    return dict(json.loads(done.stdout))


def _check(answer: dict[str, Any], q: Question) -> None:
    text = answer["text"]
    assert not answer["abstained"], f"{q.text!r}: abstained ({answer['route']})"
    assert any(a.lower() in text.lower() for a in q.answers), f"{q.text!r}: {text!r}"
    cited = answer["citations"]
    assert cited and Path(cited[0]["uri"]).name == q.file, f"{q.text!r} cites {[c['uri'] for c in cited]}"
    markers = [int(n) for n in re.findall(r"\[(\d+)\]", text)]
    assert markers and markers[0] == 1 and sorted(set(markers)) == [c["n"] for c in cited]
    if q.at_s is not None:
        start = cited[0]["locator"].get("start_s")
        assert start is not None, cited[0]
        assert q.at_s - 5.0 <= start <= q.at_s + KEYFRAME_LAG_S, (
            f"{q.text!r}: cited {start}, said at {q.at_s}"
        )


def test_ask_answers_from_every_kind_of_file(indexed: tuple[dict[str, str], list[Question], Path]) -> None:
    env, questions, _ = indexed
    failures = []
    for q in questions:
        answer = _ask(env, q.text)
        try:
            _check(answer, q)
        except AssertionError as exc:
            failures.append(str(exc))
        route = answer["route"]
        assert route["mode"] == "prior" and set(route["searched"]) == {
            "paragraph",
            "document",
            "image",
            "clip",
            "video",
        }
    assert not failures, "\n".join(failures)


def test_unanswerable_question_abstains(indexed: tuple[dict[str, str], list[Question], Path]) -> None:
    env, _, _ = indexed
    answer = _ask(env, "What is the name of the captain of the submarine?")
    assert answer["abstained"] and answer["citations"] == []
