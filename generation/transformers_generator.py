"""A local vision-language model on `transformers` (GPU recommended): sees the pictures of visual evidence.

Any image-text-to-text model with a chat template (Qwen2-VL / Qwen2.5-VL, ...). Evidence pictures are
inserted as image parts next to their numbers, so the model reads page renders, photos and keyframes
themselves, not only their captions.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from core.mllm_loading import lazy_image_text_model, reset_rope_deltas
from core.types import Segment
from generation.prompted_generator import PromptedGenerator
from generation.prompts import Prompt

if TYPE_CHECKING:
    from PIL.Image import Image

log = logging.getLogger(__name__)


class TransformersGenerator(PromptedGenerator):
    """Answers with a local `transformers` MLLM.

    Args:
        model: Local folder or hub id (cached) of an image-text-to-text model.
        device: "auto", "cuda", "cuda:N", "cpu".
        picture: Returns a visual segment's picture.
        max_tokens: Most tokens per answer.
        max_image_side: Pictures are downscaled to this many pixels on their longer side.
    """

    name = "transformers"
    sees_images = True

    def __init__(
        self,
        model: str,
        device: str = "auto",
        picture: Callable[[Segment], Image | None] | None = None,
        max_tokens: int = 256,
        max_image_side: int = 768,
    ) -> None:
        super().__init__(max_tokens=max_tokens, picture=picture)
        self.model_name = model
        self.device_name = device
        self.max_image_side = max_image_side
        self._model: Any = None
        self._processor: Any = None
        self._mllm = lazy_image_text_model(model, device, "generator model", "MMRAG_GENERATOR_MODEL")

    def describe(self) -> dict[str, str]:
        """The model and the device it runs on ("" until loaded), for `mmrag doctor`."""
        return self._mllm.describe()

    def load(self) -> None:
        """Load once. Raises ModelUnavailableError with the reason when it cannot."""
        self._processor, self._model = self._mllm.get()  # once, under the loader's lock

    def _inputs(self, prompt: Prompt) -> Any:
        content: list[dict[str, str]] = []
        images = []
        for part in prompt.parts:
            if part.image is not None:
                picture = part.image.convert("RGB")
                picture.thumbnail((self.max_image_side, self.max_image_side))
                images.append(picture)
                content.append({"type": "image"})
            elif part.text:
                content.append({"type": "text", "text": part.text})
        messages = [
            {"role": "system", "content": [{"type": "text", "text": prompt.system}]},
            {"role": "user", "content": content},
        ]
        text = self._processor.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
        kwargs: dict[str, Any] = {"text": [text], "return_tensors": "pt"}
        if images:
            kwargs["images"] = images
        return self._processor(**kwargs).to(self._model.device)

    def _complete(self, prompt: Prompt, max_tokens: int) -> str:
        return "".join(self._stream(prompt, max_tokens)).strip()

    def _stream(self, prompt: Prompt, max_tokens: int) -> Iterator[str]:
        import torch
        from transformers import TextIteratorStreamer

        self.load()
        inputs = self._inputs(prompt)
        streamer = TextIteratorStreamer(self._processor.tokenizer, skip_prompt=True, skip_special_tokens=True)
        reset_rope_deltas(self._model)  # Qwen2-VL caches M-RoPE offsets between calls

        def run() -> None:
            with torch.inference_mode():
                self._model.generate(**inputs, max_new_tokens=max_tokens, do_sample=False, streamer=streamer)

        worker = threading.Thread(target=run, daemon=True)
        worker.start()
        yield from streamer
        worker.join()
