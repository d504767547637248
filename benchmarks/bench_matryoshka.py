"""What Matryoshka truncation costs on Cranfield with the packaged MiniLM (which is NOT MRL-trained).

Side by side, same vectors, dense text space only (no lexical, no fusion), all 225 judged queries:
- `full`: exact search on the 384-d vectors (numpy);
- `truncated_only`: exact search on the first d dims, renormalised (what a first stage alone would give);
- `two_stage`: the product path, `MatryoshkaStore` on the embedded Qdrant engine: prefetch the nearest
  candidates in `text_mrl` (d dims), rescore them with the full `text` vectors, in one engine query.
Reported per d: nDCG@10, overlap of the top 10 with the full search's top 10, and the two-stage query
latency (p50/p95, excluding query encoding). Usage: python -m benchmarks.bench_matryoshka [--dims 64,128]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")


def _rank(doc_matrix: np.ndarray, q: np.ndarray, ids: list[str], k: int = 10) -> list[str]:
    scores = doc_matrix @ q
    return [ids[i] for i in np.argsort(-scores)[:k]]


def _store_path(
    records: list[Any], dim: int, tmp: str, queries: np.ndarray
) -> tuple[list[list[str]], list[float]]:
    """Rankings and latencies of the two-stage search through the real store."""
    from retrieval.stores.matryoshka_store import MatryoshkaStore
    from retrieval.stores.qdrant_edge_store import QdrantEdgeStore

    store = MatryoshkaStore(QdrantEdgeStore(Path(tmp) / f"mrl-{dim}"), dim)
    store.ensure({"text": queries.shape[1]})
    store.upsert(records)
    store.optimize()
    rankings, latencies = [], []
    for q in queries:
        t0 = time.perf_counter()
        hits = store.search("text", q, None, 10)
        latencies.append(time.perf_counter() - t0)
        rankings.append([h.segment.uri.removeprefix("beir:") for h in hits])
    store.close()
    return rankings, latencies


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--dims", default="32,64,128,192,256")
    args = parser.parse_args()

    from benchmarks.common import DATA, write_result
    from core.protocols import Record
    from evaluation.beir import corpus_segments, load_beir, ndcg_at
    from indexing.encoders.sentence_transformers_text_encoder import SentenceTransformersTextEncoder
    from retrieval.stores.matryoshka_store import truncate

    corpus, queries, qrels = load_beir(DATA / "beir" / "cranfield")
    items = corpus_segments(corpus)
    ids = [item.segment.uri.removeprefix("beir:") for item in items]
    encoder = SentenceTransformersTextEncoder()
    encoder.load()
    docs = encoder.encode_documents([item.segment.text for item in items])
    qids = list(queries)
    qvecs = encoder.encode_queries([queries[q] for q in qids])
    records = [Record(segment=item.segment, dense={"text": docs[i]}) for i, item in enumerate(items)]

    def ndcg(rankings: list[list[str]]) -> float:
        return round(float(np.mean([ndcg_at(r, qrels[q]) for r, q in zip(rankings, qids, strict=True)])), 4)

    full = [_rank(docs, q, ids) for q in qvecs]
    rows = [{"dim": docs.shape[1], "ndcg@10": ndcg(full), "top10_overlap": 1.0}]
    with tempfile.TemporaryDirectory() as tmp:
        for dim in (int(d) for d in args.dims.split(",")):
            first = [_rank(truncate(docs, dim), truncate(q, dim), ids) for q in qvecs]
            two, lat = _store_path(records, dim, tmp, qvecs)
            lat_ms = sorted(1000 * x for x in lat)
            rows.append(
                {
                    "dim": dim,
                    "truncated_only_ndcg@10": ndcg(first),
                    "truncated_only_top10_overlap": _overlap(first, full),
                    "two_stage_ndcg@10": ndcg(two),
                    "two_stage_top10_overlap": _overlap(two, full),
                    "two_stage_p50_ms": round(lat_ms[len(lat_ms) // 2], 3),
                    "two_stage_p95_ms": round(lat_ms[int(0.95 * (len(lat_ms) - 1))], 3),
                }
            )
    write_result(
        "matryoshka",
        {
            "dataset": "cranfield (1400 docs, 225 queries), dense text space only",
            "encoder": "all-MiniLM-L6-v2 (packaged; NOT Matryoshka-trained)",
            "two_stage_candidates": 100,
            "load_average_1m": round(os.getloadavg()[0], 2),
            "rows": rows,
        },
    )


def _overlap(rankings: list[list[str]], reference: list[list[str]]) -> float:
    """Mean share of the reference top 10 found in each ranking's top 10."""
    shares = [len(set(r) & set(ref)) / max(len(ref), 1) for r, ref in zip(rankings, reference, strict=True)]
    return round(float(np.mean(shares)), 4)


if __name__ == "__main__":
    main()
