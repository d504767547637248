"""MLLM bi-encoder for the `mm` space: text, images and interleaved image+text in one embedding space.

GME / VLM2Vec (Qwen2-VL) and mmE5 (Llama-3.2-Vision) style: the model reads a prompt in its trained layout
(see `indexing.encoders.mllm_formats`) and the hidden state of the last token (or the mean over tokens, per model
card) is the embedding, L2-normalised. Queries carry a task instruction (MM-Embed / mmE5 style); documents
carry none. Off by default: enabled by `MMRAG_MM_MODEL` (a hub id or a local folder).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from core.devices import resolve_device
from core.errors import ModelUnavailableError
from core.mllm_loading import reset_rope_deltas
from core.model_access import local_or_reachable
from core.types import Vector
from indexing.encoders.mllm_formats import DEFAULT_INSTRUCTIONS, ModelCard, card_for, instruction_text, render

if TYPE_CHECKING:
    from PIL.Image import Image

log = logging.getLogger(__name__)

_PATCH_PIXELS = 28 * 28  # one merged Qwen2-VL visual token covers 28x28 pixels

Item = tuple["Image | None", str]


class MllmEmbedder:
    """Vision-language embedding model (transformers) for the `mm` space.

    Args:
        model: Hub id (e.g. "Alibaba-NLP/gme-Qwen2-VL-2B-Instruct") or a local folder with the model and its
            processor.
        device: "auto" (CUDA, then MPS, then CPU), "cpu", "cuda", "cuda:N" or "mps".
        batch_size: Items per forward pass.
        pooling: "last" (last real token), "mean" (masked mean) or "auto" (from the known-models table,
            otherwise last-token, which every supported family uses).
        instructions: Task -> query instruction, overriding the model card's and the defaults.
        max_image_tokens: Cap on visual tokens per image (images are downscaled to fit); None = model card.
    """

    space = "mm"

    def __init__(
        self,
        model: str,
        device: str = "auto",
        batch_size: int = 8,
        pooling: str = "auto",
        instructions: dict[str, str] | None = None,
        max_image_tokens: int | None = None,
    ) -> None:
        if pooling not in ("auto", "last", "mean"):
            raise ValueError(f"pooling must be auto, last or mean, not {pooling!r}")
        self.model_name = model
        self.device_name = device
        self.batch_size = max(1, batch_size)
        self._pooling = pooling
        self._instruction_overrides = dict(instructions or {})
        self._max_image_tokens = max_image_tokens
        self._card: ModelCard | None = card_for(model)
        self._dim = self._card.dim if self._card else 0
        self._model: Any = None
        self._processor: Any = None
        self._device: Any = None

    # --- properties -----------------------------------------------------------------------------------
    @property
    def dim(self) -> int:
        """Embedding size; loads the model when the known-models table does not give it."""
        if not self._dim:
            self.load()
        return self._dim

    @property
    def pooling(self) -> str:
        """The pooling in effect ("last" or "mean")."""
        if self._pooling != "auto":
            return self._pooling
        return self._card.pooling if self._card else "last"

    @property
    def instructions(self) -> dict[str, str]:
        """Task -> instruction: defaults, then the model card's, then the constructor's."""
        card = self._card.instructions if self._card else {}
        return {**DEFAULT_INSTRUCTIONS, **card, **self._instruction_overrides}

    # --- loading --------------------------------------------------------------------------------------
    def describe(self) -> dict[str, str]:
        """The model and the device it runs on ("" until loaded), for `mmrag doctor`."""
        return {"model": self.model_name, "device": str(self._device) if self._device is not None else ""}

    def load(self) -> None:
        """Load processor and model once. Raises `ModelUnavailableError` with the exact reason."""
        if self._model is not None:
            return
        try:
            self._load()
        except ModelUnavailableError:
            raise
        except Exception as exc:  # any loader failure means "this space is unavailable", with its reason
            reason = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
            raise ModelUnavailableError(
                f"mm model {self.model_name!r} could not be loaded: {type(exc).__name__}: {reason}"
            ) from exc

    def _load(self) -> None:
        from transformers import AutoConfig, AutoModel, AutoModelForImageTextToText, AutoProcessor

        name = local_or_reachable(self.model_name, "mm model", "MMRAG_MM_MODEL")
        config = AutoConfig.from_pretrained(name)
        card = card_for(self.model_name, getattr(config, "model_type", None))
        if card is None:
            raise ModelUnavailableError(
                f"mm model {self.model_name!r} has model_type {config.model_type!r}; supported families: "
                "qwen2_vl, qwen2_5_vl (GME, VLM2Vec), mllama (mmE5)"
            )
        self._card = card
        self._device = _pick_device(self.device_name)
        dtype = _pick_dtype(self._device)
        processor = AutoProcessor.from_pretrained(name)
        if hasattr(processor, "tokenizer"):
            processor.tokenizer.padding_side = "right"  # pooling finds the last real token from the mask
        try:
            model = AutoModelForImageTextToText.from_pretrained(name, dtype=dtype)
        except ValueError:  # a checkpoint saved as a bare base model
            model = AutoModel.from_pretrained(name, dtype=dtype)
        self._model = model.to(self._device).eval()
        self._processor = processor
        text_config = getattr(config, "text_config", config)
        self._dim = int(getattr(text_config, "hidden_size", 0)) or self._dim
        log.info("mm embedder %s loaded on %s (%s, dim %d)", self.model_name, self._device, dtype, self._dim)

    # --- public encoding ------------------------------------------------------------------------------
    def encode_queries(self, texts: Sequence[str], task: str = "default") -> Vector:
        """Embed query texts with the instruction of `task` (a key of `instructions`)."""
        return self._encode([(None, t) for t in texts], task)

    def encode_query_tasks(self, query: str, tasks: Sequence[str]) -> Vector:
        """Embed one query once per task (e.g. one instruction per target modality), in one batch."""
        return self._encode([(None, query)] * len(tasks), list(tasks))

    def encode_documents(self, texts: Sequence[str]) -> Vector:
        """Embed document texts (no instruction)."""
        return self._encode([(None, t) for t in texts], None)

    def encode_images(self, images: Sequence[Image]) -> Vector:
        """Embed images on the document side (no instruction, no text)."""
        return self._encode([(img, "") for img in images], None)

    def encode_pairs(self, images: Sequence[Image], texts: Sequence[str], task: str | None = None) -> Vector:
        """Embed each (image, text) pair jointly as one interleaved input.

        Args:
            images: One image per pair.
            texts: One text per pair (may be empty).
            task: None for the document side (an image with its caption/OCR text); a task name (e.g.
                "composed", "image_query") for a query, which adds that task's instruction.
        """
        if len(images) != len(texts):
            raise ValueError(f"encode_pairs needs as many images as texts ({len(images)} != {len(texts)})")
        return self._encode(list(zip(images, texts, strict=True)), task)

    # --- internals ------------------------------------------------------------------------------------
    def _encode(self, items: list[Item], task: str | None | list[str]) -> Vector:
        """Embed items; `task` applies to all of them, or is a list with one task per item."""
        if not items:
            return np.zeros((0, self.dim), dtype=np.float32)
        self.load()
        instructions = self.instructions
        tasks = task if isinstance(task, list) else [task] * len(items)
        prepared = [
            self._prepare(img, text, t, instructions) for (img, text), t in zip(items, tasks, strict=True)
        ]
        # Batch similar sizes together so padding (and the vision tower's work) stays small.
        order = sorted(range(len(prepared)), key=lambda i: _cost(prepared[i]))
        out = np.zeros((len(prepared), self._dim), dtype=np.float32)
        for start in range(0, len(order), self.batch_size):
            idx = order[start : start + self.batch_size]
            out[idx] = self._forward([prepared[i] for i in idx])
        return out

    def _prepare(
        self, image: Image | None, text: str, task: str | None, instructions: dict[str, str]
    ) -> Item:
        assert self._card is not None
        instruction, body = instruction_text(instructions, task, text)
        prompt = render(self._card.family, body, image is not None, instruction)
        return (self._fit(image) if image is not None else None, prompt)

    def _fit(self, image: Image) -> Image:
        """RGB, downscaled so the image costs at most `max_image_tokens` visual tokens."""
        assert self._card is not None
        image = image.convert("RGB") if image.mode != "RGB" else image
        cap = self._max_image_tokens if self._max_image_tokens is not None else self._card.max_image_tokens
        if cap and image.width * image.height > cap * _PATCH_PIXELS:
            scale = (cap * _PATCH_PIXELS / (image.width * image.height)) ** 0.5
            size = (max(28, int(image.width * scale)), max(28, int(image.height * scale)))
            image = image.resize(size)
        return image

    def _forward(self, batch: list[Item]) -> Vector:
        import torch

        prompts = [prompt for _, prompt in batch]
        images = [img for img, _ in batch if img is not None]
        kwargs: dict[str, Any] = {"text": prompts, "padding": True, "return_tensors": "pt"}
        if images:
            assert self._card is not None
            # mllama's processor wants one list of images per sample; Qwen2-VL's a flat list in order.
            kwargs["images"] = [[img] for img, _ in batch] if self._card.family == "mllama" else images
        inputs = self._processor(**kwargs).to(self._device)
        base = reset_rope_deltas(self._model)  # Qwen2-VL caches M-RoPE offsets across calls
        with torch.inference_mode():
            hidden = base(**inputs).last_hidden_state
            vectors = _pool(hidden, inputs["attention_mask"], self.pooling)
            vectors = torch.nn.functional.normalize(vectors.float(), dim=-1)
        return vectors.cpu().numpy().astype(np.float32)


def _cost(item: Item) -> tuple[int, int]:
    image, prompt = item
    return (image.width * image.height if image is not None else 0, len(prompt))


def _pool(hidden: Any, mask: Any, pooling: str) -> Any:
    """Last real token (any padding side) or masked mean of `hidden` (batch, seq, dim)."""
    import torch

    mask = mask.to(hidden.device)
    if pooling == "mean":
        weights = mask.unsqueeze(-1).to(hidden.dtype)
        return (hidden * weights).sum(1) / weights.sum(1).clamp(min=1)
    positions = torch.arange(mask.shape[1], device=hidden.device).expand_as(mask)
    last = (positions * mask.long()).argmax(dim=1)
    return hidden[torch.arange(hidden.shape[0], device=hidden.device), last]


def _pick_device(name: str) -> Any:
    import torch

    return torch.device(resolve_device(name))


def _pick_dtype(device: Any) -> Any:
    """bf16 on CUDA when supported, else fp16 on accelerators; float32 on CPU (bf16 matmuls are slow there)."""
    import torch

    if device.type == "cuda":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    if device.type == "mps":
        return torch.float16
    return torch.float32
