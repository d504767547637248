"""`ask` end to end: real texts indexed into a temporary MMRAG_HOME with the real text model and embedded
Qdrant, the shipped router, the embedding reranker and the extractive generator. The answer cites the
segment holding the fact; an unanswerable question abstains; the streaming events and the CLI agree."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from app.rag import answer_to_dict, granularities_for
from core.types import Granularity, Route

pytestmark = pytest.mark.integration

DOCS = {
    "bridges.md": (
        "# Bridges of the Quell valley\n\n"
        "The Zorblat suspension bridge over the river Quell was completed in 1911 by the engineer Mara Ilves. "
        "It is 412 metres long and carries two railway tracks.\n\n"
        "The older Fennick footbridge, built of oak in 1780, was washed away by the flood of 1862 and never "
        "rebuilt.\n"
    ),
    "frogs.txt": (
        "Glass frogs live in the cloud forests of the Andes. Their belly skin is translucent, so their heart "
        "and liver can be seen from below.\n\n"
        "Males guard the eggs, which are laid on leaves hanging over streams; the tadpoles drop into the "
        "water when they hatch.\n"
    ),
    "tea.md": (
        "# Pu-erh\n\nPu-erh tea from Yunnan is fermented and aged, sometimes for decades, and is sold pressed "
        "into round cakes of 357 grams.\n\nThe Quell river regatta, unrelated to tea, attracts rowers from "
        "twelve countries every September.\n"
    ),
}


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("rag-corpus")
    for name, text in DOCS.items():
        (folder / name).write_text(text, encoding="utf-8")
    return folder


@pytest.fixture
def indexed(make_container: Any, corpus: Path) -> Any:
    container = make_container(ocr=False)
    report = container.indexer.index_paths([corpus])
    assert report.failed == [] and report.indexed == len(DOCS)
    return container


def test_routes_map_to_granularities() -> None:
    assert granularities_for([Route.CLIP]) == (Granularity.CLIP, Granularity.FRAME)
    assert granularities_for([Route.PARAGRAPH, Route.DOCUMENT]) == (
        Granularity.PARAGRAPH,
        Granularity.DOCUMENT,
    )
    assert granularities_for([Route.NONE]) == ()


def test_ask_cites_the_segment_holding_the_answer(indexed: Any) -> None:
    answer = indexed.rag.ask("When was the Zorblat bridge completed?")
    assert not answer.abstained and "1911" in answer.text
    assert answer.citations and all(c.segment.uri.endswith("bridges.md") for c in answer.citations)
    assert "1911" in answer.citations[0].segment.text
    assert {"route", "retrieve", "rerank", "generate", "total"} <= set(answer.timings)
    data = answer_to_dict(answer)
    assert set(data) == {"answer", "citations", "route", "timings", "conflicts"} and data["conflicts"] == []
    assert set(data["citations"][0]) == {"n", "segment_id", "uri", "locator"}
    assert data["route"]["selected"] and f"[{data['citations'][0]['n']}]" in data["answer"]

    frogs = indexed.rag.ask("Why can you see the heart of a glass frog?")
    assert frogs.citations[0].segment.uri.endswith("frogs.txt") and "translucent" in frogs.text


def test_ask_abstains_when_nothing_answers(indexed: Any) -> None:
    answer = indexed.rag.ask("Who won the 1998 chess olympiad in Elista?")
    assert answer.abstained and answer.citations == () and "don't know" in answer.text


def test_noisy_neighbours_do_not_derail_the_answer(indexed: Any) -> None:
    # "Quell river" appears in the regatta paragraph too; the answer must come from the bridge paragraph.
    answer = indexed.rag.ask("Who was the engineer of the bridge over the river Quell?")
    assert "Mara Ilves" in answer.text
    assert all("regatta" not in c.segment.text.split(".")[0] for c in answer.citations[:1])


def test_stream_events(indexed: Any) -> None:
    events = list(indexed.rag.stream("How much does a cake of Pu-erh tea weigh?"))
    names = [e["event"] for e in events]
    assert names[0] == "route" and names[1] == "evidence" and names[-1] == "done"
    assert "token" in names
    done = events[-1]["data"]
    assert "357" in done["answer"] and done["citations"][0]["uri"].endswith("tea.md")
    tokens = "".join(e["data"] for e in events if e["event"] == "token")
    assert tokens == done["answer"]
    assert {e["n"] for e in events[1]["data"]} >= {c["n"] for c in done["citations"]}


def test_cli_ask(indexed: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from app.cli import rag as cli_rag
    from app.cli.main import app

    monkeypatch.setattr(cli_rag, "container_from_env", lambda: indexed)
    runner = CliRunner()
    result = runner.invoke(app, ["ask", "When was the Fennick footbridge built?", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert "1780" in data["text"] and data["citations"][0]["uri"].endswith("bridges.md")
    text = runner.invoke(app, ["ask", "When was the Fennick footbridge built?"])
    assert text.exit_code == 0 and "1780" in text.stdout and "Sources" in text.stdout
    assert "[1]" in text.stdout and "bridges.md" in text.stdout


def test_langchain_retriever_returns_documents(indexed: Any) -> None:
    from app.langchain_retriever import MmragRetriever

    docs = MmragRetriever(container=indexed, k=3).invoke("glass frog eggs over streams")
    assert len(docs) == 3 and docs[0].metadata["uri"].endswith("frogs.txt")
    assert {"segment_id", "source_id", "granularity", "locator", "media_ref"} <= set(docs[0].metadata)
    assert "eggs" in docs[0].page_content
    routed = MmragRetriever(container=indexed, k=2, routed=True).invoke("When was the Zorblat bridge built?")
    assert routed and routed[0].metadata["uri"].endswith("bridges.md")


def test_cli_eval_images_with_the_tiny_clip(make_container: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """COCO photos and captions with the tiny random CLIP: proves the plumbing, the recalls are chance level."""
    from app.cli import rag as cli_rag
    from app.cli.main import app
    from tests.conftest import TEST_DATA

    monkeypatch.setattr(cli_rag, "container_from_env", lambda: make_container(ocr=False))
    coco = TEST_DATA / "photos"
    result = CliRunner().invoke(
        app,
        [
            "eval",
            "images",
            "--images",
            str(coco),
            "--captions",
            str(coco / "captions.json"),
            "--limit",
            "6",
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["images"] == 6 and data["captions"] >= 30
    for direction in ("text_to_image", "image_to_text"):
        recalls = [data[direction][f"R@{k}"] for k in (1, 5, 10)]
        assert all(0.0 <= r <= 1.0 for r in recalls) and recalls == sorted(recalls)
    assert data["clip_model"].startswith("local-dir:")
