"""GRAM: score a query against a clip's modality vectors by the volume of the parallelotope they span.

From "Gramian Multimodal Representation Learning and Alignment" (Cicchetti et al., ICLR 2025): for unit
vectors v_1..v_k the Gram matrix G = V V^T has det(G) = volume^2 of the parallelotope they span. Vectors that
all point the same way span almost no volume; unrelated ones span up to 1. Scoring the query together with a
clip's frame centroid, transcript embedding and on-screen-text embedding by that volume asks "do all of them
agree with each other and with the query", where averaging cosines only asks "does each agree with the query"
(a clip whose transcript is about cats and whose frames show cars gets a good mean from a "cat" query, but
spans a large volume).

Scores here are "higher is better": `gram_score = 1 - volume ** (1 / k)` for k modality vectors. The k-th root
(the geometric mean of the successive Gram-Schmidt heights) keeps clips with two and three modalities on one
scale: the raw volume shrinks with every extra vector, which would favour clips with more modalities. With
one modality it is 1 - sin(angle(query, v)), monotone in the cosine. `normalize=False` gives 1 - raw volume.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

MODALITIES = ("frames", "speech", "ocr")
"""A clip's GRAM modalities: CLIP image-tower keyframe centroid, CLIP text tower of the transcript, CLIP text
tower of the on-screen text."""

GRAM_PREFIX = "gram_"


def gram_space(modality: str) -> str:
    """The Qdrant named vector holding one GRAM modality of clips ("speech" -> "gram_speech")."""
    return GRAM_PREFIX + modality


GRAM_SPACES = tuple(gram_space(m) for m in MODALITIES)
"""Named vectors of the GRAM modalities (CLIP dim), set on clip and video points only. Collections written
before they existed kept the same vectors as float lists in the payload (`metadata["gram"]`)."""

PAYLOAD_KEY = "gram"
"""The metadata key older indexes kept a clip's GRAM vectors under ({modality: [floats]})."""

ArrayLike = Sequence[float] | npt.NDArray[np.floating[Any]]


def _unit_rows(vectors: Sequence[ArrayLike] | npt.NDArray[np.floating[Any]]) -> npt.NDArray[np.float64]:
    v = np.asarray([np.asarray(x, dtype=np.float64).reshape(-1) for x in vectors], dtype=np.float64)
    if v.ndim != 2 or v.shape[0] == 0:
        raise ValueError("need at least one vector")
    norms = np.linalg.norm(v, axis=1, keepdims=True)
    if np.any(norms == 0):
        raise ValueError("zero vector has no direction")
    return v / norms


def gram_volume(vectors: Sequence[ArrayLike] | npt.NDArray[np.floating[Any]]) -> float:
    """Volume of the parallelotope spanned by the L2-normalised vectors: sqrt(det(V V^T)), in [0, 1].

    Args:
        vectors: k vectors of one dimension d (k <= d for a non-zero volume).

    Returns:
        0 when they are linearly dependent (e.g. all equal), 1 when they are mutually orthogonal.
    """
    v = _unit_rows(vectors)
    det = float(np.linalg.det(v @ v.T))
    return float(np.sqrt(min(max(det, 0.0), 1.0)))


def gram_score(
    query: ArrayLike, modality_vectors: Mapping[str, ArrayLike] | Sequence[ArrayLike], normalize: bool = True
) -> float:
    """How well a query and a clip's modalities align: 1 - volume (k-th root when `normalize`), higher = better.

    Args:
        query: the query embedding in the same space as the modality vectors.
        modality_vectors: the clip's vectors, by modality name or as a list (empty modalities left out).
        normalize: take the k-th root of the volume so clips with different numbers of modalities compare.

    Returns:
        A score in [0, 1]; 0.0 when the clip has no modality vectors.
    """
    mods = (
        list(modality_vectors.values()) if isinstance(modality_vectors, Mapping) else list(modality_vectors)
    )
    if not mods:
        return 0.0
    volume = gram_volume([query, *mods])
    return 1.0 - (volume ** (1.0 / len(mods)) if normalize else volume)


