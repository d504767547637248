"""Picture helpers shared by the extractors: colour conversion and display thumbnails."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from PIL.Image import Image

THUMBNAIL_SIDE = 512
"""Longest side of stored thumbnails and page renders, in pixels."""
EMBED_SIDE = 1024
"""Pictures handed to the image encoders are shrunk to this (CLIP-style models use 224-448 px anyway)."""


def to_rgb(image: Image) -> Image:
    """Convert any Pillow mode to RGB: transparency goes on white, 16-bit and float images are rescaled."""
    from PIL import Image as PILImage

    if image.mode == "RGB":
        return image
    if image.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        image = _rescale_to_8bit(image)
    if image.mode == "P" and "transparency" in image.info:
        image = image.convert("RGBA")
    if image.mode in ("RGBA", "LA", "PA"):
        rgba = image.convert("RGBA")
        background = PILImage.new("RGB", rgba.size, "white")
        background.paste(rgba, mask=rgba.getchannel("A"))
        return background
    return image.convert("RGB")


def _rescale_to_8bit(image: Image) -> Image:
    import numpy as np
    from PIL import Image as PILImage

    pixels = np.asarray(image, dtype=np.float64)
    lo, hi = float(pixels.min()), float(pixels.max())
    scaled = (pixels - lo) / (hi - lo) * 255.0 if hi > lo else np.zeros_like(pixels)
    return PILImage.fromarray(scaled.astype(np.uint8), mode="L")


def shrink(image: Image, max_side: int) -> Image:
    """A copy no larger than `max_side` on its longest side (aspect kept), in RGB."""
    rgb = to_rgb(image)
    if max(rgb.size) <= max_side:
        return rgb.copy() if rgb is image else rgb
    scale = max_side / max(rgb.size)
    size = (max(1, round(rgb.width * scale)), max(1, round(rgb.height * scale)))
    return rgb.resize(size, resample=3)  # bicubic


def thumbnail(image: Image, max_side: int = THUMBNAIL_SIDE) -> Image:
    """A display thumbnail (RGB, longest side `max_side`), to be stored as JPEG media."""
    return shrink(image, max_side)
