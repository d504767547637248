"""A collection keeps the vector widths it was built with: say so clearly when the settings change the model.

Switching `MMRAG_TEXT_MODEL` from the packaged MiniLM (384-d) to the quality preset all-mpnet-base-v2
(768-d) over an existing embedded collection would otherwise fail deep in the engine ("vector 'text' already
exists with different parameters"). This check runs before the store is opened and names both widths, the
setting and the re-index path: a new home for the new model.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path

from core.errors import ConfigError
from core.settings import Settings

SETTING_OF_SPACE = {"text": "MMRAG_TEXT_MODEL", "image": "MMRAG_CLIP_MODEL", "mm": "MMRAG_MM_MODEL"}
MODEL_OF_SPACE = {"text": "text_model", "image": "clip_model", "mm": "mm_model"}


def stored_widths(collection_dir: Path) -> dict[str, int]:
    """Dense space -> width recorded by the embedded engine in `edge_config.json`; {} when unknown."""
    try:
        config = json.loads((collection_dir / "edge_config.json").read_text(encoding="utf-8"))
        return {str(name): int(params["size"]) for name, params in (config.get("vectors") or {}).items()}
    except (OSError, ValueError, TypeError, KeyError, AttributeError):
        return {}


def check_space_widths(settings: Settings, spaces: Mapping[str, int]) -> None:
    """Refuse to open an embedded collection whose spaces were built with another width.

    Args:
        settings: Where the collection lives and which models are set.
        spaces: Space name -> the width the configured encoders produce.

    Raises:
        ConfigError: a space exists with another width (a different model); the message says what to do.
    """
    if settings.qdrant_url or settings.store not in ("auto", "embedded"):
        return  # the server store checks this itself (StoreError naming both widths)
    collection_dir = settings.home / "store" / settings.collection
    stored = stored_widths(collection_dir)
    for name, width in spaces.items():
        if name not in stored or stored[name] == width:
            continue
        setting = SETTING_OF_SPACE.get(name, "the model setting")
        model = getattr(settings, MODEL_OF_SPACE.get(name, ""), "") or "?"
        raise ConfigError(
            f"collection {settings.collection!r} in {settings.home} holds {stored[name]}-d {name!r} vectors, "
            f"but {setting}={model!r} makes {width}-d ones: a collection keeps the model it was built with. "
            f"To use this model, index into a new home (MMRAG_HOME=<new folder> mmrag index PATH...), "
            f"or set {setting} back to the model this collection was built with."
        )
