"""mmrag against a peer (txtai hybrid search) on every BEIR-layout set, same MiniLM weights, one process.

Each set is indexed by both (index time each, and the bare encoder's time on the same texts), then the
queries alternate between the two (the order swaps every query, so neither side always runs warm); both
return 100 hits. Reported per set: nDCG@10, Recall@100, index seconds, query p50/p95 (ms), and mmrag/txtai
ratios; beside them, from mmrag's own lists, the BM25-only, dense-only and plain RRF baselines.

With `--bare`, index time is compared with the bare encoder's on the same texts, in `--index-rounds N`
rounds (fresh store each time, bare and mmrag back to back, the order swapping every round): reported are
each round's ratio, their median, and the ratio of the median times, since one index of a set varies by
about 5% from run to run on this machine.

txtai is only in the `bench` extra (`pip install -e .[bench]`).
Usage: python -m benchmarks.bench_peers [--sets cranfield vaswani med] [--bare [--index-rounds 3]]
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.common import beir_metrics, percentile_ms

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


def bare_encoder_seconds(texts: list[str]) -> float:
    """The bare sentence-transformers encode of the same texts (the floor for any indexer)."""
    from sentence_transformers import SentenceTransformer

    from indexing.encoders.sentence_transformers_text_encoder import packaged_minilm_path

    model = SentenceTransformer(str(packaged_minilm_path()), device="cpu")
    t0 = time.perf_counter()
    model.encode(texts, batch_size=32, normalize_embeddings=True)
    return time.perf_counter() - t0


def mmrag_index_seconds(container: Any, items: list[Any]) -> float:
    """Index time as a user's `index` spends it: encoding, storing, building the index (model already loaded)."""
    t0 = time.perf_counter()
    container.indexer.index_extracted(items)
    container.store.optimize()
    return time.perf_counter() - t0


def index_rounds(items: list[Any], texts: list[str], rounds: int) -> dict[str, list[float]]:
    """Index-time rounds, each a bare encode and an mmrag index (fresh home) back to back.

    The order swaps every round (bare first, then mmrag first), so a machine that speeds up or slows down
    over the run favours neither side; each round's ratio compares two runs minutes apart at most.
    """
    from app.container import Container
    from core.settings import Settings

    times: dict[str, list[float]] = {"mmrag": [], "bare": []}

    def mmrag() -> None:
        with tempfile.TemporaryDirectory(prefix="mmrag-peers-") as tmp:
            container = Container(Settings(home=Path(tmp), clip_model="", ocr=False))
            try:
                container.text_encoder.load()  # outside the clock, like the bare encoder's load
                times["mmrag"].append(round(mmrag_index_seconds(container, items), 1))
            finally:
                container.close()

    def bare() -> None:
        times["bare"].append(round(bare_encoder_seconds(texts), 1))

    for r in range(rounds):
        for side in (bare, mmrag) if r % 2 == 0 else (mmrag, bare):
            side()
    return times


