"""HNSW build time: mmrag's embedded store against the bare engine, on the same vectors, in one run.

Both sides get the same MiniLM-shaped 384-d vectors (benchmarks/bench_search.py: perturbed real MiniLM
embeddings), the engine's default HNSW parameters (m 16, ef_construct 100) and the same upsert batches:
- `bare`: a qdrant-edge shard with one dense vector, no payload, no payload index;
- `mmrag`: `QdrantEdgeStore` as `mmrag index` uses it: dense `text` space, sparse `lexical` space, segment
  payloads and keyword indexes on `source_id`, `modality`, `granularity`.
Each side builds in its own subprocess (upsert, then `optimize()`), then answers the same queries at
hnsw_ef 128, 256, 512 and mmrag's shipped `hnsw_ef` (core/settings.py): recall@10 against exact search, and p50/p95
latency without query encoding. Build time is reported as wall seconds (with the write phase, upserts before
`optimize()`, apart) and as CPU seconds of the building process (the fair comparison on a busy machine).

    python -m benchmarks.bench_hnsw_build --size 200000
writes benchmarks/results/hnsw_build.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from benchmarks.bench_search import (  # noqa: E402
    CACHE,
    DIM,
    _pcts,
    _records,
    _uuid,
    base_vectors,
    exact_top,
    perturbed,
)
from core.settings import Settings  # noqa: E402

RESULTS = REPO / "benchmarks" / "results"
BATCH = 50_000
EF = 128  # the comparison point of earlier runs
EFS = tuple(sorted({EF, 256, 512, Settings().hnsw_ef}))  # recall and latency by search breadth


def _vectors(size: int, n_queries: int, base: str) -> tuple[np.ndarray, np.ndarray]:
    anchors = base_vectors(base)
    return perturbed(anchors, size, seed=1), perturbed(anchors, n_queries, seed=2)


def build_bare(vectors: np.ndarray, folder: Path) -> tuple[Any, float, float]:
    """The bare engine: one dense vector per point, no payload."""
    import qdrant_edge as qe

    config = qe.EdgeConfig(vectors={"text": qe.EdgeVectorParams(size=DIM, distance=qe.Distance.Cosine)})
    shard = qe.EdgeShard.create(str(folder), config)
    t0 = time.perf_counter()
    for start in range(0, len(vectors), BATCH):
        chunk = vectors[start : start + BATCH]
        points = [qe.Point(_uuid(start + i), {"text": v}, {}) for i, v in enumerate(chunk)]
        for i in range(0, len(points), 256):
            shard.update(qe.UpdateOperation.upsert_points(points[i : i + 256]))
    write_s = time.perf_counter() - t0
    shard.optimize()
    return shard, write_s, time.perf_counter() - t0


def build_mmrag(vectors: np.ndarray, folder: Path) -> tuple[Any, float, float]:
    """mmrag's store, as indexing writes it."""
    from retrieval.stores.qdrant_edge_store import QdrantEdgeStore

    store = QdrantEdgeStore(folder, hnsw_ef=EF)
    store.ensure({"text": DIM})
    t0 = time.perf_counter()
    for start in range(0, len(vectors), BATCH):
        store.upsert(_records(vectors[start : start + BATCH], start))
    write_s = time.perf_counter() - t0
    store.optimize()
    return store, write_s, time.perf_counter() - t0


def search_bare(shard: Any, query: np.ndarray, ef: int) -> list[str]:
    import qdrant_edge as qe

    request = qe.QueryRequest(
        limit=10,
        query=qe.Query.Nearest(query, using="text"),
        with_payload=False,
        params=qe.SearchParams(hnsw_ef=ef),
    )
    return [str(p.id) for p in shard.query(request)]


def search_mmrag(store: Any, query: np.ndarray, ef: int) -> list[str]:
    """What the retriever calls: ids and scores, payloads fetched later for the hits shown."""
    store.hnsw_ef = ef
    return [segment_id for segment_id, _ in store.search_scores([("text", query)], k=10)[0]]


