"""Conflicting evidence: do the selected sources answer the question with incompatible values?

The question's type decides what a value is: a clock time ("what time…", opening hours), a date ("when",
"what year"), a number ("how many", "how much"), a name ("who", "which", "where"), or yes/no ("is…",
"does…"). Every sentence of an evidence item that covers at least `min_coverage` of the question's content
words and holds a value of that type is a claim; the best-covering one is the item's answer. Two values are
compatible when one's keys include the other's ("2025" and "3 March 2025" are; "9:00–17:00" and
"10:00–18:00" are not; yes/no by polarity). Two items from *different* sources disagree when
- they restate one statement (most of a sentence's words shared, values left out: an edited notice, a
  quoted passage) with incompatible values, or
- neither item's answer is compatible with any claim of the other.
A passage about something else that happens to hold a number covers too little of the question to count.
Words of the question found elsewhere in the item (a notice's heading) count half, so a short line such as
"Opening hours: 10:00–18:00" under "Linden Street library" still answers a question about that library.

Each claim carries the time of its source when known (EXIF `taken_at` in the payload, a `modified`/`mtime`
payload field, or the file's modification time when the uri is a local file), so a conflict can say which
source is newer: an updated notice usually supersedes the old one, but the answer still shows both.

No model is needed (it runs with the extractive default); prompted generators get `conflict_note()` in their
prompt so the model can say the same thing in its own words.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from functools import partial
from typing import Any

from core.types import Answer, Citation, Hit, Segment
from generation.conflict_values import clock_times, extract_values, question_kind

RESTATED = 0.6  # share of words two sentences must have in common to count as one statement restated
_MARKER = re.compile(r"\[(\d+)\]")
_SENTENCE_END = re.compile(r"(?<=[.!?;])\s+|\n+")
_WORD = re.compile(r"[a-z0-9]+")


@dataclass(frozen=True)
class Claim:
    """What one piece of evidence says for the question."""

    n: int  # evidence number, 1-based, as cited
    segment: Segment
    value: str  # the value as shown to the user ("10:00–18:00", "1911", "no")
    keys: frozenset[str]  # normalised values compared between claims
    sentence: str
    source_time: float | None = None  # POSIX seconds of the source (EXIF time taken, file time)
    context: frozenset[str] = frozenset()  # the sentence's stemmed words, values left out

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "n": self.n,
            "segment_id": self.segment.segment_id,
            "source_id": self.segment.source_id,
            "uri": self.segment.uri,
            "value": self.value,
            "quote": self.sentence,
        }
        if self.source_time is not None:
            out["source_time"] = _iso(self.source_time)
        return out


@dataclass(frozen=True)
class Conflict:
    """Evidence that answers the question with incompatible values.

    `newer` is the evidence number of the most recent source when the claims' sources have different times
    (None when unknown or equal).
    """

    kind: str  # time | date | number | name | yesno | value
    claims: tuple[Claim, ...]
    newer: int | None = None

    def message(self) -> str:
        """`The sources disagree: [1] says 9:00–17:00, [2] says 10:00–18:00. [2] is the newer source (…).`"""
        said = ", ".join(f"[{c.n}] says {c.value}" for c in self.claims)
        text = f"The sources disagree: {said}."
        if self.newer is not None:
            claim = next(c for c in self.claims if c.n == self.newer)
            if claim.source_time is not None:
                text += f" [{claim.n}] is the newer source ({_iso(claim.source_time)[:10]})."
        return text

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "claims": [c.to_dict() for c in self.claims],
            "newer": self.newer,
            "message": self.message(),
        }


SourceTime = Callable[[Segment], float | None]


def source_time(segment: Segment) -> float | None:
    """When a source was made: EXIF `taken_at`, a `modified`/`mtime` payload field, or the local file's mtime."""
    meta = segment.metadata
    for key in ("taken_at", "modified", "mtime", "created"):
        value = meta.get(key)
        if isinstance(value, int | float):
            return float(value)
        if isinstance(value, str):
            try:
                parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
            except ValueError:
                continue
            return (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).timestamp()
    try:
        return os.stat(segment.uri).st_mtime if os.path.isabs(segment.uri) else None
    except OSError:
        return None


