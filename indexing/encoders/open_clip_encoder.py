"""CLIP image + text encoder on open_clip, for the `image` space (pictures, frames, and text queries)."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from core.devices import resolve_device
from core.errors import ModelUnavailableError
from core.model_access import first_line, hub_unreachable_reason, looks_like_path
from core.types import Vector

if TYPE_CHECKING:
    import torch
    from PIL.Image import Image

logger = logging.getLogger(__name__)

LOCAL_DIR = "local-dir:"
HF_HUB = "hf-hub:"
_WEIGHT_FILES = ("open_clip_model.safetensors", "open_clip_pytorch_model.bin")


class OpenClipEncoder:
    """Embeds images and text into one CLIP space (`image`): an ImageEncoder and a TextEncoder at once.

    Args:
        model: An open_clip model name ("ViT-B-32"), "local-dir:DIR" (a folder with open_clip_config.json and
            open_clip_model.safetensors; `pretrained` is then ignored) or "hf-hub:org/repo".
        pretrained: A pretrained tag of `model` ("laion2b_s34b_b79k") or a checkpoint file path.
        device: "auto", "cpu", "cuda", "cuda:N" or "mps".
        batch_size: Images or texts per forward pass.
    """

    space = "image"

    def __init__(
        self,
        model: str = "ViT-B-32",
        pretrained: str = "laion2b_s34b_b79k",
        device: str = "auto",
        batch_size: int = 32,
    ) -> None:
        self.model = model
        self.pretrained = pretrained
        self.device = device
        self.batch_size = batch_size
        self._model: Any = None
        self._preprocess: Callable[[Image], torch.Tensor] | None = None
        self._tokenizer: Callable[[list[str]], torch.Tensor] | None = None
        self._device = "cpu"
        self._dtype: Any = None
        self._dim = 0

    @property
    def name(self) -> str:
        """A readable id of the weights, for logs and `mmrag doctor`."""
        if self.model.startswith((LOCAL_DIR, HF_HUB)):
            return self.model
        return f"{self.model}/{self.pretrained}"

    @property
    def dim(self) -> int:
        """Embedding width; loads the model on first access."""
        self.load()
        return self._dim

    @property
    def loaded(self) -> bool:
        """Whether the weights are in memory."""
        return self._model is not None

    def describe(self) -> dict[str, str]:
        """The weights and the device they run on (set by `load()`), for `mmrag doctor`."""
        return {"model": self.name, "device": self._device}

    def load(self) -> None:
        """Load the weights once (idempotent).

        Raises:
            ModelUnavailableError: the weights cannot be loaded; the message says exactly why.
        """
        if self._model is not None:
            return
        try:
            import open_clip
            import torch
        except ImportError as exc:
            raise ModelUnavailableError(
                f"CLIP model {self.name!r} needs open_clip_torch and torchvision "
                f"(pip install open_clip_torch torchvision): {first_line(exc)}"
            ) from exc
        device = resolve_device(self.device)
        model_name, kwargs = self._resolve_weights(open_clip)
        try:
            model, _, preprocess = open_clip.create_model_and_transforms(model_name, **kwargs)
            tokenizer = open_clip.get_tokenizer(model_name)
        except Exception as exc:
            raise ModelUnavailableError(
                f"CLIP model {self.name!r} could not be loaded: {first_line(exc)}"
            ) from exc
        # fp16 on GPU: CLIP towers were trained in mixed precision and rank the same in half.
        self._dtype = torch.float16 if device.startswith("cuda") else torch.float32
        model = model.to(device=device, dtype=self._dtype).eval()
        self._model, self._preprocess, self._tokenizer, self._device = model, preprocess, tokenizer, device
        self._dim = int(getattr(model.visual, "output_dim", 0) or 0) or int(
            self.encode_queries(["probe"]).shape[1]
        )
        logger.info("CLIP encoder %s loaded on %s (dim %d)", self.name, device, self._dim)

    def _resolve_weights(self, open_clip: Any) -> tuple[str, dict[str, Any]]:
        """Map the settings to open_clip's (model_name, kwargs), failing fast when weights are absent."""
        if self.model.startswith(LOCAL_DIR):
            _check_local_dir(self.model)
            return self.model, {"pretrained": None}
        if self.model.startswith(HF_HUB):
            _check_hf_hub_repo(self.model)
            return self.model, {"pretrained": None}
        name = self.model.replace("/", "-")
        if open_clip.get_model_config(name) is None:
            raise ModelUnavailableError(
                f"unknown open_clip model {self.model!r} (see open_clip.list_models(), or use local-dir:DIR)"
            )
        if not self.pretrained:
            raise ModelUnavailableError(
                f"CLIP model {self.model!r} has no weights: set MMRAG_CLIP_PRETRAINED to a tag or checkpoint file"
            )
        cfg = open_clip.get_pretrained_cfg(name, self.pretrained)
        if cfg:
            preprocess = {
                "image_mean": cfg.get("mean"),
                "image_std": cfg.get("std"),
                "image_interpolation": cfg.get("interpolation"),
                "image_resize_mode": cfg.get("resize_mode"),
            }
            return name, {"pretrained": self._checkpoint_for_tag(open_clip, cfg), **preprocess}
        path = Path(self.pretrained).expanduser()
        if path.is_file():
            return name, {"pretrained": str(path)}
        if looks_like_path(self.pretrained):
            raise ModelUnavailableError(f"CLIP checkpoint {self.pretrained!r} does not exist ({path})")
        tags = ", ".join(open_clip.list_pretrained_tags_by_model(name)) or "none"
        raise ModelUnavailableError(
            f"unknown pretrained tag {self.pretrained!r} for open_clip model {name!r} (known tags: {tags})"
        )

    def _checkpoint_for_tag(self, open_clip: Any, cfg: dict[str, Any]) -> str:
        """Local file of a pretrained tag: from the cache, else downloaded when the network allows."""
        if cfg.get("file"):
            return str(cfg["file"])
        cached = _cached_tag_checkpoint(cfg)
        if cached:
            return cached
        reason = hub_unreachable_reason()
        if reason:
            raise ModelUnavailableError(
                f"CLIP weights {self.name!r} are not in the local cache and {reason}; download them once on a "
                "connected machine, or set MMRAG_CLIP_PRETRAINED to a checkpoint file or MMRAG_CLIP_MODEL to "
                "local-dir:DIR"
            )
        try:
            return str(open_clip.pretrained.download_pretrained(cfg))
        except Exception as exc:
            raise ModelUnavailableError(
                f"CLIP weights {self.name!r} could not be downloaded: {first_line(exc)}"
            ) from exc

    def encode_images(self, images: Sequence[Image]) -> Vector:
        """Embed pictures as float32 (n, dim), L2-normalised. Any PIL mode is accepted."""
        self.load()
        if not images:
            return np.zeros((0, self._dim), dtype=np.float32)
        out = [
            self._run(self._model.encode_image, self.pixel_values(images[start : start + self.batch_size]))
            for start in range(0, len(images), self.batch_size)
        ]
        return np.concatenate(out)

    def pixel_values(self, images: Sequence[Image]) -> torch.Tensor:
        """The model's preprocessing of pictures: (n, 3, H, W) in the model's dtype (also feeds ONNX)."""
        import torch

        self.load()
        assert self._preprocess is not None
        return torch.stack([self._preprocess(_rgb(img)) for img in images]).to(dtype=self._dtype)

    def token_ids(self, texts: Sequence[str]) -> torch.Tensor:
        """The model's tokenization of texts: (n, context_length) int64 (also feeds ONNX)."""
        self.load()
        assert self._tokenizer is not None
        return self._tokenizer(list(texts))

    def encode_queries(self, texts: Sequence[str]) -> Vector:
        """Embed text queries with the CLIP text tower, to search pictures."""
        return self._encode_texts(texts)

    def encode_documents(self, texts: Sequence[str]) -> Vector:
        """Embed texts (captions) with the CLIP text tower; CLIP has no query/document asymmetry."""
        return self._encode_texts(texts)

    def _encode_texts(self, texts: Sequence[str]) -> Vector:
        self.load()
        if not texts:
            return np.zeros((0, self._dim), dtype=np.float32)
        out = [
            self._run(self._model.encode_text, self.token_ids(texts[start : start + self.batch_size]))
            for start in range(0, len(texts), self.batch_size)
        ]
        return np.concatenate(out)

    def _run(self, tower: Callable[..., torch.Tensor], batch: torch.Tensor) -> np.ndarray:
        import torch

        with torch.inference_mode():
            features = tower(batch.to(self._device))
            features = torch.nn.functional.normalize(features.float(), dim=-1)
        return features.cpu().numpy().astype(np.float32, copy=False)