def gram_similarity(
    query: ArrayLike, modality_vectors: Mapping[str, ArrayLike] | Sequence[ArrayLike]
) -> float:
    """GRAM as a cosine-equivalent in [0, 1]: sqrt(1 - volume ** (2 / k)).

    Ranks exactly like `gram_score` (both are monotone in the volume) but sits on the cosine scale: with one
    modality it equals |cos(query, v)|. Use it where GRAM is compared or mixed with cosine scores (CLIP
    cosines of matching pairs are ~0.3, where `gram_score` would give ~0.05). Like the volume itself it
    ignores sign: an anti-aligned vector spans no volume either.
    """
    mods = (
        list(modality_vectors.values()) if isinstance(modality_vectors, Mapping) else list(modality_vectors)
    )
    if not mods:
        return 0.0
    volume = gram_volume([query, *mods])
    return float(np.sqrt(max(0.0, 1.0 - volume ** (2.0 / len(mods)))))


def mean_cosine_score(
    query: ArrayLike, modality_vectors: Mapping[str, ArrayLike] | Sequence[ArrayLike]
) -> float:
    """The baseline GRAM replaces: the mean cosine between the query and each modality vector."""
    mods = (
        list(modality_vectors.values()) if isinstance(modality_vectors, Mapping) else list(modality_vectors)
    )
    if not mods:
        return 0.0
    v = _unit_rows([query, *mods])
    return float(np.mean(v[1:] @ v[0]))


def clip_modality_vectors(
    frames_vec: ArrayLike | None, transcript_text: str, ocr_text: str, clip_text_encoder: Any
) -> dict[str, list[float]]:
    """The modality vectors of one clip in the CLIP space, unit length (stored as the `GRAM_SPACES` vectors).

    Args:
        frames_vec: CLIP image-tower embedding of the clip's keyframes (their normalised mean), or None.
        transcript_text: what is said in the clip ("" when nothing).
        ocr_text: on-screen text in the clip ("" when none).
        clip_text_encoder: the CLIP text tower (`encode_documents(texts) -> (n, d)`).

    Returns:
        {"frames": [...], "speech": [...], "ocr": [...]}, a key absent when that modality is empty.
    """
    out: dict[str, list[float]] = {}
    if frames_vec is not None and np.linalg.norm(np.asarray(frames_vec, dtype=np.float64)) > 0:
        out["frames"] = _unit(frames_vec)
    texts = {k: t.strip() for k, t in (("speech", transcript_text), ("ocr", ocr_text)) if t and t.strip()}
    if texts:
        encoded = clip_text_encoder.encode_documents(list(texts.values()))
        for key, row in zip(texts, encoded, strict=True):
            out[key] = _unit(row)
    return out


def fuse_clip_score(
    query: ArrayLike, gram_vectors: Mapping[str, ArrayLike], method: str = "gram", normalize: bool = True
) -> float:
    """Score a query against a clip's modality vectors with "gram" (volume) or "mean" (mean cosine)."""
    vectors = {k: v for k, v in gram_vectors.items() if k in MODALITIES and len(v)}
    if method == "mean":
        return mean_cosine_score(query, vectors)
    if method == "gram":
        return gram_score(query, vectors, normalize=normalize)
    raise ValueError(f"unknown clip fusion {method!r}: use 'gram' or 'mean'")


def payload_gram(metadata: Mapping[str, Any]) -> dict[str, npt.NDArray[np.float32]]:
    """The GRAM vectors an older index kept in a clip's payload (`metadata["gram"]`), by named-vector space,
    unit length ({} when there are none)."""
    stored = metadata.get(PAYLOAD_KEY)
    if not isinstance(stored, Mapping):
        return {}
    out: dict[str, npt.NDArray[np.float32]] = {}
    for modality, values in stored.items():
        if modality not in MODALITIES or not isinstance(values, list | tuple) or not values:
            continue
        vector = np.asarray(values, dtype=np.float32).reshape(-1)
        norm = float(np.linalg.norm(vector))
        if np.isfinite(norm) and norm > 0:
            out[gram_space(modality)] = vector / norm
    return out


def _unit(v: ArrayLike) -> list[float]:
    a = np.asarray(v, dtype=np.float64).reshape(-1)
    return [float(x) for x in a / (np.linalg.norm(a) or 1.0)]