def _cpu_seconds() -> float:
    """CPU seconds of this process, every thread (the engine builds on its own threads): unlike wall time,
    barely moved by other work on a shared machine."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def run_side(side: str, size: int, n_queries: int, base: str) -> dict[str, Any]:
    """Worker: build one side in a fresh folder, then search it."""
    vectors, queries = _vectors(size, n_queries, base)
    truth, _ = exact_top(vectors, queries, 10)
    folder = Path(tempfile.mkdtemp(prefix=f"hnsw-{side}-", dir=CACHE)) / "store"
    try:
        builder, search = (build_bare, search_bare) if side == "bare" else (build_mmrag, search_mmrag)
        cpu0 = _cpu_seconds()
        engine, write_s, build_s = builder(vectors, folder)
        build_cpu_s = _cpu_seconds() - cpu0
        by_ef = {}
        for ef in EFS:
            for q in queries[:20]:
                search(engine, q, ef)
            times, recalls = [], []
            for q, want in zip(queries, truth.tolist(), strict=True):
                t0 = time.perf_counter()
                found = search(engine, q, ef)
                times.append(time.perf_counter() - t0)
                recalls.append(len({int(i.rsplit("-", 1)[1]) for i in found} & set(want)) / 10)
            by_ef[str(ef)] = {"recall@10": round(float(np.mean(recalls)), 4), **_pcts(times)}
        if side == "mmrag":
            engine.close()
        return {
            "build_s": round(build_s, 1),
            "write_s": round(write_s, 1),
            "build_cpu_s": round(build_cpu_s, 1),
            **by_ef[str(EF)],
            "by_hnsw_ef": by_ef,
            "load_average_1m": round(os.getloadavg()[0], 2),
        }
    finally:
        shutil.rmtree(folder.parent, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--size", type=int, default=200_000)
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--base", choices=["minilm", "clustered"], default="minilm")
    parser.add_argument("--rounds", type=int, default=1, help="alternate the sides this many times")
    parser.add_argument("--out", type=Path, default=RESULTS / "hnsw_build.json")
    parser.add_argument("--side", choices=["bare", "mmrag"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    if args.side:
        sys.stdout.write(json.dumps(run_side(args.side, args.size, args.queries, args.base)) + "\n")
        return
    CACHE.mkdir(parents=True, exist_ok=True)
    base_vectors(args.base)  # encode (and cache) once, outside the timed workers
    runs: dict[str, list[dict[str, Any]]] = {"bare": [], "mmrag": []}
    for _ in range(args.rounds):
        for side in ("bare", "mmrag"):
            argv = ["--side", side, "--size", str(args.size), "--queries", str(args.queries)]
            done = subprocess.run(
                [sys.executable, "-m", "benchmarks.bench_hnsw_build", *argv, "--base", args.base],
                check=True,
                capture_output=True,
                text=True,
                cwd=REPO,
            )
            runs[side].append(json.loads(done.stdout.strip().splitlines()[-1]))
            print(side, runs[side][-1], flush=True)
    median = {side: float(np.median([r["build_s"] for r in rows])) for side, rows in runs.items()}
    cpu = {side: float(np.median([r["build_cpu_s"] for r in rows])) for side, rows in runs.items()}
    doc = {
        "benchmark": "HNSW build: mmrag's embedded store vs the bare engine, same vectors and parameters",
        "size": args.size,
        "vectors": f"{DIM}-d, base={args.base} (benchmarks/bench_search.py)",
        "hnsw_ef": EF,
        "hnsw_ef_shipped": Settings().hnsw_ef,
        "runs": runs,
        "ratio_build_mmrag_vs_bare": round(median["mmrag"] / median["bare"], 3),
        "ratio_build_cpu_mmrag_vs_bare": round(cpu["mmrag"] / cpu["bare"], 3),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "note": "2 shared CPU cores; other sessions ran at the same time: compare the sides, not the seconds",
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(doc, indent=2) + "\n")
    print(json.dumps({k: v for k, v in doc.items() if k.startswith("ratio")}))


if __name__ == "__main__":
    main()
