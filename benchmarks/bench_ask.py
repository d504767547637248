"""Benchmark `ask` on CPU: latency per stage with the extractive and the GGUF generator, router latency, and
reranking cost per candidate (embedding reranker, tiny cross-encoder, tiny MLLM).

Corpus: the first N Cranfield abstracts (../shared/data/beir/cranfield), indexed into a temporary MMRAG_HOME
with the packaged MiniLM and the embedded Qdrant engine; questions: the first Cranfield queries.
The cross-encoder and MLLM are tiny random models: their numbers are the plumbing's cost per candidate at that
size, not a real model's.

    python benchmarks/bench_ask.py [--docs 200] [--queries 20] [--gguf] [--out benchmarks/results/ask.json]

`--api` instead measures `POST /v1/ask` end to end through the API (FastAPI TestClient with the server's
lifespan: the models load as `mmrag serve` loads them), default settings, the extractive generator, on a
small mixed collection (samples/files, tests/data/pdf, the footbridge recording, and the first
`--api-docs` Cranfield abstracts when ../shared/data is there). It compares the router as a prior (what
`ask` does: every granularity searched, the route a tie-break) with the router as a gate (the earlier
behaviour, rebuilt here: only the routed granularities searched, everything only when they return
nothing), alternating the two question by question, and writes benchmarks/results/ask_api.json:

    python benchmarks/bench_ask.py --api [--api-docs 200] [--rounds 3] [--out-api benchmarks/results/ask_api.json]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
DATA = REPO.parent / "shared" / "data" / "beir" / "cranfield"


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 4)


def _summary(values: list[float]) -> dict[str, float]:
    return {"p50": _pct(values, 0.5), "p95": _pct(values, 0.95), "mean": round(statistics.mean(values), 4)}


def _corpus(folder: Path, n: int) -> None:
    with (DATA / "corpus.jsonl").open() as f:
        for i, line in enumerate(f):
            if i >= n:
                break
            doc = json.loads(line)
            (folder / f"cran-{doc['_id']}.txt").write_text(f"{doc['title']}\n\n{doc['text']}\n")


def _queries(n: int) -> list[str]:
    with (DATA / "queries.jsonl").open() as f:
        return [json.loads(line)["text"] for line, _ in zip(f, range(n), strict=False)]


def _ask_latency(container: Any, questions: list[str]) -> dict[str, Any]:
    stages: dict[str, list[float]] = {}
    abstained = 0
    for q in questions:
        answer = container.rag.ask(q)
        abstained += answer.abstained
        for stage, seconds in answer.timings.items():
            stages.setdefault(stage, []).append(seconds)
    return {
        "questions": len(questions),
        "abstained": abstained,
        **{k: _summary(v) for k, v in stages.items()},
    }


def _per_candidate(reranker: Any, query: str, hits: list[Any], rounds: int = 3) -> dict[str, float]:
    reranker.rerank(query, hits[:2])  # warm-up (loads the model)
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        reranker.rerank(query, hits)
        times.append(time.perf_counter() - start)
    best = min(times)
    return {
        "candidates": len(hits),
        "seconds": round(best, 4),
        "ms_per_candidate": round(1000 * best / len(hits), 3),
    }


def _rerank_costs(container: Any, questions: list[str], work: Path) -> dict[str, Any]:
    from rerank.cross_encoder_reranker import CrossEncoderReranker
    from rerank.embedding_reranker import EmbeddingReranker
    from rerank.mllm_reranker import MllmReranker
    from tests.fixtures.tiny_cross_encoder import build_tiny_cross_encoder
    from tests.fixtures.tiny_qwen2vl import build_tiny_qwen2vl

    hits = container.retriever.search(questions[0], k=20)
    cold = [replace(h, scores={k: v for k, v in h.scores.items() if k != "text"}) for h in hits]
    emb = EmbeddingReranker(container.text_encoder, container.image_encoder)
    ce = CrossEncoderReranker(str(build_tiny_cross_encoder(work / "ce")), device="cpu")
    mllm = MllmReranker(str(build_tiny_qwen2vl(work / "qwen")), device="cpu")
    return {
        "embedding_reusing_search_scores": _per_candidate(emb, questions[0], hits),
        "embedding_reembedding_text": _per_candidate(emb, questions[0], cold),
        "cross_encoder_tiny_bert_2x32": _per_candidate(ce, questions[0], hits),
        "mllm_tiny_qwen2vl_2x64": _per_candidate(mllm, questions[0], hits[:8], rounds=1),
    }


API_QUESTIONS = [
    "When was the lighthouse on Gull Point built?",
    "How far is the lighthouse lens visible?",
    "Why is the footbridge to the lighthouse closed?",
    "Until when is the footbridge closed?",
    "What does the trail sign say?",
    "How do I make an espresso?",
    "What animals live in the tide pools?",
    "Is there a picture of a cat?",
    "Show me the rocket launch photo.",
    "What is on page 2 of the espresso guide?",
]


def _api_corpus(folder: Path, docs: int) -> dict[str, Any]:
    """Copy the mixed sample files (and `docs` Cranfield abstracts, if the shared data is there)."""
    import shutil

    sources = [
        *sorted((REPO / "samples" / "files").iterdir()),
        *sorted((REPO / "tests/data/pdf").glob("*.pdf")),
    ]
    sources.append(REPO / "tests/data/audio/footbridge.wav")
    for path in sources:
        shutil.copy(path, folder / path.name)
    cranfield = docs if DATA.is_dir() else 0
    if cranfield:
        _corpus(folder, cranfield)
    return {"files": [p.name for p in sources], "cranfield_abstracts": cranfield}


def _gated(rag: Any) -> Any:
    """The same pipeline with the router as a gate: the earlier `ask` (search only the routed granularities;
    everything only when they return no hit), for comparison."""
    import copy

    from app.rag import RagPipeline, granularities_for
    from core.types import Route, SearchFilter
    from rerank.selection import select_evidence

    class GatedPipeline(RagPipeline):
        def evidence(self, question: str, timings: dict[str, float]) -> tuple[Any, list[Any]]:
            t = time.perf_counter()
            decision = self.router.route(question)
            timings["route"] = time.perf_counter() - t
            routes = decision.selected
            if set(routes) <= {Route.NONE}:
                routes = tuple(r for r in Route if r is not Route.NONE)  # the extractive one must search
            t = time.perf_counter()
            flt = SearchFilter(granularities=granularities_for(routes))
            hits = list(self.retriever.search(question, k=self.candidates, flt=flt))
            if not hits:
                hits = list(self.retriever.search(question, k=self.candidates))
            timings["retrieve"] = time.perf_counter() - t
            t = time.perf_counter()
            reranked = self.reranker.rerank(question, hits)
            timings["rerank"] = time.perf_counter() - t
            s = self.settings
            selected = select_evidence(
                reranked, threshold=s.rerank_threshold, min_k=s.rerank_min_k, max_k=s.rerank_max_k
            )
            return decision, selected

    gated = copy.copy(rag)
    gated.__class__ = GatedPipeline
    return gated


class _GeneratorCounts:
    """What the generator read per request (load-robust beside the seconds): evidence items, their characters,
    and the sentences the text encoder embedded. Wraps the shared generator's `generate` and encoder."""

    def __init__(self, generator: Any) -> None:
        self.items: list[int] = []
        self.chars: list[int] = []
        self.embedded: list[int] = []
        self.inside = False  # only the generator's own encoding counts (not the reranker's, say)
        generate, encoder = generator.generate, getattr(generator, "text_encoder", None)

        def counted_generate(query: str, evidence: Any) -> Any:
            self.items.append(len(evidence))
            self.chars.append(sum(len(h.segment.text) for h in evidence))
            self.embedded.append(0)
            self.inside = True
            try:
                return generate(query, evidence)
            finally:
                self.inside = False

        generator.generate = counted_generate
        if encoder is not None:
            encode = encoder.encode_documents

            def counted_encode(texts: Any) -> Any:
                if self.inside:
                    self.embedded[-1] += len(texts)
                return encode(texts)

            encoder.encode_documents = counted_encode

    def take(self) -> tuple[int, int, int]:
        """The last request's (items, chars, sentences embedded)."""
        return self.items[-1], self.chars[-1], self.embedded[-1]


