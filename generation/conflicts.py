"""Conflicting evidence: do the selected sources answer the question with incompatible values?

The question's type decides what a value is: a clock time ("what time…", opening hours), a date ("when",
"what year"), a number ("how many", "how much"), a name ("who", "which", "where"), or yes/no ("is…",
"does…"). Each piece of evidence contributes one claim: its sentence that covers the question best and
holds a value of that type. Two claims from *different* sources conflict when neither's values are a
subset of the other's (so "9:00–17:00" vs "10:00–18:00" conflict, "2025" vs "3 March 2025" do not) and,
for yes/no, when their polarity differs. Claims must cover at least `min_coverage` of the question's content
words, so a passage about something else that happens to hold a number is not a contradiction.

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

MONTHS = {
    m: i
    for i, names in enumerate(
        [
            ("january", "jan"),
            ("february", "feb"),
            ("march", "mar"),
            ("april", "apr"),
            ("may",),
            ("june", "jun"),
            ("july", "jul"),
            ("august", "aug"),
            ("september", "sep", "sept"),
            ("october", "oct"),
            ("november", "nov"),
            ("december", "dec"),
        ],
        start=1,
    )
    for m in names
}
_MONTH = r"(?:" + "|".join(sorted(MONTHS, key=len, reverse=True)) + r")\.?"
_ORD = r"(?:st|nd|rd|th)?"
NUMBER_WORDS = {
    w: i
    for i, w in enumerate(
        [
            "zero",
            "one",
            "two",
            "three",
            "four",
            "five",
            "six",
            "seven",
            "eight",
            "nine",
            "ten",
            "eleven",
            "twelve",
            "thirteen",
            "fourteen",
            "fifteen",
            "sixteen",
            "seventeen",
            "eighteen",
            "nineteen",
            "twenty",
        ]
    )
} | {"thirty": 30, "forty": 40, "fifty": 50, "sixty": 60, "seventy": 70, "eighty": 80, "ninety": 90}
ORDINAL_WORDS = {
    w: i
    for i, w in enumerate(
        [
            "zeroth",
            "first",
            "second",
            "third",
            "fourth",
            "fifth",
            "sixth",
            "seventh",
            "eighth",
            "ninth",
            "tenth",
            "eleventh",
            "twelfth",
            "thirteenth",
            "fourteenth",
            "fifteenth",
            "sixteenth",
            "seventeenth",
            "eighteenth",
            "nineteenth",
            "twentieth",
            "twenty-first",
        ]
    )
}
SCALES = {"hundred": 1e2, "thousand": 1e3, "million": 1e6, "billion": 1e9, "trillion": 1e12}

_MARKER = re.compile(r"\[(\d+)\]")
_SENTENCE_END = re.compile(r"(?<=[.!?;])\s+|\n+")
_WORD = re.compile(r"[a-z0-9]+")
_CLOCK = re.compile(
    r"\b(?P<h>[01]?\d|2[0-3])(?:[:.](?P<m>[0-5]\d))?\s*(?P<ap>[ap]\.?\s?m\.?)(?![a-z])"
    r"|\b(?P<h24>[01]?\d|2[0-3])[:h](?P<m24>[0-5]\d)\b"
    r"|\b(?P<word>noon|midday|midnight)\b",
    re.I,
)
_ISO_DATE = re.compile(r"\b(\d{4})-(\d{2})-(\d{2})\b")
_DAY_MONTH_YEAR = re.compile(rf"\b(\d{{1,2}}){_ORD}\s+(?:of\s+)?({_MONTH})\s*,?\s+(\d{{4}})\b", re.I)
_MONTH_DAY_YEAR = re.compile(rf"\b({_MONTH})\s+(\d{{1,2}}){_ORD},?\s+(\d{{4}})\b", re.I)
_MONTH_YEAR = re.compile(rf"\b({_MONTH})\s+(?:of\s+)?(\d{{4}})\b", re.I)
_DAY_MONTH = re.compile(
    rf"\b(\d{{1,2}}){_ORD}\s+(?:of\s+)?({_MONTH})\b|\b({_MONTH})\s+(\d{{1,2}}){_ORD}\b", re.I
)
_YEAR = re.compile(r"\b(1[0-9]{3}|20[0-9]{2})(s?)\b")
_CENTURY = re.compile(
    r"\b(?:(\d{1,2})(?:st|nd|rd|th)|(" + "|".join(ORDINAL_WORDS) + r"))[\s-]+centur(?:y|ies)\b", re.I
)
_NUMBER = re.compile(
    r"(?<![\w.])(?P<num>\d{1,3}(?:,\d{3})+|\d+(?:\.\d+)?)(?:\s*(?P<scale>hundred|thousand|million|billion|"
    r"trillion)\b)?|\b(?P<word>" + "|".join(NUMBER_WORDS) + r")(?:\s+(?P<wscale>hundred|thousand|million|"
    r"billion))?\b",
    re.I,
)
_PROPER = re.compile(r"\b[A-Z][\w'’\-]*(?:\s+(?:of|de|la|le|von|van|der|du|the|and|&)?\s*[A-Z][\w'’\-]*)*")
_NEGATORS = frozenset(
    ["not", "no", "never", "none", "nobody", "nothing", "neither", "nor", "cannot", "without"]
)
# A question word and the words that deny it ("is it open?" / "it is closed").
_ANTONYMS = {
    "open": {"closed", "shut"},
    "allow": {"forbidden", "prohibited", "banned"},
    "allowed": {"forbidden", "prohibited", "banned"},
    "available": {"unavailable"},
    "true": {"false"},
}
_YES_NO_START = re.compile(
    r"^\s*(is|are|was|were|do|does|did|can|could|will|would|should|has|have|had|may|must)\b", re.I
)
_KIND_PATTERNS: list[tuple[str, re.Pattern[str]]] = [
    (
        "time",
        re.compile(
            r"\bwhat time\b|\bat what time\b|\b(opening|closing|business|office) hours\b|\bhours\b"
            r"|\bwhen (?:\w+ ){0,6}(open|opens|close|closes|start|starts|begin|begins|end|ends)\b",
            re.I,
        ),
    ),
    (
        "date",
        re.compile(
            r"^\s*(since )?when\b|\b(what|which|in what|in which) (year|date|day|month|century|"
            r"decade|era)\b|\bhow long ago\b",
            re.I,
        ),
    ),
    (
        "number",
        re.compile(
            r"\bhow (many|much|long|far|tall|high|old|big|large|heavy|deep|wide|often|fast)\b"
            r"|\bwhat (is the )?(percentage|percent|number|amount|population|size|length|height"
            r"|age|price|cost|fee|speed|rate|temperature|capacity|distance)\b",
            re.I,
        ),
    ),
    (
        "name",
        re.compile(
            r"^\s*(who|whom|whose)\b|\b(who|whom|whose|which|where)\b"
            r"|\bwhat (is|was) (the )?name\b|\bwhat (country|city|town|language|company|river|"
            r"place|region|person|team|group|organi[sz]ation)\b",
            re.I,
        ),
    ),
]


@dataclass(frozen=True)
class Claim:
    """What one piece of evidence says for the question."""

    n: int  # evidence number, 1-based, as cited
    segment: Segment
    value: str  # the value as shown to the user ("10:00–18:00", "1911", "no")
    keys: frozenset[str]  # normalised values compared between claims
    sentence: str
    source_time: float | None = None  # POSIX seconds of the source (EXIF time taken, file time)

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


def question_kind(question: str) -> str:
    """time | date | number | yesno | name | value (any of the typed values) for a question."""
    for kind, pattern in _KIND_PATTERNS:
        if pattern.search(question):
            return kind
    if _YES_NO_START.match(question):
        return "yesno"
    return "value"


class ConflictDetector:
    """Finds incompatible answers among the evidence for a question.

    Args:
        min_coverage: Share of the question's content words a claim's sentence must contain.
        when: Returns a source's time (default `source_time`); injectable for tests.
    """

    def __init__(self, min_coverage: float = 0.4, when: SourceTime = source_time) -> None:
        self.min_coverage = min_coverage
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
                if all(_agree(cands, other) for other in group):
                    group.append(cands)
                    break
            else:
                groups.append([cands])
        if len(groups) < 2:
            return []
        # One claim per group: the best-ranked source that says it (evidence order = rank order).
        shown = tuple(sorted((g[0][0] for g in groups), key=lambda c: c.n))
        if len({c.segment.source_id for c in shown}) < 2:
            return []
        return [Conflict(kind=kind, claims=shown, newer=_newer(shown))]

    # --- claims --------------------------------------------------------------------------------------
    def _candidates(self, kind: str, question: str, q_terms: frozenset[str], n: int, hit: Hit) -> list[Claim]:
        """Claims of one evidence item, best covering first."""
        found: list[tuple[float, Claim]] = []
        when: float | None = None
        for raw in _SENTENCE_END.split(hit.segment.text):
            sentence = " ".join(raw.split())
            if len(sentence.split()) < 3:
                continue
            values = extract_values(kind, sentence, question)
            if not values:
                continue
            coverage = self._coverage(q_terms, sentence, values)
            if coverage < self.min_coverage:
                continue
            if not found:
                when = self.when(hit.segment)
            keys = frozenset().union(*(k for _, k in values))
            claim = Claim(n, hit.segment, _show([v for v, _ in values]), keys, sentence, when)
            found.append((coverage, claim))
        found.sort(key=lambda fc: -fc[0])  # stable: equal coverage keeps text order
        return [c for _, c in found]

    def _coverage(
        self, q_terms: frozenset[str], sentence: str, values: list[tuple[str, frozenset[str]]]
    ) -> float:
        """Share of the question's content words in the sentence (the values themselves left out)."""
        if not q_terms:
            return 0.0
        text = sentence
        for shown, _ in values:
            text = text.replace(shown, " ")
        return len(q_terms & self._terms(text)) / len(q_terms)

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


