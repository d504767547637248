"""How often search says "no good match": short questions over their own passages vs off-topic queries.

The relevance calibration is fitted on BEIR (Cranfield, Vaswani, Medline, long queries, abstracts). This
checks the "no good match" cut on material it never saw: the SQuAD passages in tests/data (87 paragraphs, each
indexed as its own file through the real pipeline) asked their own questions (answerable: should not be
flagged) and Cranfield + Medline queries (off-topic: should be flagged), at several cuts.

    python -m benchmarks.bench_no_match        # writes benchmarks/results/no_match.json
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import numpy as np

from benchmarks.common import DATA, write_result

SQUAD_MINI = Path(__file__).resolve().parents[1] / "tests" / "data" / "beir" / "squad-mini"
EVAL_DATA = Path(os.environ.get("MMRAG_EVAL_DATA") or DATA)

CUTS = (0.01, 0.02, 0.03, 0.05, 0.1, 0.1395)


def _queries(path: Path, n: int) -> list[str]:
    return [json.loads(line)["text"] for line in path.read_text().splitlines()[:n]]


def main() -> None:
    work = Path(tempfile.mkdtemp(prefix="mmrag-no-match-"))
    os.environ["MMRAG_HOME"] = str(work / "home")
    files = work / "files"
    files.mkdir()
    for line in (SQUAD_MINI / "corpus.jsonl").read_text().splitlines():
        d = json.loads(line)
        (files / f"p{d['_id']}.txt").write_text(f"{d.get('title', '')}\n\n{d['text']}".strip())
    from app.container import Container

    container = Container()
    container.indexer.index_paths([files], lambda *a: None)
    own = _queries(SQUAD_MINI / "queries.jsonl", 1000)
    off = _queries(EVAL_DATA / "beir/cranfield/queries.jsonl", 60) + _queries(
        EVAL_DATA / "beir/med/queries.jsonl", 30
    )

    def best(q: str) -> float:
        rated = [h.relevance for h in container.retriever.search(q, k=5) if h.relevance is not None]
        return max(rated) if rated else 0.0

    own_top, off_top = np.array([best(q) for q in own]), np.array([best(q) for q in off])
    container.close()
    result = {
        "answerable_questions": len(own_top),
        "off_topic_queries": len(off_top),
        "cuts": {
            str(c): {
                "answerable_flagged": round(float((own_top < c).mean()), 4),
                "off_topic_flagged": round(float((off_top < c).mean()), 4),
            }
            for c in CUTS
        },
    }
    write_result("no_match", result)


if __name__ == "__main__":
    main()
