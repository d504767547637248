"""CPU text-encoder variants (issue 15 item 4): torch against ONNX fp32, graph-optimised and int8 variants.

Speed: every variant encodes the same Cranfield abstracts (chunk-sized texts, what indexing embeds) at the
indexing batch size; variants alternate inside one process, `--rounds` times, and each round's docs/s is
divided by torch's in the same round; the median of those ratios is reported, with the load average, since
the 2 cores here are shared. Cosine: each variant's vectors against torch's on the same texts.

Quality (`--quality VARIANT ...`): the variant encodes every document and query of the BEIR sets; nDCG@10 of
the shipped hybrid defaults and of dense search alone, scored offline as `bench_fusion_loco` scores them,
against the cached torch vectors (`benchmarks/.cache`), plus the worst and mean cosine over the whole set.

Sensitivity (`--sensitivity SET`): which weight MatMuls carry the int8 error. Each role (attention Q/K/V,
attention output, FFN in, FFN out) is quantised alone, the rest stays float32, and the cosine to torch is
measured on a seeded sample of SET's documents; also every role together. The errors (1 - mean cosine)
roughly add up, so this says what a recipe that keeps some roles in float32 can reach.

    python -m benchmarks.bench_onnx [--limit 64] [--rounds 3] [--quality onnx_int8 --sets med cranfield vaswani]
    python -m benchmarks.bench_onnx --skip-speed --sensitivity vaswani [--sample 2000]

Writes (merges into) benchmarks/results/onnx.json.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.loco_data import SETS, data_dir, doc_text, load_collection

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "benchmarks" / "results" / "onnx.json"

logger = logging.getLogger("bench_onnx")

Encode = Callable[[list[str]], np.ndarray]


def shipped_config() -> Any:
    """The shipped hybrid defaults (core.settings) as a `bench_fusion_loco.Config`."""
    from benchmarks.bench_fusion_loco import Config
    from core.settings import Settings

    s = Settings()
    return Config(
        method=s.fusion,
        lexical_weight=s.fusion_lexical_weight,
        depth=s.candidates,
        k1=s.bm25_k1,
        b=s.bm25_b,
        title="joined",
        length_alpha=s.fusion_length_alpha,
        length_reference=s.fusion_length_reference,
        prf_docs=s.fusion_feedback_docs,
        prf_beta=s.fusion_feedback_beta,
    )


def optimize_graph(src: Path, dst: Path) -> Path:
    """onnxruntime's transformer optimizer (model_type bert): fused GELU, SkipLayerNorm, attention if matched."""
    from onnxruntime.transformers.optimizer import optimize_model

    model = optimize_model(str(src), model_type="bert", num_heads=12, hidden_size=384, opt_level=0)
    logger.info("transformer optimizer fusions: %s", model.get_fused_operator_statistics())
    model.save_model_to_file(str(dst))
    return dst


def onnx_encoders(folder: Path, batch_size: int) -> dict[str, Any]:
    """Name -> OnnxTextEncoder for every ONNX variant, sharing one export in `folder`."""
    from indexing.encoders.onnx_export import quantize_text_model
    from indexing.encoders.onnx_text_encoder import OnnxTextEncoder

    model = folder / "model.onnx"
    optimized = optimize_graph(model, folder / "model.opt.onnx")
    int8_all = quantize_text_model(model, folder / "model.int8-all.onnx", fp32_ffn_output_layers=())

    def enc(path: Path, **kw: Any) -> OnnxTextEncoder:
        return OnnxTextEncoder(
            path, tokenizer=folder / "tokenizer.json", batch_size=batch_size, device="cpu", **kw
        )

    return {
        "onnx_fp32": enc(model),
        "onnx_fp32_transformer_optimizer": enc(optimized),
        "onnx_int8_all_matmuls": enc(int8_all),
        "onnx_int8": enc(model, quantize=True),
        "onnx_int8_1_thread": enc(model, quantize=True, threads=1),
        "onnx_int8_no_spinning": enc(model, quantize=True, spinning=False),
    }


