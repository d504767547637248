"""Abstention and concise answers without a model (issue 16 items 4-5), and the `mmrag eval qa` metrics."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from core.errors import InvalidRequestError
from core.types import Answer, Citation
from evaluation.qa import QaItem, QaOutcome, contains_gold, load_qa, metrics, normalize, same_file
from generation.answer_types import AnswerType, answer_spans, expected_type, missing_entities
from generation.extractive_generator import ExtractiveGenerator
from tests.fixtures.rag import fact_hit

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("question", "kind"),
    [
        ("When was the Zorblat bridge completed?", AnswerType.TIME),
        ("In what year did the Normans arrive?", AnswerType.TIME),
        ("How many tracks does the bridge carry?", AnswerType.NUMBER),
        ("How much did the roof cost?", AnswerType.NUMBER),
        ("How long should the soup simmer?", AnswerType.DURATION),
        ("How far can the lighthouse lens be seen?", AnswerType.DURATION),
        ("How often does the ferry leave?", AnswerType.FREQUENCY),
        ("Who built the bridge?", AnswerType.PERSON),
        ("Where is the customs house?", AnswerType.PLACE),
        ("What is the wifi code?", AnswerType.ANY),
    ],
)
def test_question_types(question: str, kind: AnswerType) -> None:
    assert expected_type(question) is kind


def test_answer_spans_are_new_expressions_of_the_asked_type() -> None:
    bridge = "The Zorblat suspension bridge was completed in 1911 by the engineer Mara Ilves."
    assert answer_spans(bridge, AnswerType.TIME, "When was the Zorblat bridge completed?") == ["1911"]
    assert answer_spans(bridge, AnswerType.PERSON, "Who built the Zorblat bridge?") == ["Mara Ilves"]
    assert answer_spans("It is 412 metres long.", AnswerType.NUMBER, "How many metres?") == ["412 metres"]
    assert answer_spans("Simmer it for forty minutes.", AnswerType.DURATION, "How long?") == ["forty minutes"]
    assert answer_spans("It needs two onions.", AnswerType.DURATION, "How long?") == []
    # the question's own number is no answer
    assert answer_spans("Built in 1911.", AnswerType.TIME, "What happened in 1911?") == []
    assert answer_spans("anything", AnswerType.ANY, "What?") == []


def test_how_far_leads_with_the_distance_not_another_number() -> None:
    sentence = "Built in 1871, its Fresnel lens is visible for nineteen nautical miles."
    spans = answer_spans(sentence, AnswerType.DURATION, "How far can the lens be seen?")
    assert spans and spans[0] == "nineteen nautical miles"


def test_the_measure_that_fits_the_question_leads() -> None:
    # the README sample's espresso guide: "how long" wants the time, not the first quantity in the sentence
    shot = "Dose eighteen grams of coffee and aim for thirty-six grams of espresso in twenty-five to thirty seconds."
    assert answer_spans(shot, AnswerType.DURATION, "How long should espresso extract?")[0] == (
        "twenty-five to thirty seconds"
    )
    assert answer_spans(shot, AnswerType.DURATION, "How heavy is the dose?")[0] == "eighteen grams"
    bridge = "The bridge took two years to build and is 300 metres long."
    assert answer_spans(bridge, AnswerType.DURATION, "How tall is the bridge?") == ["300 metres", "two years"]
    assert answer_spans(bridge, AnswerType.DURATION, "How long did the bridge take?")[0] == "two years"


def test_a_clock_time_or_year_answers_when_before_a_vague_time_word() -> None:
    ferry = "The ferry to Gull Island leaves at 9:15 every morning."
    assert answer_spans(ferry, AnswerType.TIME, "When does the ferry leave?") == ["9:15", "morning"]
    assert answer_spans("It opened in the summer of 1998.", AnswerType.TIME, "When?")[0] == "1998"
    assert answer_spans("The score was 3.14 points.", AnswerType.TIME, "When?") == []


def test_missing_entities() -> None:
    text = "The Normans conquered England in 1066."
    assert missing_entities("When did the Normans conquer England?", text) == []
    assert missing_entities("When did the Vikings conquer England in 1070?", text) == ["vikings", "1070"]


def test_extractive_answer_leads_with_the_short_answer() -> None:
    gen = ExtractiveGenerator()  # word coverage only (no encoder)
    answer = gen.generate("When was the Zorblat bridge completed?", [fact_hit("bridge"), fact_hit("tea")])
    assert answer.text.startswith("1911 — The Zorblat suspension bridge") and answer.text.endswith("[1].")
    assert [c.n for c in answer.citations] == [1]
    plain = ExtractiveGenerator(lead=False).generate(
        "When was the Zorblat bridge completed?", [fact_hit("bridge")]
    )
    assert plain.text.startswith("The Zorblat")


def test_a_sentence_of_the_wrong_type_or_about_other_entities_scores_less() -> None:
    gen = ExtractiveGenerator(min_score=0.0)
    question = "When did the regatta on the river Quell attract rowers?"
    _, typed = gen.answer(question, [fact_hit("regatta")])  # "every September": a time expression
    _, untyped = gen.answer(
        "How many rowers does the regatta on the river Quell attract?", [fact_hit("regatta")]
    )
    assert typed > 0 and untyped > 0
    _, swapped = gen.answer("When did the regatta on the river Danube attract rowers?", [fact_hit("regatta")])
    assert swapped < typed  # Danube is nowhere in the evidence
    strict = ExtractiveGenerator(min_score=0.35, type_penalty=0.1)
    assert strict.generate("How many rowers does the regatta attract?", [fact_hit("bridge")]).abstained


def test_eval_qa_metrics(tmp_path: Path) -> None:
    assert normalize("The Normans, in 1066!") == "normans in 1066"
    assert contains_gold("It was built in 1911 [1].", ["1911"]) and not contains_gold("In 19110.", ["1911"])
    assert same_file("/data/notes/a.txt", "notes/a.txt") and not same_file("/data/b.txt", "a.txt")
    rows = [
        {"question": "q1", "answers": ["1911"], "uri": "a.txt"},
        {"question": "q2", "answers": [], "impossible": True},
        {"question": "q3", "answers": ["x"], "uri": "b.txt"},
    ]
    path = tmp_path / "qa.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    items = load_qa(path)
    assert items[1].impossible and not items[0].impossible and items[0].uri == "a.txt"
    from tests.fixtures.rag import fact_hit as hit

    cited = Answer(text="1911 [1].", citations=(Citation(1, hit("bridge").segment),))
    idk = Answer(text="I don't know.", abstained=True)
    out = metrics(
        [QaOutcome(items[0], cited, 0.1), QaOutcome(items[1], idk, 0.2), QaOutcome(items[2], idk, 0.3)]
    )
    assert (
        out["contains_gold"] == 0.5 and out["abstain_unanswerable"] == 1.0 and out["score"] == round(2 / 3, 4)
    )
    assert out["cites_gold"] == 0.0  # bridge.txt is not a.txt
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"answers": []}\n')
    with pytest.raises(InvalidRequestError):
        load_qa(bad)
    assert QaItem("q").impossible is False
