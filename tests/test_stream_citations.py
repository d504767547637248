"""Streamed answers number their `[n]` markers as the final answer does (issue 16 item 2): the first evidence
number used becomes [1], the next new one [2], ..., so the tokens a client shows agree with `done`.

Real: the citation resolver and renumbering, the RAG pipeline over MiniLM and the embedded store, the
OpenAI-compatible generator over HTTP. Stand-in: the chat server (no LLM endpoint here), which streams the
reply in 7-character pieces, so markers arrive split across pieces.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from core.types import Answer
from generation.citations import StreamRenumber, renumber, resolve_citations
from generation.openai_generator import OpenAIGenerator
from tests.fixtures.rag import fact_hit, stand_in_chat_server

MARKER = re.compile(r"\[\d+\]")
EVIDENCE = [fact_hit(k) for k in ("bridge", "frogs", "regatta", "basalt")]
RAW = "The bridge opened in 1911 [3]. Frogs [2, 4] and [9] nothing; again [3][1]. Not a marker [x] [12"


def _final(raw: str) -> str:
    text, citations = resolve_citations(raw, EVIDENCE)
    return renumber(Answer(text=text, citations=citations)).text


def _streamed(raw: str, size: int, seed: str = "") -> str:
    numbering = StreamRenumber(len(EVIDENCE), seed=seed)
    shown = [numbering.feed(raw[i : i + size]) for i in range(0, len(raw), size)]
    return "".join(shown) + numbering.flush()


@pytest.mark.unit
@pytest.mark.parametrize("size", [1, 2, 3, 5, 7, 100])
def test_streamed_markers_match_the_final_numbering_however_the_text_is_cut(size: int) -> None:
    streamed = _streamed(RAW, size)
    assert MARKER.findall(streamed) == MARKER.findall(_final(RAW)) == ["[1]", "[2]", "[3]", "[1]", "[4]"]
    assert "[9]" not in streamed and "[x]" in streamed and streamed.endswith("[12")


@pytest.mark.unit
def test_a_note_before_the_answer_takes_the_first_numbers() -> None:
    note = "The sources disagree: 1911 [2] or 1912 [4]."
    numbering = StreamRenumber(len(EVIDENCE), seed=note)
    assert numbering.rewrite(note) == "The sources disagree: 1911 [1] or 1912 [2]."
    assert numbering.feed("Built in 1911 [4][3]") == "Built in 1911 [2][3]"
    assert MARKER.findall(_streamed(RAW, 4, seed=note)) == MARKER.findall(_final(f"{note} {RAW}"))[2:]


@pytest.mark.integration
def test_rag_stream_tokens_carry_the_numbers_of_the_done_answer(make_container: Any, tmp_path: Path) -> None:
    folder = tmp_path / "notes"
    folder.mkdir()
    (folder / "tea.md").write_text("Pu-erh tea is pressed into round cakes of 357 grams.\n", encoding="utf-8")
    (folder / "bridge.md").write_text("The Zorblat bridge was completed in 1911.\n", encoding="utf-8")
    container = make_container(ocr=False, rerank_min_k=2)
    assert container.indexer.index_paths([folder]).indexed == 2
    with stand_in_chat_server("A cake weighs 357 grams [2]. The bridge is from 1911 [1][2].") as server:
        container.rag.generator = OpenAIGenerator(server.url, "stand-in-model")
        events = list(container.rag.stream("How heavy is a cake of Pu-erh tea?"))
    evidence = next(e["data"] for e in events if e["event"] == "evidence")
    assert len(evidence) >= 2, evidence
    tokens = "".join(e["data"] for e in events if e["event"] == "token")
    done = events[-1]["data"]
    assert events[-1]["event"] == "done"
    assert MARKER.findall(tokens) == MARKER.findall(done["answer"]) == ["[1]", "[2]", "[1]"], (tokens, done)
    assert [c["n"] for c in done["citations"]] == [1, 2]