def speed(texts: list[str], rounds: int, batch_size: int, folder: Path) -> dict[str, Any]:
    """Alternate all variants `rounds` times on `texts`; ratios to torch per round, median reported."""
    import torch

    from indexing.encoders.sentence_transformers_text_encoder import SentenceTransformersTextEncoder

    torch_encoder = SentenceTransformersTextEncoder(device="cpu", batch_size=batch_size)
    torch_encoder.load()
    backends: dict[str, Encode] = {"torch": torch_encoder.encode_documents}
    for name, enc in onnx_encoders(folder, batch_size).items():
        enc.load()
        backends[name] = enc.encode_documents
    for encode in backends.values():
        encode(texts[:8])  # warm-up, not timed
    seconds: dict[str, list[float]] = {n: [] for n in backends}
    loads = [round(os.getloadavg()[0], 2)]
    vectors: dict[str, np.ndarray] = {}
    for round_no in range(rounds):
        for name, encode in backends.items():
            start = time.perf_counter()
            vectors[name] = encode(texts)
            seconds[name].append(time.perf_counter() - start)
            logger.info("round %d %s: %.1f s", round_no + 1, name, seconds[name][-1])
        loads.append(round(os.getloadavg()[0], 2))
    out: dict[str, Any] = {}
    for name in backends:
        ratios = [t / s for t, s in zip(seconds["torch"], seconds[name], strict=True)]
        cosine = (vectors[name] * vectors["torch"]).sum(axis=1)
        out[name] = {
            "docs_per_s_median": round(len(texts) / statistics.median(seconds[name]), 2),
            "ratio_to_torch_median": round(statistics.median(ratios), 3),
            "ratio_to_torch_per_round": [round(r, 3) for r in ratios],
            "seconds": [round(s, 2) for s in seconds[name]],
            "cosine_to_torch": {"min": round(float(cosine.min()), 5), "mean": round(float(cosine.mean()), 5)},
        }
    return {
        "texts": len(texts),
        "mean_chars": round(float(np.mean([len(t) for t in texts])), 1),
        "batch_size": batch_size,
        "rounds": rounds,
        "load_average_1min_per_round": loads,
        "torch_threads": torch.get_num_threads(),
        "variants": out,
    }


def quality(variant: str, sets: list[str], batch_size: int, folder: Path) -> dict[str, Any]:
    """nDCG@10 (hybrid shipped defaults, dense alone) and cosine with `variant`'s vectors vs cached torch."""
    from benchmarks.bench_fusion_loco import Scorer
    from evaluation.beir import load_beir

    encoder = onnx_encoders(folder, batch_size)[variant]
    cfg = shipped_config()
    out: dict[str, Any] = {}
    for name in sets:
        col = load_collection(name)
        corpus, _, _ = load_beir(data_dir() / name)
        ref = Scorer(col)
        torch_scores = {"hybrid": ref.full(cfg), "dense": ref.single("dense", cfg)}
        start = time.perf_counter()
        docs = encoder.encode_documents([doc_text(d, "joined") for d in corpus])
        queries = encoder.encode_queries(col.query_texts)
        seconds = time.perf_counter() - start
        cos_docs = (docs * col.doc_vectors["joined"]).sum(axis=1)
        cos_queries = (queries * col.query_vectors).sum(axis=1)
        saved = dict(col.doc_vectors), col.query_vectors
        col.doc_vectors, col.query_vectors = {k: docs for k in saved[0]}, queries
        try:
            var = Scorer(col)
            scores = {"hybrid": var.full(cfg), "dense": var.single("dense", cfg)}
        finally:
            col.doc_vectors, col.query_vectors = saved
        out[name] = {
            "torch": torch_scores,
            variant: scores,
            "ndcg_delta_hybrid": round(scores["hybrid"]["ndcg@10"] - torch_scores["hybrid"]["ndcg@10"], 4),
            "ndcg_delta_dense": round(scores["dense"]["ndcg@10"] - torch_scores["dense"]["ndcg@10"], 4),
            "cosine_docs": {"min": round(float(cos_docs.min()), 4), "mean": round(float(cos_docs.mean()), 5)},
            "cosine_queries": {
                "min": round(float(cos_queries.min()), 4),
                "mean": round(float(cos_queries.mean()), 5),
            },
            "encode_s": round(seconds, 1),
        }
        logger.info("%s %s: %s", variant, name, out[name])
    return out


