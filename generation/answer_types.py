"""Does a sentence hold the kind of answer the question asks for? A model-free answerability check.

The question word sets the expected answer type (after the classic QA pipelines' question classification):
"when / what year" wants a time expression, "how many / how much / how long" a number or quantity, "how
often" a frequency, "who" a name, "where" a place. A sentence that matches the question's words but holds no
expression of that type (a "when" question answered by a sentence without a date) does not answer it, and a
candidate that only repeats what the question already says is no answer either. Entities the question names
(capitalised words, numbers) that the evidence never mentions mean the evidence is about something else
(SQuAD 2.0's unanswerable questions often swap one entity or number).

`answer_spans` returns the candidate short answers, which the extractive generator puts first (item 5 of
issue 16: the short answer, then the supporting sentence).
"""

from __future__ import annotations

import re
from enum import StrEnum


class AnswerType(StrEnum):
    """What a question asks for."""

    TIME = "time"
    NUMBER = "number"
    DURATION = "duration"  # "how long / far / tall ...": a number with its unit of time, length, weight ...
    FREQUENCY = "frequency"
    PERSON = "person"
    PLACE = "place"
    ANY = "any"


_NUMBER_WORDS = (
    "one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|thirteen|fourteen|fifteen|sixteen|"
    "seventeen|eighteen|nineteen|twenty|thirty|forty|fifty|sixty|seventy|eighty|ninety|hundred|hundreds|"
    "thousand|thousands|million|millions|billion|billions|trillion|dozen|dozens|half|quarter|single|double|"
    "several|few|once|twice"
)
_MONTHS = (
    "january|february|march|april|may|june|july|august|september|october|november|december|"
    "jan|feb|mar|apr|jun|jul|aug|sep|sept|oct|nov|dec"
)
_DAYS = "monday|tuesday|wednesday|thursday|friday|saturday|sunday|weekend|weekends"
_ORDINALS = (
    "first|second|third|fourth|fifth|sixth|seventh|eighth|ninth|tenth|eleventh|twelfth|thirteenth|"
    "fourteenth|fifteenth|sixteenth|seventeenth|eighteenth|nineteenth|twentieth|thirtieth"
)
_TIME_UNITS = "seconds?|minutes?|hours?|days?|nights?|weeks?|months?|years?|decades?|centuries|century"
_LENGTH_UNITS = (
    "millimet(?:re|er)s?|centimet(?:re|er)s?|met(?:re|er)s?|kilomet(?:re|er)s?|km|mm|cm|miles?|feet|foot|"
    "inches|yards?"
)
_WEIGHT_UNITS = "grams?|kilograms?|kg|tonnes?|tons?|pounds?"
_UNITS = (
    f"{_TIME_UNITS}|{_LENGTH_UNITS}|{_WEIGHT_UNITS}|euros?|dollars?|percent|per cent|%|litres?|liters?|"
    "people|persons|times"
)
_NUMBER = re.compile(
    rf"(?:\b\d[\d,.]*|\b(?:{_NUMBER_WORDS})\b)(?:[\s-]+(?:{_NUMBER_WORDS}|\d[\d,.]*))*(?:\s*(?:{_UNITS})\b)?",
    re.I,
)
_AMOUNT = rf"(?:\b\d[\d,.]*|\b(?:{_NUMBER_WORDS}|a|an)\b)(?:[\s-]+(?:{_NUMBER_WORDS}|\d[\d,.]*))*"
_DURATION = re.compile(
    rf"{_AMOUNT}(?:\s+(?:to|or)\s+{_AMOUNT})?\s*"  # a range: "twenty-five to thirty seconds"
    rf"(?:(?:nautical|square|cubic|light)[\s-]+)?(?:{_UNITS})\b|\b(?:overnight|all day|all night)\b",
    re.I,
)
_MEASURE_UNITS = {  # the units that answer each "how ..." question best (others still answer, after these)
    "long": re.compile(rf"\b(?:{_TIME_UNITS}|overnight|all day|all night)$", re.I),
    "far": re.compile(rf"(?:{_LENGTH_UNITS})$", re.I),
    "heavy": re.compile(rf"(?:{_WEIGHT_UNITS})$", re.I),
}
_MEASURE_UNITS |= {word: _MEASURE_UNITS["far"] for word in ("tall", "high", "deep", "wide")}
_TIME = re.compile(
    rf"\b(?:1\d{{3}}s?|20\d{{2}}s?|\d{{1,2}}(?::\d{{2}})?\s*(?:am|pm|a\.m\.|p\.m\.|o'clock)|\d{{1,2}}:\d{{2}}|"
    rf"(?:\w+\s+)?o'clock|half past \w+|quarter (?:past|to) \w+|noon|midnight|"
    rf"(?:{_MONTHS})\b(?:\s+\d{{1,2}})?|(?:{_DAYS})|(?:{_ORDINALS})\s+(?:of\s+)?(?:{_MONTHS})|"
    rf"(?:\d+(?:st|nd|rd|th)|{_ORDINALS})[\s-]+(?:century|centuries|millennium)|\d+(?:st|nd|rd|th)|"
    rf"(?:morning|afternoon|evening|night|dawn|dusk|spring|summer|autumn|fall|winter)s?|"
    rf"yesterday|today|tomorrow|decades?|centuries|century|years? ago|ages|era|period|reign)\b",
    re.I,
)
_FREQUENCY = re.compile(
    rf"\b(?:(?:every|each|per|once a|twice a)(?:\s+(?:other|{_NUMBER_WORDS}|\d[\d,.]*))?\s+\w+|daily|weekly|monthly|yearly|annually|hourly|nightly|once|twice|"
    rf"(?:{_NUMBER_WORDS}|\d+)\s+times|always|often|rarely|never|seldom|usually)\b",
    re.I,
)
_CAPITALISED = re.compile(r"\b[A-Z][\w'’-]*(?:\s+(?:of|de|la|von|van|the|and)?\s*[A-Z][\w'’-]*)*")
_PLACE_PREPOSITION = re.compile(
    r"\b(?:in|at|on|from|near|to|into|across|inside|outside|by)\s+(?:the\s+)?\w+", re.I
)
_WORD = re.compile(r"[a-z0-9]+")

