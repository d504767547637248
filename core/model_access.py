"""Answer "can these weights be loaded here, and if not, why" before a library retries for minutes.

huggingface_hub retries an unreachable hub for about 70 s per file; on an offline machine that turns every
start-up into a long hang. Encoders first look in the local cache, and only when the weights are missing
there do they probe the hub once (a 3 s TCP connect) and fail fast with a human reason.
"""

from __future__ import annotations

import logging
import os
import socket
from pathlib import Path
from urllib.parse import urlparse

logger = logging.getLogger(__name__)

_TRUE = {"1", "true", "yes", "on"}


def hub_unreachable_reason(timeout_s: float = 3.0) -> str | None:
    """Return why the Hugging Face Hub cannot be used now, or None when it looks reachable.

    Args:
        timeout_s: How long to wait for a TCP connection to the hub endpoint.
    """
    for flag in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"):
        if os.environ.get(flag, "").strip().lower() in _TRUE:
            return f"offline mode is on ({flag}=1)"
    try:
        from huggingface_hub import constants
    except ImportError:
        return "huggingface_hub is not installed"
    if constants.HF_HUB_OFFLINE:
        return "offline mode is on (HF_HUB_OFFLINE)"
    url = urlparse(constants.ENDPOINT)
    host = url.hostname or "huggingface.co"
    port = url.port or (443 if url.scheme == "https" else 80)
    try:
        socket.create_connection((host, port), timeout=timeout_s).close()
    except OSError as exc:
        return f"{host} cannot be reached ({exc.strerror or exc})"
    return None


def looks_like_path(value: str) -> bool:
    """True when a model setting is meant as a filesystem path rather than a hub id like `org/name`."""
    if value.startswith(("/", "./", "../", "~", "\\")) or os.path.isabs(value):
        return True
    # A hub id has at most one slash; anything deeper, or naming a file, is a path.
    return value.count("/") > 1 or Path(value).suffix in {".pt", ".pth", ".bin", ".safetensors", ".onnx"}


def first_line(exc: BaseException) -> str:
    """The first non-empty line of an exception message, for one-line reasons."""
    for line in str(exc).splitlines():
        if line.strip():
            return line.strip()
    return type(exc).__name__


def local_or_reachable(model: str, what: str, setting: str) -> str:
    """Where transformers should load `model` from, failing fast when it can be found nowhere.

    A folder is used as it is; a hub id already in the local Hugging Face cache loads from the cache; an
    uncached hub id is returned for download only when the hub answers (instead of minutes of retries).

    Args:
        model: A folder or a hub id.
        what: What is being loaded, for the message ("mm model", "mllm reranker").
        setting: The MMRAG_* variable that names it, for the message.

    Raises:
        ModelUnavailableError: a path that does not exist, or an uncached hub id while the hub is unreachable.
    """
    from core.errors import ModelUnavailableError

    path = Path(model).expanduser()
    if path.is_dir():
        return str(path)
    if looks_like_path(model):
        raise ModelUnavailableError(f"{what} folder {model!r} does not exist ({path})")
    try:
        from huggingface_hub import snapshot_download

        return snapshot_download(model, local_files_only=True)
    except Exception as exc:
        logger.debug("%s not in the local cache: %s", model, exc)
    reason = hub_unreachable_reason()
    if reason:
        raise ModelUnavailableError(
            f"{what} {model!r} is not in the local Hugging Face cache and {reason}; download it once on a "
            f"connected machine or set {setting} to a local folder"
        )
    return model
