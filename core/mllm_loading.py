"""Loading an image-text-to-text MLLM (processor + model) for the MLLM reranker and generator.

torch and transformers are imported only when a model is loaded, so importing `core` stays light.
"""

from __future__ import annotations

from typing import Any

from core.errors import ModelUnavailableError
from core.model_access import local_or_reachable


def load_image_text_model(model_name: str, device: str, role: str, setting: str) -> tuple[Any, Any, str]:
    """Load `model_name` (a local folder or hub id) in eval mode, bf16 on CUDA.

    Args:
        model_name: Folder or hub id of an AutoModelForImageTextToText model.
        device: "auto" (CUDA when present), "cpu", "cuda", "cuda:N".
        role: Who loads it, for the error message ("generator", "mllm reranker").
        setting: The MMRAG_* variable naming the model, for the error message.

    Returns:
        (processor, model, device used).

    Raises:
        ModelUnavailableError: the model cannot be loaded; one line saying which and why.
    """
    name = local_or_reachable(model_name, role, setting)  # fails fast offline instead of retrying
    try:
        import torch
        from transformers import AutoModelForImageTextToText, AutoProcessor

        if device == "auto":
            device = "cuda" if torch.cuda.is_available() else "cpu"
        dtype = torch.bfloat16 if device.startswith("cuda") else torch.float32
        processor = AutoProcessor.from_pretrained(name)
        model: Any = AutoModelForImageTextToText.from_pretrained(name, dtype=dtype)
        return processor, model.to(device).eval(), device
    except Exception as exc:  # any loader failure: which model and why, in one line
        reason = str(exc).splitlines()[0] if str(exc) else ""
        raise ModelUnavailableError(
            f"{role} {model_name!r} could not be loaded: {type(exc).__name__}: {reason}"
        ) from exc
