"""Index-time GRAM data: each clip/video segment keeps its modality vectors in one shared (CLIP) space.

At query time the reranker scores a clip by the Gramian volume spanned by the query and these vectors
(`core.gram`), instead of averaging per-modality cosines.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from core.gram import clip_modality_vectors
from core.protocols import Extracted, Record, TextEncoder
from core.types import Granularity

_TIME_BASED = (Granularity.CLIP, Granularity.VIDEO)


class GramHook:
    """A pipeline `RecordHook`: puts `metadata["gram"]` on clip and video records.

    Args:
        clip: the CLIP encoder (its text tower embeds transcript and on-screen text; its image vector of
            the keyframes is already in the record's `image` space).
    """

    def __init__(self, clip: TextEncoder) -> None:
        self.clip = clip

    def __call__(self, items: Sequence[Extracted], records: list[Record]) -> None:
        for record in records:
            segment = record.segment
            if segment.granularity not in _TIME_BASED:
                continue
            vectors = clip_modality_vectors(
                record.dense.get(self.clip.space),
                segment.metadata.get("transcript", ""),
                segment.metadata.get("ocr_text", ""),
                self.clip,
            )
            if vectors:
                record.segment = replace(segment, metadata={**segment.metadata, "gram": vectors})