# --- values ---------------------------------------------------------------------------------------------
def extract_values(kind: str, sentence: str, question: str = "") -> list[tuple[str, frozenset[str]]]:
    """Typed values in a sentence as (text as written, normalised keys), for a question kind."""
    if kind == "time":
        return clock_times(sentence)
    if kind == "date":
        return dates(sentence) or clock_times(sentence)
    if kind == "number":
        return numbers(sentence)
    if kind == "name":
        return names(sentence, question)
    if kind == "yesno":
        return polarity(sentence, question)
    return dates(sentence) or numbers(sentence) or names(sentence, question)


def clock_times(text: str) -> list[tuple[str, frozenset[str]]]:
    """`9am`, `5.30 p.m.`, `17:00`, `noon` → `09:00`, `17:30`, `17:00`, `12:00`."""
    out = []
    for m in _CLOCK.finditer(text):
        if m.group("word"):
            hour, minute = (0 if m.group("word").lower() == "midnight" else 12), 0
        elif m.group("ap"):
            hour, minute = int(m.group("h")) % 12, int(m.group("m") or 0)
            if m.group("ap").lower().startswith("p"):
                hour += 12
        else:
            hour, minute = int(m.group("h24")), int(m.group("m24"))
        out.append((m.group(0).strip(), frozenset({f"{hour:02d}:{minute:02d}"})))
    return out


