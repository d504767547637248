"""Pick the torch device a model runs on from the `device` setting: the one "auto" rule of every torch model.

torch is imported when a device is resolved, never at import, so `core` stays light.
"""

from __future__ import annotations

import logging

from core.errors import ConfigError

logger = logging.getLogger(__name__)


def resolve_device(setting: str) -> str:
    """Turn a device setting into a concrete torch device string.

    Args:
        setting: "auto", "cpu", "cuda", "cuda:N" or "mps". "auto" picks CUDA when available, else Apple MPS,
            else CPU.

    Returns:
        The device string to pass to torch.

    Raises:
        ConfigError: an explicit accelerator is asked for but torch cannot see it, so the user learns it
            at start-up instead of from an obscure error in the middle of indexing.
    """
    import torch

    value = (setting or "auto").strip().lower()
    if value == "auto":
        if torch.cuda.is_available():
            return "cuda"
        mps = getattr(torch.backends, "mps", None)
        if mps is not None and mps.is_available():
            return "mps"
        return "cpu"
    if value == "cpu":
        return value
    if value.startswith("cuda"):
        if not torch.cuda.is_available():
            raise ConfigError(
                f"device {setting!r} requested but torch sees no CUDA GPU; use MMRAG_DEVICE=auto"
            )
        index = value.partition(":")[2]
        if index and (not index.isdigit() or int(index) >= torch.cuda.device_count()):
            raise ConfigError(f"device {setting!r}: only {torch.cuda.device_count()} CUDA device(s) present")
        return value
    if value == "mps":
        mps = getattr(torch.backends, "mps", None)
        if mps is None or not mps.is_available():
            raise ConfigError("device 'mps' requested but Apple MPS is not available; use MMRAG_DEVICE=auto")
        return value
    raise ConfigError(f"unknown device {setting!r}: use auto, cpu, cuda, cuda:N or mps")
