"""What an indexing run did (`IndexReport`, the JSON of `mmrag index --json` and the API's index jobs), and
the one-line reasons recorded for a file that failed or that no search can find."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from core.errors import ExtractionError, MmragError


@dataclass(frozen=True)
class Failure:
    uri: str
    error: str


@dataclass(frozen=True)
class Renamed:
    old: str
    new: str


@dataclass
class IndexReport:
    """What one indexing run did.

    `failed` files could not be indexed (a bad file, a file over a limit); `skipped` files are not indexed
    on purpose and will not be on any run (an unsupported type, a link out of the folder); `renamed` are
    indexed sources found at a new path (their uri was updated, nothing re-extracted); `pruned` are the
    uris removed by `prune` because their files are gone; `unsearchable` are indexed pictures that no search
    can find: no text in them (OCR, EXIF) and no image space to embed the pixels (CLIP weights missing).
    """

    indexed: int = 0
    unchanged: int = 0
    failed: list[Failure] = field(default_factory=list)
    skipped: list[Failure] = field(default_factory=list)
    renamed: list[Renamed] = field(default_factory=list)
    pruned: list[str] = field(default_factory=list)
    unsearchable: list[Failure] = field(default_factory=list)
    segments: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "indexed": self.indexed,
            "unchanged": self.unchanged,
            "failed": [{"uri": f.uri, "error": f.error} for f in self.failed],
            "skipped": [{"uri": f.uri, "reason": f.error} for f in self.skipped],
            "renamed": [{"from": r.old, "to": r.new} for r in self.renamed],
            "pruned": list(self.pruned),
            "unsearchable": [{"uri": f.uri, "reason": f.error} for f in self.unsearchable],
            "segments": self.segments,
        }


UNSEARCHABLE_REASON = "no image space: CLIP weights unavailable, and no text in the picture (OCR, EXIF)"
"""Why an indexed picture has no searchable vector (recorded in the manifest, shown by `sources`, `doctor`)."""

UNSEARCHABLE = f"indexed, but nothing in it is searchable ({UNSEARCHABLE_REASON}: see mmrag doctor)"


def failure_message(exc: BaseException) -> str:
    """One readable line for a file that could not be indexed (the reason alone for an `ExtractionError`)."""
    if isinstance(exc, ExtractionError):
        return exc.reason
    if isinstance(exc, MmragError):
        return str(exc)
    return f"{type(exc).__name__}: {exc}"
