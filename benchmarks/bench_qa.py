"""Question answering with abstention on SQuAD 2.0 (issue 16 items 4-5): `ask` with default settings vs a
baseline, with the answerability thresholds chosen on one article and reported on the other.

Data: ../shared/data/qa/squad2-dev-sample.json (two Wikipedia articles, Normans and Computational complexity
theory; 626 questions, 333 unanswerable). Each paragraph is written as its own text file and indexed into a
temporary MMRAG_HOME, so a citation can be checked against the gold paragraph.

Metrics (evaluation/qa.py): contains_gold (answerable questions whose answer contains a gold answer),
cites_gold (answerable questions citing the gold paragraph), abstain_unanswerable, and score = (answerable
answered correctly + unanswerable abstained) / all.

- baseline: the best sentence (MiniLM cosine) of the top MiniLM paragraph; never abstains.
- tuning: the extractive generator's answerability knobs (type_penalty, entity_penalty, min_score) are
  chosen on one article (best score) and reported on the other, both ways; the trade-off curve (abstention
  on unanswerable vs contains-gold on answerable as min_score moves) is reported on the held-out article.
- default: `RagPipeline.ask` end to end with the shipped defaults, on every question.

    python benchmarks/bench_qa.py [--limit N] [--out benchmarks/results/qa.json]
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
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

from benchmarks.common import DATA, RESULTS, write_result  # noqa: E402

SQUAD = Path(os.environ.get("MMRAG_EVAL_DATA") or DATA) / "qa" / "squad2-dev-sample.json"
TYPE_PENALTIES = (1.0, 0.8, 0.6, 0.4)
ENTITY_PENALTIES = (1.0, 0.8, 0.6)
CACHE = REPO / "benchmarks" / ".cache" / "qa_evidence.pkl"
RELEVANCES = (0.0, 0.2, 0.3, 0.4)
THRESHOLDS = tuple(round(0.2 + 0.05 * i, 3) for i in range(11))  # 0.2 .. 0.7


def write_paragraphs(squad: dict[str, Any], folder: Path) -> list[tuple[str, Any]]:
    """One text file per paragraph; returns (article title, QaItem) for every question."""
    from evaluation.qa import QaItem

    rows = []
    for article in squad["data"]:
        title = article["title"]
        for i, paragraph in enumerate(article["paragraphs"]):
            path = folder / f"{title}-{i:03d}.txt"
            path.write_text(paragraph["context"] + "\n", encoding="utf-8")
            for qa in paragraph["qas"]:
                answers = tuple(dict.fromkeys(a["text"] for a in qa.get("answers", [])))
                item = QaItem(qa["question"], answers, bool(qa.get("is_impossible")), str(path.resolve()))
                rows.append((title, item))
    return rows


class CachingEncoder:
    """Wraps a text encoder and remembers every text it encoded (the sweep re-scores the same sentences)."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.dim = inner.dim
        self.space = inner.space
        self._docs: dict[str, Any] = {}
        self._queries: dict[str, Any] = {}

    def _cached(self, cache: dict[str, Any], texts: list[str], encode: Any) -> Any:
        import numpy as np

        missing = [t for t in dict.fromkeys(texts) if t not in cache]
        if missing:
            for text, vector in zip(missing, encode(missing), strict=True):
                cache[text] = vector
        return np.stack([cache[t] for t in texts]) if texts else np.zeros((0, self.dim), np.float32)

    def encode_documents(self, texts: list[str]) -> Any:
        return self._cached(self._docs, list(texts), self.inner.encode_documents)

    def encode_queries(self, texts: list[str]) -> Any:
        return self._cached(self._queries, list(texts), self.inner.encode_queries)

    def load(self) -> None:
        self.inner.load()


def baseline(container: Any, items: Sequence[Any]) -> list[Any]:
    """Best MiniLM sentence of the top MiniLM paragraph, cited, never abstaining."""
    from core.types import Answer, Citation, Granularity, SearchFilter
    from evaluation.qa import QaOutcome
    from generation.moments import units

    encoder = container.text_encoder
    flt = SearchFilter(granularities=(Granularity.PARAGRAPH,))
    out = []
    for item in items:
        start = time.perf_counter()
        q = encoder.encode_queries([item.question])[0]
        top = container.retriever.search_vector("text", q, 1, flt)
        if not top:
            out.append(QaOutcome(item, Answer(text="I don't know.", abstained=True), 0.0))
            continue
        sentences = [u.text for u in units(top[0].segment)] or [top[0].segment.text]
        best = int((encoder.encode_documents(sentences) @ q).argmax())
        answer = Answer(text=f"{sentences[best]} [1]", citations=(Citation(1, top[0].segment),))
        out.append(QaOutcome(item, answer, time.perf_counter() - start))
    return out


