"""Composed (image + text) and image-only queries, and per-modality search of the `mm` space.

With the MLLM embedder the (image, text) pair is embedded jointly in the `mm` space ("mm-joint"; an image
alone is "mm-image"). Without it, the CLIP image embedding and the CLIP text embedding of the modification
text are fused (weighted sum, renormalised: the usual zero-shot composed-retrieval baseline) and searched in
the `image` space, and the text alone is searched in the `text` and `lexical` spaces; the lists are fused
("clip-fusion"; an image alone is "clip-image"). Every function returns which method it used.

Modality bias (MM-Embed, Lin et al. 2024): an MLLM retriever tends to rank text candidates above images for
a text query, so one mixed top-k over the `mm` space can crowd images out. `search_mm_per_modality` searches
each modality separately (a filtered search per modality, each with its modality-aware query instruction
for text queries) and fuses the lists with RRF, so every modality present is represented near the top.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import numpy as np

from core.errors import InvalidRequestError, ModelUnavailableError, StoreError
from core.types import Hit, Modality, SearchFilter, Vector
from indexing.mm_space import mm_encoder_of
from retrieval.fusion import fuse

if TYPE_CHECKING:
    from PIL.Image import Image

    from core.protocols import VectorStore
    from indexing.mllm_embedder import MllmEmbedder

log = logging.getLogger(__name__)

MM_JOINT = "mm-joint"
MM_IMAGE = "mm-image"
MM_TEXT = "mm-text"
CLIP_FUSION = "clip-fusion"
CLIP_IMAGE = "clip-image"

DEFAULT_IMAGE_WEIGHT = 0.5
"""Weight of the reference image against the modification text in the CLIP fallback."""


def search_composed(
    container: Any,
    text: str | None,
    image: Image,
    k: int = 10,
    flt: SearchFilter | None = None,
    image_weight: float = DEFAULT_IMAGE_WEIGHT,
) -> tuple[list[Hit], str]:
    """Search with an image and optional text (query by example when `text` is empty).

    Args:
        container: The app's `Container` (uses `mm_encoder` when present, else `image_encoder`,
            `text_encoder`, `lexical`, `store`, `settings`).
        text: The modification / accompanying text, or None/"" for an image-only query.
        image: The query picture.
        k: Hits to return.
        flt: Restricts the search (modality, granularity, source).
        image_weight: CLIP fallback only: weight of the image embedding in [0, 1]; the text gets the rest.

    Returns:
        (hits best first, method) with method one of "mm-joint", "mm-image", "clip-fusion", "clip-image".
        With the mm encoder loaded but no `mm` vectors matching (a collection not re-embedded yet), the
        CLIP method is used when CLIP is available.

    Raises:
        InvalidRequestError: no image was given.
        ModelUnavailableError: neither the mm nor the image (CLIP) space is available.
    """
    if image is None:
        raise InvalidRequestError("an image query needs an image; use the plain search for text only")
    text = (text or "").strip()
    candidates = max(k, int(getattr(container.settings, "candidates", 100)))
    encoder = mm_encoder_of(container)
    if encoder is not None:
        task = "composed" if text else "image_query"
        vector = encoder.encode_pairs([image], [text], task=task)[0]
        try:
            hits = search_mm_per_modality(container.store, vector, k, flt, candidates)
        except StoreError as exc:  # the collection has no mm space yet
            log.info("mm search failed (%s)", exc)
            hits = []
        if hits or container.image_encoder is None:
            return hits, MM_JOINT if text else MM_IMAGE
        # Enabled but not filled: a collection indexed before MMRAG_MM_MODEL was set.
        log.warning("the mm space holds nothing for this search (run `mmrag reembed`); using CLIP instead")
    clip = container.image_encoder
    if clip is None:
        reasons = "; ".join(f"{s}: {r}" for s, r in container.unavailable.items() if s in ("mm", "image"))
        raise ModelUnavailableError(f"image queries need the mm or the image (CLIP) space ({reasons})")
    if not text:
        return container.store.search("image", clip.encode_images([image])[0], flt, k), CLIP_IMAGE
    lists = {
        "image": container.store.search(
            "image", clip_composed_vector(clip, image, text, image_weight), flt, candidates
        ),
        "text": container.store.search(
            "text", container.text_encoder.encode_queries([text])[0], flt, candidates
        ),
        "lexical": container.store.search(
            "lexical", container.lexical.encode_queries([text])[0], flt, candidates
        ),
    }
    return fuse(lists, method=getattr(container.settings, "fusion", "rrf"), k=k), CLIP_FUSION


def clip_composed_vector(
    clip: Any, image: Image, text: str, image_weight: float = DEFAULT_IMAGE_WEIGHT
) -> Vector:
    """CLIP image embedding and CLIP text embedding, weighted and renormalised (one (d,) vector).

    `clip` must embed both images (`encode_images`) and text into the same space (`encode_queries`).
    """
    if not 0.0 <= image_weight <= 1.0:
        raise InvalidRequestError(f"image_weight must be in [0, 1], not {image_weight}")
    image_vec = clip.encode_images([image])[0]
    text_vec = clip.encode_queries([text])[0]
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
