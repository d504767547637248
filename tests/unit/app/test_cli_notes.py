"""A missing optional space is noted once per home (issue 10), not before every command."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.cli.output import notes_once

pytestmark = pytest.mark.unit


def test_a_missing_space_is_noted_once_per_home_and_again_when_the_reason_changes(tmp_path: Path) -> None:
    missing = {"image": "CLIP weights are not in the local cache", "mm": "disabled (MMRAG_MM_MODEL is empty)"}
    first = notes_once(tmp_path, missing)
    assert len(first) == 1 and first[0].startswith("no image space: CLIP weights"), first
    assert notes_once(tmp_path, missing) == []
    assert notes_once(tmp_path / "other-home", missing) == first
    changed = notes_once(tmp_path, {"image": "a checkpoint file is corrupt"})
    assert changed == ["no image space: a checkpoint file is corrupt (shown once; `mmrag doctor` lists it)"]
