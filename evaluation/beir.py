"""`mmrag eval beir`: index a BEIR corpus into a throwaway collection and score the retriever.

The command (`app/cli/collection.py`) builds the components on a temporary home; `evaluate_beir` indexes and scores.

nDCG@10 uses linear gains (as pytrec_eval / BEIR do); Recall@100 counts judged-relevant documents (grade > 0).
"""

from __future__ import annotations

import csv
import hashlib
import json
import math
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from core.protocols import Extracted
from core.types import Granularity, Hit, Locator, Modality, Segment, segment_id


def _jsonl(path: Path) -> Iterator[dict[str, Any]]:
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            if line.strip():
                yield json.loads(line)


def load_beir(directory: Path) -> tuple[list[dict[str, Any]], dict[str, str], dict[str, dict[str, int]]]:
    """Read corpus.jsonl, queries.jsonl and qrels/test.tsv; only queries with judgments are kept."""
    corpus = list(_jsonl(directory / "corpus.jsonl"))
    qrels: dict[str, dict[str, int]] = {}
    with (directory / "qrels" / "test.tsv").open(encoding="utf-8") as fh:
        for row in csv.reader(fh, delimiter="\t"):
            if len(row) < 3 or not row[2].lstrip("-").isdigit():
                continue  # header or malformed
            qrels.setdefault(row[0], {})[row[1]] = int(row[2])
    queries = {q["_id"]: q["text"] for q in _jsonl(directory / "queries.jsonl") if q["_id"] in qrels}
    return corpus, queries, qrels


def corpus_segments(corpus: list[dict[str, Any]]) -> list[Extracted]:
    """One paragraph segment per BEIR document (title + text)."""
    items = []
    for doc in corpus:
        source_id = hashlib.sha256(f"beir:{doc['_id']}".encode()).hexdigest()
        locator = Locator(index=0)
        text = "\n".join(part for part in (doc.get("title", ""), doc.get("text", "")) if part)
        segment = Segment(
            segment_id=segment_id(source_id, Granularity.PARAGRAPH, locator),
            source_id=source_id,
            uri=f"beir:{doc['_id']}",
            modality=Modality.TEXT,
            granularity=Granularity.PARAGRAPH,
            text=text,
            locator=locator,
        )
        items.append(Extracted(segment=segment))
    return items


def ndcg_at(ranking: list[str], judged: dict[str, int], k: int = 10) -> float:
    dcg = sum(judged.get(doc, 0) / math.log2(i + 2) for i, doc in enumerate(ranking[:k]))
    ideal = sorted((g for g in judged.values() if g > 0), reverse=True)[:k]
    idcg = sum(g / math.log2(i + 2) for i, g in enumerate(ideal))
    return dcg / idcg if idcg > 0 else 0.0


def recall_at(ranking: list[str], judged: dict[str, int], k: int = 100) -> float:
    relevant = {doc for doc, g in judged.items() if g > 0}
    return len(relevant & set(ranking[:k])) / len(relevant) if relevant else 0.0


class BeirIndexer(Protocol):
    """Stores ready-made segments (`indexing.pipeline.Indexer.index_extracted`)."""

    def index_extracted(self, items: Sequence[Extracted]) -> int: ...


class BeirRetriever(Protocol):
    """Ranks segments for a text query (`retrieval.retriever.Retriever.search`)."""

    def search(self, query: str, k: int = 10) -> Sequence[Hit]: ...


@dataclass(frozen=True)
class BeirResult:
    """The scores of one BEIR run (means over the judged queries)."""

    ndcg_at_10: float
    recall_at_100: float
    queries: int
    documents: int
    fusion: str
    index_seconds: float
    query_p50_ms: float

    def to_json(self) -> dict[str, Any]:
        """The JSON of `mmrag eval beir --json`."""
        return {
            "ndcg@10": self.ndcg_at_10,
            "recall@100": self.recall_at_100,
            "queries": self.queries,
            "documents": self.documents,
            "fusion": self.fusion,
            "index_seconds": self.index_seconds,
            "query_p50_ms": self.query_p50_ms,
        }


def evaluate_beir(
    corpus: list[dict[str, Any]],
    queries: dict[str, str],
    qrels: dict[str, dict[str, int]],
    indexer: BeirIndexer,
    retriever: BeirRetriever,
    *,
    fusion: str,
    progress: Callable[[str], None] | None = None,
) -> BeirResult:
    """Index the corpus (as `load_beir` read it) with `indexer` into an empty collection; score every query.

    Args:
        corpus, queries, qrels: What `load_beir` returns.
        indexer: Writes into the collection `retriever` searches (both fresh, on a throwaway home).
        retriever: Searched with `k=100` per query.
        fusion: The fusion the retriever uses, reported as is.
        progress: Called with one line once the corpus is indexed.
    """
    items = corpus_segments(corpus)
    started = time.perf_counter()
    indexer.index_extracted(items)
    index_s = time.perf_counter() - started
    if progress is not None:
        progress(f"indexed {len(items)} documents in {index_s:.1f} s")
    ndcg, recall, latencies = [], [], []
    for qid, text in queries.items():
        t0 = time.perf_counter()
        hits = retriever.search(text, k=100)
        latencies.append(time.perf_counter() - t0)
        ranking = [h.segment.uri.removeprefix("beir:") for h in hits]
        ndcg.append(ndcg_at(ranking, qrels[qid]))
        recall.append(recall_at(ranking, qrels[qid]))
    latencies.sort()
    return BeirResult(
        ndcg_at_10=round(sum(ndcg) / len(ndcg), 4) if ndcg else 0.0,
        recall_at_100=round(sum(recall) / len(recall), 4) if recall else 0.0,
        queries=len(ndcg),
        documents=len(corpus),
        fusion=fusion,
        index_seconds=round(index_s, 2),
        query_p50_ms=round(1000 * latencies[len(latencies) // 2], 2) if latencies else 0.0,
    )