def _rgb(image: Image) -> Image:
    # Palette, greyscale, CMYK and alpha images all become 3-channel RGB, the only thing CLIP was trained on.
    return image if image.mode == "RGB" else image.convert("RGB")


def _check_local_dir(model: str) -> None:
    folder = Path(model[len(LOCAL_DIR) :]).expanduser()
    if not folder.is_dir():
        raise ModelUnavailableError(f"CLIP model {model!r}: no such folder {folder}")
    config = folder / "open_clip_config.json"
    if not config.is_file():
        raise ModelUnavailableError(f"CLIP model {model!r}: {config} is missing")
    try:
        json.loads(config.read_text(encoding="utf-8"))["model_cfg"]
    except (ValueError, KeyError) as exc:
        raise ModelUnavailableError(f"CLIP model {model!r}: {config} has no valid model_cfg ({exc})") from exc
    # open_clip silently keeps random weights when the folder has no checkpoint: refuse that here.
    if not any((folder / name).is_file() for name in _WEIGHT_FILES):
        raise ModelUnavailableError(
            f"CLIP model {model!r}: no checkpoint in {folder} (expected {' or '.join(_WEIGHT_FILES)})"
        )


def _check_hf_hub_repo(model: str) -> None:
    from huggingface_hub import try_to_load_from_cache

    repo = model[len(HF_HUB) :]
    if isinstance(try_to_load_from_cache(repo, "open_clip_config.json"), str):
        return
    reason = hub_unreachable_reason()
    if reason:
        raise ModelUnavailableError(
            f"CLIP model {model!r} is not in the local Hugging Face cache and {reason}"
        )


def _cached_tag_checkpoint(cfg: dict[str, Any]) -> str | None:
    """Path of an already-downloaded checkpoint for a pretrained tag, or None."""
    hub = cfg.get("hf_hub", "")
    if hub:
        from huggingface_hub import try_to_load_from_cache

        # open_clip's convention: "org/repo/file.bin", or "org/repo/" for the default weight file names.
        repo, _, filename = hub.rpartition("/")
        names = [filename] if filename else list(_WEIGHT_FILES)
        if filename.endswith((".bin", ".pth", ".pt")):
            names.insert(0, filename.rsplit(".", 1)[0] + ".safetensors")
        for name in names:
            hit = try_to_load_from_cache(repo, name)
            if isinstance(hit, str):
                return hit
    url = cfg.get("url", "")
    if url:
        target = Path("~/.cache/clip").expanduser() / Path(url).name
        if target.is_file():
            return str(target)
    return None
