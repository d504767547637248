"""Conflict detection benchmark: precision and recall on evidence pairs built from SQuAD 2.0 dev paragraphs.

For each answerable question whose answer is a value of the question's type (a date, a number, a clock time
or a name, as `generation.conflicts` reads it), three pairs of evidence from two different sources:
- **swapped** (conflict): the paragraph, and the same paragraph with the answer replaced by another
  question's answer of the same type (a value that differs from it);
- **agreeing** (no conflict): the paragraph, and the answer's sentence alone quoted by another source;
- **distractor** (no conflict): the paragraph, and another paragraph of the same article that holds a value
  of the same type (topical, but not an answer to this question).
Precision and recall are over all pairs; the false-positive rate is given per negative kind and recall per
question type, so an easy negative cannot hide a hard one. No model is used.

Limits: a swapped pair is two versions of one text (like an edited notice), the case the detector's
"restated statement" rule targets; disagreements worded independently by two authors are not measured here.

Usage: python -m benchmarks.bench_conflicts [--data PATH] [--seed 0]
"""

from __future__ import annotations

import argparse
import json
import random
import re
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

from benchmarks.common import DATA, write_result
from core.types import Granularity, Hit, Locator, Modality, Segment, segment_id
from generation.conflict_values import extract_values, question_kind
from generation.conflicts import ConflictDetector

KINDS = ("time", "date", "number", "name")


def _hit(text: str, source: str) -> Hit:
    loc = Locator(index=0)
    seg = Segment(
        segment_id=segment_id(source, Granularity.PARAGRAPH, loc),
        source_id=source,
        uri=f"{source}.txt",
        modality=Modality.TEXT,
        granularity=Granularity.PARAGRAPH,
        text=text,
        locator=loc,
    )
    return Hit(segment=seg, score=1.0)


def _sentence_at(context: str, start: int) -> str:
    """The sentence of `context` holding the character at `start`."""
    left = max(context.rfind(". ", 0, start), context.rfind("? ", 0, start), context.rfind("! ", 0, start))
    right = min((i for i in (context.find(". ", start), context.find("? ", start)) if i >= 0), default=-1)
    return context[left + 2 if left >= 0 else 0 : right + 1 if right >= 0 else len(context)].strip()


def build_pairs(squad: dict[str, Any], seed: int = 0) -> list[dict[str, Any]]:
    """Labelled evidence pairs: `{"question", "kind", "pair": swapped|agreeing|distractor, "a", "b", "conflict"}`."""
    rng = random.Random(seed)
    items = []
    for article in squad["data"]:
        paragraphs = [p["context"] for p in article["paragraphs"]]
        for p in article["paragraphs"]:
            for qa in p["qas"]:
                if qa.get("is_impossible") or not qa["answers"]:
                    continue
                kind = question_kind(qa["question"])
                answer = qa["answers"][0]
                values = extract_values(kind, answer["text"], qa["question"]) if kind in KINDS else []
                if values:
                    items.append(
                        (article["title"], paragraphs, p["context"], qa["question"], kind, answer, values)
                    )
    pool: dict[str, list[tuple[str, frozenset[str]]]] = defaultdict(list)
    for *_, kind, answer, values in items:
        pool[kind].append((answer["text"], frozenset().union(*(k for _, k in values))))
    pairs = []
    for _title, paragraphs, context, question, kind, answer, values in items:
        keys = frozenset().union(*(k for _, k in values))
        others = [text for text, k in pool[kind] if not (k & keys) and text not in context]
        if not others:
            continue
        start = answer["answer_start"]
        swapped = context[:start] + rng.choice(others) + context[start + len(answer["text"]) :]
        pairs.append(_pair(question, kind, "swapped", context, swapped, True))
        pairs.append(_pair(question, kind, "agreeing", context, _sentence_at(context, start), False))
        distractors = [
            other
            for other in paragraphs
            if other != context
            and any(extract_values(kind, s, question) for s in re.split(r"(?<=\.)\s", other))
        ]
        if distractors:
            pairs.append(_pair(question, kind, "distractor", context, rng.choice(distractors), False))
    return pairs


def _pair(question: str, kind: str, pair: str, a: str, b: str, conflict: bool) -> dict[str, Any]:
    return {"question": question, "kind": kind, "pair": pair, "a": a, "b": b, "conflict": conflict}


def evaluate(pairs: list[dict[str, Any]], detector: ConflictDetector) -> dict[str, Any]:
    """Precision/recall overall, recall per question type, false-positive rate per negative kind."""
    tp = fp = fn = 0
    recall_by_kind: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    fp_by_pair: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    errors: list[dict[str, Any]] = []
    for p in pairs:
        found = bool(detector.detect(p["question"], [_hit(p["a"], "a" * 64), _hit(p["b"], "b" * 64)]))
        if p["conflict"]:
            recall_by_kind[p["kind"]][0] += found
            recall_by_kind[p["kind"]][1] += 1
            tp, fn = tp + found, fn + (not found)
        else:
            fp_by_pair[p["pair"]][0] += found
            fp_by_pair[p["pair"]][1] += 1
            fp += found
        if found != p["conflict"] and len(errors) < 8:
            errors.append({"question": p["question"], "pair": p["pair"], "found": found})
    return {
        "pairs": len(pairs),
        "pair_counts": dict(Counter(p["pair"] for p in pairs)),
        "precision": round(tp / (tp + fp), 4) if tp + fp else None,
        "recall": round(tp / (tp + fn), 4) if tp + fn else None,
        "recall_by_kind": {
            k: {"recall": round(v[0] / v[1], 4), "n": v[1]} for k, v in sorted(recall_by_kind.items())
        },
        "false_positive_rate_by_pair": {
            k: {"rate": round(v[0] / v[1], 4), "n": v[1]} for k, v in sorted(fp_by_pair.items())
        },
        "error_examples": errors,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DATA / "qa" / "squad2-dev-sample.json")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    squad = json.loads(args.data.read_text(encoding="utf-8"))
    pairs = build_pairs(squad, args.seed)
    result = evaluate(pairs, ConflictDetector())
    write_result(
        "conflicts",
        {
            "data": f"{args.data.name} (SQuAD 2.0 dev, CC BY-SA 4.0)",
            "seed": args.seed,
            "detector": "generation.conflicts.ConflictDetector (no model; min_coverage 0.4, context_weight 0.5, restated 0.6)",
            "limits": "swapped pairs are two versions of one text; independently worded disagreements are not measured",
            **result,
        },
    )


if __name__ == "__main__":
    main()
