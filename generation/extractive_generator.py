"""The always-available generator: no language model, answers with the best evidence sentences, cited.

Every sentence of every evidence item is scored against the question on its own, so an irrelevant item
ranked first by retrieval (noisy evidence, RagLLaVA's concern) cannot take over the answer: only sentences
that actually match the question are used. The score mixes
- term coverage: the share of the question's content words (stemmed, IDF-weighted over the evidence
  sentences) that the sentence contains; a question word found nowhere in the evidence weighs most, so a
  question about something absent scores low, and
- meaning: cosine of the question and the sentence in the text encoder's space (when one is given).
Below `min_score` it answers "I don't know." (abstains) rather than quoting something loosely related.
"""

from __future__ import annotations

import functools
import math
import re
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from core.protocols import TextEncoder
from core.types import Answer, Citation, Hit
from generation.answer_types import AnswerType, answer_spans, expected_type, missing_entities
from generation.llm_judge import AnswerabilityJudge
from generation.moments import CITATION_ORDER, Unit, at_moment, units
from generation.prompts import IDK

_TOKEN = re.compile(r"[a-z0-9]+")
_ANAPHOR = re.compile(r"(their|its|it|they|these|this|those|he|she|his|her|the latter|the former)\b", re.I)
STOPWORDS = frozenset(
    [
        "a",
        "about",
        "above",
        "after",
        "again",
        "all",
        "also",
        "am",
        "an",
        "and",
        "any",
        "are",
        "as",
        "at",
        "be",
        "because",
        "been",
        "before",
        "being",
        "below",
        "between",
        "both",
        "but",
        "by",
        "can",
        "could",
        "did",
        "do",
        "does",
        "doing",
        "down",
        "during",
        "each",
        "few",
        "for",
        "from",
        "further",
        "had",
        "has",
        "have",
        "having",
        "he",
        "her",
        "here",
        "hers",
        "him",
        "his",
        "how",
        "i",
        "if",
        "in",
        "into",
        "is",
        "it",
        "its",
        "itself",
        "just",
        "me",
        "more",
        "most",
        "my",
        "no",
        "nor",
        "not",
        "now",
        "of",
        "off",
        "on",
        "once",
        "only",
        "or",
        "other",
        "our",
        "out",
        "over",
        "own",
        "same",
        "she",
        "should",
        "so",
        "some",
        "such",
        "than",
        "that",
        "the",
        "their",
        "them",
        "then",
        "there",
        "these",
        "they",
        "this",
        "those",
        "through",
        "to",
        "too",
        "under",
        "until",
        "up",
        "very",
        "was",
        "we",
        "were",
        "what",
        "when",
        "where",
        "which",
        "while",
        "who",
        "whom",
        "why",
        "will",
        "with",
        "would",
        "you",
        "your",
        "yours",
        "tell",
        "know",
        "name",
        "give",
        "find",
        "show",
        "list",
        "describe",
        "please",
        "does",
        "did",
        "many",
        "much",
        "kind",
        "type",
        "called",
    ]
)


@dataclass(frozen=True)
class _Sentence:
    n: int  # evidence number, 1-based
    text: str
    terms: frozenset[str]
    unit: Unit | None = None  # where it is said, shown or written (cited at that moment)
    cosine: float | None = None  # its dense cosine with the question, when the search already computed it


