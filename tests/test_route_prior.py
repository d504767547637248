"""Routing as a prior (issue 16 item 1) and citing the moment (item 2), without models: candidates keep a
share of every granularity, the route only breaks ties, copies of one text are cited at the finest
granularity, spoken sentences are cited where they start, slides at their keyframe, and citations are
numbered 1.. in the order the answer uses them."""

from __future__ import annotations

import pytest

from core.types import Answer, Citation, Granularity, Hit, Locator, Modality, Route, RouteDecision, Segment
from generation.citations import renumber, resolve_citations
from generation.moments import LEAD_S, at_moment, locate, units
from rerank.route_prior import apply_route_prior, collapse_duplicates
from retrieval.routing.route_selection import granularity_prior, searched_summary, share_candidates

pytestmark = pytest.mark.unit

SPEECH = [
    {"start_s": 1.0, "end_s": 5.0, "text": "Welcome to the briefing."},
    {"start_s": 6.0, "end_s": 14.0, "text": "The bus leaves at nine. Our guide this year is Tomas Berg."},
]
SCREEN = [{"start_s": 3.2, "frame": 16, "text": "WIFI CODE GULL7731"}]


def seg(
    name: str,
    granularity: Granularity,
    text: str,
    source: str = "s1",
    locator: Locator | None = None,
    **metadata: object,
) -> Segment:
    return Segment(
        segment_id=name,
        source_id=source,
        uri=f"{source}.file",
        modality=Modality.TEXT,
        granularity=granularity,
        text=text,
        locator=locator or Locator(index=0),
        metadata=dict(metadata),
    )


def hit(segment: Segment, score: float) -> Hit:
    return Hit(segment=segment, score=score, space="rerank", scores={"rerank": score})


def clip() -> Segment:
    text = " ".join(s["text"] for s in SPEECH) + "\n\nOn screen: WIFI CODE GULL7731"
    return seg(
        "c",
        Granularity.CLIP,
        text,
        locator=Locator(start_s=0.0, end_s=30.0, index=0),
        speech=SPEECH,
        screen=SCREEN,
    )


def test_share_candidates_keeps_every_granularity() -> None:
    hits = [
        hit(seg(f"p{i}", Granularity.PARAGRAPH, f"note {i}", source=f"n{i}"), 1 - i / 100) for i in range(30)
    ]
    hits += [hit(seg(f"c{i}", Granularity.CLIP, f"clip {i}", source="rec"), 0.1) for i in range(5)]
    picked = share_candidates(hits, k=20, share=3)
    assert len(picked) == 23
    assert [h.segment.segment_id for h in picked if h.segment.granularity is Granularity.CLIP] == [
        "c0",
        "c1",
        "c2",
    ]


def test_route_prior_breaks_ties_but_never_buries_a_better_hit() -> None:
    prior = granularity_prior({Route.PARAGRAPH: 0.95, Route.CLIP: 0.01, Route.VIDEO: 0.04})
    assert prior[Granularity.FRAME] == prior[Granularity.CLIP] == 0.01
    spoken = hit(seg("c", Granularity.CLIP, "the guide is Tomas", source="rec"), 0.60)
    note = hit(seg("p", Granularity.PARAGRAPH, "the club meets monthly", source="note"), 0.50)
    tie = hit(seg("q", Granularity.PARAGRAPH, "another note", source="other"), 0.60)
    ranked = apply_route_prior([note, spoken, tie], prior)
    assert [h.segment.segment_id for h in ranked] == ["q", "c", "p"]
    assert ranked[0].scores["prior"] == pytest.approx(0.05 * 0.95)


def test_copies_of_one_text_are_kept_once_at_the_finest_granularity() -> None:
    text = "The walk starts at eight."
    video = hit(seg("v", Granularity.VIDEO, text, source="rec"), 0.7)
    clip_hit = hit(seg("c", Granularity.CLIP, text, source="rec"), 0.7)
    doc = hit(seg("d", Granularity.DOCUMENT, "Soup. Simmer it.", source="note"), 0.65)
    para = hit(seg("p", Granularity.PARAGRAPH, "Soup.  Simmer it.", source="note"), 0.6)
    picture = [hit(seg(f"f{i}", Granularity.FRAME, "", source="rec"), 0.1) for i in range(2)]
    out = collapse_duplicates([video, clip_hit, doc, para, *picture])
    assert [h.segment.segment_id for h in out] == ["c", "p", "f0", "f1"]
    assert out[1].score == 0.65  # the best score of the copies