class ConflictDetector:
    """Finds incompatible answers among the evidence for a question.

    Args:
        min_coverage: Share of the question's content words a claim's sentence must contain.
        when: Returns a source's time (default `source_time`); injectable for tests.
        context_weight: Weight of question words found in the item but outside the claim's sentence.
    """

    def __init__(
        self, min_coverage: float = 0.4, when: SourceTime = source_time, context_weight: float = 0.5
    ) -> None:
        self.min_coverage = min_coverage
        self.context_weight = context_weight
        self.when = when
        self._stemmer: Any = None

    def detect(self, question: str, evidence: Sequence[Hit]) -> list[Conflict]:
        """Conflicts among the evidence (numbered 1..n as cited); empty when the sources agree."""
        kind = question_kind(question)
        q_terms = self._terms(question)
        # Every sentence of an item that covers the question and holds a value is a candidate; its best one
        # is its claim. Two items agree when either's claim matches any candidate of the other (a paragraph
        # whose best-covering sentence is not the one that answers still agrees with a quote of that one).
        items = [
            cands
            for n, hit in enumerate(evidence, start=1)
            if (cands := self._candidates(kind, question, q_terms, n, hit))
        ]
        groups: list[list[list[Claim]]] = []
        for cands in items:  # sources that agree form one group
            for group in groups:
                if all(_versus(cands, other) is None for other in group):
                    group.append(cands)
                    break
            else:
                groups.append([cands])
        if len(groups) < 2:
            return []
        # The first group's best-ranked source against each other group's: the claims they differ on.
        shown: dict[int, Claim] = {}
        for group in groups[1:]:
            pair = _versus(groups[0][0], group[0]) or (groups[0][0][0], group[0][0])
            for claim in pair:
                shown.setdefault(claim.n, claim)
        claims = tuple(sorted(shown.values(), key=lambda c: c.n))
        if len({c.segment.source_id for c in claims}) < 2:
            return []
        return [Conflict(kind=kind, claims=claims, newer=_newer(claims))]

    # --- claims --------------------------------------------------------------------------------------
    def _candidates(self, kind: str, question: str, q_terms: frozenset[str], n: int, hit: Hit) -> list[Claim]:
        """Claims of one evidence item, best covering first."""
        found: list[tuple[float, Claim]] = []
        when: float | None = None
        item_terms = self._terms(hit.segment.text)
        for raw in _SENTENCE_END.split(hit.segment.text):
            sentence = " ".join(raw.split())
            if len(sentence.split()) < 3:
                continue
            values = extract_values(kind, sentence, question)
            if not values:
                continue
            coverage = self._coverage(q_terms, sentence, values)
            # The item's other words (a notice's title, the paragraph's subject) count half: a short line
            # such as "Opening hours: 10:00-18:00" is about the library its heading names.
            elsewhere = (q_terms - self._terms(sentence)) & item_terms
            coverage += self.context_weight * len(elsewhere) / max(1, len(q_terms))
            if coverage < self.min_coverage:
                continue
            if not found:
                when = self.when(hit.segment)
            keys = frozenset().union(*(k for _, k in values))
            context = self._terms(_without(sentence, values))
            claim = Claim(n, hit.segment, _show([v for v, _ in values]), keys, sentence, when, context)
            found.append((coverage, claim))
        found.sort(key=lambda fc: -fc[0])  # stable: equal coverage keeps text order
        return [c for _, c in found]

    def _coverage(
        self, q_terms: frozenset[str], sentence: str, values: list[tuple[str, frozenset[str]]]
    ) -> float:
        """Share of the question's content words in the sentence (the values themselves left out)."""
        if not q_terms:
            return 0.0
        return len(q_terms & self._terms(_without(sentence, values))) / len(q_terms)

    def _terms(self, text: str) -> frozenset[str]:
        from generation.extractive_generator import STOPWORDS

        if self._stemmer is None:
            import snowballstemmer

            self._stemmer = snowballstemmer.stemmer("english")
        words = [w for w in _WORD.findall(text.lower()) if w not in STOPWORDS and not w.isdigit()]
        return frozenset(self._stemmer.stemWords(words))


def detect_conflicts(question: str, evidence: Sequence[Hit]) -> list[Conflict]:
    """`ConflictDetector().detect(question, evidence)` with the default settings."""
    return ConflictDetector().detect(question, evidence)


