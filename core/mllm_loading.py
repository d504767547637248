"""Loading an image-text-to-text MLLM (processor + model) for the MLLM reranker and generator.

torch and transformers are imported only when a model is loaded, so importing `core` stays light.
"""

from __future__ import annotations

from typing import Any

from core.devices import resolve_device
from core.errors import ModelUnavailableError
from core.model_access import first_line, local_or_reachable


def load_image_text_model(model_name: str, device: str, role: str, setting: str) -> tuple[Any, Any, str]:
    """Load `model_name` (a local folder or hub id) in eval mode, bf16 on CUDA.

    Args:
        model_name: Folder or hub id of an AutoModelForImageTextToText model.
        device: "auto", "cpu", "cuda", "cuda:N" or "mps" (`core.devices.resolve_device`).
        role: Who loads it, for the error message ("generator", "mllm reranker").
        setting: The MMRAG_* variable naming the model, for the error message.

    Returns:
        (processor, model, device used).

    Raises:
        ModelUnavailableError: the model cannot be loaded; one line saying which and why.
    """
    name = local_or_reachable(model_name, role, setting)  # fails fast offline instead of retrying
    device = resolve_device(device)
    try:
        import torch
        from transformers import AutoModelForImageTextToText, AutoProcessor

        dtype = torch.bfloat16 if device.startswith("cuda") else torch.float32
        processor = AutoProcessor.from_pretrained(name)
        model: Any = AutoModelForImageTextToText.from_pretrained(name, dtype=dtype)
        return processor, model.to(device).eval(), device
    except Exception as exc:  # any loader failure: which model and why, in one line
        raise ModelUnavailableError(
            f"{role} {model_name!r} could not be loaded: {type(exc).__name__}: {first_line(exc)}"
        ) from exc


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
