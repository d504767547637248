"""`mmrag eval qa FILE` on an indexed collection: real notes, the real MiniLM, the embedded engine."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

pytestmark = pytest.mark.integration

NOTES = {
    "bridge.md": "The Zorblat suspension bridge over the river Quell was completed in 1911 by the engineer "
    "Mara Ilves. It is 412 metres long.",
    "tea.txt": "Pu-erh tea from Yunnan is fermented and aged, and is sold pressed into round cakes of 357 grams.",
}


def test_cli_eval_qa_prints_the_metrics(make_container: Any, tmp_path: Path) -> None:
    from app.cli.main import app

    folder = tmp_path / "notes"
    folder.mkdir()
    for name, text in NOTES.items():
        (folder / name).write_text(text, encoding="utf-8")
    container = make_container(ocr=False)
    assert container.indexer.index_paths([folder]).indexed == 2
    container.close()  # the command opens the home itself
    rows = [
        {"question": "When was the Zorblat bridge completed?", "answers": ["1911"], "uri": "notes/bridge.md"},
        {"question": "How much does a cake of Pu-erh tea weigh?", "answers": ["357 grams"], "uri": "tea.txt"},
        {"question": "Who painted the lighthouse at Skagen?", "answers": [], "impossible": True},
    ]
    qa = tmp_path / "qa.jsonl"
    qa.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    result = CliRunner().invoke(app, ["eval", "qa", str(qa)])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["questions"] == 3 and data["answerable"] == 2 and data["unanswerable"] == 1
    assert data["contains_gold"] == 1.0 and data["cites_gold"] == 1.0
    assert data["abstain_unanswerable"] == 1.0 and data["score"] == 1.0
    missing = CliRunner().invoke(app, ["eval", "qa", str(tmp_path / "none.jsonl")])
    assert missing.exit_code == 2
