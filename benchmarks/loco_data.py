"""Per-collection inputs for the fusion grid: cached MiniLM embeddings, BM25 term counts and qrels.

Document and query embeddings are computed once per BEIR set with the product's text encoder and kept as
`.npy` files under `benchmarks/.cache/` (git-ignored), so the grid search costs only fusion time. BM25 is
computed here exactly as the product computes it (the `BM25LexicalEncoder` document weights with the fixed
`avgdl`, times Qdrant's IDF modifier `ln(1 + (N - df + 0.5) / (df + 0.5))`, unit query weights), so any
`k1`/`b` can be scored without re-indexing.
"""

from __future__ import annotations

import os
from collections import Counter
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import numpy as np
import scipy.sparse as sp

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

CACHE = Path(__file__).resolve().parent / ".cache"
SETS = ("cranfield", "vaswani", "med")
TITLE_MODES = ("joined", "text")
"""How a BEIR document's words reach BM25: `joined` = title + newline + text (what `mmrag eval beir`
indexes, so title words count twice in Cranfield, whose texts open with the title), `text` = the text
alone. Only Cranfield has titles."""


def data_dir() -> Path:
    """The shared BEIR folder (MMRAG_EVAL_DATA, default ../shared/data next to the repository)."""
    root = os.environ.get("MMRAG_EVAL_DATA")
    base = Path(root) if root else Path(__file__).resolve().parents[2] / "shared" / "data"
    return base / "beir"


def doc_text(doc: dict, title_mode: str) -> str:
    """The segment text of one BEIR document under a title mode."""
    if title_mode == "text":
        return str(doc.get("text", ""))
    return "\n".join(part for part in (doc.get("title", ""), doc.get("text", "")) if part)


def has_titles(corpus: list[dict]) -> bool:
    return any(doc.get("title") for doc in corpus)


def cached_embeddings(name: str, title_mode: str = "joined") -> tuple[np.ndarray, np.ndarray]:
    """(documents (n, 384), queries (q, 384)) for a set, computed once and cached as npy."""
    from evaluation.beir import load_beir

    corpus, queries, _ = load_beir(data_dir() / name)
    if title_mode != "joined" and not has_titles(corpus):
        title_mode = "joined"  # identical texts: reuse
    CACHE.mkdir(parents=True, exist_ok=True)
    docs_path = CACHE / f"{name}.{title_mode}.docs.npy"
    queries_path = CACHE / f"{name}.queries.npy"
    if not docs_path.exists() or not queries_path.exists():
        from indexing.encoders.sentence_transformers_text_encoder import SentenceTransformersTextEncoder

        encoder = SentenceTransformersTextEncoder(device="cpu")
        if not queries_path.exists():
            np.save(queries_path, encoder.encode_queries(list(queries.values())))
        if not docs_path.exists():
            np.save(docs_path, encoder.encode_documents([doc_text(d, title_mode) for d in corpus]))
    return np.load(docs_path), np.load(queries_path)


@dataclass
class Collection:
    """One BEIR set ready for offline scoring (row order = corpus order, query order = queries.jsonl)."""

    name: str
    doc_ids: list[str]
    query_ids: list[str]
    query_texts: list[str]
    gains: sp.csr_matrix  # (q, n) graded relevance
    ideal_dcg: np.ndarray  # (q,) IDCG@10
    n_relevant: np.ndarray  # (q,) judged relevant documents
    query_vectors: np.ndarray
    doc_vectors: dict[str, np.ndarray] = field(default_factory=dict)  # title mode -> (n, d)
    term_counts: dict[str, sp.csr_matrix] = field(default_factory=dict)  # title mode -> (n, vocab) tf
    doc_lengths: dict[str, np.ndarray] = field(default_factory=dict)
    query_terms: sp.csr_matrix | None = None  # (q, vocab) 0/1, unique query terms
    vocab: dict[str, int] = field(default_factory=dict)


