"""The fast default (packaged MiniLM, 384-d) against the quality preset (packaged all-mpnet-base-v2, 768-d).

Per BEIR-layout set, both presets index the same segments with the shipped fusion defaults (hybrid search:
dense + BM25, `Settings()` as shipped, torch backend), then the queries alternate between the two (the order
swaps every query) so both see the same machine load. Reported per set and preset: nDCG@10, Recall@100,
index seconds, query p50/p95 (ms), and the CPU seconds this process spent (index, query p50); and the
mpnet/MiniLM ratios measured in the same run. On a shared machine the wall seconds are upper bounds; the
CPU-time ratios are the comparable part (the 1-minute load average at the start and end of each set is
recorded).

The mpnet packages are the `quality` extra (`pip install -e .[quality]`).
Usage: python -m benchmarks.bench_presets [--sets med vaswani cranfield] [--encode-sample]
       python -m benchmarks.bench_presets --encode-sample --sets   (the CPU sample only)
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.common import beir_metrics, percentile_ms

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

PRESETS = {"fast": "packaged", "quality": "all-mpnet-base-v2"}
"""Preset name -> `MMRAG_TEXT_MODEL` value."""


def run_set(name: str) -> dict[str, Any]:
    """Index one set with both presets, alternate its queries between them, score both."""
    from app.container import Container
    from benchmarks.loco_data import data_dir
    from core.settings import Settings
    from evaluation.beir import corpus_segments, load_beir

    corpus, queries, qrels = load_beir(data_dir() / name)
    items = corpus_segments(corpus)
    out: dict[str, Any] = {"documents": len(corpus), "queries": len(queries)}
    out["load_avg_1m_at_start"] = round(os.getloadavg()[0], 2)
    runs: dict[str, dict[str, list[str]]] = {p: {} for p in PRESETS}
    latency: dict[str, list[float]] = {p: [] for p in PRESETS}
    index_s: dict[str, float] = {}
    index_cpu_s: dict[str, float] = {}  # CPU seconds of this process: far less sensitive to other load
    cpu: dict[str, list[float]] = {p: [] for p in PRESETS}
    with tempfile.TemporaryDirectory(prefix="mmrag-presets-") as tmp:
        containers = {
            preset: Container(
                Settings(  # type: ignore[call-arg]
                    home=Path(tmp) / preset,
                    qdrant_url=None,
                    clip_model="",
                    ocr=False,
                    text_model=model,
                    text_backend="torch",
                    device="cpu",
                )
            )
            for preset, model in PRESETS.items()
        }
        try:
            for preset, container in containers.items():
                container.text_encoder.load()  # weights load (and mpnet's one-time unpack) is not index time
                t0, c0 = time.perf_counter(), time.process_time()
                container.indexer.index_extracted(items)
                container.store.optimize()
                index_s[preset] = time.perf_counter() - t0
                index_cpu_s[preset] = time.process_time() - c0
                print(f"{name} {preset}: indexed in {index_s[preset]:.1f} s", flush=True)
                container.retriever.search("warm up", k=100)
            order = list(PRESETS)
            for i, (qid, text) in enumerate(queries.items()):
                for preset in order if i % 2 == 0 else order[::-1]:
                    retriever = containers[preset].retriever
                    t0, c0 = time.perf_counter(), time.process_time()
                    hits = retriever.search(text, k=100)
                    latency[preset].append(time.perf_counter() - t0)
                    cpu[preset].append(time.process_time() - c0)
                    runs[preset][qid] = [h.segment.uri.removeprefix("beir:") for h in hits]
            dims = {p: int(c.text_encoder.dim) for p, c in containers.items()}
        finally:
            for container in containers.values():
                container.close()
    for preset, model in PRESETS.items():
        out[preset] = {
            "text_model": model,
            "dim": dims[preset],
            **beir_metrics(runs[preset], qrels),
            "index_s": round(index_s[preset], 1),
            "index_cpu_s": round(index_cpu_s[preset], 1),
            "p50_ms": percentile_ms(latency[preset], 0.5),
            "p95_ms": percentile_ms(latency[preset], 0.95),
            "p50_cpu_ms": percentile_ms(cpu[preset], 0.5),
        }
    fast, quality = out["fast"], out["quality"]
    out["ndcg_delta"] = round(quality["ndcg@10"] - fast["ndcg@10"], 4)
    out["recall_delta"] = round(quality["recall@100"] - fast["recall@100"], 4)
    out["ratio_index"] = round(quality["index_s"] / fast["index_s"], 2)
    out["ratio_p50"] = round(quality["p50_ms"] / fast["p50_ms"], 2)
    out["ratio_index_cpu"] = round(quality["index_cpu_s"] / fast["index_cpu_s"], 2)
    out["ratio_p50_cpu"] = round(quality["p50_cpu_ms"] / max(fast["p50_cpu_ms"], 1e-9), 2)
    out["load_avg_1m_at_end"] = round(os.getloadavg()[0], 2)
    return out


def encode_sample(docs_per_set: int = 40, queries_per_set: int = 20) -> dict[str, Any]:
    """Encoder-only CPU seconds of both presets on a fixed sample of each set (one torch thread).

    Process CPU time barely depends on what else the machine runs, so this ratio holds on a loaded machine
    where wall-clock index times do not: every `docs_per_set`-th document spread over the corpus, and the
    first `queries_per_set` queries encoded one at a time (as a search does).
    """
    import torch
    from app.eval_beir import load_beir

    from benchmarks.loco_data import SETS, data_dir, doc_text
    from indexing.encoders.sentence_transformers_text_encoder import SentenceTransformersTextEncoder

    torch.set_num_threads(1)
    samples = {}
    for name in SETS:
        corpus, queries, _ = load_beir(data_dir() / name)
        step = max(1, len(corpus) // docs_per_set)
        docs = [doc_text(d, "joined") for d in corpus[::step][:docs_per_set]]
        samples[name] = (docs, list(queries.values())[:queries_per_set])
    out: dict[str, Any] = {}
    for model in PRESETS.values():
        encoder = SentenceTransformersTextEncoder(model, device="cpu")
        encoder.load()
        encoder.encode_documents(["warm up"])
        for name, (docs, qs) in samples.items():
            c0 = time.process_time()
            encoder.encode_documents(docs)
            doc_cpu = time.process_time() - c0
            c0 = time.process_time()
            for q in qs:
                encoder.encode_queries([q])
            query_cpu = time.process_time() - c0
            out.setdefault(name, {})[model] = {
                "docs": len(docs),
                "doc_cpu_s": round(doc_cpu, 2),
                "queries": len(qs),
                "query_cpu_ms_mean": round(1000 * query_cpu / len(qs), 1),
            }
    fast, quality = PRESETS["fast"], PRESETS["quality"]
    for r in out.values():
        r["ratio_doc_cpu"] = round(r[quality]["doc_cpu_s"] / r[fast]["doc_cpu_s"], 2)
        r["ratio_query_cpu"] = round(r[quality]["query_cpu_ms_mean"] / r[fast]["query_cpu_ms_mean"], 2)
    return out


def markdown(result: dict[str, Any]) -> str:
    """The per-set table of a presets.json result, for RESULTS.md and the README."""
    lines = [
        "| set | preset | nDCG@10 | Recall@100 | index s | query p50 ms | mpnet/MiniLM index time | load avg |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name, r in result["sets"].items():
        for preset in PRESETS:
            m = r[preset]
            ratio = f"{r['ratio_index']}x" if preset == "quality" else ""
            if preset == "quality" and "ratio_index_cpu" in r:
                ratio += f" ({r['ratio_index_cpu']}x CPU s)"
            load = (
                f"{r['load_avg_1m_at_start']}-{r.get('load_avg_1m_at_end', '?')}" if preset == "fast" else ""
            )
            lines.append(
                f"| {name} | {preset} ({m['text_model']}, {m['dim']}-d) | {m['ndcg@10']} | {m['recall@100']} "
                f"| {m['index_s']} | {m['p50_ms']} | {ratio} | {load} |"
            )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sets", nargs="*", default=["med", "vaswani", "cranfield"])
    parser.add_argument(
        "--table", action="store_true", help="print results/presets.json as a table, run nothing"
    )
    parser.add_argument(
        "--encode-sample", action="store_true", help="measure encoder CPU seconds on a sample of each set"
    )
    args = parser.parse_args()
    from benchmarks.common import RESULTS, write_result

    previous = RESULTS / "presets.json"
    if args.table:
        print(markdown(json.loads(previous.read_text())))
        return
    kept: dict[str, Any] = json.loads(previous.read_text()) if previous.exists() else {}
    sample = kept.get("encode_cpu_sample")
    if args.encode_sample:
        sample = encode_sample()
        if not args.sets:
            write_result("presets", _payload(kept.get("sets", {}), sample))
            return
    # Sets not re-run keep their earlier numbers, so sets can be measured one at a time.
    sets: dict[str, Any] = kept.get("sets", {})
    for name in args.sets:
        sets[name] = run_set(name)
        write_result("presets", _payload(sets, sample))


def _payload(sets: dict[str, Any], sample: dict[str, Any] | None) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "presets": PRESETS,
        "note": "2 CPU cores shared with other sessions: seconds are upper bounds, compare ratios",
        "sets": sets,
    }
    if sample:
        payload["encode_cpu_sample"] = sample
    return payload


if __name__ == "__main__":
    main()