def run_set(name: str, bare: bool, rounds: int = 1) -> dict[str, Any]:
    from txtai import Embeddings

    from app.container import Container
    from benchmarks.loco_data import data_dir
    from core.settings import Settings
    from evaluation.beir import corpus_segments, load_beir
    from indexing.encoders.sentence_transformers_text_encoder import packaged_minilm_path
    from retrieval.fusion import fuse

    corpus, queries, qrels = load_beir(data_dir() / name)
    items = corpus_segments(corpus)
    texts = [item.segment.text for item in items]
    out: dict[str, Any] = {"documents": len(corpus), "queries": len(queries)}
    with tempfile.TemporaryDirectory(prefix="mmrag-peers-") as tmp:
        container = Container(
            Settings(home=Path(tmp), qdrant_url=None, clip_model="", ocr=False)  # type: ignore[call-arg]
        )
        txtai = Embeddings(
            {"path": str(packaged_minilm_path()), "method": "sentence-transformers", "hybrid": True}
        )
        try:
            # The model is loaded before each clock starts, as it is for the bare encoder: index time is
            # encoding and storing; the load is reported apart.
            t0 = time.perf_counter()
            container.text_encoder.load()
            mmrag_load = time.perf_counter() - t0
            mmrag_index = mmrag_index_seconds(container, items)
            t0 = time.perf_counter()
            txtai.index([(str(doc["_id"]), text, None) for doc, text in zip(corpus, texts, strict=True)])
            txtai_index = time.perf_counter() - t0
            retriever = container.retriever
            retriever.search("warm up", k=100)
            txtai.search("warm up", 100)
            runs: dict[str, dict[str, list[str]]] = {
                s: {} for s in ("mmrag", "txtai", "bm25", "dense", "rrf")
            }
            latency: dict[str, list[float]] = {"mmrag": [], "txtai": []}
            stages: dict[str, list[float]] = {}
            for i, (qid, text) in enumerate(queries.items()):
                for side in ("mmrag", "txtai") if i % 2 == 0 else ("txtai", "mmrag"):
                    t0 = time.perf_counter()
                    if side == "mmrag":
                        hits = retriever.search(text, k=100)
                        latency[side].append(time.perf_counter() - t0)
                        for stage, seconds in retriever.timings.items():
                            stages.setdefault(stage, []).append(seconds)
                        runs[side][qid] = [h.segment.uri.removeprefix("beir:") for h in hits]
                    else:
                        found = txtai.search(text, 100)
                        latency[side].append(time.perf_counter() - t0)
                        runs[side][qid] = [str(doc_id) for doc_id, _ in found]
                lists = retriever.ranked_lists(text, 100)
                uris = {k: [h.segment.uri.removeprefix("beir:") for h in v] for k, v in lists.items()}
                runs["bm25"][qid], runs["dense"][qid] = uris["lexical"], uris["text"]
                rrf = fuse({"text": lists["text"], "lexical": lists["lexical"]}, method="rrf", k=100)
                runs["rrf"][qid] = [h.segment.uri.removeprefix("beir:") for h in rrf]
        finally:
            container.close()
            txtai.close()
    for side, rankings in runs.items():
        out[side] = beir_metrics(rankings, qrels)
    for side in ("mmrag", "txtai"):
        out[side]["p50_ms"] = percentile_ms(latency[side], 0.5)
        out[side]["p95_ms"] = percentile_ms(latency[side], 0.95)
    out["mmrag"]["index_s"] = round(mmrag_index, 1)
    out["mmrag"]["model_load_s"] = round(mmrag_load, 1)
    out["mmrag"]["stage_p50_ms"] = {stage: percentile_ms(v, 0.5) for stage, v in stages.items()}
    out["mean_query_terms"] = round(
        statistics.fmean(len(retriever.lexical.tokenize(t)) for t in queries.values()), 1
    )
    out["txtai"]["index_s"] = round(txtai_index, 1)
    if bare:
        times = index_rounds(items, texts, rounds)
        each = [m / b for m, b in zip(times["mmrag"], times["bare"], strict=True)]
        out["index_rounds_s"] = times
        out["bare_encoder_index_s"] = statistics.median(times["bare"])
        out["ratio_index_vs_bare"] = round(statistics.median(each), 3)  # the median round
        out["ratio_index_vs_bare_median"] = round(
            statistics.median(times["mmrag"]) / statistics.median(times["bare"]), 3
        )
    out["ratio_p50"] = round(out["mmrag"]["p50_ms"] / out["txtai"]["p50_ms"], 3)
    out["ratio_p95"] = round(out["mmrag"]["p95_ms"] / out["txtai"]["p95_ms"], 3)
    out["ratio_index"] = round(mmrag_index / txtai_index, 3)
    out["ndcg_delta_vs_txtai"] = round(out["mmrag"]["ndcg@10"] - out["txtai"]["ndcg@10"], 4)
    best = max(out[b]["ndcg@10"] for b in ("bm25", "dense", "rrf"))
    out["ndcg_delta_vs_best_baseline"] = round(out["mmrag"]["ndcg@10"] - best, 4)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sets", nargs="+", default=["cranfield", "vaswani", "med"])
    parser.add_argument("--bare", action="store_true", help="also time the bare encoder (one more encode)")
    parser.add_argument(
        "--index-rounds",
        type=int,
        default=1,
        help="with --bare: index-time rounds, bare and mmrag back to back, the order swapping each round",
    )
    args = parser.parse_args()
    from benchmarks.common import RESULTS, write_result

    previous = RESULTS / "peers.json"
    import json

    # Sets not re-run keep their earlier numbers, so sets can be measured one at a time.
    sets: dict[str, Any] = json.loads(previous.read_text())["sets"] if previous.exists() else {}
    load = os.getloadavg()[0]
    for name in args.sets:
        sets[name] = {**run_set(name, args.bare, args.index_rounds), "load_avg_1m_at_start": round(load, 2)}
        write_result("peers", {"sets": sets})  # after each set: a long run keeps what it measured


if __name__ == "__main__":
    main()
