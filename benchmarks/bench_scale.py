"""How indexing time grows with the number of items (1k -> 100k text segments): it should be linear.

Each size indexes real abstracts (Vaswani + Cranfield, cycled with unique ids past 12.8k) into a fresh
embedded Qdrant store through `Indexer.index_extracted` (text + BM25 encoding, upserts), then builds the
HNSW index (`optimize`). Reported per size: seconds, seconds per 1k items for ingest and for the index
build, and a least-squares linear fit of total time against size with its R^2.

The real MiniLM encoder runs ~10-35 docs/s on 2 CPUs, so 100k items would take over an hour: the curve uses
a cheap STAND-IN text encoder (hashed bag of words, 384-d, numpy) so what is measured is the pipeline and
the store, not the model. The real encoder is measured at 1k (`real_encoder_1k`) to show what it adds.
Usage: python -m benchmarks.bench_scale [--sizes 1000,2000,...] [--real-size 1000]
"""

from __future__ import annotations

import argparse
import hashlib
import os
import re
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")

DEFAULT_SIZES = (1000, 2000, 5000, 10000, 20000, 50000, 100000)
_TOKEN = re.compile(r"\w+")


class HashingTextEncoder:
    """STAND-IN encoder for the scale curve only: signed hashed bag of words, L2-normalised float32."""

    space = "text"

    def __init__(self, dim: int = 384) -> None:
        self.dim = dim

    def encode_documents(self, texts: Sequence[str]) -> np.ndarray:
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for row, text in enumerate(texts):
            for token in _TOKEN.findall(text.lower()):
                h = int.from_bytes(hashlib.blake2b(token.encode(), digest_size=4).digest(), "little")
                out[row, h % self.dim] += 1.0 if h & 1 << 31 else -1.0
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        return out / np.where(norms == 0, 1.0, norms)

    encode_queries = encode_documents


def load_items(n: int) -> list[Any]:
    """`n` paragraph segments from the real Vaswani and Cranfield abstracts (cycled, unique ids)."""
    from benchmarks.common import DATA
    from evaluation.beir import corpus_segments, load_beir

    docs: list[dict[str, Any]] = []
    for name in ("vaswani", "cranfield"):
        corpus, _, _ = load_beir(DATA / "beir" / name)
        docs += [{**d, "_id": f"{name}:{d['_id']}"} for d in corpus]
    cycled = [{**docs[i % len(docs)], "_id": f"{i}:{docs[i % len(docs)]['_id']}"} for i in range(n)]
    return corpus_segments(cycled)


def index_once(items: list[Any], text_encoder: Any | None) -> dict[str, float]:
    """Index `items` into a fresh store; seconds for ingest (encode + upsert) and the HNSW build."""
    from app.container import Container
    from core.settings import Settings

    with tempfile.TemporaryDirectory() as tmp:
        container = Container(Settings(home=Path(tmp), clip_model="", ocr=False, qdrant_url=None))
        if text_encoder is not None:
            container.__dict__["text_encoder"] = text_encoder  # the stand-in replaces MiniLM
        store = container.store  # collection creation is set-up, not indexing
        t0 = time.perf_counter()
        container.indexer.index_extracted(items)
        ingest_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        store.optimize()
        build_s = time.perf_counter() - t0
        stored = store.count()
        container.close()
    assert stored == len(items), (stored, len(items))
    return {"ingest_s": ingest_s, "index_build_s": build_s, "total_s": ingest_s + build_s}


def linear_fit(xs: Sequence[float], ys: Sequence[float]) -> dict[str, float]:
    """Least squares y = a*x + b and its R^2."""
    x, y = np.asarray(xs, dtype=float), np.asarray(ys, dtype=float)
    a, b = np.polyfit(x, y, 1)
    residual = float(((y - (a * x + b)) ** 2).sum())
    total = float(((y - y.mean()) ** 2).sum()) or 1.0
    return {"s_per_1k": round(a * 1000, 4), "intercept_s": round(b, 3), "r2": round(1 - residual / total, 5)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", default=",".join(map(str, DEFAULT_SIZES)))
    parser.add_argument("--real-size", type=int, default=1000, help="items for the real encoder (0: skip)")
    args = parser.parse_args()
    from benchmarks.common import peak_rss_mb, write_result

    load_start = os.getloadavg()[0]
    sizes = [int(s) for s in args.sizes.split(",")]
    items = load_items(max(sizes + [args.real_size]))
    stand_in = HashingTextEncoder()
    index_once(items[:200], stand_in)  # warm-up: imports, engine start
    points = []
    for n in sizes:
        t = index_once(items[:n], stand_in)
        points.append({"items": n, **{k: round(v, 3) for k, v in t.items()}})
        points[-1]["total_s_per_1k"] = round(t["total_s"] / n * 1000, 4)
        points[-1]["ingest_s_per_1k"] = round(t["ingest_s"] / n * 1000, 4)
    result: dict[str, Any] = {
        "encoder": "STAND-IN hashed bag of words (384-d) for the curve; real MiniLM at real_encoder_1k",
        "points": points,
        "fit_total": linear_fit([p["items"] for p in points], [p["total_s"] for p in points]),
        "fit_ingest": linear_fit([p["items"] for p in points], [p["ingest_s"] for p in points]),
        "peak_rss_mb": round(peak_rss_mb(), 1),
        "load_average_1m": {"start": round(load_start, 2), "end": round(os.getloadavg()[0], 2)},
        "note": "2 shared CPU cores; other sessions' work ran at the same time: times are upper bounds",
    }
    if args.real_size:
        t = index_once(items[: args.real_size], None)
        result["real_encoder_1k"] = {"items": args.real_size, **{k: round(v, 3) for k, v in t.items()}}
        result["real_encoder_1k"]["total_s_per_1k"] = round(t["total_s"] / args.real_size * 1000, 3)
    write_result("scale", result)


if __name__ == "__main__":
    main()
