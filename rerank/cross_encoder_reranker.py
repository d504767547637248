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

from core.devices import resolve_device
from core.errors import ModelUnavailableError
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

    def load(self) -> None:
        """Load the weights once.

        Raises:
            ModelUnavailableError: the model is neither a local folder nor in the local cache.
        """
        if self._model is not None:
            return
        from sentence_transformers import CrossEncoder

        device = resolve_device(self.device)
        kwargs: dict[str, Any] = {"device": device}
        if not Path(self.model).expanduser().is_dir():
            kwargs["local_files_only"] = True
        try:
            self._model = CrossEncoder(str(Path(self.model).expanduser()), **kwargs)
        except Exception as exc:  # any loader failure: report which model and why
            raise ModelUnavailableError(
                f"cross-encoder {self.model!r} could not be loaded ({type(exc).__name__}: "
                f"{str(exc).splitlines()[0] if str(exc) else ''}); set MMRAG_RERANKER_MODEL to a local folder"
            ) from exc
        log.info("cross-encoder %s loaded on %s", self.model, device)

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
