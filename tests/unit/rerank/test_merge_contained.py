"""`rerank.route_prior.merge_contained`: a document holding a paragraph of its own in the same evidence is
merged into the paragraph (it only added text the generator reads for nothing); media windows are not."""

from __future__ import annotations

import pytest

from core.types import Granularity, Hit, Locator, Modality, Segment
from rerank.route_prior import merge_contained

pytestmark = pytest.mark.unit

LIGHTHOUSE = "The lighthouse on Gull Point was built in 1871.\nIts lens is visible for nineteen miles."
POOLS = "At low tide the north cove exposes a shelf of tide pools."
DOCUMENT = f"# Field notes\n\n{POOLS}\n\n{LIGHTHOUSE}"


def hit(name: str, granularity: Granularity, text: str, score: float, source: str = "notes") -> Hit:
    segment = Segment(
        segment_id=name,
        source_id=source,
        uri=f"{source}.md",
        modality=Modality.TEXT,
        granularity=granularity,
        text=text,
        locator=Locator(index=0),
    )
    return Hit(segment=segment, score=score)


def test_document_merges_into_its_paragraph_with_the_best_score() -> None:
    evidence = [
        hit("doc", Granularity.DOCUMENT, DOCUMENT, 0.9),
        hit("other", Granularity.PARAGRAPH, "Espresso needs finely ground coffee.", 0.8, source="guide"),
        hit("para", Granularity.PARAGRAPH, LIGHTHOUSE, 0.7),
    ]
    out = merge_contained(evidence)
    assert [h.segment.segment_id for h in out] == ["para", "other"]
    assert out[0].score == pytest.approx(0.9)  # the document's score, the paragraph's place to cite


def test_whitespace_differences_do_not_hide_containment() -> None:
    para = hit("para", Granularity.PARAGRAPH, " ".join(LIGHTHOUSE.split()), 0.9)
    out = merge_contained([para, hit("doc", Granularity.DOCUMENT, DOCUMENT, 0.5)])
    assert [(h.segment.segment_id, h.score) for h in out] == [("para", 0.9)]


def test_other_sources_and_text_not_contained_stay() -> None:
    evidence = [
        hit("doc", Granularity.DOCUMENT, DOCUMENT, 0.9),
        hit("elsewhere", Granularity.PARAGRAPH, LIGHTHOUSE, 0.8, source="copy"),  # same words, other file
        hit("para", Granularity.PARAGRAPH, "The footbridge is closed until spring.", 0.7),  # not in DOCUMENT
        hit("photo", Granularity.IMAGE, "", 0.6),  # no text: nothing to compare
    ]
    assert [h.segment.segment_id for h in merge_contained(evidence)] == ["doc", "elsewhere", "para", "photo"]


def test_a_video_keeps_the_whole_sentences_its_clip_window_cuts() -> None:
    """A clip is a time window: it can end mid-sentence, so the video holding the whole sentence stays."""
    evidence = [
        hit(
            "video", Granularity.VIDEO, "Welcome. The ferry leaves every ninety minutes. Bring a coat.", 0.95
        ),
        hit("clip", Granularity.CLIP, "The ferry leaves every", 0.6),
    ]
    assert [h.segment.segment_id for h in merge_contained(evidence)] == ["video", "clip"]


def test_same_granularity_copies_are_left_to_collapse_duplicates() -> None:
    evidence = [hit("a", Granularity.PARAGRAPH, POOLS, 0.9), hit("b", Granularity.PARAGRAPH, POOLS, 0.8)]
    assert [h.segment.segment_id for h in merge_contained(evidence)] == ["a", "b"]