def _forget_queries(container: Any) -> None:
    """Empty the container's query-vector cache (if it has one): questions repeat here, a user's do not."""
    cache = getattr(container.__dict__.get("query_encoder"), "_vectors", None)
    if cache is not None:
        cache.clear()


def _api_bench(args: argparse.Namespace) -> dict[str, Any]:
    """p50/p95 of POST /v1/ask through the API, router as a prior vs as a gate (see the module docstring)."""
    from fastapi.testclient import TestClient

    from app.api.main import create_app
    from app.container import Container
    from core.settings import Settings

    questions = API_QUESTIONS + (_queries(args.api_queries) if DATA.is_dir() else [])
    result: dict[str, Any] = {
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "note": "shared 2-core box"},
        "settings": "defaults (router trained, reranker, extractive generator); MMRAG_HOME a temp folder",
        "client": "FastAPI TestClient with the server lifespan (in-process ASGI, no network)",
        "rounds": args.rounds,
    }
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        (work / "docs").mkdir()
        result["corpus"] = _api_corpus(work / "docs", args.api_docs)
        settings = Settings(home=work / "home")
        indexer = Container(settings)
        start = time.perf_counter()
        report = indexer.indexer.index_paths([work / "docs"])
        result["index"] = {
            "indexed": report.indexed,
            "failed": len(report.failed),
            "segments": report.segments,
            "seconds": round(time.perf_counter() - start, 2),
        }
        indexer.close()
        app = create_app(settings)
        with TestClient(app) as http:
            container = app.state.container
            assert app.state.ready, app.state.load_error
            pipelines = {"prior": container.rag, "gate": _gated(container.rag)}
            counts = _GeneratorCounts(container.rag.generator)
            read: dict[str, list[tuple[int, int, int]]] = {mode: [] for mode in pipelines}
            result["granularities"] = sorted(
                {
                    h.segment.granularity.value
                    for q in questions[:5]
                    for h in container.retriever.search(q, k=50)
                }
            )
            wall: dict[str, list[float]] = {mode: [] for mode in pipelines}
            server: dict[str, list[float]] = {mode: [] for mode in pipelines}
            answered: dict[str, int] = {mode: 0 for mode in pipelines}
            stages: dict[str, dict[str, list[float]]] = {mode: {} for mode in pipelines}
            candidates: dict[str, list[int]] = {mode: [] for mode in pipelines}
            for rag in pipelines.values():  # warm-up: first-call costs out of the numbers
                container.__dict__["rag"] = rag
                http.post("/v1/ask", json={"question": questions[0]}).raise_for_status()
            for round_no in range(args.rounds):
                for i, question in enumerate(questions):
                    order = ["prior", "gate"] if (i + round_no) % 2 == 0 else ["gate", "prior"]
                    for mode in order:
                        container.__dict__["rag"] = pipelines[mode]
                        _forget_queries(container)  # each request encodes its question, as a new one would
                        t = time.perf_counter()
                        r = http.post("/v1/ask", json={"question": question})
                        wall[mode].append(time.perf_counter() - t)
                        r.raise_for_status()
                        read[mode].append(counts.take())
                        body = r.json()
                        server[mode].append(body["timings"]["total"])
                        for stage, seconds in body["timings"].items():
                            stages[mode].setdefault(stage, []).append(seconds)
                        searched = (body.get("route") or {}).get("searched") or {}
                        if mode == "prior" and isinstance(searched, dict):
                            candidates[mode].append(
                                sum(
                                    int(v.get("candidates", 0))
                                    for v in searched.values()
                                    if isinstance(v, dict)
                                )
                            )
                        answered[mode] += not body["abstained"]
            container.__dict__["rag"] = pipelines["prior"]
        for mode in pipelines:
            result[mode] = {
                "requests": len(wall[mode]),
                "answered": answered[mode],
                "http_s": _summary(wall[mode]),
                "pipeline_total_s": _summary(server[mode]),
                "stages_p50_s": {k: _pct(v, 0.5) for k, v in stages[mode].items() if k != "total"},
                "generator_read_mean": {
                    name: round(statistics.mean(row[i] for row in read[mode]), 2)
                    for i, name in enumerate(("evidence_items", "evidence_chars", "sentences_embedded"))
                },
            }
            if candidates[mode]:
                result[mode]["reranked_candidates_p50"] = _pct([float(c) for c in candidates[mode]], 0.5)
        result["prior_vs_gate_p50"] = round(
            result["prior"]["http_s"]["p50"] / result["gate"]["http_s"]["p50"], 3
        )
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=int, default=200)
    parser.add_argument("--queries", type=int, default=20)
    parser.add_argument(
        "--gguf", action="store_true", help="Also time the packaged Gemma 3 270M (slow load)."
    )
    parser.add_argument("--gguf-queries", type=int, default=3)
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results" / "ask.json")
    parser.add_argument("--api", action="store_true", help="Measure POST /v1/ask: router as prior vs gate.")
    parser.add_argument("--api-docs", type=int, default=200, help="Cranfield abstracts added to the samples.")
    parser.add_argument(
        "--api-queries", type=int, default=10, help="Cranfield queries added to the questions."
    )
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--out-api", type=Path, default=REPO / "benchmarks" / "results" / "ask_api.json")
    args = parser.parse_args()
    if args.api:
        api = _api_bench(args)
        args.out_api.parent.mkdir(parents=True, exist_ok=True)
        args.out_api.write_text(json.dumps(api, indent=2) + "\n")
        print(json.dumps(api, indent=2))
        return

    from app.container import Container
    from core.settings import Settings

    result: dict[str, Any] = {
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "note": "shared 2-core box"},
        "corpus": f"first {args.docs} Cranfield abstracts",
    }
    questions = _queries(args.queries)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        (work / "docs").mkdir()
        _corpus(work / "docs", args.docs)
        container = Container(Settings(home=work / "home", clip_model="", ocr=False))
        start = time.perf_counter()
        report = container.indexer.index_paths([work / "docs"])
        result["index"] = {"segments": report.segments, "seconds": round(time.perf_counter() - start, 2)}
        start = time.perf_counter()
        container.router.route("warm-up")
        result["router_first_call_s"] = round(time.perf_counter() - start, 4)
        route_times = []
        for q in questions:
            t = time.perf_counter()
            container.router.route(q)
            route_times.append(time.perf_counter() - t)
        result["router"] = _summary(route_times)
        container.rag.ask(questions[0])  # warm-up
        result["ask_extractive"] = _ask_latency(container, questions)
        result["rerank_cost"] = _rerank_costs(container, questions, work)
        _write(args.out, result)  # keep what is measured even if the slow GGUF part fails
        if args.gguf:
            result["ask_gguf"] = _gguf(container, questions[: args.gguf_queries])
            _write(args.out, result)
        container.close()
    print(json.dumps(result, indent=2))