class ExtractiveGenerator:
    """Composes an answer from the best evidence sentences, citing them as [n].

    Answerability (no model): a sentence that lacks the kind of expression the question asks for (a date
    for "when", a number for "how many", `generation.answer_types`) scores `type_penalty` times less, and
    one whose evidence never mentions a name or number of the question `entity_penalty` times less per
    missing entity. When the question type allows, the answer leads with the short answer (the date, number,
    name) and then gives the supporting sentence, cited.

    Args:
        text_encoder: Optional; adds meaning similarity to term coverage.
        min_score: Best sentence score needed to answer instead of abstaining.
        relative: Further sentences are added when they score at least this fraction of the best.
        max_sentences: Most sentences in an answer.
        max_embedded: Most candidate sentences embedded per answer (those with the best word coverage).
        type_penalty: Score factor for a sentence without an expression of the expected answer type.
        entity_penalty: Score factor per question entity missing from the sentence's evidence item.
        lead: Put the short answer first when the question type gives one.
        min_relevance: Abstain when the search rated every evidence item's calibrated relevance
            (`Hit.relevance`, comparable across queries) below this: nothing in the collection matches.
        judge: Optional answerability judge (`generation.llm_judge.LlmJudge`): asked whether the chosen
            sentences answer the question, once the rules above let the answer through; "no" abstains.
    """

    name = "extractive"
    needs_evidence = True  # it knows nothing itself: the pipeline always searches for it

    def __init__(
        self,
        text_encoder: TextEncoder | None = None,
        min_score: float = 0.35,
        relative: float = 0.9,
        max_sentences: int = 2,
        max_embedded: int = 24,
        type_penalty: float = 0.7,
        entity_penalty: float = 0.8,
        lead: bool = True,
        min_relevance: float = 0.0,
        judge: AnswerabilityJudge | None = None,
    ) -> None:
        self.text_encoder = text_encoder
        self.min_score = min_score
        self.relative = relative
        self.max_sentences = max_sentences
        self.max_embedded = max_embedded
        self.type_penalty = type_penalty
        self.entity_penalty = entity_penalty
        self.lead = lead
        self.min_relevance = min_relevance
        self.judge = judge

    def generate(self, query: str, evidence: Sequence[Hit]) -> Answer:
        """The best matching sentences with their citations, or an abstention."""
        start = time.perf_counter()
        answer, confidence, support = self.answer_with_support(query, evidence)
        rated = [h.relevance for h in evidence if h.relevance is not None]
        if (
            confidence < self.min_score
            or (rated and max(rated) < self.min_relevance)
            or (self.judge is not None and not self.judge.answers(query, support))
        ):
            answer = Answer(text=f"{IDK}.", abstained=True)
        return replace(answer, timings={"generate": round(time.perf_counter() - start, 4)})

    def answer(self, query: str, evidence: Sequence[Hit]) -> tuple[Answer, float]:
        """The best answer whatever its score, with its confidence (the best sentence's score, in [0, 1]).

        `generate` abstains below `min_score`; benchmarks sweep that threshold over the confidences.
        """
        answer, confidence, _ = self.answer_with_support(query, evidence)
        return answer, confidence

    def answer_with_support(self, query: str, evidence: Sequence[Hit]) -> tuple[Answer, float, str]:
        """`answer`, plus the chosen sentences as plain text (what an answerability judge reads)."""
        sentences = self._sentences(evidence)
        kind = expected_type(query)
        scores = self._answerability(query, kind, sentences, evidence, self.scores(query, sentences))
        chosen = self._choose(sentences, scores)
        if not chosen:
            return Answer(text=f"{IDK}.", abstained=True), 0.0, ""
        confidence = float(scores.max())
        spans = [answer_spans(s.text, kind, query) for s in chosen]
        if any(spans) and not spans[0]:  # the sentence that holds the asked-for expression goes first
            k = next(i for i, found in enumerate(spans) if found)
            chosen.insert(0, chosen.pop(k))
            spans.insert(0, spans.pop(k))
        first = {s.n: s for s in reversed(chosen)}  # each evidence item is cited at its first sentence used
        numbers = list(dict.fromkeys(s.n for s in chosen))
        text = " ".join(f"{_clean(s.text)} [{s.n}]." for s in chosen)
        short = spans[0] if self.lead else []
        if short:
            text = f"{short[0]} — {text}"
        citations = tuple(
            Citation(n=n, segment=at_moment(evidence[n - 1].segment, first[n].unit)) for n in numbers
        )
        support = " ".join(f"{_clean(s.text)}." for s in chosen)
        return Answer(text=text, citations=citations), confidence, support

    def _answerability(
        self,
        query: str,
        kind: AnswerType,
        sentences: Sequence[_Sentence],
        evidence: Sequence[Hit],
        scores: np.ndarray,
    ) -> np.ndarray:
        """Scores lowered for sentences of the wrong answer type or about other entities."""
        if not len(scores):
            return scores
        factors = np.ones(len(sentences))
        missing_by_item = {
            n: len(missing_entities(query, evidence[n - 1].segment.text)) for n in {s.n for s in sentences}
        }
        for i, sentence in enumerate(sentences):
            if kind is not AnswerType.ANY and not answer_spans(sentence.text, kind, query):
                factors[i] *= self.type_penalty
            factors[i] *= self.entity_penalty ** missing_by_item[sentence.n]
        return scores * factors

    def stream(self, query: str, evidence: Sequence[Hit]) -> Iterator[str]:
        """The answer word by word (nothing is generated, so it arrives at once)."""
        words = self.generate(query, evidence).text.split(" ")
        for i, word in enumerate(words):
            yield word if i == 0 else " " + word

    # --- scoring ---------------------------------------------------------------------------------------
    def scores(self, query: str, sentences: Sequence[_Sentence]) -> np.ndarray:
        """Score of each sentence for the query, in [0, 1]."""
        q_terms = self._terms(query)
        if not sentences:
            return np.zeros(0)
        coverage = self._coverage(q_terms, sentences)
        if self.text_encoder is None:
            return coverage
        # Embedding sentences dominates the answer's latency on CPU. A sentence that is its whole evidence
        # item (a one-sentence paragraph, a short note) already has its cosine from the search (the same
        # model embedded the same text at index time); of the others, the `max_embedded` sharing the most
        # words with the question are embedded now, the rest are scored on those words alone.
        cos = np.asarray([s.cosine if s.cosine is not None else 0.0 for s in sentences])
        unknown = [i for i, s in enumerate(sentences) if s.cosine is None]
        embed = [unknown[j] for j in np.argsort(-coverage[unknown], kind="stable")[: self.max_embedded]]
        if embed:
            q = self.text_encoder.encode_queries([query])[0]
            cos[embed] = self.text_encoder.encode_documents([sentences[i].text for i in embed]) @ q
        return 0.5 * coverage + 0.5 * np.clip(cos, 0.0, 1.0)

    def _coverage(self, q_terms: frozenset[str], sentences: Sequence[_Sentence]) -> np.ndarray:
        if not q_terms:
            return np.zeros(len(sentences))
        n = len(sentences)
        found = [self._found(q_terms, s) for s in sentences]
        weight = {t: math.log(1 + (n + 1) / (1 + sum(t in f for f in found))) for t in q_terms}
        total = sum(weight.values())
        return np.asarray([sum(weight[t] for t in f) / total for f in found])

    @staticmethod
    def _found(q_terms: frozenset[str], sentence: _Sentence) -> frozenset[str]:
        """The question terms a sentence contains; text read from a picture also counts a term inside a
        longer word, because OCR drops the spaces between words ("WIFICODE" holds "wifi" and "code")."""
        found = q_terms & sentence.terms
        if sentence.unit is None or sentence.unit.kind != "screen":
            return found
        glued = [w for w in _TOKEN.findall(sentence.text.lower()) if len(w) > 4]
        return found | {q for q in q_terms - found if len(q) >= 3 and any(q in t for t in glued)}

    def _choose(self, sentences: Sequence[_Sentence], scores: np.ndarray) -> list[_Sentence]:
        if not len(scores):
            return []
        order = np.argsort(-scores, kind="stable")
        best = float(scores[order[0]])
        chosen = [sentences[order[0]]]
        for i in order[1:]:
            if len(chosen) >= self.max_sentences or scores[i] < self.relative * best:
                break
            if all(_overlap(sentences[i].terms, c.terms) < 0.6 for c in chosen):
                chosen.append(sentences[i])
        return chosen

    # --- text ------------------------------------------------------------------------------------------
    def _sentences(self, evidence: Sequence[Hit]) -> list[_Sentence]:
        """Candidate sentences (with their moments, `generation.moments`); one that opens with a pronoun
        ("Their skin...") also comes joined to the sentence before it, so the candidate says what "their" is
        and can match the question's subject. A sentence found in several evidence items of one source (a
        paragraph and its whole document) is kept once, in the finest of them, so it cites the precise place.
        A sentence that is its item's whole text takes the search's dense cosine (`Hit.scores["text"]`).
        """
        out: list[_Sentence] = []
        where: dict[tuple[str, str], int] = {}  # (source, text) -> index in out
        for n, hit in enumerate(evidence, start=1):
            previous: Unit | None = None
            whole = " ".join(hit.segment.text.split())
            searched = hit.scores.get("text")
            for unit in units(hit.segment):
                if len(unit.text.split()) < unit.min_words:
                    continue
                cosine = float(searched) if searched is not None and unit.text == whole else None
                candidates = [
                    _Sentence(n=n, text=unit.text, terms=self._terms(unit.text), unit=unit, cosine=cosine)
                ]
                if previous is not None and unit.kind != "screen" and _ANAPHOR.match(unit.text):
                    joined = f"{previous.text.rstrip(' .')}. {unit.text}"
                    candidates.append(_Sentence(n=n, text=joined, terms=self._terms(joined), unit=previous))
                previous = unit
                for sentence in candidates:
                    key = (hit.segment.source_id, sentence.text)
                    if key not in where:
                        where[key] = len(out)
                        out.append(sentence)
                        continue
                    kept = out[where[key]]
                    if _finer(hit, evidence[kept.n - 1]):
                        kept, sentence = sentence, kept
                    # the cosine belongs to the text: a copy that is a whole item lends it to the one kept
                    out[where[key]] = replace(kept, cosine=_first(kept.cosine, sentence.cosine))
        return out

    def _terms(self, text: str) -> frozenset[str]:
        return _terms(text)


@functools.lru_cache(maxsize=8192)
def _terms(text: str) -> frozenset[str]:
    """Stemmed content words (cached: the same evidence comes back question after question)."""
    words = [w for w in _TOKEN.findall(text.lower()) if w not in STOPWORDS]
    return frozenset(_stemmer().stemWords(words))


@functools.cache
def _stemmer() -> Any:
    import snowballstemmer

    return snowballstemmer.stemmer("english")


def _finer(a: Hit, b: Hit) -> bool:
    """Whether `a` is a finer place to cite than `b` (a paragraph rather than its whole document)."""
    order = CITATION_ORDER.index
    return order(a.segment.granularity) < order(b.segment.granularity)


def _first(a: float | None, b: float | None) -> float | None:
    return a if a is not None else b


def _overlap(a: frozenset[str], b: frozenset[str]) -> float:
    return len(a & b) / max(1, min(len(a), len(b)))


def _clean(sentence: str) -> str:
    return sentence.rstrip(" .;:")
