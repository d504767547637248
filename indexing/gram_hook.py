"""Index-time GRAM data: each clip/video segment keeps its modality vectors in one shared (CLIP) space.

The vectors are Qdrant named vectors (`core.gram.GRAM_SPACES`: `gram_frames`, `gram_speech`, `gram_ocr`),
set on clip and video points only; the store adds those spaces on the first clip it writes. At query time
the reranker reads them back with `store.vectors(space, ids)` and scores a clip by the Gramian volume
spanned by the query and these vectors (`core.gram`), instead of averaging per-modality cosines.

Collections indexed before this kept the vectors as float lists in the payload (`metadata["gram"]`). The
reranker still reads those, so nothing breaks; `migrate_payload_gram(store)` (or `python -m
app.migrate_gram`) moves them into the named vectors and drops the lists, losing nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import numpy as np

from core.gram import PAYLOAD_KEY, clip_modality_vectors, gram_space, payload_gram
from core.protocols import Extracted, Record, TextEncoder, VectorStore
from core.types import Granularity, SearchFilter, Vector

log = logging.getLogger(__name__)

TIME_BASED = (Granularity.CLIP, Granularity.VIDEO)


class GramHook:
    """A pipeline `RecordHook`: puts the `gram_*` named vectors on clip and video records.

    Args:
        clip: the CLIP encoder (its text tower embeds transcript and on-screen text; its image vector of
            the keyframes is already in the record's `image` space).
    """

    def __init__(self, clip: TextEncoder) -> None:
        self.clip = clip

    def __call__(self, items: Sequence[Extracted], records: list[Record]) -> None:
        for record in records:
            segment = record.segment
            if segment.granularity not in TIME_BASED:
                continue
            vectors = clip_modality_vectors(
                record.dense.get(self.clip.space),
                segment.metadata.get("transcript", ""),
                segment.metadata.get("ocr_text", ""),
                self.clip,
            )
            for modality, vector in vectors.items():
                record.dense[gram_space(modality)] = np.asarray(vector, dtype=np.float32)


def migrate_payload_gram(store: VectorStore, batch: int = 256) -> int:
    """Move GRAM vectors from clip payloads (`metadata["gram"]`, older indexes) into the named vectors.

    Vectors are written first and the payload lists dropped last, so an interrupted run loses nothing and a
    second run finishes it. Running it on a migrated (or new) collection changes nothing.

    Returns:
        How many clips had payload GRAM vectors.
    """
    flt = SearchFilter(granularities=TIME_BASED)
    pending: dict[str, dict[str, Vector]] = {}
    ensured: set[str] = set()
    moved = 0

    def write() -> None:
        dims = {s: len(next(iter(v.values()))) for s, v in pending.items() if s not in ensured and v}
        if dims:
            store.ensure(dims)
            ensured.update(dims)
        for space, vectors in pending.items():
            if vectors:
                store.update_vectors(space, vectors)
        pending.clear()

    found = False
    for segment in store.scroll(flt, batch):
        found = found or PAYLOAD_KEY in segment.metadata
        vectors = payload_gram(segment.metadata)
        if vectors:
            moved += 1
        for space, vector in vectors.items():
            pending.setdefault(space, {})[segment.segment_id] = vector
        if sum(len(v) for v in pending.values()) >= batch:
            write()
    write()
    if found:
        store.drop_metadata_key(PAYLOAD_KEY, flt)
        log.info("moved the GRAM vectors of %d clips from the payload to named vectors", moved)
    return moved