def dates(text: str) -> list[tuple[str, frozenset[str]]]:
    """Full dates, months, years, decades and centuries, each with its coarser keys (a date keys its year)."""
    out: list[tuple[str, frozenset[str]]] = []
    taken: list[tuple[int, int]] = []

    def add(m: re.Match[str], year: int | None, month: int | None = None, day: int | None = None) -> None:
        if any(s < m.end() and m.start() < e for s, e in taken):
            return
        taken.append((m.start(), m.end()))
        keys = set()
        if year is not None:
            keys.add(f"{year:04d}")
        if month is not None:
            keys.add(f"{year:04d}-{month:02d}" if year is not None else f"--{month:02d}")
            if day is not None:
                keys.add(
                    f"{year:04d}-{month:02d}-{day:02d}" if year is not None else f"--{month:02d}-{day:02d}"
                )
        out.append((m.group(0), frozenset(keys)))

    for m in _ISO_DATE.finditer(text):
        add(m, int(m.group(1)), int(m.group(2)), int(m.group(3)))
    for m in _DAY_MONTH_YEAR.finditer(text):
        add(m, int(m.group(3)), _month(m.group(2)), int(m.group(1)))
    for m in _MONTH_DAY_YEAR.finditer(text):
        add(m, int(m.group(3)), _month(m.group(1)), int(m.group(2)))
    for m in _MONTH_YEAR.finditer(text):
        add(m, int(m.group(2)), _month(m.group(1)))
    for m in _DAY_MONTH.finditer(text):
        if m.group(1):
            add(m, None, _month(m.group(2)), int(m.group(1)))
        else:
            add(m, None, _month(m.group(3)), int(m.group(4)))
    for m in _YEAR.finditer(text):
        if any(s <= m.start() < e for s, e in taken):
            continue
        taken.append((m.start(), m.end()))
        out.append((m.group(0), frozenset({f"{m.group(1)}{m.group(2)}"})))
    for m in _CENTURY.finditer(text):
        number = int(m.group(1)) if m.group(1) else ORDINAL_WORDS[m.group(2).lower()]
        out.append((m.group(0), frozenset({f"century {number}"})))
    return sorted(out, key=lambda v: text.find(v[0]))