def with_conflicts(answer: Answer, conflicts: Sequence[Conflict], evidence: Sequence[Hit]) -> Answer:
    """The answer saying that the sources disagree, citing every side, with `conflicts` set.

    An answer that already says so (a prompted model told about the conflict) keeps its wording; the cited
    sides are added to its citations either way.
    """
    if not conflicts:
        return answer
    message = " ".join(c.message() for c in conflicts)
    said = "disagree" in answer.text.lower() or "conflict" in answer.text.lower()
    if said:
        text = answer.text
    elif answer.abstained:
        text = message
    else:
        text = f"{message} {answer.text}"
    by_n = {c.n: c for c in answer.citations}
    for conflict in conflicts:
        for claim in conflict.claims:
            by_n.setdefault(claim.n, Citation(n=claim.n, segment=evidence[claim.n - 1].segment))
    citations = tuple(by_n[n] for n in sorted(by_n))
    return replace(
        answer,
        text=text,
        citations=citations,
        abstained=False,
        conflicts=tuple(c.to_dict() for c in conflicts),
    )


def conflict_note(question: str, conflicts: Sequence[Conflict]) -> str:
    """The question with a note for prompted generators: the sources disagree, say so and cite each side."""
    if not conflicts:
        return question
    sides = " ".join(c.message() for c in conflicts)
    return (
        f"{question.strip()}\n(Note: {sides} Do not pick one silently: say that the sources disagree and "
        "cite each of them; if one source is newer, say which.)"
    )


def _compatible(a: Claim, b: Claim) -> bool:
    """Claims agree when one's values include the other's."""
    return a.keys <= b.keys or b.keys <= a.keys


def _without(sentence: str, values: list[tuple[str, frozenset[str]]]) -> str:
    for shown, _ in values:
        sentence = sentence.replace(shown, " ")
    return sentence


def _restated(a: Claim, b: Claim) -> bool:
    """The same statement in two sources (an edited notice, a quoted passage): most words shared."""
    union = a.context | b.context
    return len(union) >= 3 and len(a.context & b.context) / len(union) >= RESTATED


def _versus(a: list[Claim], b: list[Claim]) -> tuple[Claim, Claim] | None:
    """The claims on which two evidence items disagree, or None when they agree.

    A statement both make with incompatible values is a disagreement even when each item's best claim is
    another sentence; otherwise the items' best claims decide (`_agree`)."""
    if a[0].segment.source_id == b[0].segment.source_id:
        return None
    for ca in a:
        for cb in b:
            if _restated(ca, cb) and not _compatible(ca, cb):
                return ca, cb
    return None if _agree(a, b) else (a[0], b[0])


def _agree(a: list[Claim], b: list[Claim]) -> bool:
    """Two evidence items agree: same source, or either's best claim matches any claim of the other."""
    if a[0].segment.source_id == b[0].segment.source_id:
        return True
    return any(_compatible(a[0], c) for c in b) or any(_compatible(b[0], c) for c in a)


def _show(values: list[str]) -> str:
    unique = list(dict.fromkeys(values))
    if len(unique) == 2 and all(clock_times(v) for v in unique):
        return "–".join(unique)
    return ", ".join(unique)


def _newer(claims: Sequence[Claim]) -> int | None:
    times = [c.source_time for c in claims]
    if any(t is None for t in times) or len(set(times)) < 2:
        return None
    return max(claims, key=lambda c: c.source_time or 0.0).n


def _iso(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, tz=UTC).isoformat(timespec="seconds")


def follow_renumbering(answer: Answer) -> Answer:
    """Point the conflicts' evidence numbers at the answer's citation numbers after they were renumbered.

    Claims are matched to citations by segment id; the `[n]` markers of each message are rewritten the same
    way, so the JSON, the message and the answer text name each side by one number.
    """
    if not answer.conflicts:
        return answer
    by_segment = {c.segment.segment_id: c.n for c in answer.citations}
    out = []
    for conflict in answer.conflicts:
        new = {c["n"]: by_segment.get(c["segment_id"], c["n"]) for c in conflict["claims"]}
        if all(old == n for old, n in new.items()):
            out.append(conflict)
            continue
        claims = [{**c, "n": new[c["n"]]} for c in conflict["claims"]]
        message = _MARKER.sub(partial(_renumbered, new), conflict["message"])
        newer = new.get(conflict["newer"], conflict["newer"]) if conflict["newer"] is not None else None
        out.append({**conflict, "claims": claims, "newer": newer, "message": message})
    return replace(answer, conflicts=tuple(out))


def _renumbered(new: dict[int, int], match: re.Match[str]) -> str:
    return f"[{new.get(int(match[1]), int(match[1]))}]"
