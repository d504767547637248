"""app/rag.py `RagPipeline` through its public API (`ask`, `stream`, `answer_to_dict`), without model weights.

Real: the retriever, qdrant-client's in-memory store, the BM25 encoder, the extractive generator and the
embedding reranker's logic. FAKE: the text encoder (`HashingTextEncoder`), a router that always gives one
decision (`FixedRouter`), a generator that writes a scripted answer (`ScriptedGenerator`), and a store that
counts its searches (`CountingStore`). The pipeline is built in one place (`_pipeline`).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from app.rag import RagPipeline, answer_to_dict
from core.protocols import Extracted, Generator, Reranker
from core.settings import Settings
from core.types import Answer, Citation, Granularity, Hit, Route, RouteDecision
from indexing.record_encoding import encode_records
from rerank.embedding_reranker import EmbeddingReranker
from rerank.rerankers import NoReranker
from retrieval.bm25_lexical_encoder import BM25LexicalEncoder
from retrieval.retriever import Retriever
from retrieval.stores.qdrant_client_store import QdrantClientStore
from tests.fixtures.rag import FACTS, fact_hit
from tests.unit.fakes import HashingTextEncoder

pytestmark = pytest.mark.unit

DIM = 256
QUESTION = "When was the Zorblat bridge completed?"


class FixedRouter:
    """FAKE router: the same decision for every question."""

    name = "fixed"

    def __init__(self, *routes: Route) -> None:
        self.decision = RouteDecision(
            probabilities={r: 1.0 / len(routes) for r in routes}, selected=routes, router=self.name
        )
        self.questions: list[str] = []

    def route(self, query: str) -> RouteDecision:
        self.questions.append(query)
        return self.decision


class ScriptedGenerator:
    """FAKE generator: cites the evidence numbers in `cite` (in that order) and records what it was given."""

    def __init__(self, cite: Sequence[int] = (), *, needs_evidence: bool = False) -> None:
        self.cite = list(cite)
        self.needs_evidence = needs_evidence
        self.evidence: list[list[Hit]] = []

    def generate(self, query: str, evidence: Sequence[Hit]) -> Answer:
        self.evidence.append(list(evidence))
        cited = [n for n in self.cite if n <= len(evidence)]
        if not cited:
            return Answer("Nothing in the evidence answers that.")
        text = " ".join(f"Fact {n} says so [{n}]." for n in cited)
        return Answer(text, citations=tuple(Citation(n, evidence[n - 1].segment) for n in cited))

    def stream(self, query: str, evidence: Sequence[Hit]) -> Iterator[str]:
        yield self.generate(query, evidence).text


class CountingStore(QdrantClientStore):
    """The real in-memory store, counting the searches made on it."""

    def __init__(self) -> None:
        super().__init__("unit-rag")
        self.searches = 0

    def search(self, *args: Any, **kwargs: Any) -> list[Hit]:
        self.searches += 1
        return super().search(*args, **kwargs)

    def search_scores(self, *args: Any, **kwargs: Any) -> list[list[tuple[str, float]]]:
        self.searches += 1
        return super().search_scores(*args, **kwargs)


@pytest.fixture
def encoder() -> HashingTextEncoder:
    return HashingTextEncoder(DIM)


@pytest.fixture
def store(encoder: HashingTextEncoder) -> CountingStore:
    """Every fact as a paragraph, and the bridge fact as a document too."""
    store = CountingStore()
    store.ensure({"text": DIM})
    hits = [fact_hit(k) for k in FACTS] + [fact_hit("bridge", granularity=Granularity.DOCUMENT)]
    items = [Extracted(segment=h.segment) for h in hits]
    store.upsert(
        encode_records(items, text_encoder=encoder, image_encoder=None, lexical=BM25LexicalEncoder())
    )
    store.searches = 0
    return store


def _pipeline(
    tmp_path: Path,
    store: CountingStore,
    encoder: HashingTextEncoder,
    *,
    router: FixedRouter,
    generator: Generator,
    reranker: Reranker | None = None,
    **settings: Any,
) -> RagPipeline:
    retriever = Retriever(store=store, text_encoder=encoder, image_encoder=None, lexical=BM25LexicalEncoder())
    return RagPipeline(
        retriever=retriever,
        router=router,
        reranker=reranker or EmbeddingReranker(encoder),
        generator=generator,
        settings=Settings(home=tmp_path / "home", **settings),
    )


def test_the_no_route_skips_retrieval_for_a_generator_that_knows_things(
    tmp_path: Path, store: CountingStore, encoder: HashingTextEncoder
) -> None:
    generator = ScriptedGenerator(needs_evidence=False)
    rag = _pipeline(tmp_path, store, encoder, router=FixedRouter(Route.NONE), generator=generator)
    answer = rag.ask("What is two plus two?")
    assert store.searches == 0, "the store was searched for a no-retrieval question"
    assert generator.evidence == [[]]
    assert answer.citations == () and answer.route is not None
    assert answer.route.selected == (Route.NONE,)
    assert "retrieve" not in answer.timings and {"route", "generate", "total"} <= set(answer.timings)
    searched = answer_to_dict(answer)["route"]["searched"]
    assert all(s["candidates"] == s["evidence"] == 0 for s in searched.values())


def test_the_no_route_still_searches_for_a_generator_that_only_quotes(
    tmp_path: Path, store: CountingStore, encoder: HashingTextEncoder
) -> None:
    generator = ScriptedGenerator(cite=[1], needs_evidence=True)
    rag = _pipeline(tmp_path, store, encoder, router=FixedRouter(Route.NONE), generator=generator)
    answer = rag.ask(QUESTION)
    assert store.searches > 0 and generator.evidence[0]
    assert [c.segment.uri for c in answer.citations] == ["bridge.txt"]
    assert "retrieve" in answer.timings and "rerank" in answer.timings


def test_citations_are_numbered_from_one_in_the_order_the_text_uses_them(
    tmp_path: Path, store: CountingStore, encoder: HashingTextEncoder
) -> None:
    generator = ScriptedGenerator(cite=[3, 1])  # cites evidence 3 first, then 1
    rag = _pipeline(
        tmp_path,
        store,
        encoder,
        router=FixedRouter(Route.PARAGRAPH),
        generator=generator,
        reranker=NoReranker(),
        rerank_threshold=0.0,  # keep max_k pieces of evidence
        rerank_min_k=3,
    )
    answer = rag.ask(QUESTION)
    evidence = generator.evidence[0]
    assert len(evidence) >= 3
    assert [c.n for c in answer.citations] == [1, 2]
    assert [c.segment.segment_id for c in answer.citations] == [
        evidence[2].segment.segment_id,
        evidence[0].segment.segment_id,
    ]
    assert answer.text == "Fact 3 says so [1]. Fact 1 says so [2]."
    as_json = answer_to_dict(answer)
    assert [c["n"] for c in as_json["citations"]] == [1, 2]
    assert as_json["answer"] == answer.text


def test_evidence_is_the_reranked_best_within_the_settings(
    tmp_path: Path, store: CountingStore, encoder: HashingTextEncoder
) -> None:
    generator = ScriptedGenerator(cite=[1])
    rag = _pipeline(
        tmp_path,
        store,
        encoder,
        router=FixedRouter(Route.PARAGRAPH),
        generator=generator,
        rerank_threshold=0.0,
        rerank_max_k=2,
    )
    rag.ask(QUESTION)
    evidence = generator.evidence[0]
    assert len(evidence) == 2
    assert "Zorblat" in evidence[0].segment.text
    assert evidence[0].score >= evidence[1].score
    assert all(h.scores.get("rerank") is not None for h in evidence)


def test_one_copy_of_a_text_reaches_the_generator(
    tmp_path: Path, store: CountingStore, encoder: HashingTextEncoder
) -> None:
    """The bridge fact is stored as a paragraph and as a document: only the finer copy is evidence."""
    generator = ScriptedGenerator(cite=[1])
    rag = _pipeline(
        tmp_path,
        store,
        encoder,
        router=FixedRouter(Route.PARAGRAPH, Route.DOCUMENT),
        generator=generator,
        rerank_threshold=0.0,
    )
    answer = rag.ask(QUESTION)
    bridge = [h for h in generator.evidence[0] if "Zorblat" in h.segment.text]
    assert [h.segment.granularity for h in bridge] == [Granularity.PARAGRAPH]
    searched = answer_to_dict(answer)["route"]["searched"]
    assert searched["document"]["granularities"] == ["document"]
    assert searched["paragraph"]["evidence"] >= 1


def test_the_extractive_generator_abstains_when_nothing_answers(
    tmp_path: Path, store: CountingStore, encoder: HashingTextEncoder
) -> None:
    from generation.extractive_generator import ExtractiveGenerator

    rag = _pipeline(
        tmp_path,
        store,
        encoder,
        router=FixedRouter(Route.PARAGRAPH),
        generator=ExtractiveGenerator(encoder),
    )
    answer = rag.ask("Which quarterback won the 1987 championship game?")
    assert answer.abstained and answer.citations == ()
    assert answer_to_dict(answer)["citations"] == []
    answered = rag.ask(QUESTION)
    assert not answered.abstained and "1911" in answered.text
    assert [c.n for c in answered.citations] == list(range(1, len(answered.citations) + 1))
    assert "bridge.txt" in {c.segment.uri for c in answered.citations}


def test_stream_sends_route_evidence_tokens_then_the_same_answer_as_ask(
    tmp_path: Path, store: CountingStore, encoder: HashingTextEncoder
) -> None:
    rag = _pipeline(
        tmp_path,
        store,
        encoder,
        router=FixedRouter(Route.PARAGRAPH),
        generator=ScriptedGenerator(cite=[2, 1]),
        rerank_threshold=0.0,
    )
    events = list(rag.stream(QUESTION))
    names = [e["event"] for e in events]
    assert names[:2] == ["route", "evidence"] and names[-1] == "done"
    assert set(names[2:-1]) == {"token"}
    done = events[-1]["data"]
    assert "".join(e["data"] for e in events[2:-1]) == done["answer"]
    evidence = events[1]["data"]
    assert [e["n"] for e in evidence] == list(range(1, len(evidence) + 1))
    assert [c["n"] for c in done["citations"]] == [1, 2]
    assert [c["segment_id"] for c in done["citations"]] == [
        evidence[1]["segment_id"],
        evidence[0]["segment_id"],
    ]
    asked = answer_to_dict(rag.ask(QUESTION))
    assert {k: v for k, v in asked.items() if k != "timings"} == {
        k: v for k, v in done.items() if k != "timings"
    }


def test_the_router_sees_the_question_once_per_ask(
    tmp_path: Path, store: CountingStore, encoder: HashingTextEncoder
) -> None:
    router = FixedRouter(Route.PARAGRAPH)
    rag = _pipeline(tmp_path, store, encoder, router=router, generator=ScriptedGenerator(cite=[1]))
    answer = rag.ask(QUESTION)
    assert router.questions == [QUESTION]
    assert answer.route is not None and answer.route.router == "fixed"
    assert all(v >= 0 for v in answer.timings.values())


def test_a_streaming_generator_streams_its_own_text_and_ends_with_the_answer_ask_gives(
    tmp_path: Path, store: CountingStore, encoder: HashingTextEncoder
) -> None:
    """The OpenAI-compatible generator over a local stand-in server (loopback only): raw pieces, then `done`."""
    from generation.openai_generator import OpenAIGenerator
    from tests.fixtures.rag import stand_in_chat_server

    with stand_in_chat_server("It was completed in 1911 [1].") as server:
        rag = _pipeline(
            tmp_path,
            store,
            encoder,
            router=FixedRouter(Route.PARAGRAPH),
            generator=OpenAIGenerator(server.url, "stand-in-model"),
        )
        events = list(rag.stream(QUESTION))
        asked = answer_to_dict(rag.ask(QUESTION))
    tokens = [e["data"] for e in events if e["event"] == "token"]
    assert len(tokens) > 1 and "".join(tokens) == "It was completed in 1911 [1]."
    done = events[-1]["data"]
    assert done["answer"] == asked["answer"] == "It was completed in 1911 [1]."
    assert done["citations"] == asked["citations"] and [c["uri"] for c in done["citations"]] == ["bridge.txt"]