def _write(path: Path, result: dict[str, Any]) -> None:
    """Write the results, keeping an earlier run's GGUF section when this run skipped it (slow to redo)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    merged = dict(result)
    if "ask_gguf" not in merged and path.is_file():
        earlier = json.loads(path.read_text()).get("ask_gguf")
        if earlier:
            merged["ask_gguf"] = {**earlier, "note": "from an earlier run (--gguf)"}
    path.write_text(json.dumps(merged, indent=2) + "\n")


def _gguf(container: Any, questions: list[str]) -> dict[str, Any]:
    from app.rag import RagPipeline
    from generation.gguf_generator import GgufGenerator

    generator = GgufGenerator(max_tokens=48)
    start = time.perf_counter()
    generator.load()
    load_s = time.perf_counter() - start
    backend = "llama-cpp" if generator._llama is not None else "transformers (dequantised)"
    rag = RagPipeline(
        retriever=container.retriever,
        router=container.router,
        reranker=container.reranker,
        generator=generator,
        settings=container.settings,
    )
    out = _ask_latency(type("C", (), {"rag": rag})(), questions)
    sample = rag.ask(questions[0])
    return {
        "backend": backend,
        "load_s": round(load_s, 2),
        "max_tokens": 48,
        **out,
        "sample": {"question": questions[0], "answer": sample.text, "cited": [c.n for c in sample.citations]},
    }


if __name__ == "__main__":
    main()
