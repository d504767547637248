"""An MLLM reranker: asks a vision-language model whether each piece of evidence answers the question.

After RagLLaVA ("MLLM Is a Strong Reranker") and MM-Embed's zero-shot reranking: for every candidate, the
model sees the evidence (the image or frame itself for visual hits, plus its text) and the question, and the
score is P("yes") against P("no") for the next token. Pointwise scoring keeps the listwise positional bias
(mRAG) out. Works with chat-templated `transformers` image-text-to-text models (Qwen2-VL family, ...).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from core.errors import ModelUnavailableError, NotFoundError
from core.mllm_loading import lazy_image_text_model, reset_rope_deltas
from core.types import Hit, Segment

if TYPE_CHECKING:
    from PIL.Image import Image

log = logging.getLogger(__name__)

MediaPath = Callable[[Segment], Path | None]

QUESTION = (
    "Evidence: {evidence}\n\nQuestion: {question}\n\n"
    "Does this evidence answer the question? Answer yes or no."
)


class MllmReranker:
    """Pointwise P("yes") reranking with a vision-language model.

    Args:
        model: Local folder or hub id of a `transformers` image-text-to-text model with a chat template.
        media_path: Gives the stored picture of a visual segment (page, image, keyframe), or None.
        device: "auto", "cpu", "cuda", ...
        max_chars: Evidence text is cut to this many characters.
        max_image_side: Pictures are downscaled to this many pixels on their longer side (visual tokens).
    """

    name = "mllm"

    def __init__(
        self,
        model: str,
        media_path: MediaPath | None = None,
        device: str = "auto",
        max_chars: int = 1500,
        max_image_side: int = 448,
    ) -> None:
        self.model_name = model
        self.media_path = media_path
        self.device_name = device
        self.max_chars = max_chars
        self.max_image_side = max_image_side
        self._model: Any = None
        self._processor: Any = None
        self._yes_no: tuple[int, int] = (0, 0)
        self._mllm = lazy_image_text_model(model, device, "mllm reranker", "MMRAG_RERANKER_MODEL")

    def describe(self) -> dict[str, str]:
        """The model and the device it runs on ("" until loaded), for `mmrag doctor`."""
        return self._mllm.describe()

    def load(self) -> None:
        """Load model and processor once.

        Raises:
            ModelUnavailableError: no model configured or it cannot be loaded.
        """
        if self._model is not None:
            return
        processor, model = self._mllm.get()
        tok = processor.tokenizer
        self._yes_no = (_first_token(tok, "yes"), _first_token(tok, "no"))
        self._processor, self._model = processor, model

    def rerank(self, query: str, hits: Sequence[Hit]) -> list[Hit]:
        """Hits best first with `scores["rerank"]` = P(yes | evidence, question)."""
        if not hits:
            return []
        self.load()
        out = []
        for hit in hits:
            score = self.score(query, hit.segment)
            out.append(replace(hit, score=score, space="rerank", scores={**hit.scores, "rerank": score}))
        return sorted(out, key=lambda h: h.score, reverse=True)

    def score(self, query: str, segment: Segment) -> float:
        """P("yes") normalised over {"yes", "no"} for one piece of evidence."""
        import torch

        self.load()
        image = self._picture(segment)
        text = QUESTION.format(evidence=segment.text[: self.max_chars] or "(see the image)", question=query)
        content: list[dict[str, str]] = [{"type": "image"}] if image is not None else []
        content.append({"type": "text", "text": text})
        prompt = self._processor.apply_chat_template(
            [{"role": "user", "content": content}], add_generation_prompt=True, tokenize=False
        )
        kwargs: dict[str, Any] = {"text": [prompt], "return_tensors": "pt"}
        if image is not None:
            kwargs["images"] = [image]
        inputs = self._processor(**kwargs).to(self._model.device)
        reset_rope_deltas(self._model)  # Qwen2-VL caches M-RoPE offsets between calls; each prompt is new
        with torch.inference_mode():
            logits = self._model(**inputs).logits[0, -1].float()
        pair = torch.stack([logits[self._yes_no[0]], logits[self._yes_no[1]]])
        return float(torch.softmax(pair, dim=0)[0])

    def _picture(self, segment: Segment) -> Image | None:
        if self.media_path is None or not segment.media_ref:
            return None
        try:
            path = self.media_path(segment)
        except NotFoundError:
            return None
        if path is None:
            return None
        from PIL import Image as PILImage

        with PILImage.open(path) as img:
            picture = img.convert("RGB")
        picture.thumbnail((self.max_image_side, self.max_image_side))
        return picture


def _first_token(tokenizer: Any, word: str) -> int:
    """Id of the first token of `word` (models answer "yes"/"no" starting with that token)."""
    ids = tokenizer.encode(word, add_special_tokens=False)
    if not ids:
        raise ModelUnavailableError(f"the reranker's tokenizer cannot encode {word!r}")
    return int(ids[0])