def sweep(generator: Any, cases: Sequence[tuple[Any, list[Any]]]) -> dict[tuple[float, float], list[Any]]:
    """For each (type_penalty, entity_penalty): per question (item, answer, confidence, top relevance)."""
    out = {}
    for tp, ep in itertools.product(TYPE_PENALTIES, ENTITY_PENALTIES):
        generator.type_penalty, generator.entity_penalty = tp, ep
        out[(tp, ep)] = [
            (item, *generator.answer(item.question, evidence), top_relevance(evidence))
            for item, evidence in cases
        ]
    return out


def top_relevance(evidence: Sequence[Any]) -> float:
    """The best calibrated relevance of the evidence (1.0 when the search gave none)."""
    rated = [h.relevance for h in evidence if h.relevance is not None]
    return max(rated) if rated else 1.0


def outcomes_at(answered: Sequence[Any], threshold: float, min_relevance: float = 0.0) -> list[Any]:
    from core.types import Answer
    from evaluation.qa import QaOutcome

    idk = Answer(text="I don't know.", abstained=True)
    return [
        QaOutcome(item, answer if conf >= threshold and rel >= min_relevance else idk, 0.0)
        for item, answer, conf, rel in answered
    ]


def choose(
    answered_by_knobs: dict[tuple[float, float], list[Any]], tune: set[str], titles: dict[int, str]
) -> dict[str, Any]:
    """The knobs and threshold with the best score on the `tune` article."""
    from evaluation.qa import metrics

    best: dict[str, Any] = {"score": -1.0}
    for (tp, ep), answered in answered_by_knobs.items():
        subset = [a for i, a in enumerate(answered) if titles[i] in tune]
        for t, r in itertools.product(THRESHOLDS, RELEVANCES):
            m = metrics(outcomes_at(subset, t, r))
            if m["score"] > best["score"]:
                best = {
                    "score": m["score"],
                    "type_penalty": tp,
                    "entity_penalty": ep,
                    "min_score": t,
                    "min_relevance": r,
                }
    return best


def report_on(
    answered_by_knobs: dict[tuple[float, float], list[Any]],
    knobs: dict[str, Any],
    keep: set[str],
    titles: dict[int, str],
) -> dict[str, Any]:
    """Metrics on the held-out article with the chosen knobs, and the trade-off curve over min_score."""
    from evaluation.qa import metrics

    answered = answered_by_knobs[(knobs["type_penalty"], knobs["entity_penalty"])]
    subset = [a for i, a in enumerate(answered) if titles[i] in keep]
    curve = []
    for t in THRESHOLDS:
        m = metrics(outcomes_at(subset, t, knobs["min_relevance"]))
        curve.append(
            {k: m[k] for k in ("contains_gold", "cites_gold", "abstain_unanswerable", "score")}
            | {"min_score": t}
        )
    chosen = metrics(outcomes_at(subset, knobs["min_score"], knobs["min_relevance"]))
    chosen.pop("latency_s")
    everything = metrics(outcomes_at(answered, knobs["min_score"], knobs["min_relevance"]))
    everything.pop("latency_s")
    return {"tuned": knobs, "held_out": chosen, "all_questions_with_these_knobs": everything, "curve": curve}


def _evidence(container: Any, items: Sequence[Any], limit: int) -> list[Any]:
    """The pipeline's selected evidence per question (cached in benchmarks/.cache: retrieval is the slow
    part, and the answerability sweep only needs the evidence)."""
    import pickle

    key = (SQUAD.stat().st_size, limit, [i.question for i in items])
    if CACHE.is_file():
        cached_key, evidence = pickle.loads(CACHE.read_bytes())
        if cached_key == key:
            # the paragraph files lived in another temporary folder: point the uris at this run's files
            return [[_moved(h, items) for h in hits] for hits in evidence]
    evidence = [container.rag.evidence(item.question, {})[1] for item in items]
    CACHE.parent.mkdir(parents=True, exist_ok=True)
    CACHE.write_bytes(pickle.dumps((key, evidence)))
    return evidence


def _moved(hit: Any, items: Sequence[Any]) -> Any:
    from dataclasses import replace

    folder = Path(items[0].uri).parent
    return replace(hit, segment=replace(hit.segment, uri=str(folder / Path(hit.segment.uri).name)))


