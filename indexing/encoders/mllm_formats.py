"""Prompt formats, pooling and query instructions for MLLM embedders (the `mm` space).

Each vision-language embedding model was trained with one prompt layout; embedding with another layout
silently degrades retrieval. The layouts here follow the model cards:

- `qwen2vl` (GME, VLM2Vec-Qwen2VL, and any Qwen2-VL / Qwen2.5-VL checkpoint): a chat turn whose system
  message carries the task instruction (GME), the image as `<|vision_start|><|image_pad|><|vision_end|>`,
  and a trailing `<|endoftext|>` whose hidden state is the embedding (last-token pooling).
- `mllama` (mmE5 on Llama-3.2-Vision): `<|image|><|begin_of_text|>` before the text of an image input, the
  instruction as a plain-text prefix, last-token pooling on the final hidden layer.

Query-side instructions are per task (MM-Embed's modality-aware instructions): a query meant to find images
gets a different instruction from one meant to find passages. Documents get none.
"""

from __future__ import annotations

from dataclasses import dataclass, field

DEFAULT_INSTRUCTIONS: dict[str, str] = {
    # A mixed corpus: the instruction names no target modality.
    "default": "Retrieve images or text passages relevant to the query.",
    # Per target modality (used by the per-modality search that mitigates modality bias).
    "image": "Retrieve images that match the description.",
    "text": "Find a text passage that answers the query.",
    "video": "Retrieve video frames that match the description.",
    "audio": "Find a transcript passage that answers the query.",
    # Composed query: a reference image plus a modification text (CIRR / FashionIQ style).
    "composed": "Retrieve an image that matches the reference image modified by the given text.",
    # Query by example: an image alone.
    "image_query": "Retrieve images similar to the given image.",
}
"""Task -> instruction. A template may contain `{q}`: the query text is then formatted into it."""

GENERIC_SYSTEM = "You are a helpful assistant."
"""The system message GME uses on the document side and for queries without an instruction."""


@dataclass(frozen=True)
class ModelCard:
    """What the embedding code must know about one model family or checkpoint."""

    family: str  # prompt layout: "qwen2vl" or "mllama"
    pooling: str  # "last" or "mean"
    dim: int = 0  # embedding size when known without loading (0 = read from the config on load)
    max_image_tokens: int = 1024  # cap on visual tokens per image (pixels = tokens * 28 * 28 for Qwen2-VL)
    notes: str = ""
    instructions: dict[str, str] = field(default_factory=dict)  # overrides of DEFAULT_INSTRUCTIONS


KNOWN_MODELS: dict[str, ModelCard] = {
    "Alibaba-NLP/gme-Qwen2-VL-2B-Instruct": ModelCard(
        "qwen2vl",
        "last",
        1536,
        1024,
        "GME 2B: ~5 GB VRAM in bf16",
        {
            "image": "Find an image that matches the given text.",
            "composed": (
                "Retrieve a day-to-day image that aligns with the modification instructions "
                "of the provided image."
            ),
        },
    ),
    "Alibaba-NLP/gme-Qwen2-VL-7B-Instruct": ModelCard(
        "qwen2vl",
        "last",
        3584,
        1024,
        "GME 7B: ~17 GB VRAM in bf16",
        {"image": "Find an image that matches the given text."},
    ),
    "TIGER-Lab/VLM2Vec-Qwen2VL-2B": ModelCard("qwen2vl", "last", 1536, 1024, "VLM2Vec 2B"),
    "TIGER-Lab/VLM2Vec-Qwen2VL-7B": ModelCard("qwen2vl", "last", 3584, 1024, "VLM2Vec 7B"),
    "intfloat/mmE5-mllama-11b-instruct": ModelCard(
        "mllama",
        "last",
        4096,
        0,
        "mmE5 11B: ~24 GB VRAM in bf16",
        {"image": "Find me an everyday image that matches the given caption: {q}"},
    ),
}

FAMILY_BY_MODEL_TYPE = {"qwen2_vl": "qwen2vl", "qwen2_5_vl": "qwen2vl", "mllama": "mllama"}
"""transformers `model_type` -> prompt family, for checkpoints missing from KNOWN_MODELS."""


def card_for(model: str, model_type: str | None = None) -> ModelCard | None:
    """The card of a known model id (also matched by the last path components of a local folder).

    Args:
        model: Hub id or local path.
        model_type: The config's `model_type`, used to pick a family for unknown checkpoints.

    Returns:
        The card, a generic last-token card for a supported family, or None when nothing matches.
    """
    key = model.rstrip("/")
    for known, card in KNOWN_MODELS.items():
        if key == known or key.endswith("/" + known) or key.endswith("/" + known.split("/")[-1]):
            return card
    family = FAMILY_BY_MODEL_TYPE.get(model_type or "")
    return ModelCard(family, "last") if family else None


def instruction_text(instructions: dict[str, str], task: str | None, query: str) -> tuple[str, str]:
    """Split a task's instruction into (instruction, text) for the prompt.

    A template with `{q}` is formatted with the query and returned as the text (no separate instruction);
    otherwise the instruction is returned as is and the query text unchanged. `task=None` (document side)
    gives no instruction.
    """
    if task is None:
        return "", query
    template = instructions.get(task) or instructions.get("default", "")
    if "{q}" in template:
        return "", template.format(q=query)
    return template, query


def render(family: str, text: str, has_image: bool, instruction: str) -> str:
    """The model input string for one item, in the family's trained layout."""
    if family == "qwen2vl":
        vision = "<|vision_start|><|image_pad|><|vision_end|>" if has_image else ""
        system = instruction or GENERIC_SYSTEM
        return (
            f"<|im_start|>system\n{system}<|im_end|>\n<|im_start|>user\n{vision}{text}<|im_end|>\n"
            "<|im_start|>assistant\n<|endoftext|>"
        )
    if family == "mllama":
        body = f"{instruction} {text}".strip() if instruction else text
        if has_image:
            return f"<|image|><|begin_of_text|> {body or 'Represent the given image.'}"
        return body
    raise ValueError(f"unknown MLLM prompt family {family!r}")
