"""Loading an image-text-to-text MLLM (processor + model) for the MLLM reranker and generator.

torch and transformers are imported only when a model is loaded, so importing `core` stays light.
"""

from __future__ import annotations

from typing import Any

from core.lazy_model import LazyModel


def load_image_text(source: str, device: str) -> tuple[Any, Any]:
    """Load an AutoModelForImageTextToText and its processor from `source`, eval mode, bf16 on CUDA.

    Args:
        source: A local folder or a cached hub id (see `core.model_access.local_or_reachable`).
        device: A resolved torch device ("cpu", "cuda", "cuda:N", "mps").

    Returns:
        (processor, model).
    """
    import torch
    from transformers import AutoModelForImageTextToText, AutoProcessor

    dtype = torch.bfloat16 if device.startswith("cuda") else torch.float32
    processor = AutoProcessor.from_pretrained(source)
    model: Any = AutoModelForImageTextToText.from_pretrained(source, dtype=dtype)
    return processor, model.to(device).eval()


def lazy_image_text_model(name: str, device: str, role: str, setting: str) -> LazyModel[tuple[Any, Any]]:
    """A `LazyModel` of an image-text-to-text MLLM: `get()` returns (processor, model).

    Args:
        name: Folder or hub id of the model.
        device: "auto", "cpu", "cuda", "cuda:N" or "mps" (`core.devices.resolve_device`).
        role: Who loads it, for the error message ("generator model", "mllm reranker").
        setting: The MMRAG_* variable naming the model, for the error message.
    """
    return LazyModel(name, device, role=role, setting=setting, loader=load_image_text)


def reset_rope_deltas(model: Any) -> Any:
    """Forget the M-RoPE offsets Qwen2-VL caches between calls (each prompt is new); return the base model.

    Args:
        model: A loaded image-text model, or its base (`.model`) module.

    Returns:
        The base module (the model itself when it has no `.model`), for callers that run it directly.
    """
    base = getattr(model, "model", model)  # transformers wraps the decoder in `.model`; not our object
    if hasattr(base, "rope_deltas"):
        base.rope_deltas = None
    return base