def gate_vs_prior(container: Any, items: Sequence[Any], n: int = 60) -> dict[str, Any]:
    """Seconds per `evidence()` (route, search, rerank, select): the router as a gate (only the routed
    granularities searched, as before issue 16) against the router as a prior (every granularity), with the
    two interleaved question by question so machine load hits both alike."""
    import statistics

    from app.rag import granularities_for
    from core.types import SearchFilter
    from rerank.selection import select_evidence

    rag, settings = container.rag, container.settings

    def gate(question: str) -> list[Any]:
        decision = rag.router.route(question)
        flt = SearchFilter(granularities=granularities_for(decision.selected))
        hits = rag.retriever.search(question, k=rag.candidates, flt=flt) or rag.retriever.search(
            question, k=20
        )
        return select_evidence(
            rag.reranker.rerank(question, hits),
            threshold=settings.rerank_threshold,
            min_k=settings.rerank_min_k,
            max_k=settings.rerank_max_k,
        )

    times: dict[str, list[float]] = {"gate": [], "prior": []}
    for item in items[:n]:
        for name, run in (("gate", gate), ("prior", lambda q: rag.evidence(q, {})[1])):
            start = time.perf_counter()
            run(item.question)
            times[name].append(time.perf_counter() - start)
    p50 = {k: round(statistics.median(v), 4) for k, v in times.items()}
    return {"questions": min(n, len(items)), "p50_s": p50, "ratio": round(p50["prior"] / p50["gate"], 3)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, default=0, help="Only the first N questions (0: all).")
    parser.add_argument("--no-default", action="store_true", help="Skip the end-to-end default run.")
    parser.add_argument(
        "--keep-baseline", action="store_true", help="Reuse the baseline of the last results file (slow)."
    )
    args = parser.parse_args()

    from app.container import Container
    from core.settings import Settings
    from evaluation.qa import metrics, run_qa
    from generation.extractive_generator import ExtractiveGenerator

    squad = json.loads(SQUAD.read_text(encoding="utf-8"))
    earlier = RESULTS / "qa.json"
    earlier_baseline = (
        json.loads(earlier.read_text()).get("baseline") if args.keep_baseline and earlier.is_file() else None
    )
    result: dict[str, Any] = {
        "data": "shared/data/qa/squad2-dev-sample.json",
        "settings": "defaults, no CLIP, no OCR",
    }
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        (work / "paragraphs").mkdir()
        rows = write_paragraphs(squad, work / "paragraphs")
        if args.limit:
            rows = rows[: args.limit]
        items = [item for _, item in rows]
        titles = {i: title for i, (title, _) in enumerate(rows)}
        container = Container(Settings(home=work / "home", clip_model="", ocr=False))
        start = time.perf_counter()
        report = container.indexer.index_paths([work / "paragraphs"])
        result["index"] = {
            "files": report.indexed,
            "segments": report.segments,
            "seconds": round(time.perf_counter() - start, 1),
        }

        generator = ExtractiveGenerator(text_encoder=CachingEncoder(container.text_encoder))
        cases = list(zip(items, _evidence(container, items, args.limit), strict=True))
        answered = sweep(generator, cases)
        articles = sorted(set(titles.values()))
        result["split"] = {}
        for tune in articles:
            held = [a for a in articles if a != tune]
            knobs = choose(answered, {tune}, titles)
            result["split"][f"tune {tune} -> report {', '.join(held)}"] = report_on(
                answered, knobs, set(held), titles
            )
        shipped = ExtractiveGenerator()
        knobs_now = (shipped.type_penalty, shipped.entity_penalty)
        if knobs_now not in answered:
            generator.type_penalty, generator.entity_penalty = knobs_now
            answered[knobs_now] = [(i, *generator.answer(i.question, e), top_relevance(e)) for i, e in cases]
        result["shipped_generator"] = {
            "name": "ask's evidence + the extractive generator's shipped defaults (no conflicts pass)",
            "type_penalty": knobs_now[0],
            "entity_penalty": knobs_now[1],
            "min_score": shipped.min_score,
            "min_relevance": shipped.min_relevance,
            **metrics(outcomes_at(answered[knobs_now], shipped.min_score, shipped.min_relevance)),
        }
        write_result("qa", result)  # keep the sweep even if the slower parts below do not finish
        result["evidence_latency"] = gate_vs_prior(container, items, n=40)
        write_result("qa", result)
        if earlier_baseline:
            result["baseline"] = earlier_baseline
        else:
            result["baseline"] = {
                "name": "best sentence of the top MiniLM paragraph",
                **metrics(baseline(container, items)),
            }
        print("baseline", json.dumps(result["baseline"]), flush=True)

        if not args.no_default:
            container.rag.ask(items[0].question)  # warm-up
            outcomes = run_qa(container.rag.ask, items)
            result["default"] = {"name": "mmrag ask (defaults)", **metrics(outcomes)}
            result["default"]["per_article"] = {
                t: metrics([o for i, o in enumerate(outcomes) if titles[i] == t])
                for t in sorted(set(titles.values()))
            }
            print("default", json.dumps(result["default"]), flush=True)

        container.close()
    write_result("qa", result)


if __name__ == "__main__":
    main()