def numbers(text: str) -> list[tuple[str, frozenset[str]]]:
    """Quantities: `1,200`, `1.5 million`, `twelve`, `45%` → their values (`1200`, `1500000`, `12`, `45`)."""
    out = []
    for m in _NUMBER.finditer(text):
        if m.group("num"):
            value = float(m.group("num").replace(",", "")) * SCALES.get((m.group("scale") or "").lower(), 1)
        else:
            value = NUMBER_WORDS[m.group("word").lower()] * SCALES.get((m.group("wscale") or "").lower(), 1)
        out.append((m.group(0), frozenset({f"{value:g}"})))
    return out


def names(text: str, question: str) -> list[tuple[str, frozenset[str]]]:
    """Capitalised names that the question does not already mention (a sentence's first word only when it
    is not a common word)."""
    from generation.extractive_generator import STOPWORDS

    asked = {w for w in _WORD.findall(question.lower())}
    out = []
    for m in _PROPER.finditer(text):
        words = [w for w in m.group(0).split() if w.lower() not in STOPWORDS]
        words = [w for w in words if w.lower().strip("'’") not in asked]
        if not words or (m.start() == 0 and len(words) == 1 and words[0].lower() in _COMMON_OPENERS):
            continue
        out.append((" ".join(words), frozenset({" ".join(w.lower() for w in words)})))
    return out


_COMMON_OPENERS = frozenset(
    ["in", "on", "at", "after", "before", "during", "since", "however", "today", "yes", "no", "our", "we"]
)


def polarity(sentence: str, question: str) -> list[tuple[str, frozenset[str]]]:
    """`yes` or `no` for a yes/no question: negations (and antonyms of the question's words) flip it."""
    words = _WORD.findall(sentence.lower().replace("n't", " not"))
    asked = set(_WORD.findall(question.lower()))
    denials = sum(w in _NEGATORS for w in words)
    denials += sum(w in _ANTONYMS.get(a, set()) for a in asked for w in words)
    answer = "no" if denials % 2 else "yes"
    return [(answer, frozenset({answer}))]


def _month(name: str) -> int:
    return MONTHS[name.lower().rstrip(".")]


def _compatible(a: Claim, b: Claim) -> bool:
    """Claims agree when one's values include the other's."""
    return a.keys <= b.keys or b.keys <= a.keys


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
