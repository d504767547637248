"""Conflicting evidence: two versions of an opening-hours notice make `ask` say the sources disagree and cite
both; agreeing sources give no conflict. End to end on real files with the real text model and the embedded
engine, plus the value parsing and the note a prompted generator receives."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from app.rag import answer_to_dict
from core.types import Granularity, Hit, Locator, Modality, Segment, segment_id
from generation.conflict_values import clock_times, dates, numbers, question_kind
from generation.conflicts import ConflictDetector, conflict_note, detect_conflicts, follow_renumbering

OLD_NOTICE = (
    "Opening hours notice. The Linden Street public library is open from 9:00 to 17:00, Monday to Friday. "
    "Returns can be left in the book drop at any time."
)
NEW_NOTICE = (
    "Opening hours notice (updated). The Linden Street public library is open from 10:00 to 18:00, Monday to "
    "Friday. Returns can be left in the book drop at any time."
)
SAME_HOURS = (
    "Visitor guide. The Linden Street public library is open from 9 a.m. to 5 p.m., Monday to Friday."
)
OTHER = (
    "The Linden Street swimming pool reopens in spring after the roof repairs; lanes can be booked online."
)
QUESTION = "What are the opening hours of the Linden Street public library?"


def _hit(text: str, key: str, uri: str, metadata: dict[str, Any] | None = None) -> Hit:
    source = (key * 64)[:64]
    loc = Locator(index=0)
    seg = Segment(
        segment_id=segment_id(source, Granularity.PARAGRAPH, loc),
        source_id=source,
        uri=uri,
        modality=Modality.TEXT,
        granularity=Granularity.PARAGRAPH,
        text=text,
        locator=loc,
        metadata=metadata or {},
    )
    return Hit(segment=seg, score=1.0)


@pytest.mark.unit
def test_values_are_normalised() -> None:
    assert [k for _, k in clock_times("open 9am to 5.30 p.m., or 17:00 and noon")] == [
        frozenset({"09:00"}),
        frozenset({"17:30"}),
        frozenset({"17:00"}),
        frozenset({"12:00"}),
    ]
    found = dict(dates("completed on 3 March 1911, rebuilt in 1923 and in the 10th century"))
    assert found["3 March 1911"] == frozenset({"1911", "1911-03", "1911-03-03"})
    assert found["1923"] == frozenset({"1923"}) and found["10th century"] == frozenset({"century 10"})
    assert [k for _, k in numbers("1,200 people, 1.5 million euros and twelve boats")] == [
        frozenset({"1200"}),
        frozenset({"1.5e+06"}),
        frozenset({"12"}),
    ]
    assert question_kind("What time does the pool open?") == "time"
    assert question_kind("In what year was the bridge built?") == "date"
    assert question_kind("How many tracks does it carry?") == "number"
    assert question_kind("Who designed the bridge?") == "name"
    assert question_kind("Is the museum open on Mondays?") == "yesno"


@pytest.mark.unit
def test_kinds_of_conflict_and_agreement() -> None:
    old, new = _hit(OLD_NOTICE, "a", "old.txt"), _hit(NEW_NOTICE, "b", "new.txt")
    same = _hit(SAME_HOURS, "c", "guide.txt")
    assert len(detect_conflicts(QUESTION, [old, new])) == 1
    assert detect_conflicts(QUESTION, [old, same]) == [], "9:00–17:00 and 9 a.m.–5 p.m. agree"
    assert detect_conflicts(QUESTION, [old, _hit(OTHER, "d", "pool.txt")]) == []
    # worded differently: a short line under a heading that names the library
    sign = _hit("Linden Street public library\nOpening hours: 10am-6pm, Monday to Friday.", "e", "sign.txt")
    [worded] = detect_conflicts(QUESTION, [old, sign])
    assert [c.value for c in worded.claims] == ["9:00–17:00", "10am–6pm"]
    # the same source saying two things (a page and its paragraph) is not a disagreement between sources
    assert detect_conflicts(QUESTION, [old, _hit(NEW_NOTICE, "a", "old.txt")]) == []

    built = _hit("The Zorblat bridge was completed in 1911 by Mara Ilves.", "e", "a.txt")
    rebuilt = _hit("The Zorblat bridge was completed in 1923 by Mara Ilves.", "f", "b.txt")
    assert detect_conflicts("When was the Zorblat bridge completed?", [built, rebuilt])[0].kind == "date"
    assert detect_conflicts("Who completed the Zorblat bridge?", [built, rebuilt]) == []
    by_other = _hit("The Zorblat bridge was completed in 1911 by Oskar Brand.", "g", "c.txt")
    names = detect_conflicts("Who completed the Zorblat bridge?", [built, by_other])
    assert [c.value for c in names[0].claims] == ["Mara Ilves", "Oskar Brand"]

    open_ = _hit("The city museum is open on Mondays during the summer.", "h", "m1.txt")
    closed = _hit("The city museum is closed on Mondays during the summer.", "i", "m2.txt")
    yes_no = detect_conflicts("Is the city museum open on Mondays in summer?", [open_, closed])
    assert [c.value for c in yes_no[0].claims] == ["yes", "no"]


@pytest.mark.unit
def test_newer_source_by_exif_time_and_the_prompt_note() -> None:
    old = _hit(OLD_NOTICE, "a", "old.jpg", {"taken_at": "2024-05-01T10:00:00"})
    new = _hit(NEW_NOTICE, "b", "new.jpg", {"taken_at": "2026-02-01T10:00:00"})
    [conflict] = ConflictDetector().detect(QUESTION, [old, new])
    assert conflict.newer == 2
    message = conflict.message()
    assert message.startswith("The sources disagree: [1] says 9:00–17:00, [2] says 10:00–18:00.")
    assert "[2] is the newer source (2026-02-01)" in message
    data = conflict.to_dict()
    assert data["claims"][1]["source_time"].startswith("2026-02-01") and data["kind"] == "time"
    note = conflict_note(QUESTION, [conflict])
    assert note.startswith(QUESTION) and "[1] says 9:00–17:00" in note and "newer" in note
    assert conflict_note(QUESTION, []) == QUESTION


@pytest.mark.unit
def test_conflicts_follow_renumbered_citations() -> None:
    """Citations renumbered in order of use (generation.citations.renumber) renumber the conflicts too."""
    from dataclasses import replace

    from generation.conflicts import with_conflicts
    from generation.extractive_generator import ExtractiveGenerator

    evidence = [
        _hit(OTHER, "d", "pool.txt"),
        _hit(OLD_NOTICE, "a", "old.txt"),
        _hit(NEW_NOTICE, "b", "new.txt"),
    ]
    conflicts = detect_conflicts(QUESTION, evidence)
    answer = with_conflicts(ExtractiveGenerator().generate(QUESTION, evidence), conflicts, evidence)
    assert [c["n"] for c in answer.conflicts[0]["claims"]] == [2, 3]
    new_n = {2: 1, 3: 2, 1: 3}  # what a renumbering in order of use would do
    moved = replace(answer, citations=tuple(replace(c, n=new_n[c.n]) for c in answer.citations))
    [conflict] = follow_renumbering(moved).conflicts
    assert [c["n"] for c in conflict["claims"]] == [1, 2]
    assert conflict["message"].startswith("The sources disagree: [1] says 9:00–17:00, [2] says 10:00–18:00.")


@pytest.mark.unit
def test_prompted_generator_gets_the_conflict_in_its_prompt() -> None:
    """The OpenAI-compatible generator against a local stand-in server: the sent prompt names both sides."""
    from app.rag import RagPipeline
    from core.settings import Settings
    from generation.openai_generator import OpenAIGenerator
    from tests.fixtures.rag import stand_in_chat_server

    old, new = _hit(OLD_NOTICE, "a", "old.txt"), _hit(NEW_NOTICE, "b", "new.txt")

    class _Fixed:  # retrieval, routing and reranking are not under test here: fixed evidence
        text_encoder = None

        def route(self, query: str) -> Any:
            from core.types import Route, RouteDecision

            return RouteDecision({Route.PARAGRAPH: 1.0}, (Route.PARAGRAPH,), "fixed")

        def encode(self, query: str) -> str:  # the pipeline encodes the question once, then searches
            return query

        def search(self, query: Any, k: int = 10, flt: Any = None) -> list[Hit]:
            return [old, new]

        def rerank(self, query: str, hits: Any) -> list[Hit]:
            return list(hits)

    reply = "The sources disagree: [1] says 9:00 to 17:00 and [2] says 10:00 to 18:00."
    with stand_in_chat_server(reply) as server:
        generator = OpenAIGenerator(base_url=server.url, model="m", api_key="k")
        fixed = _Fixed()
        rag = RagPipeline(
            retriever=fixed,  # type: ignore[arg-type]
            router=fixed,
            reranker=fixed,
            generator=generator,
            settings=Settings(rerank_threshold=0.0, rerank_min_k=2),
        )
        answer = rag.ask(QUESTION)
        sent = json.dumps(server.requests[-1]["body"])
    assert "The sources disagree" in sent and "10:00" in sent and "9:00" in sent
    assert answer.text == reply, "a model that already says so keeps its own words"
    assert [c.n for c in answer.citations] == [1, 2] and len(answer.conflicts) == 1


@pytest.fixture
def notices(tmp_path: Path) -> Path:
    folder = tmp_path / "notices"
    folder.mkdir()
    (folder / "hours-2024.txt").write_text(OLD_NOTICE + "\n", encoding="utf-8")
    (folder / "hours-2026.txt").write_text(NEW_NOTICE + "\n", encoding="utf-8")
    (folder / "pool.txt").write_text(OTHER + "\n", encoding="utf-8")
    os.utime(folder / "hours-2024.txt", (1_714_557_600, 1_714_557_600))  # 2024-05-01
    os.utime(folder / "hours-2026.txt", (1_769_940_000, 1_769_940_000))  # 2026-02-01
    return folder


@pytest.mark.integration
def test_ask_reports_two_versions_of_a_notice(make_container: Any, notices: Path) -> None:
    container = make_container(ocr=False)
    report = container.indexer.index_paths([notices])
    assert report.failed == [] and report.indexed == 3

    answer = container.rag.ask(QUESTION)
    assert answer.text.startswith("The sources disagree: ")
    cited = {Path(c.segment.uri).name for c in answer.citations}
    assert {"hours-2024.txt", "hours-2026.txt"} <= cited
    data = answer_to_dict(answer)
    [conflict] = data["conflicts"]
    values = {Path(c["uri"]).name: c["value"] for c in conflict["claims"]}
    assert values == {"hours-2024.txt": "9:00–17:00", "hours-2026.txt": "10:00–18:00"}
    newer = next(c for c in conflict["claims"] if c["n"] == conflict["newer"])
    assert newer["uri"].endswith("hours-2026.txt"), "the file modified later is the newer source"
    assert f"[{conflict['newer']}] is the newer source (2026-02-01)" in data["answer"]
    cited_n = {c["segment_id"]: c["n"] for c in data["citations"]}
    for c in conflict["claims"]:  # every side is cited in the answer text, by its citation number
        assert f"[{c['n']}]" in data["answer"] and cited_n[c["segment_id"]] == c["n"]

    # Remove the old version: the remaining sources agree (or say nothing else), no conflict.
    container.delete_source(container.manifest.resolve(str(notices / "hours-2024.txt")).source_id)
    agreed = container.rag.ask(QUESTION)
    assert agreed.conflicts == () and "10:00" in agreed.text and "disagree" not in agreed.text


@pytest.mark.integration
def test_cli_ask_json_has_conflicts(
    make_container: Any, notices: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from app.cli import rag as cli_rag
    from app.cli.main import app

    container = make_container(ocr=False)
    container.indexer.index_paths([notices])
    monkeypatch.setattr(cli_rag, "container_from_env", lambda: container)
    result = CliRunner().invoke(app, ["ask", QUESTION, "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert len(data["conflicts"]) == 1 and data["text"].startswith("The sources disagree")
    plain = CliRunner().invoke(
        app, ["ask", "Where can returns be left at the Linden Street library?", "--json"]
    )
    assert json.loads(plain.stdout)["conflicts"] == []
