"""Search helpers of composed (image + text) queries and of the `mm` space; `Retriever.search` uses them.

With the MLLM embedder the (image, text) pair is embedded jointly in the `mm` space ("mm-joint"; an image
alone is "mm-image"). Without it, the CLIP image embedding and the CLIP text embedding of the modification
text are fused (`composed_vector`: weighted sum, renormalised, the usual zero-shot composed-retrieval
baseline) and searched in the `image` space, and the text alone is searched in the `text` and `lexical`
spaces; the lists are fused ("clip-fusion"; an image alone is "clip-image"). See retrieval/query.py.

Modality bias (MM-Embed, Lin et al. 2024): an MLLM retriever tends to rank text candidates above images for
a text query, so one mixed top-k over the `mm` space can crowd images out. `search_mm_per_modality` searches
each modality separately (a filtered search per modality, each with its modality-aware query instruction
for text queries) and fuses the lists with RRF, so every modality present is represented near the top.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Protocol

import numpy as np

from core.errors import InvalidRequestError
from core.types import Hit, Modality, SearchFilter, Vector
from retrieval.fusion import fuse
from retrieval.query import DEFAULT_IMAGE_WEIGHT

if TYPE_CHECKING:
    from PIL.Image import Image

    from core.protocols import VectorStore
    from indexing.encoders.mllm_embedder import MllmEmbedder


class ClipLike(Protocol):
    """A CLIP-style encoder: pictures and text into one space."""

    def encode_images(self, images: Sequence[Image]) -> Vector: ...

    def encode_queries(self, texts: Sequence[str]) -> Vector: ...


def clip_composed_vector(
    clip: ClipLike, image: Image, text: str, image_weight: float = DEFAULT_IMAGE_WEIGHT
) -> Vector:
    """CLIP image embedding and CLIP text embedding, weighted and renormalised (one (d,) vector).

    `clip` must embed both images (`encode_images`) and text into the same space (`encode_queries`).
    """
    image_vec = clip.encode_images([image])[0]
    text_vec = clip.encode_queries([text])[0]
    return composed_vector(image_vec, text_vec, image_weight)


def composed_vector(image_vec: Vector, text_vec: Vector | None, image_weight: float) -> Vector:
    """`image_weight` * picture + (1 - `image_weight`) * text, renormalised; the picture alone without text."""
    if not 0.0 <= image_weight <= 1.0:
        raise InvalidRequestError(f"image_weight must be in [0, 1], not {image_weight}")
    if text_vec is None:
        return image_vec.astype(np.float32)
    mixed = image_weight * image_vec + (1.0 - image_weight) * text_vec
    norm = float(np.linalg.norm(mixed))
    return (mixed / norm if norm > 0 else image_vec).astype(np.float32)


def search_mm_text(
    store: VectorStore,
    encoder: MllmEmbedder,
    query: str,
    k: int = 10,
    flt: SearchFilter | None = None,
    candidates: int = 100,
) -> list[Hit]:
    """A text query in the `mm` space, per modality, each with its modality-aware instruction.

    For the retriever's hybrid search: add the result as the "mm" list before fusing.
    """
    if not query.strip():
        raise InvalidRequestError("the query is empty")
    base = flt or SearchFilter()
    # Only modalities the collection holds: each costs one query encoding and one search.
    modalities = [m for m in modalities_of(flt) if store.count(replace(base, modalities=(m,)))]
    if not modalities:
        return []
    rows = encoder.encode_query_tasks(query, [m.value for m in modalities])
    return search_mm_per_modality(store, dict(zip(modalities, rows, strict=True)), k, flt, candidates)


def search_mm_per_modality(
    store: VectorStore,
    query: Vector | Mapping[Modality, Vector],
    k: int = 10,
    flt: SearchFilter | None = None,
    candidates: int = 100,
) -> list[Hit]:
    """Search the `mm` space once per modality and fuse the lists with RRF (modality-bias mitigation).

    Args:
        store: The vector store.
        query: One query vector for every modality, or one per modality (modality-aware instructions).
        k: Hits to return.
        flt: Restricts the search; its modalities (if any) choose which modalities are searched.
        candidates: Hits fetched per modality before fusion.

    Returns:
        Hits best first; `scores` holds the raw cosine under "mm" and the fused score under "fused".
    """
    base = flt or SearchFilter()
    vectors = query if isinstance(query, Mapping) else {m: query for m in modalities_of(flt)}
    lists: dict[str, list[Hit]] = {}
    for modality, vector in vectors.items():
        hits = store.search("mm", vector, replace(base, modalities=(modality,)), max(k, candidates))
        if hits:
            lists[modality.value] = hits
    fused = fuse(lists, method="rrf", k=k)
    return [_mm_scores(hit) for hit in fused]


def search_mm_mixed(
    store: VectorStore, query: Vector, k: int = 10, flt: SearchFilter | None = None
) -> list[Hit]:
    """One top-k over the whole `mm` space (the biased baseline the per-modality search replaces)."""
    return store.search("mm", query, flt, k)


def modalities_of(flt: SearchFilter | None) -> Sequence[Modality]:
    """The modalities a filter allows (all of them when it does not restrict modality)."""
    return tuple(flt.modalities) if flt is not None and flt.modalities else tuple(Modality)


def _mm_scores(hit: Hit) -> Hit:
    raw = next((v for key, v in hit.scores.items() if key != "fused"), 0.0)
    return replace(hit, space="mm", scores={"mm": raw, "fused": hit.score})
