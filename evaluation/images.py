"""Image search quality on COCO-style captions: text→image and image→text Recall@1/5/10 with the CLIP encoder.

Every image is embedded with the CLIP image tower and every caption with its text tower; text→image ranks
all images for each caption (hit when its own image is in the top k); image→text ranks all captions for each
image (hit when any of its captions is in the top k). With the tiny random test model the numbers are chance
level: that run only proves the plumbing; real CLIP weights give real numbers.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from core.errors import InvalidRequestError
from core.protocols import ImageEncoder, TextEncoder

KS = (1, 5, 10)


def load_coco_captions(
    images_dir: Path, captions_file: Path, limit: int = 0
) -> tuple[list[Path], list[str], list[int]]:
    """Image paths present in `images_dir`, captions, and each caption's image index.

    Raises:
        InvalidRequestError: the captions file is not COCO captions JSON or no image is found.
    """
    try:
        data = json.loads(captions_file.read_text(encoding="utf-8"))
        images = {int(i["id"]): images_dir / i["file_name"] for i in data["images"]}
        annotations = [(int(a["image_id"]), str(a["caption"])) for a in data["annotations"]]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise InvalidRequestError(f"{captions_file}: not a COCO captions file ({exc})") from exc
    present = {iid: p for iid, p in images.items() if p.is_file()}
    if not present:
        raise InvalidRequestError(f"{images_dir}: none of the captioned images are there")
    order = sorted(present)[: limit or None]
    index = {iid: i for i, iid in enumerate(order)}
    captions = [(index[iid], text.strip()) for iid, text in annotations if iid in index]
    return [present[i] for i in order], [c for _, c in captions], [i for i, _ in captions]


def recall_at(ranks: np.ndarray) -> dict[str, float]:
    """Recall@k for 0-based ranks of the first correct item."""
    return {f"R@{k}": round(float(np.mean(ranks < k)), 4) for k in KS}


@dataclass(frozen=True)
class ImagesResult:
    """Recall@1/5/10 both ways on a captioned image folder."""

    images: int
    captions: int
    text_to_image: dict[str, float]  # "R@1", "R@5", "R@10"
    image_to_text: dict[str, float]
    chance_r1_text_to_image: float
    seconds: float
    clip_model: str | None = None  # the encoder's name, when the caller knows it

    def to_json(self) -> dict[str, Any]:
        """The JSON of `mmrag eval images --json` (`clip_model` only when known)."""
        data: dict[str, Any] = {
            "images": self.images,
            "captions": self.captions,
            "text_to_image": dict(self.text_to_image),
            "image_to_text": dict(self.image_to_text),
            "chance_R@1_text_to_image": self.chance_r1_text_to_image,
            "seconds": self.seconds,
        }
        if self.clip_model is not None:
            data["clip_model"] = self.clip_model
        return data


def evaluate_images(
    encoder: ImageEncoder,
    images_dir: Path,
    captions_file: Path,
    limit: int = 0,
    clip_model: str | None = None,
) -> ImagesResult:
    """Text→image and image→text Recall@1/5/10 on a captioned image folder.

    Args:
        encoder: A CLIP encoder (image tower `encode_images`, text tower `encode_queries`).
        images_dir: Folder with the images.
        captions_file: COCO captions JSON (`images`, `annotations`).
        limit: Use only the first `limit` images (by id) and their captions; 0 = all.
        clip_model: The encoder's model name, reported as `clip_model`.
    """
    from PIL import Image

    if not isinstance(encoder, TextEncoder):
        raise InvalidRequestError("image evaluation needs a CLIP-style encoder with a text tower")
    paths, captions, owner = load_coco_captions(images_dir, captions_file, limit)
    start = time.perf_counter()
    pictures = []
    for path in paths:
        with Image.open(path) as img:
            pictures.append(img.convert("RGB"))
    image_vecs = encoder.encode_images(pictures)
    text_vecs = encoder.encode_queries(captions)
    sims = text_vecs @ image_vecs.T  # (captions, images)
    owner_arr = np.asarray(owner)
    own = sims[np.arange(len(captions)), owner_arr]
    t2i_ranks = (sims > own[:, None]).sum(axis=1)
    i2t_ranks = np.empty(len(paths), dtype=int)
    for i in range(len(paths)):
        column = sims[:, i]
        best_own = column[owner_arr == i].max() if np.any(owner_arr == i) else -np.inf
        i2t_ranks[i] = int((column > best_own).sum())
    return ImagesResult(
        images=len(paths),
        captions=len(captions),
        text_to_image=recall_at(t2i_ranks),
        image_to_text=recall_at(i2t_ranks),
        chance_r1_text_to_image=round(1 / len(paths), 4),
        seconds=round(time.perf_counter() - start, 2),
        clip_model=clip_model,
    )
