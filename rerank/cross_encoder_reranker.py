"""A cross-encoder reranker (sentence-transformers `CrossEncoder`): reads query and evidence text together.

Pointwise (each pair scored on its own), so there is no positional bias. Visual hits are scored through
their text (caption, OCR, transcript); use the MLLM reranker to look at the pixels.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from core.lazy_model import LazyModel
from core.types import Hit

if TYPE_CHECKING:
    from sentence_transformers import CrossEncoder

log = logging.getLogger(__name__)

DEFAULT_MODEL = "cross-encoder/ms-marco-MiniLM-L6-v2"


class CrossEncoderReranker:
    """Scores (query, segment text) pairs with a cross-encoder; scores are sigmoid probabilities.

    Args:
        model: A local folder or a hub id (loaded from the local cache only when offline).
        device: "cpu", "cuda", ... ("auto" picks CUDA when present).
        batch_size: Pairs per forward pass.
        max_chars: Evidence text is cut to this many characters (the model truncates tokens anyway).
    """

    name = "cross-encoder"

    def __init__(
        self, model: str = DEFAULT_MODEL, device: str = "auto", batch_size: int = 32, max_chars: int = 2000
    ) -> None:
        self.model = model or DEFAULT_MODEL
        self.device = device
        self.batch_size = batch_size
        self.max_chars = max_chars
        self._model: CrossEncoder | None = None
        self._lazy = LazyModel(
            self.model,
            device,
            role="cross-encoder",
            setting="MMRAG_RERANKER_MODEL",
            loader=_load_cross_encoder,
            source=lambda name: str(Path(name).expanduser()),
            hint="set MMRAG_RERANKER_MODEL to a local folder",
        )

    def describe(self) -> dict[str, str]:
        """The model and the device it runs on ("" until loaded), for `mmrag doctor`."""
        return self._lazy.describe()

    def load(self) -> None:
        """Load the weights once.

        Raises:
            ModelUnavailableError: the model is neither a local folder nor in the local cache.
        """
        self._model = self._lazy.get()

    def rerank(self, query: str, hits: Sequence[Hit]) -> list[Hit]:
        """Hits best first with `scores["rerank"]` in [0, 1]."""
        if not hits:
            return []
        self.load()
        assert self._model is not None
        pairs = [(query, hit.segment.text[: self.max_chars] or hit.segment.uri) for hit in hits]
        raw = self._model.predict(pairs, batch_size=self.batch_size, show_progress_bar=False)
        out = []
        for hit, value in zip(hits, raw, strict=True):
            score = float(value)
            out.append(replace(hit, score=score, space="rerank", scores={**hit.scores, "rerank": score}))
        return sorted(out, key=lambda h: h.score, reverse=True)


def _load_cross_encoder(source: str, device: str) -> CrossEncoder:
    """A hub id loads from the local cache only: the offline machine fails at once instead of retrying."""
    from sentence_transformers import CrossEncoder

    kwargs: dict[str, Any] = {"device": device}
    if not Path(source).is_dir():
        kwargs["local_files_only"] = True
    return CrossEncoder(source, **kwargs)