@cache
def load_collection(name: str) -> Collection:
    """Read a set, its cached embeddings and its tokenised texts."""
    from evaluation.beir import load_beir
    from retrieval.bm25_lexical_encoder import BM25LexicalEncoder

    corpus, queries, qrels = load_beir(data_dir() / name)
    doc_ids = [str(d["_id"]) for d in corpus]
    position = {d: i for i, d in enumerate(doc_ids)}
    query_ids = list(queries)
    rows, cols, vals = [], [], []
    for qi, qid in enumerate(query_ids):
        for did, grade in qrels[qid].items():
            if grade > 0 and did in position:
                rows.append(qi)
                cols.append(position[did])
                vals.append(float(grade))
    gains = sp.csr_matrix((vals, (rows, cols)), shape=(len(query_ids), len(doc_ids)))
    discounts = 1.0 / np.log2(np.arange(2, 12))
    ideal = np.zeros(len(query_ids))
    for qi in range(len(query_ids)):
        row = np.sort(gains.getrow(qi).data)[::-1][:10]
        ideal[qi] = float((row * discounts[: len(row)]).sum())
    n_relevant = np.diff(gains.indptr).astype(float)
    _, query_vectors = cached_embeddings(name)
    col = Collection(
        name=name,
        doc_ids=doc_ids,
        query_ids=query_ids,
        query_texts=[queries[q] for q in query_ids],
        gains=gains,
        ideal_dcg=ideal,
        n_relevant=n_relevant,
        query_vectors=query_vectors,
    )
    tokenizer = BM25LexicalEncoder()
    modes = TITLE_MODES if has_titles(corpus) else ("joined",)
    # Title handling is measured on the lexical side; the dense side embeds what `mmrag eval beir` indexes
    # (title + text): only Cranfield has titles, and each also opens its text.
    docs, _ = cached_embeddings(name, "joined")
    for mode in modes:
        col.doc_vectors[mode] = docs
        col.term_counts[mode], col.doc_lengths[mode] = _term_matrix(
            [tokenizer.tokenize(doc_text(d, mode)) for d in corpus], col.vocab
        )
    if "text" not in col.doc_vectors:
        col.doc_vectors["text"] = col.doc_vectors["joined"]
        col.term_counts["text"] = col.term_counts["joined"]
        col.doc_lengths["text"] = col.doc_lengths["joined"]
    qrows, qcols = [], []
    for qi, text in enumerate(col.query_texts):
        for term in set(tokenizer.tokenize(text)):
            if term in col.vocab:  # a term no document has scores nothing
                qrows.append(qi)
                qcols.append(col.vocab[term])
    vocab_n = len(col.vocab)
    col.query_terms = sp.csr_matrix((np.ones(len(qrows)), (qrows, qcols)), shape=(len(query_ids), vocab_n))
    # Earlier modes were built with a smaller vocabulary: pad them to the final width.
    for mode, matrix in col.term_counts.items():
        col.term_counts[mode] = sp.csr_matrix(matrix, shape=(matrix.shape[0], vocab_n))
    return col


def _term_matrix(docs: list[list[str]], vocab: dict[str, int]) -> tuple[sp.csr_matrix, np.ndarray]:
    rows, cols, vals = [], [], []
    for i, terms in enumerate(docs):
        for term, tf in Counter(terms).items():
            rows.append(i)
            cols.append(vocab.setdefault(term, len(vocab)))
            vals.append(float(tf))
    matrix = sp.csr_matrix((vals, (rows, cols)), shape=(len(docs), max(len(vocab), 1)))
    return matrix, np.array([len(t) for t in docs], dtype=float)


def query_term_matrix(col: Collection, texts: list[str]) -> sp.csr_matrix:
    """(len(texts), vocab) 0/1 matrix of the distinct terms of other queries, in this set's vocabulary."""
    from retrieval.bm25_lexical_encoder import BM25LexicalEncoder

    tokenizer = BM25LexicalEncoder()
    rows, cols = [], []
    for qi, text in enumerate(texts):
        for term in set(tokenizer.tokenize(text)):
            if term in col.vocab:
                rows.append(qi)
                cols.append(col.vocab[term])
    return sp.csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(len(texts), len(col.vocab)))


def bm25_scores(
    col: Collection,
    k1: float,
    b: float,
    title_mode: str,
    avgdl: float = 100.0,
    queries: sp.csr_matrix | None = None,
) -> np.ndarray:
    """(q, n) BM25 scores as the product computes them (see the module docstring).

    `queries` defaults to the set's own queries; pass `query_term_matrix(...)` for other texts."""
    tf = col.term_counts[title_mode].tocoo()
    lengths = col.doc_lengths[title_mode]
    norm = k1 * (1.0 - b + b * lengths / avgdl)
    weights = tf.data * (k1 + 1.0) / (tf.data + norm[tf.row])
    doc_matrix = sp.csr_matrix((weights, (tf.row, tf.col)), shape=tf.shape)
    n_docs = doc_matrix.shape[0]
    df = np.asarray((col.term_counts[title_mode] > 0).sum(axis=0)).ravel()
    idf = np.log(1.0 + (n_docs - df + 0.5) / (df + 0.5))
    terms = col.query_terms if queries is None else queries
    assert terms is not None
    query = terms.multiply(idf[None, :]).tocsr()
    return np.asarray((query @ doc_matrix.T).todense(), dtype=np.float64)
