"""`mmrag eval qa FILE`: question answering measured on the indexed collection (SQuAD 2.0 style).

FILE holds JSON lines `{"question": ..., "answers": [...], "impossible": false, "uri": "notes/a.txt"}`;
`answers` lists acceptable answer strings (empty for an unanswerable question), `impossible` (optional,
default: no answers) marks a question the collection cannot answer, and `uri` (optional) names the file that
holds the answer. The metrics:
- `contains_gold`: share of answerable questions whose answer text contains a gold answer (SQuAD
  normalisation: lower case, no punctuation or articles) and does not abstain;
- `cites_gold`: share of answerable questions with a `uri` whose citations include that file;
- `abstain_unanswerable`: share of unanswerable questions answered with "I don't know";
- `abstain_answerable`: share of answerable questions wrongly abstained on;
- `score`: (answerable answered correctly + unanswerable abstained) / all questions;
- `latency_s`: p50 and p95 seconds per question.
"""

from __future__ import annotations

import functools
import json
import re
import statistics
import string
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core.errors import InvalidRequestError
from core.types import Answer
from generation.citations import is_abstention


@dataclass(frozen=True)
class QaItem:
    """One benchmark question."""

    question: str
    answers: tuple[str, ...] = ()
    impossible: bool = False
    uri: str | None = None


def load_qa(path: Path) -> list[QaItem]:
    """Read the JSON lines of `path`.

    Raises:
        InvalidRequestError: a line is not JSON or has no question.
    """
    items = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            question = str(row["question"])
        except (ValueError, KeyError, TypeError) as exc:
            raise InvalidRequestError(f"{path}:{number}: not a question row ({exc})") from exc
        answers = tuple(str(a) for a in row.get("answers") or ())
        impossible = bool(row.get("impossible", row.get("is_impossible", not answers)))
        items.append(QaItem(question, answers, impossible, row.get("uri")))
    return items


_PUNCTUATION = str.maketrans("", "", string.punctuation + "—’‘")
_ARTICLES = re.compile(r"\b(a|an|the)\b")


@functools.lru_cache(maxsize=65536)
def normalize(text: str) -> str:
    """SQuAD's answer normalisation: lower case, no punctuation, no articles, single spaces."""
    return " ".join(_ARTICLES.sub(" ", text.lower().translate(_PUNCTUATION)).split())


def contains_gold(answer_text: str, gold: Iterable[str]) -> bool:
    """Whether the answer contains one of the gold answers (both normalised)."""
    text = f" {normalize(answer_text)} "
    return any(f" {normalize(g)} " in text for g in gold if normalize(g))


def same_file(cited: str, gold: str) -> bool:
    """Whether a citation's uri names the gold file (equal, or the same path tail)."""
    cited_p, gold_p = Path(cited), Path(gold)
    if cited == gold or cited_p == gold_p:
        return True
    tail = gold_p.parts[-len(cited_p.parts) :] if len(gold_p.parts) > len(cited_p.parts) else gold_p.parts
    return cited_p.parts[-len(tail) :] == tail


def abstained(answer: Answer) -> bool:
    return answer.abstained or is_abstention(answer.text)


@dataclass
class QaOutcome:
    """One question's result."""

    item: QaItem
    answer: Answer
    seconds: float

    @property
    def abstained(self) -> bool:
        return abstained(self.answer)

    @property
    def correct(self) -> bool:
        return not self.abstained and contains_gold(self.answer.text, self.item.answers)

    @property
    def cites_gold(self) -> bool:
        uri = self.item.uri
        return uri is not None and any(same_file(c.segment.uri, uri) for c in self.answer.citations)


@dataclass(frozen=True)
class QaResult:
    """The summary metrics of a run (see the module docstring); a rate is None when nothing was counted."""

    questions: int
    answerable: int
    unanswerable: int
    contains_gold: float | None
    cites_gold: float | None
    abstain_unanswerable: float | None
    abstain_answerable: float | None
    score: float | None
    latency_p50_s: float
    latency_p95_s: float

    def to_json(self) -> dict[str, Any]:
        """The metrics as `mmrag eval qa` prints them (after its `file` key)."""
        return {
            "questions": self.questions,
            "answerable": self.answerable,
            "unanswerable": self.unanswerable,
            "contains_gold": self.contains_gold,
            "cites_gold": self.cites_gold,
            "abstain_unanswerable": self.abstain_unanswerable,
            "abstain_answerable": self.abstain_answerable,
            "score": self.score,
            "latency_s": {"p50": self.latency_p50_s, "p95": self.latency_p95_s},
        }


def summarize(outcomes: Sequence[QaOutcome]) -> QaResult:
    """The summary metrics of a run."""
    answerable = [o for o in outcomes if not o.item.impossible]
    unanswerable = [o for o in outcomes if o.item.impossible]
    with_uri = [o for o in answerable if o.item.uri]
    seconds = sorted(o.seconds for o in outcomes) or [0.0]

    def rate(hits: int, n: int) -> float | None:
        return round(hits / n, 4) if n else None

    good = sum(o.correct for o in answerable) + sum(o.abstained for o in unanswerable)
    return QaResult(
        questions=len(outcomes),
        answerable=len(answerable),
        unanswerable=len(unanswerable),
        contains_gold=rate(sum(o.correct for o in answerable), len(answerable)),
        cites_gold=rate(sum(o.cites_gold for o in with_uri), len(with_uri)),
        abstain_unanswerable=rate(sum(o.abstained for o in unanswerable), len(unanswerable)),
        abstain_answerable=rate(sum(o.abstained for o in answerable), len(answerable)),
        score=rate(good, len(outcomes)),
        latency_p50_s=round(statistics.median(seconds), 4),
        latency_p95_s=round(seconds[min(len(seconds) - 1, int(0.95 * len(seconds)))], 4),
    )


def metrics(outcomes: Sequence[QaOutcome]) -> dict[str, Any]:
    """The summary metrics of a run as a dict (`summarize(outcomes).to_json()`; the benchmarks use it)."""
    return summarize(outcomes).to_json()


def run_qa(
    ask: Callable[[str], Answer],
    items: Sequence[QaItem],
    progress: Callable[[int, int], None] | None = None,
) -> list[QaOutcome]:
    """Ask every question; `progress(done, total)` after each."""
    out = []
    for i, item in enumerate(items, start=1):
        start = time.perf_counter()
        answer = ask(item.question)
        out.append(QaOutcome(item, answer, time.perf_counter() - start))
        if progress is not None:
            progress(i, len(items))
    return out


def evaluate_qa(ask: Callable[[str], Answer], items: Sequence[QaItem]) -> QaResult:
    """Run the questions through `ask` (for instance `RagPipeline.ask`) and return the metrics."""
    return summarize(run_qa(ask, items))
