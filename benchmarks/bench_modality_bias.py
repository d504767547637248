"""Modality bias in the `mm` space: one mixed top-k versus per-modality search fused with RRF.

Mixed corpus from COCO-mini: the 80 photos (image segments) and, as text passages, the first caption of
each photo. Queries are the second caption of each photo. For each query the relevant image is its photo
and the relevant passage is the other caption of the same photo. Scored per strategy:
- `mixed`: one top-k over the whole `mm` space with the generic query instruction;
- `per_modality`: a filtered search per modality, each with its modality-aware instruction, fused by RRF
  (`retrieval.composed_query.search_mm_text`).
Metrics: image Recall@5, passage Recall@5, the share of images in the top 10, query latency.

Without `--model` it runs the tiny random-weight Qwen2-VL from tests/fixtures: that checks the plumbing
only; its numbers say nothing about retrieval quality. Pass a real checkpoint (e.g. a local copy of
Alibaba-NLP/gme-Qwen2-VL-2B-Instruct) on a GPU machine for meaningful numbers.
Usage: python -m benchmarks.bench_modality_bias [--model PATH] [--limit N]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


def load_coco(folder: Path, limit: int) -> list[tuple[Path, str, str]]:
    """(photo path, passage caption, query caption) per photo with at least two captions."""
    data = json.loads((folder / "captions.json").read_text())
    captions: dict[int, list[str]] = {}
    for ann in sorted(data["annotations"], key=lambda a: a["id"]):
        captions.setdefault(ann["image_id"], []).append(ann["caption"].strip())
    rows = []
    for image in sorted(data["images"], key=lambda i: i["file_name"]):
        caps = captions.get(image["id"], [])
        if len(caps) >= 2:
            rows.append((folder / "images" / image["file_name"], caps[0], caps[1]))
    return rows[:limit]


def build_index(store: Any, encoder: Any, rows: list[tuple[Path, str, str]]) -> float:
    """Index photos and passages into the store's `mm` space; returns the seconds spent encoding."""
    from PIL import Image

    from core.protocols import Record
    from core.types import Granularity, Locator, Modality, Segment, segment_id
    from indexing.encoders.mm_space import mm_document_vectors

    segments, pictures = [], []
    for n, (path, passage, _) in enumerate(rows):
        source = f"{n:064x}"
        loc = Locator(index=0)
        img = Segment(
            segment_id(source, Granularity.IMAGE, loc), source, str(path), Modality.IMAGE, Granularity.IMAGE
        )
        txt_source = f"{n + 100_000:064x}"
        txt = Segment(
            segment_id(txt_source, Granularity.PARAGRAPH, loc),
            txt_source,
            f"caption:{path.name}",
            Modality.TEXT,
            Granularity.PARAGRAPH,
            text=passage,
        )
        with Image.open(path) as picture:
            pictures += [[picture.convert("RGB")], []]
        segments += [img, txt]
    start = time.perf_counter()
    vectors = mm_document_vectors(encoder, segments, pictures)
    seconds = time.perf_counter() - start
    store.ensure({"mm": encoder.dim})
    store.upsert(
        [Record(segment=s, dense={"mm": v}) for s, v in zip(segments, vectors, strict=True) if v is not None]
    )
    return seconds


def evaluate(store: Any, encoder: Any, rows: list[tuple[Path, str, str]], strategy: str) -> dict[str, float]:
    from core.types import Modality
    from retrieval.composed_query import search_mm_mixed, search_mm_text

    image_hits, text_hits, image_share, latency = [], [], [], []
    for path, _, query in rows:
        start = time.perf_counter()
        if strategy == "mixed":
            hits = search_mm_mixed(store, encoder.encode_queries([query])[0], k=10)
        else:
            hits = search_mm_text(store, encoder, query, k=10, candidates=10)
        latency.append(time.perf_counter() - start)
        top5 = [h.segment.uri for h in hits[:5]]
        image_hits.append(float(str(path) in top5))
        text_hits.append(float(f"caption:{path.name}" in top5))
        image_share.append(sum(h.segment.modality == Modality.IMAGE for h in hits) / max(1, len(hits)))
    return {
        "image_recall@5": round(statistics.mean(image_hits), 4),
        "text_recall@5": round(statistics.mean(text_hits), 4),
        "image_share@10": round(statistics.mean(image_share), 4),
        "query_p50_ms": round(1000 * statistics.median(latency), 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model", default="", help="MLLM embedder id or folder (default: tiny random model)")
    parser.add_argument("--limit", type=int, default=80, help="photos to use (at most 80)")
    parser.add_argument("--device", default="auto")
    args = parser.parse_args()

    from benchmarks.common import DATA, write_result
    from indexing.encoders.mllm_embedder import MllmEmbedder
    from retrieval.stores.qdrant_edge_store import QdrantEdgeStore

    rows = load_coco(DATA / "coco-mini-train", args.limit)
    with tempfile.TemporaryDirectory() as tmp:
        model = args.model
        if not model:
            from tests.fixtures.tiny_qwen2vl import build_tiny_qwen2vl

            model = str(build_tiny_qwen2vl(Path(tmp) / "tiny-qwen2vl"))
        encoder = MllmEmbedder(model, device=args.device)
        encoder.load()
        store = QdrantEdgeStore(Path(tmp) / "store")
        encode_s = build_index(store, encoder, rows)
        results = {s: evaluate(store, encoder, rows, s) for s in ("mixed", "per_modality")}
        store.close()
    write_result(
        "modality_bias",
        {
            "model": args.model or "tiny random-weight Qwen2-VL (tests/fixtures/tiny_qwen2vl.py)",
            "meaningful": bool(args.model),
            "note": (
                "real model: retrieval quality numbers"
                if args.model
                else "random weights: plumbing check only; the metrics do not measure retrieval quality"
            ),
            "corpus": {"images": len(rows), "passages": len(rows), "queries": len(rows)},
            "index_encode_seconds": round(encode_s, 2),
            "strategies": results,
        },
    )


if __name__ == "__main__":
    main()