_QUESTION_WORDS = frozenset(
    [
        "what",
        "when",
        "where",
        "who",
        "whom",
        "whose",
        "which",
        "why",
        "how",
        "is",
        "are",
        "was",
        "were",
        "do",
        "does",
        "did",
        "can",
        "could",
        "will",
        "would",
        "should",
        "name",
        "list",
        "give",
        "tell",
        "in",
        "on",
        "at",
        "of",
        "for",
        "from",
        "by",
        "the",
        "a",
        "an",
    ]
)


def expected_type(question: str) -> AnswerType:
    """The answer type a question asks for (ANY when the question word does not say)."""
    q = " ".join(question.lower().split())
    if re.search(r"\bhow (often|frequently)\b", q):
        return AnswerType.FREQUENCY
    if re.search(
        r"\b(when|what (year|date|day|time|month|century|decade|period|era)|"
        r"(which|in what) (year|century|decade|month|day)|how long ago|since when)\b",
        q,
    ):
        return AnswerType.TIME
    if re.search(r"\bhow (long\b(?! ago)|far|tall|high|deep|wide|heavy|fast)\b", q):
        return AnswerType.DURATION  # a measure: a number with its unit ("nineteen nautical miles")
    if re.search(
        r"\bhow (many|much|old|big|large)\b|"
        r"\bwhat (number|percentage|percent|amount|proportion|fraction|size)\b",
        q,
    ):
        return AnswerType.NUMBER
    if re.search(r"^(who|whom|whose)\b|\b(by whom|who (is|was|were|are|did|does))\b", q):
        return AnswerType.PERSON
    if re.search(
        r"^where\b|\bwhere (is|was|were|are|did|does|do)\b|\b(what|which) (country|city|place|"
        r"region|town|continent|state|location)\b",
        q,
    ):
        return AnswerType.PLACE
    return AnswerType.ANY


def answer_spans(sentence: str, kind: AnswerType, question: str) -> list[str]:
    """Expressions of type `kind` in `sentence` that the question does not already contain, in order.

    ANY has no typed expression: returns [] (callers do not require one).
    """
    if kind is AnswerType.ANY:
        return []
    pattern = {
        AnswerType.TIME: _TIME,
        AnswerType.NUMBER: _NUMBER,
        AnswerType.DURATION: _DURATION,
        AnswerType.FREQUENCY: _FREQUENCY,
        AnswerType.PERSON: _CAPITALISED,
        AnswerType.PLACE: _CAPITALISED,
    }[kind]
    asked = set(_WORD.findall(question.lower()))
    spans = []
    for match in pattern.finditer(sentence):
        text = match.group(0).strip(" ,.;:")
        if kind in (AnswerType.PERSON, AnswerType.PLACE) and match.start() == 0:
            text = text.partition(" ")[2]  # the sentence's first word is capitalised anyway

        words = set(_WORD.findall(text.lower()))
        if words and not words <= asked:
            spans.append(text)
    if kind is AnswerType.PLACE and not spans:  # "in the harbour", "from pier four"
        spans = [
            m.group(0)
            for m in _PLACE_PREPOSITION.finditer(sentence)
            if not set(_WORD.findall(m.group(0).lower())) <= asked
        ]
    if kind is AnswerType.FREQUENCY and not spans:
        spans = answer_spans(sentence, AnswerType.NUMBER, question)
    if kind is AnswerType.TIME:  # "9:15" or "1066" answers "when" better than "every morning" beside it
        spans.sort(key=lambda span: not any(ch.isdigit() for ch in span))
    if kind is AnswerType.DURATION and (asked_how := re.search(r"\bhow (\w+)", question.lower())):
        # "how long ... extract?" wants "thirty seconds" before "eighteen grams" in the same sentence
        fits = _MEASURE_UNITS.get(asked_how.group(1))
        if fits is not None:
            spans.sort(key=lambda span: not fits.search(span))
    return spans


def question_entities(question: str) -> list[str]:
    """Names and numbers the question mentions (capitalised words after the first, digits), lower-cased."""
    out = []
    for match in _CAPITALISED.finditer(question):
        if match.start() == 0:
            continue
        words = [w for w in _WORD.findall(match.group(0).lower()) if w not in _QUESTION_WORDS]
        out.extend(words)
    out.extend(re.findall(r"\b\d[\d,.]*\b", question))
    return list(dict.fromkeys(out))


def missing_entities(question: str, evidence_text: str) -> list[str]:
    """The question's entities that `evidence_text` never mentions (a prefix match allows "Norman"/"Normans")."""
    words = set(_WORD.findall(evidence_text.lower()))
    missing = []
    for entity in question_entities(question):
        stem = entity[: max(4, len(entity) - 2)]
        if entity not in words and not any(w.startswith(stem) for w in words):
            missing.append(entity)
    return missing
