"""Benchmark `ask` on CPU: latency per stage with the extractive and the GGUF generator, router latency, and
reranking cost per candidate (embedding reranker, tiny cross-encoder, tiny MLLM).

Corpus: the first N Cranfield abstracts (../shared/data/beir/cranfield), indexed into a temporary MMRAG_HOME
with the packaged MiniLM and the embedded Qdrant engine; questions: the first Cranfield queries.
The cross-encoder and MLLM are tiny random models: their numbers are the plumbing's cost per candidate at that
size, not a real model's.

    python benchmarks/bench_ask.py [--docs 200] [--queries 20] [--gguf] [--out benchmarks/results/ask.json]
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=int, default=200)
    parser.add_argument("--queries", type=int, default=20)
    parser.add_argument(
        "--gguf", action="store_true", help="Also time the packaged Gemma 3 270M (slow load)."
    )
    parser.add_argument("--gguf-queries", type=int, default=3)
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results" / "ask.json")
    args = parser.parse_args()

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
