"""Typed values in text for conflict detection: clock times, dates, numbers, names, yes/no, by question type.

Each extractor returns `(text as written, normalised keys)` pairs. Keys make equal values compare equal
("9am" and "9:00" are both `09:00`) and carry coarser keys where a value implies them (a full date keys its
month and year too), so `generation.conflicts` can test agreement as "one side's keys include the other's".
"""

from __future__ import annotations

import re

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


def question_kind(question: str) -> str:
    """time | date | number | yesno | name | value (any of the typed values) for a question."""
    for kind, pattern in _KIND_PATTERNS:
        if pattern.search(question):
            return kind
    if _YES_NO_START.match(question):
        return "yesno"
    return "value"


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
