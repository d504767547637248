"""The CPU default reranker: rescore every candidate with the encoders themselves.

Fused retrieval scores (RRF ranks) say little about *how* relevant a hit is, so adaptive selection cannot
use them. This reranker gives each hit an absolute relevance score:
- text: cosine between the query and the segment text in the `text` space (the search's own dense score when
  the hit came with one, otherwise the text is embedded now), plus the hit's BM25 evidence in cosine units
  when the search found it lexically too (`scores[LEXICAL_BONUS]`, the relevance calibration's exchange
  rate): a reranker on the cosine alone would throw away what the hybrid search knew, and on SQuAD it
  pushed the gold paragraph out of the evidence that hybrid search had ranked first;
- images and frames: the CLIP text-to-image cosine from the search, scaled by `clip_scale` because CLIP
  cosines of matching pairs sit around 0.3 where MiniLM's sit around 0.6;
- clips and videos with GRAM vectors (the store's `gram_*` named vectors, read with `vectors(space, ids)`;
  older indexes kept them in the payload, `metadata["gram"]`, which is still read): the GRAM alignment
  score of the CLIP query with the clip's frame, speech and on-screen-text vectors (Cicchetti et al.),
  scaled the same way.
The hit's score is the best of the signals it has.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import replace

import numpy as np

from core.gram import GRAM_SPACES, payload_gram
from core.protocols import ImageEncoder, TextEncoder, VectorReader
from core.types import LEXICAL_BONUS, Granularity, Hit, Vector

log = logging.getLogger(__name__)

VISUAL = (Granularity.IMAGE, Granularity.FRAME, Granularity.CLIP, Granularity.VIDEO)
TIME_BASED = (Granularity.CLIP, Granularity.VIDEO)


class EmbeddingReranker:
    """Rescores hits with the text encoder, CLIP, and GRAM for multi-modal clips.

    Args:
        text_encoder: The `text` space encoder.
        image_encoder: The CLIP encoder (also a text encoder for its space), or None.
        clip_scale: Multiplier putting CLIP cosines and GRAM scores on the text cosine's scale.
        clip_fusion: How a clip's modality vectors (frames, speech, on-screen text) meet the query:
            "gram" (Gramian-volume similarity, on the cosine scale) or "mean" (mean cosine).
        vectors: The store the hits came from, to read the clips' GRAM vectors; None: only payload ones.
    """

    name = "embedding"

    def __init__(
        self,
        text_encoder: TextEncoder,
        image_encoder: ImageEncoder | None = None,
        clip_scale: float = 2.0,
        clip_fusion: str = "gram",
        vectors: VectorReader | None = None,
    ) -> None:
        if clip_fusion not in ("gram", "mean"):
            raise ValueError(f"clip_fusion must be 'gram' or 'mean', not {clip_fusion!r}")
        self.text_encoder = text_encoder
        self.image_encoder = image_encoder
        self.clip_scale = clip_scale
        self.clip_fusion = clip_fusion
        self.vectors = vectors

    def rerank(self, query: str, hits: Sequence[Hit]) -> list[Hit]:
        """Hits best first, each with `score` = `scores["rerank"]`."""
        if not hits:
            return []
        text_scores = self._text_scores(query, hits)
        gram = self._gram_vectors(hits)
        clip_query = self._clip_query(query) if gram else None
        out = []
        for hit, text_score in zip(hits, text_scores, strict=True):
            vectors = gram.get(hit.segment.segment_id, [])
            score = max(text_score, self._visual_score(hit, clip_query, vectors))
            out.append(replace(hit, score=score, space="rerank", scores={**hit.scores, "rerank": score}))
        return sorted(out, key=lambda h: h.score, reverse=True)

    def _text_scores(self, query: str, hits: Sequence[Hit]) -> list[float]:
        scores = [hit.scores.get("text") for hit in hits]
        missing = [
            i for i, (s, h) in enumerate(zip(scores, hits, strict=True)) if s is None and h.segment.text
        ]
        if missing:
            q = self.text_encoder.encode_queries([query])[0]
            docs = self.text_encoder.encode_documents([hits[i].segment.text for i in missing])
            for i, value in zip(missing, docs @ q, strict=True):
                scores[i] = float(value)
        return [
            max(0.0, s if s is not None else 0.0) + hit.scores.get(LEXICAL_BONUS, 0.0)
            for s, hit in zip(scores, hits, strict=True)
        ]

    def _clip_query(self, query: str) -> np.ndarray | None:
        if self.image_encoder is None or not isinstance(self.image_encoder, TextEncoder):
            return None
        return self.image_encoder.encode_queries([query])[0]

    def _gram_vectors(self, hits: Sequence[Hit]) -> dict[str, list[Vector]]:
        """Each clip's GRAM modality vectors (segment id -> vectors): the store's named vectors, else the
        payload lists of an index written before they existed."""
        clips = [h.segment for h in hits if h.segment.granularity in TIME_BASED]
        if not clips or not isinstance(self.image_encoder, TextEncoder):
            return {}
        found: dict[str, dict[str, Vector]] = {}
        if self.vectors is not None:
            ids = [s.segment_id for s in clips]
            for space in GRAM_SPACES:
                for sid, vector in self.vectors.vectors(space, ids).items():
                    found.setdefault(sid, {})[space] = vector
        for seg in clips:
            if seg.segment_id not in found:
                legacy = payload_gram(seg.metadata)
                if legacy:
                    found[seg.segment_id] = legacy
        return {sid: [by_space[s] for s in GRAM_SPACES if s in by_space] for sid, by_space in found.items()}

    def _visual_score(self, hit: Hit, clip_query: np.ndarray | None, gram: Sequence[Vector]) -> float:
        seg = hit.segment
        if seg.granularity not in VISUAL:
            return 0.0
        if clip_query is not None and gram:
            from core.gram import gram_similarity, mean_cosine_score

            fuse = gram_similarity if self.clip_fusion == "gram" else mean_cosine_score
            return self.clip_scale * max(0.0, float(fuse(clip_query, list(gram))))
        image = hit.scores.get("image")
        return self.clip_scale * max(0.0, float(image)) if image is not None else 0.0
