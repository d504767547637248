"""`mmrag doctor`: what is configured, what loaded, and exactly why anything did not."""

from __future__ import annotations

import importlib.metadata
from typing import Any

from app.container import Container
from core.errors import MmragError

_PACKAGES = (
    "torch",
    "sentence-transformers",
    "open_clip_torch",
    "qdrant-edge-py",
    "qdrant-client",
    "faster-whisper",
)


def _version(package: str) -> str:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def diagnose(container: Container) -> dict[str, dict[str, Any]]:
    """Load each component and report its state; never raises for a component that fails."""
    s = container.settings
    report: dict[str, dict[str, Any]] = {
        "settings": {
            "home": str(s.home),
            "store": s.qdrant_url or f"embedded qdrant-edge at {s.store_dir / s.collection}",
            "collection": s.collection,
            "text_model": s.text_model,
            "clip_model": s.clip_model or "(disabled)",
            "mm_model": s.mm_model or "(disabled)",
            "device": s.device,
            "fusion": s.fusion,
            "router": s.router,
            "reranker": s.reranker,
            "generator": s.generator,
        },
        "spaces": {},
        "store": {},
        "packages": {p: _version(p) for p in _PACKAGES},
    }
    try:
        report["spaces"]["text"] = f"ok ({container.text_encoder.dim}-d)"
    except MmragError as exc:
        report["spaces"]["text"] = f"UNAVAILABLE: {exc}"
    image = container.image_encoder
    report["spaces"]["image"] = (
        f"ok ({image.dim}-d)" if image else f"UNAVAILABLE: {container.unavailable['image']}"
    )
    mm = container.mm_encoder
    report["spaces"]["mm"] = f"ok ({mm.dim}-d)" if mm else f"off: {container.unavailable['mm']}"
    report["spaces"]["lexical"] = "ok (BM25 term weights, Qdrant IDF)"
    try:
        report["store"]["points"] = container.store.count()
        report["store"]["sources"] = len(container.manifest.sources())
    except MmragError as exc:
        report["store"]["error"] = str(exc)
    finally:
        container.close()
    return report
