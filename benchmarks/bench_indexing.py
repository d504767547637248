"""Indexing throughput as a ratio to the bare encoder's throughput on the same texts.

Both sides encode the same Cranfield documents with the same model: the bare side calls
`encode_documents` directly; the pipeline side runs `Indexer.index_extracted` (text + lexical encoding and
upserts into the embedded Qdrant engine), alternating with the bare side chunk by chunk. Usage: python -m benchmarks.bench_indexing [--docs N]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

CHUNK = 200  # documents per alternation


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--beir", type=Path, default=None, help="BEIR folder (default: shared cranfield)")
    parser.add_argument("--docs", type=int, default=1400)
    args = parser.parse_args()

    from app.container import Container
    from benchmarks.common import DATA, write_result
    from core.settings import Settings
    from evaluation.beir import corpus_segments, load_beir

    corpus, _, _ = load_beir(args.beir or DATA / "beir" / "cranfield")
    items = corpus_segments(corpus[: args.docs])
    texts = [item.segment.text for item in items]
    with tempfile.TemporaryDirectory() as tmp:
        container = Container(Settings(home=Path(tmp), clip_model="", ocr=False, qdrant_url=None))
        encoder = container.text_encoder
        encoder.encode_documents(texts[:64])  # warm-up, both sides benefit equally
        container.store  # noqa: B018  (collection creation is not part of indexing throughput)
        # Alternate the two sides chunk by chunk, so a change in machine load hits both equally.
        bare_s = pipeline_s = 0.0
        for n, start in enumerate(range(0, len(items), CHUNK)):
            chunk_texts, chunk_items = texts[start : start + CHUNK], items[start : start + CHUNK]
            # Swap which side goes first every chunk, so neither always runs on warmer caches.
            for side in ("bare", "pipeline") if n % 2 == 0 else ("pipeline", "bare"):
                t0 = time.perf_counter()
                if side == "bare":
                    encoder.encode_documents(chunk_texts)
                    bare_s += time.perf_counter() - t0
                else:
                    container.indexer.index_extracted(chunk_items)
                    pipeline_s += time.perf_counter() - t0
        stored = container.store.count()
        container.close()
    write_result(
        "indexing",
        {
            "documents": len(texts),
            "stored": stored,
            "bare_encoder_docs_per_s": round(len(texts) / bare_s, 2),
            "pipeline_docs_per_s": round(len(texts) / pipeline_s, 2),
            "ratio": round(bare_s / pipeline_s, 3),
            "target_ratio": 0.95,
        },
    )


if __name__ == "__main__":
    main()