ROLES = {
    "attention_qkv": r"attention/self/(query|key|value)/MatMul$",
    "attention_output": r"attention/output/dense/MatMul$",
    "ffn_in": r"intermediate/dense/MatMul$",
    "ffn_out": r"layer\.\d+/output/dense/MatMul$",
    "all": r"/dense/MatMul$|/(query|key|value)/MatMul$",
}


def sensitivity(name: str, sample: int, batch_size: int, folder: Path) -> dict[str, Any]:
    """Cosine to torch with one role of weight MatMuls quantised (per-channel int8, 7-bit range)."""
    import re

    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    from benchmarks.loco_data import cached_embeddings
    from evaluation.beir import load_beir
    from indexing.encoders.onnx_text_encoder import OnnxTextEncoder

    corpus, _, _ = load_beir(data_dir() / name)
    reference, _ = cached_embeddings(name)
    rows = np.random.default_rng(0).choice(len(corpus), size=min(sample, len(corpus)), replace=False)
    texts = [doc_text(corpus[i], "joined") for i in rows]
    weights = [
        n.name
        for n in onnx.load(str(folder / "model.onnx"), load_external_data=False).graph.node
        if n.op_type == "MatMul" and "/self/MatMul" not in n.name  # attention scores stay float32 anyway
    ]
    out: dict[str, Any] = {"set": name, "documents": len(texts)}
    for role, pattern in ROLES.items():
        keep = [w for w in weights if not re.search(pattern, w)]
        path = folder / f"model.role-{role}.onnx"
        quantize_dynamic(
            str(folder / "model.onnx"),
            str(path),
            weight_type=QuantType.QInt8,
            op_types_to_quantize=["MatMul"],
            per_channel=True,
            reduce_range=True,
            nodes_to_exclude=keep,
        )
        encoder = OnnxTextEncoder(
            path, tokenizer=folder / "tokenizer.json", batch_size=batch_size, device="cpu"
        )
        cosine = (encoder.encode_documents(texts) * reference[rows]).sum(axis=1)
        out[role] = {
            "quantised_matmuls": len(weights) - len(keep),
            "cosine_min": round(float(cosine.min()), 4),
            "cosine_mean": round(float(cosine.mean()), 5),
            "below_0.99": int((cosine < 0.99).sum()),
        }
        logger.info("sensitivity %s: %s", role, out[role])
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--limit", type=int, default=64, help="Cranfield abstracts timed (default 64)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=32, help="the indexing batch size (settings)")
    parser.add_argument("--quality", nargs="*", default=None, help="variants to score on the BEIR sets")
    parser.add_argument("--sets", nargs="*", default=list(SETS))
    parser.add_argument("--skip-speed", action="store_true")
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--sensitivity", metavar="SET", help="int8 error per MatMul role on SET's documents")
    parser.add_argument("--sample", type=int, default=2000, help="documents for --sensitivity")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    report: dict[str, Any] = json.loads(args.out.read_text()) if args.out.is_file() else {}
    from indexing.encoders.onnx_export import export_text_encoder

    with tempfile.TemporaryDirectory() as tmp:
        folder = export_text_encoder("packaged", Path(tmp) / "onnx")
        if not args.skip_speed:
            lines = (data_dir() / "cranfield" / "corpus.jsonl").read_text(encoding="utf-8").splitlines()
            texts = [doc_text(json.loads(line), "joined") for line in lines[: args.limit]]
            report["speed"] = speed(texts, args.rounds, args.batch_size, folder)
            report["machine"] = {
                "cpus": os.cpu_count(),
                "python": platform.python_version(),
                "onnxruntime": __import__("onnxruntime").__version__,
                "torch": __import__("torch").__version__,
            }
            args.out.parent.mkdir(parents=True, exist_ok=True)
            args.out.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
        if args.sensitivity:
            report["sensitivity"] = sensitivity(args.sensitivity, args.sample, args.batch_size, folder)
            args.out.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
        for variant in args.quality or []:
            report.setdefault("quality", {})[variant] = quality(variant, args.sets, args.batch_size, folder)
            args.out.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    logger.info("wrote %s", args.out)


if __name__ == "__main__":
    main()
