"""Retrieval quality on the BEIR sets: dense only, lexical only, and hybrid with each fusion method.

Each corpus is indexed once; every configuration is scored on the same index, side by side.
Usage: python -m benchmarks.bench_retrieval [--sets cranfield vaswani]
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")


def score(container: Any, queries: dict[str, str], qrels: dict, mode: str) -> dict[str, float]:
    from evaluation.beir import ndcg_at, recall_at

    retriever = container.retriever
    ndcg, recall = [], []
    for qid, text in queries.items():
        lists = retriever.ranked_lists(text, 100)
        if mode in ("text", "lexical"):
            hits = lists[mode]
        else:
            retriever.fusion = mode
            hits = retriever.fuse(lists, 100)
        ranking = [h.segment.uri.removeprefix("beir:") for h in hits]
        ndcg.append(ndcg_at(ranking, qrels[qid]))
        recall.append(recall_at(ranking, qrels[qid]))
    return {"ndcg@10": round(sum(ndcg) / len(ndcg), 4), "recall@100": round(sum(recall) / len(recall), 4)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sets", nargs="+", default=["cranfield", "vaswani"])
    args = parser.parse_args()

    from app.container import Container
    from benchmarks.common import DATA, RESULTS, write_result
    from core.settings import Settings
    from evaluation.beir import corpus_segments, load_beir

    previous = RESULTS / "retrieval.json"
    # Sets not re-run keep their earlier numbers, so sets can be measured one at a time.
    results: dict[str, Any] = json.loads(previous.read_text())["sets"] if previous.exists() else {}
    for name in args.sets:
        corpus, queries, qrels = load_beir(DATA / "beir" / name)
        with tempfile.TemporaryDirectory() as tmp:
            container = Container(Settings(home=Path(tmp), clip_model="", ocr=False, qdrant_url=None))
            t0 = time.perf_counter()
            container.indexer.index_extracted(corpus_segments(corpus))
            index_s = time.perf_counter() - t0
            results[name] = {
                "documents": len(corpus),
                "queries": len(queries),
                "index_seconds": round(index_s, 1),
                **{
                    mode: score(container, queries, qrels, mode)
                    for mode in ("text", "lexical", "rrf", "weighted")
                },
            }
            container.close()
    write_result(
        "retrieval", {"sets": results, "reference": {"cranfield_bm25": 0.327, "cranfield_minilm": 0.368}}
    )


if __name__ == "__main__":
    main()
