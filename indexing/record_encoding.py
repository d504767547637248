"""The encoding stage of the pipeline: extracted segments -> store records with their vectors in every
available space. A pure function of the encoders and a batch, shared by the local `Indexer` and the Ray
engine's actors."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from core.protocols import Extracted, ImageEncoder, LexicalEncoder, Record, TextEncoder

RecordHook = Callable[[Sequence[Extracted], list[Record]], None]
"""Runs after the built-in encoders on each batch (items[i] -> records[i]): adds optional spaces (`mm`)
or derived data (GRAM modality vectors of clips) to the records in place."""


def encode_records(
    items: Sequence[Extracted],
    *,
    text_encoder: TextEncoder,
    image_encoder: ImageEncoder | None,
    lexical: LexicalEncoder,
    hooks: Sequence[RecordHook] = (),
) -> list[Record]:
    """Stage: turn extracted segments into store records with their vectors in every available space."""
    records = [Record(segment=item.segment, dense=dict(item.vectors)) for item in items]
    with_text = [i for i, item in enumerate(items) if item.segment.text.strip()]
    texts = [items[i].segment.text for i in with_text]
    if texts:
        dense = text_encoder.encode_documents(texts)
        sparse = lexical.encode_documents(texts)
        for row, i in enumerate(with_text):
            records[i].dense[text_encoder.space] = dense[row]
            records[i].sparse = sparse[row]
    if image_encoder is not None:
        _encode_images(image_encoder, items, records)
    for hook in hooks:
        hook(items, records)
    return records


def _encode_images(image_encoder: ImageEncoder, items: Sequence[Extracted], records: list[Record]) -> None:
    """Embed every picture once; a segment with several (a clip's keyframes) gets their mean."""
    owners = [(i, j) for i, item in enumerate(items) for j in range(len(item.images))]
    if not owners:
        return
    pictures = [items[i].images[j] for i, j in owners]
    vectors = image_encoder.encode_images(pictures)
    sums: dict[int, np.ndarray] = {}
    for row, (i, _) in enumerate(owners):
        sums[i] = sums[i] + vectors[row] if i in sums else vectors[row].copy()
    for i, total in sums.items():
        norm = float(np.linalg.norm(total)) or 1.0
        records[i].dense[image_encoder.space] = (total / norm).astype(np.float32)
