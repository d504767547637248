"""`renumber`: citations numbered 1.. in the order the text uses them; markers pointing nowhere dropped."""

from __future__ import annotations

import pytest

from core.types import Answer, Citation, Granularity, Modality, Segment
from generation.citations import renumber

pytestmark = pytest.mark.unit


def _citation(n: int) -> Citation:
    return Citation(n, Segment(f"s{n}", f"src{n}", f"file{n}.txt", Modality.TEXT, Granularity.PARAGRAPH))


def test_numbers_follow_first_use() -> None:
    out = renumber(Answer("A [2]. B [1][2].", (_citation(1), _citation(2))))
    assert out.text == "A [1]. B [2][1]."
    assert [c.segment.segment_id for c in out.citations] == ["s2", "s1"]


def test_a_marker_pointing_nowhere_is_dropped_even_when_the_numbers_are_already_in_order() -> None:
    out = renumber(Answer("X [1]. Y [7].", (_citation(1),)))
    assert out.text == "X [1]. Y."
    assert [c.n for c in out.citations] == [1]


def test_a_dropped_marker_takes_its_space_and_a_partly_valid_marker_keeps_the_valid_number() -> None:
    out = renumber(Answer("Y [7]. Z [2, 9].", (_citation(2),)))
    assert out.text == "Y. Z [1]."
    assert [c.segment.segment_id for c in out.citations] == ["s2"]