def test_searched_summary_reports_every_route() -> None:
    decision = RouteDecision({Route.PARAGRAPH: 0.9, Route.CLIP: 0.1}, (Route.PARAGRAPH,), "trained")
    cand = [hit(clip(), 0.5), hit(seg("p", Granularity.PARAGRAPH, "x"), 0.4)]
    out = searched_summary(decision, (Granularity.PARAGRAPH, Granularity.CLIP), cand, cand[:1]).to_dict()
    assert out["selected"] == ["paragraph"] and out["router"] == "trained" and out["mode"] == "prior"
    assert out["searched"]["clip"] == {"granularities": ["clip"], "candidates": 1, "evidence": 1}
    assert out["searched"]["paragraph"]["evidence"] == 0 and out["searched"]["image"]["granularities"] == []


def test_spoken_sentences_are_cited_where_they_start() -> None:
    found = units(clip())
    texts = [u.text for u in found]
    assert texts == [
        "Welcome to the briefing.",
        "The bus leaves at nine.",
        "Our guide this year is Tomas Berg.",
        "WIFI CODE GULL7731",
    ]
    bus, guide, shown = found[1], found[2], found[3]
    assert bus.locator is not None and bus.locator.start_s == 6.0  # first words of the utterance
    # "Our guide ..." starts 24 of 58 characters into the 6-14 s utterance: about 9.3 s, minus the lead
    assert guide.locator is not None and 6.0 < guide.locator.start_s <= 9.4 - LEAD_S + 0.1
    assert guide.locator.end_s == 14.0 and guide.kind == "speech"
    assert shown.locator == Locator(start_s=3.2, frame=16, index=0) and shown.kind == "screen"
    cited = at_moment(clip(), guide)
    assert cited.locator == guide.locator and cited.metadata["window"] == {
        "start_s": 0.0,
        "end_s": 30.0,
        "index": 0,
    }
    assert cited.segment_id == "c"


def test_segments_without_timed_speech_keep_their_locator() -> None:
    para = seg(
        "p", Granularity.PARAGRAPH, "The roof cost 3850 euros. Paid in April.", locator=Locator(page=2)
    )
    assert [u.locator for u in units(para)] == [None, None]
    assert at_moment(para, units(para)[0]) is para
    old_clip = seg("c", Granularity.CLIP, "Our guide is Tomas.", locator=Locator(start_s=0.0, end_s=30.0))
    assert units(old_clip)[0].locator is None  # indexed before timed speech: cite the window


def test_model_answers_are_narrowed_to_the_moment_they_quote() -> None:
    evidence = [hit(seg("p", Granularity.PARAGRAPH, "Unrelated note."), 0.9), hit(clip(), 0.8)]
    text, citations = resolve_citations("The guide is Tomas Berg [2]. Nothing else [7].", evidence)
    assert text == "The guide is Tomas Berg [2]. Nothing else." and [c.n for c in citations] == [2]
    assert citations[0].segment.locator.start_s is not None and citations[0].segment.locator.start_s > 6.0
    assert locate(clip(), "completely different words") is None


def test_renumber_follows_the_order_of_use() -> None:
    a, b, c = (seg(x, Granularity.PARAGRAPH, x) for x in "abc")
    answer = Answer(
        text="First [3]. Second [1][3]. Third [1, 3].",
        citations=(Citation(1, a), Citation(3, c), Citation(2, b)),
    )
    out = renumber(answer)
    assert out.text == "First [1]. Second [2][1]. Third [2][1]."
    assert [(x.n, x.segment.segment_id) for x in out.citations] == [(1, "c"), (2, "a"), (3, "b")]
    same = Answer(text="Only [1].", citations=(Citation(1, a),))
    assert renumber(same) is same
